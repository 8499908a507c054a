package pool

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// The dialers the manager builds go-redis's Dialer from. They are here, not
// in conn.go, because they are not Linux's: off Linux rawDialer is nil and
// these still dial (go-redis's own way) and map and wrap what they dial.

// keepAlive is go-redis's default dialer's keep-alive (options.go).
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

// viaDialer dials what addrs maps an address to (the address itself when
// it is not mapped), through dial (nil: a plain dialer with timeout).
// Without addrs it returns dial unchanged.
func viaDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), addrs map[string]string, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if len(addrs) == 0 {
		return dial
	}
	if dial == nil {
		d := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := addrs[addr]; ok {
			addr = to
		}
		return dial(ctx, network, addr)
	}
}

// wrappedDialer dials through dial (nil: go-redis's default dialer, with
// TLS when tlsConf is set) and wraps each connection with wrap.
func wrappedDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), wrap func(net.Conn) net.Conn, timeout time.Duration, tlsConf *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		d := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
		dial = d.DialContext
		if tlsConf != nil {
			td := &tls.Dialer{NetDialer: d, Config: tlsConf}
			dial = td.DialContext
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}
}
