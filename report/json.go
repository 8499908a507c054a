package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// WriteJSON writes r as indented JSON. Nil maps and slices are written as {}
// and [] so consumers need no null checks, and the resolved scenario and pool
// configuration are redacted again here as a last line of defence: a report
// is shared far more widely than a scenario file.
func WriteJSON(w io.Writer, r *result.Result) error {
	return encodeJSON(w, "json report", normalized(r))
}

// encodeJSON writes v as every document's JSON file is written: indented
// by two spaces, with <, > and & kept as they are (target expressions
// such as "latency_p99 < 5ms" read as written); what names it in errors.
func encodeJSON(w io.Writer, what string, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON. It rejects reports whose
// schema major version it does not know and reports whose stored histograms
// do not decode, since compare and merge would silently be wrong.
func ReadJSON(rd io.Reader) (*result.Result, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read json report: %w", err)
	}
	var probe struct {
		SchemaVersion *string `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("read json report: %w", describeJSONError(data, err))
	}
	if probe.SchemaVersion == nil {
		return nil, fmt.Errorf("read json report: no schema_version: not a cacheproof report")
	}
	if err := CheckSchemaVersion(*probe.SchemaVersion); err != nil {
		return nil, fmt.Errorf("read json report: %w", err)
	}
	var r result.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read json report: %w", describeJSONError(data, err))
	}
	for k, v := range r.HDR {
		if _, err := result.DecodeHDR(v); err != nil {
			return nil, fmt.Errorf("read json report: hdr %q: %w", k, err)
		}
	}
	return &r, nil
}

// CheckSchemaVersion accepts any version with the same major as
// SchemaVersion.
func CheckSchemaVersion(v string) error {
	major, _, _ := strings.Cut(v, ".")
	want, _, _ := strings.Cut(result.SchemaVersion, ".")
	if major == "" || major != want {
		return fmt.Errorf("unsupported schema_version %q (this cacheproof reads %s.x)", v, want)
	}
	return nil
}

// describeJSONError adds a line and column to syntax and type errors.
func describeJSONError(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// normalized returns a copy of r ready to serialise: empty collections
// instead of nil, secrets redacted. r itself is not changed.
func normalized(r *result.Result) *result.Result {
	c := *r
	if c.SchemaVersion == "" {
		c.SchemaVersion = result.SchemaVersion
	}
	if c.Verdict == "" {
		c.Verdict = result.VerdictFail
	}
	c.Scenario.Resolved = Redact(c.Scenario.Resolved)
	c.Pool.Config = Redact(c.Pool.Config)
	c.Targets = nonNil(c.Targets)
	c.Latency.ByOp = nonNilMap(c.Latency.ByOp)
	c.Latency.ByTier = nonNilMap(c.Latency.ByTier)
	c.Latency.ByPhase = nonNilMap(c.Latency.ByPhase)
	c.HDR = nonNilMap(c.HDR)
	c.Cache.MissesByCause = nonNilMap(c.Cache.MissesByCause)
	c.Cache.ByTier = normCounts(c.Cache.ByTier)
	c.Cache.ByFamily = normCounts(c.Cache.ByFamily)
	c.Errors = nonNilMap(c.Errors)
	c.Origin = nonNilMap(c.Origin)
	c.Phases = nonNil(c.Phases)
	c.Notes = nonNil(c.Notes)
	c.Timeline = normalizedEach(r.Timeline, func(row *result.TimelineRow) {
		row.ErrorsByKind = nonNilMap(row.ErrorsByKind)
		row.HitRateByTier = nonNilMap(row.HitRateByTier)
		row.MissesByCause = nonNilMap(row.MissesByCause)
	})
	c.Faults = normalizedEach(r.Faults, func(f *result.FaultReport) {
		f.Params = nonNilMap(f.Params)
		f.ErrorsByKind = nonNilMap(f.ErrorsByKind)
		f.Notes = nonNil(f.Notes)
	})
	return &c
}

// normalizedEach copies s (never nil) with norm applied to each element's
// copy, so the caller's rows keep their nil maps.
func normalizedEach[T any](s []T, norm func(*T)) []T {
	out := make([]T, len(s))
	for i, v := range s {
		norm(&v)
		out[i] = v
	}
	return out
}

func normCounts(m map[string]result.CacheCounts) map[string]result.CacheCounts {
	out := make(map[string]result.CacheCounts, len(m))
	for k, v := range m {
		v.MissesByCause = nonNilMap(v.MissesByCause)
		out[k] = v
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// Redacted replaces every secret value.
const Redacted = "[redacted]"

var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|api_?key|private_?key|^auth$|^pass$|_auth$|^auth_)`)

// Redact returns a JSON-shaped copy of v (maps, slices, strings, numbers)
// with secrets replaced by "[redacted]": values under keys that look like
// passwords, tokens or keys, and passwords inside URLs
// (redis://user:pw@host). Values that cannot be marshalled are replaced by a
// note rather than failing the report.
func Redact(v any) any {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": "unserialisable value: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return map[string]any{"error": "unserialisable value: " + err.Error()}
	}
	return redactValue(generic)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secretKey.MatchString(k) && !isEmptyValue(val) {
				if _, isBool := val.(bool); !isBool {
					t[k] = Redacted
					continue
				}
			}
			t[k] = redactValue(val)
		}
		return t
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
		return t
	case string:
		return redactURL(t)
	}
	return v
}

func isEmptyValue(v any) bool {
	s, ok := v.(string)
	return v == nil || ok && s == ""
}

// redactURL hides the password of scheme://user:password@host strings.
func redactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return strings.Replace(u.String(), "xxxxx", Redacted, 1)
	}
	return s
}
