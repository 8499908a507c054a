package redistext

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// memoryUnits are the suffixes Redis's memtoull (util.c) accepts, case
// insensitively, with their multipliers: k, m and g are powers of 1000, kb,
// mb and gb powers of 1024, as redis.conf's header says ("1m => 1000000
// bytes, 1mb => 1024*1024 bytes").
var memoryUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1 << 10,
	"m": 1000 * 1000, "mb": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1 << 30,
}

// ParseMemory reads a memory size as Redis reads it (memtoull): digits, then
// optionally one of b, k, kb, m, mb, g, gb in any case. "256m" is
// 256,000,000 bytes and "256mb" 268,435,456, as for redis-server itself, so
// a value cacheproof reads means what Redis will make of it when the value
// is passed on.
//
// It accepts nothing Redis would reject ("1.5mb", "256 mb", "-1") and
// refuses two things Redis 7.0 accepts but misreads: a unit without digits
// ("mb", which Redis reads as 0, no limit) and a value beyond 2^63-1 bytes
// (which Redis wraps or clamps).
func ParseMemory(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, unit := s[:i], strings.ToLower(s[i:])
	mult, ok := memoryUnits[unit]
	if !ok || digits == "" {
		return 0, fmt.Errorf("expected a size such as 256mb, 1gb or 2048 (Redis units: k, m, g are 1000s; kb, mb, gb 1024s), got %q", s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// FormatMemory writes n bytes in the largest binary unit that holds it
// exactly ("256mb", "1gb", "1536kb", "1000"), which ParseMemory and Redis
// read back as n.
func FormatMemory(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "gb"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "mb"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "kb"
	}
	return strconv.FormatInt(n, 10)
}
