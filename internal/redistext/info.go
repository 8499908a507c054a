package redistext

import (
	"strconv"
	"strings"
)

// ParseInfo turns an INFO (or CLUSTER INFO) reply into field -> value.
// Section headers ("# Memory") and blank lines are dropped; a value keeps
// everything after the first colon ("db0:keys=1,expires=0"). Field names are
// unique across INFO's sections, so one flat map holds every section asked
// for.
func ParseInfo(s string) map[string]string {
	out := make(map[string]string, strings.Count(s, "\n")+1)
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Keyspace sums keys and expires over the keyspace lines of a parsed INFO
// ("db0:keys=10,expires=3,avg_ttl=0"), every database together.
func Keyspace(info map[string]string) (keys, expires int64) {
	for k, v := range info {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		if _, err := strconv.Atoi(k[2:]); err != nil {
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			name, num, _ := strings.Cut(part, "=")
			n, _ := strconv.ParseInt(num, 10, 64)
			switch name {
			case "keys":
				keys += n
			case "expires":
				expires += n
			}
		}
	}
	return keys, expires
}
