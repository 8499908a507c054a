package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Error kinds returned by ErrorKind. They are stable: the harness counts
// errors by these strings and reports carry them.
const (
	KindPoolTimeout       = "pool_timeout"
	KindPoolExhausted     = "pool_exhausted"
	KindTimeout           = "timeout"
	KindConnectionRefused = "connection_refused"
	KindConnectionReset   = "connection_reset"
	KindReadOnly          = "readonly"
	KindOOM               = "oom"
	KindLoading           = "loading"
	KindBusy              = "busy"
	KindMovedAsk          = "moved_ask"
	KindTryAgain          = "try_again"
	KindClusterDown       = "cluster_down"
	KindMasterDown        = "master_down"
	KindClosed            = "closed"
	KindCanceled          = "canceled"
	KindFetch             = "fetch"
	KindOther             = "other"
)

// kindList is an array so its length sizes the per-kind counter arrays.
var kindList = [...]string{
	KindPoolTimeout, KindPoolExhausted, KindTimeout, KindConnectionRefused,
	KindConnectionReset, KindReadOnly, KindOOM, KindLoading, KindBusy, KindMovedAsk,
	KindTryAgain, KindClusterDown, KindMasterDown, KindClosed, KindCanceled, KindFetch, KindOther,
}

// Kinds lists every kind ErrorKind can return, in report order.
var Kinds = kindList[:]

// kindIndex maps a kind to its slot in Kinds (fixed arrays, no map on the
// hot path).
func kindIndex(kind string) int {
	for i, k := range Kinds {
		if k == kind {
			return i
		}
	}
	return len(Kinds) - 1
}

// FetchError wraps an error returned by a get-or-fetch origin function, so
// callers (and ErrorKind) can tell an origin failure from a cache failure.
type FetchError struct {
	Key string
	Err error
}

func (e *FetchError) Error() string { return fmt.Sprintf("fetch %q: %v", e.Key, e.Err) }
func (e *FetchError) Unwrap() error { return e.Err }

// ErrServerConfigRefused is returned by ApplyServerConfig when the Config
// says the server must not be reconfigured (ProtectServer).
var ErrServerConfigRefused = errors.New("pool: server configuration refused: the deployment is protected (external without --allow-destructive)")

// ErrorKind classifies err into one of Kinds; nil and redis.Nil (a plain
// miss) give "". Origin failures are "fetch" whatever they wrap.
func ErrorKind(err error) string {
	if err == nil || errors.Is(err, redis.Nil) {
		return ""
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		return KindFetch
	}
	switch {
	case errors.Is(err, redis.ErrPoolTimeout):
		return KindPoolTimeout
	case errors.Is(err, redis.ErrPoolExhausted):
		return KindPoolExhausted
	case errors.Is(err, redis.ErrClosed):
		return KindClosed
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	// Redis error replies, by their prefix.
	var rerr redis.Error
	if errors.As(err, &rerr) {
		if k := redisReplyKind(rerr.Error()); k != "" {
			return k
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindConnectionRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return KindConnectionReset
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return KindTimeout
	}
	// Last resort: text, for errors that lost their type on the way (proto
	// errors wrapped as strings by a hook or a script).
	msg := err.Error()
	for _, seg := range strings.Split(msg, ": ") {
		if k := redisReplyKind(seg); k != "" {
			return k
		}
	}
	switch {
	case strings.Contains(msg, "connection refused"):
		return KindConnectionRefused
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return KindConnectionReset
	case strings.Contains(msg, "i/o timeout"):
		return KindTimeout
	}
	return KindOther
}

// redisReplyKind classifies a Redis error reply by its leading word.
func redisReplyKind(msg string) string {
	word, _, _ := strings.Cut(msg, " ")
	switch word {
	case "READONLY":
		return KindReadOnly
	case "OOM":
		return KindOOM
	case "LOADING":
		return KindLoading
	case "BUSY":
		// A script or function running past busy-reply-threshold.
		return KindBusy
	case "MOVED", "ASK":
		return KindMovedAsk
	case "TRYAGAIN":
		// A multi-key command on a slot being migrated: not a redirect,
		// the client is told to wait and retry.
		return KindTryAgain
	case "CLUSTERDOWN":
		return KindClusterDown
	case "MASTERDOWN":
		return KindMasterDown
	}
	return ""
}
