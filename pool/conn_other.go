//go:build !linux

package pool

import (
	"context"
	"net"
	"time"
)

// rawDialer is nil (go-redis's own dialer) off Linux: see conn.go.
func rawDialer(time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil
}
