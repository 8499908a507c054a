package chaos

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// Packet loss holds a lost chunk for TCP's retransmission timeout (200 ms,
// doubling per further loss) and then delivers it: with half the replies
// lost, some PINGs take at least 200 ms and every one is answered; after
// the toxic is removed none is held.
func TestNetworkLossHoldsForTheRTO(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	up := nodeAddr(t, d, "primary-0")
	n, err := NewNetwork([]string{up})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := redis.NewClient(&redis.Options{Addr: n.Addr(up), MaxRetries: -1, PoolSize: 1, ReadTimeout: 30 * time.Second})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	undo, err := n.Apply(up, Toxic{Type: ToxicLoss, Loss: 0.5})
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
		t.Error("no PING of 20 was held for a retransmission timeout at 50 % loss")
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(up, Toxic{Type: ToxicLoss, Loss: 1}); err == nil {
		t.Error("a loss of 1 accepted: nothing would ever arrive")
	}
	t.Logf("%d of 20 PINGs held at 50 %% loss", held)
}
