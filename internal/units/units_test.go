package units

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestDecode(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		S Size     `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("d: 90s\ns: 256m\n"), &v); err != nil || v.D.D() != 90*time.Second || v.S != 256_000_000 {
		t.Fatalf("decoded %+v, %v", v, err)
	}
	if err := yaml.Unmarshal([]byte("d: 0\ns: 256mb\n"), &v); err != nil || v.D != 0 || v.S != 256<<20 || v.S.String() != "256mb" {
		t.Fatalf("decoded %+v, %v", v, err)
	}
	for in, want := range map[string]string{"d: 60\n": "expected a duration", "s: 1.5mb\n": "expected a size", "s: [1]\n": "expected a size"} {
		if err := yaml.Unmarshal([]byte(in), &v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	b, _ := json.Marshal(Duration(time.Minute))
	var back Duration
	if string(b) != `"1m0s"` || json.Unmarshal(b, &back) != nil || back.D() != time.Minute {
		t.Errorf("JSON %s -> %v", b, back)
	}
}

func TestParsePercent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		v    float64
		pct  bool
		fail bool
	}{
		{"50%", 0.5, true, false}, {" 12.5 % ", 0.125, true, false}, {"0.5", 0.5, false, false},
		{"500", 500, false, false}, {"half", 0, false, true}, {"", 0, false, true}, {"NaN%", 0, false, true},
	} {
		v, pct, err := ParsePercent(tc.in)
		if (err != nil) != tc.fail || v != tc.v || pct != tc.pct {
			t.Errorf("ParsePercent(%q) = %v, %v, %v", tc.in, v, pct, err)
		}
	}
}
