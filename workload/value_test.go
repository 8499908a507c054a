package workload

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestValueRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, MinValueSize, 100, 2048, 50 * 1024, 300_000} {
		v := Value("stratz:profile:76561198000000123", 7, size)
		if want := max(size, MinValueSize); len(v) != want {
			t.Errorf("size %d: got %d bytes, want %d", size, len(v), want)
		}
		ver, err := Verify("stratz:profile:76561198000000123", v)
		if err != nil || ver != 7 {
			t.Errorf("size %d: Verify = %d, %v", size, ver, err)
		}
	}
	if Value("k", 1, 500) != Value("k", 1, 500) {
		t.Error("Value is not deterministic")
	}
	if Value("k", 1, 500) == Value("k", 2, 500) {
		t.Error("versions share a value")
	}
	if ver, err := Verify("k", Value("k", 1<<32-1, 40)); err != nil || ver != 1<<32-1 {
		t.Errorf("max version: %d, %v", ver, err)
	}
}

func TestVerifyCatchesCorruptionAndSwaps(t *testing.T) {
	const key = "session:123456789012345678"
	good := Value(key, 3, 500)
	flip := func(i int) string {
		b := []byte(good)
		b[i] ^= 0x01
		return string(b)
	}
	cases := map[string]string{
		"payload byte":     flip(400),
		"last byte":        flip(len(good) - 1),
		"version digit":    flip(8),
		"checksum digit":   flip(20),
		"magic":            flip(0),
		"separator":        flip(12),
		"truncated":        good[:len(good)-1],
		"extended":         good + "x",
		"empty":            "",
		"not ours":         "hello world, this is a plain string value",
		"other key's":      Value("session:123456789012345679", 3, 500),
		"other version":    strings.Replace(good, good[4:12], "00000004", 1),
		"uppercase hex":    strings.ToUpper(good[:30]) + good[30:],
		"header only junk": "cp1:zzzzzzzz:zzzzzzzzzzzzzzzz:",
	}
	for name, v := range cases {
		if _, err := Verify(key, v); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: Verify error %v, want ErrIntegrity", name, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %q does not name the key", name, err)
		}
	}
	// A value moved to another key is caught from the other side too.
	if _, err := Verify("session:123456789012345679", good); !errors.Is(err, ErrIntegrity) {
		t.Error("swapped value verified under the wrong key")
	}
}

func BenchmarkValue(b *testing.B) {
	for _, size := range []int{500, 2048, 50 * 1024} {
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := range b.N {
				_ = Value("stratz:profile:76561198000000123", uint32(i), size)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{500, 2048, 50 * 1024} {
		v := Value("stratz:profile:76561198000000123", 9, size)
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				if _, err := Verify("stratz:profile:76561198000000123", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
