package chaos

import (
	"math/rand/v2"
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

func init() { toxics.Register(ToxicLoss, new(lossToxic)) }

// lossToxic is packet loss on a TCP link as the application sees it.
// Toxiproxy relays a byte stream, so a segment cannot be dropped; what a
// lost segment does to a client is that TCP resends it after the
// retransmission timeout, and everything behind it on the connection waits
// (head of line). The toxic holds each chunk of the stream, with
// probability Probability, for RTO (at least Linux's 200 ms TCP_RTO_MIN),
// doubling for each further loss of the same retransmission, as TCP backs
// off. A chunk is what one read returned: for a cache's small commands and
// replies, about one segment.
type lossToxic struct {
	Probability float64 `json:"probability"`
	RTOMs       int64   `json:"rto_ms"`
}

// maxBackoffs bounds the retransmissions of one chunk (TCP gives up after
// tcp_retries2, about 15 minutes; a fault lasts far less).
const maxBackoffs = 6

// hold is how long one chunk waits: 0 when it is not lost.
func (t *lossToxic) hold() time.Duration {
	rto := time.Duration(max(t.RTOMs, 200)) * time.Millisecond
	var d time.Duration
	for i := 0; i < maxBackoffs && rand.Float64() < t.Probability; i++ {
		d += rto
		rto *= 2
	}
	return d
}

func (t *lossToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if d := t.hold(); d > 0 {
				select {
				case <-time.After(d):
				case <-stub.Interrupt:
					stub.Output <- c // removed: pass it on at once
					return
				}
			}
			stub.Output <- c
		}
	}
}
