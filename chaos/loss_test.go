package chaos

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// networkT starts a standalone redis-server and the network proxy in front
// of it, and returns the proxy, the node's address and a one-connection
// client through the proxy that does not retry.
func networkT(t *testing.T, readTimeout time.Duration) (*Network, string, *redis.Client) {
	t.Helper()
	d := startT(t, topology.ShapeStandalone)
	up := nodeAddr(t, d, "primary-0")
	n, err := NewNetwork([]string{up})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	c := redis.NewClient(&redis.Options{Addr: n.Addr(up), MaxRetries: -1, PoolSize: 1, ReadTimeout: readTimeout})
	t.Cleanup(func() { _ = c.Close() })
	return n, up, c
}

// Packet loss holds a lost chunk for TCP's retransmission timeout (200 ms,
// doubling per further loss) and then delivers it: with 30 % of the
// replies lost, some PINGs take at least 200 ms and every one is answered;
// after the toxic is removed none is held. (At 50 % the doubling makes a
// PING's expected wait unbounded: k losses in a row, each half as likely,
// cost 200 x (2^k - 1) ms, and one run in CI passed its 30 s deadline.
// At 30 % it is about 150 ms, and 20 PINGs with none held is 0.7^20.)
func TestNetworkLossHoldsForTheRTO(t *testing.T) {
	n, up, c := networkT(t, 30*time.Second)
	ctx := ctxT(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	undo, err := n.Apply(up, Toxic{Type: ToxicLoss, Loss: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for range 20 {
		s := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("ping under loss: %v (loss delays, never drops)", err)
		}
		if time.Since(s) >= 200*time.Millisecond {
			held++
		}
	}
	if held == 0 {
		t.Error("no PING of 20 was held for a retransmission timeout at 30 % loss")
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(up, Toxic{Type: ToxicLoss, Loss: 1}); err == nil {
		t.Error("a loss of 1 accepted: nothing would ever arrive")
	}
	t.Logf("%d of 20 PINGs held at 50 %% loss", held)
}
