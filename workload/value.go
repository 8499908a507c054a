package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// ErrIntegrity marks a value read back from the cache that is not what was
// written for its key: corrupted bytes, a value stored under another key, or
// something that is not a cacheproof value at all.
var ErrIntegrity = errors.New("integrity error")

// Value layout: "cp1:" + 8 hex digits of version + ":" + 16 hex digits of
// checksum + ":" + payload. The checksum covers the key, the version and the
// payload, so a value swapped to another key or changed by a byte fails.
const (
	valueMagic  = "cp1:"
	headerLen   = len(valueMagic) + 8 + 1 + 16 + 1
	fillerBlock = 64 * 1024
)

// filler is a fixed block of printable pseudo-random bytes; payloads are cut
// from it at a key-dependent offset, which is far cheaper than generating
// random bytes for every fetch.
var filler = func() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	r := rand.New(rand.NewPCG(0x63616368, 0x6570726f))
	b := make([]byte, 2*fillerBlock)
	for i := range b {
		b[i] = alphabet[r.Uint64()&63]
	}
	return b
}()

// MinValueSize is the smallest value Value produces: the header alone.
const MinValueSize = headerLen

// Value returns a value of size bytes (at least MinValueSize) for key at the
// given version. It is deterministic, and Verify(key, Value(key, v, n))
// returns v.
func Value(key string, version uint32, size int) string {
	size = max(size, headerLen)
	b := make([]byte, size)
	copy(b, valueMagic)
	putHex(b[4:12], uint64(version), 8)
	b[12] = ':'
	b[29] = ':'
	payload := b[headerLen:]
	off := int((xxhash.Sum64String(key) ^ uint64(version)*0x9e3779b97f4a7c15) % fillerBlock)
	for n := 0; n < len(payload); {
		n += copy(payload[n:], filler[off:])
		off = 0
	}
	putHex(b[13:29], checksum(key, version, payload), 16)
	return unsafe.String(&b[0], len(b))
}

// Verify checks that val is a value written for key and returns its version.
// Any mismatch wraps ErrIntegrity.
func Verify(key, val string) (uint32, error) {
	if len(val) < headerLen || val[:4] != valueMagic || val[12] != ':' || val[29] != ':' {
		return 0, fmt.Errorf("workload: value of %q (%d bytes) is not a cacheproof value: %w", key, len(val), ErrIntegrity)
	}
	ver, ok1 := parseHex(val[4:12])
	sum, ok2 := parseHex(val[13:29])
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("workload: value of %q has a malformed header: %w", key, ErrIntegrity)
	}
	payload := val[headerLen:]
	if checksum(key, uint32(ver), unsafe.Slice(unsafe.StringData(payload), len(payload))) != sum {
		return 0, fmt.Errorf("workload: value of %q (version %d, %d bytes) fails its checksum: %w", key, ver, len(val), ErrIntegrity)
	}
	return uint32(ver), nil
}

func checksum(key string, version uint32, payload []byte) uint64 {
	hk := xxhash.Sum64String(key)
	hp := xxhash.Sum64(payload)
	return splitmix64(hk^splitmix64(uint64(version)^0xc2b2ae3d27d4eb4f)) ^ hp
}

const hexDigits = "0123456789abcdef"

func putHex(dst []byte, v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&15]
		v >>= 4
	}
}

func parseHex(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
