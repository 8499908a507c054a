package redistext

import (
	"math"
	"testing"
)

// The table is what redis-server 7.0.15 answered to CONFIG SET maxmemory X
// followed by CONFIG GET maxmemory (see also topology's
// TestMemorySizesAsRedisReadsThem, which asks a live server): k, m, g are
// powers of 1000, kb, mb, gb powers of 1024, case does not matter, and a
// decimal point, a space or a sign is an error.
func TestParseMemoryFollowsRedis(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "2048": 2048, "100b": 100, "100B": 100,
		"1k": 1000, "1kb": 1024, "1kB": 1024,
		"1m": 1_000_000, "1M": 1_000_000, "1mb": 1 << 20, "1MB": 1 << 20,
		"256m": 256_000_000, "256mb": 256 << 20,
		"1g": 1_000_000_000, "1gb": 1 << 30, "8GB": 8 << 30,
	} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mb", "1.5mb", "1 mb", " 1mb", "-1", "+1", "0x10", "1tb", "lots", "1mbb", "9223372036854775808", "9000000000gb"} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatMemoryRoundTrips(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1024, 256_000_000, 256 << 20, 3 << 19, 1 << 30, 5 << 30, math.MaxInt64} {
		s := FormatMemory(n)
		if back, err := ParseMemory(s); err != nil || back != n {
			t.Errorf("FormatMemory(%d) = %q, read back as %d, %v", n, s, back, err)
		}
	}
	if s := FormatMemory(256 << 20); s != "256mb" {
		t.Errorf("FormatMemory(256 MiB) = %q", s)
	}
}

func TestParseInfo(t *testing.T) {
	f := ParseInfo("# Server\r\nredis_version:7.0.15\r\nexecutable:\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=3,avg_ttl=0\r\ndb1:keys=2,expires=0,avg_ttl=0\r\nrole:master")
	if f["redis_version"] != "7.0.15" || f["role"] != "master" || f["db0"] != "keys=10,expires=3,avg_ttl=0" {
		t.Errorf("ParseInfo = %v", f)
	}
	if v, ok := f["executable"]; !ok || v != "" {
		t.Errorf("an empty value is kept as empty: %q, %v", v, ok)
	}
	if keys, expires := Keyspace(f); keys != 12 || expires != 3 {
		t.Errorf("Keyspace = %d, %d", keys, expires)
	}
	if IsPolicy("allkeys-lr") || !IsPolicy("volatile-ttl") {
		t.Error("IsPolicy")
	}
}
