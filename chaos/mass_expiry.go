package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/cacheproof/cacheproof/internal/keypattern"
)

func init() { Register("mass-expiry", func() Kind { return &massExpiry{Fraction: 1} }) }

// massExpiry makes a fraction of one family's keys in Redis expire in the
// same second: at the fault's start it finds them (SCAN over every primary,
// the family's key pattern matched whole) and gives them one PEXPIREAT, a
// whole second 1 to 2 s after the scan. Every user who looks one up next
// misses at once: the origin stampede the report measures (origin calls
// per second and their peak), and whether get-or-fetch's single-flight
// collapsed the concurrent misses of one key into one origin call. for: is
// the window it is measured over; nothing is undone at its end (an expired
// key is gone, and refilled by the users' get-or-fetch).
type massExpiry struct {
	Family   string  `param:"family"`
	Fraction float64 `param:"fraction"`
}

var _ Kind = (*massExpiry)(nil)

func (*massExpiry) Traits() Traits { return Traits{For: ForRequired} }

func (k *massExpiry) Validate(v *Validation) {
	v.family(k.Family)
	v.share("fraction", k.Fraction)
}

// scanBatch is how many keys one SCAN asks for.
const scanBatch = 1000

func (k *massExpiry) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	if t.Model == nil {
		return nil, fmt.Errorf("mass-expiry needs the run's workload model")
	}
	fam := t.Model.Family(k.Family)
	if fam == nil {
		return nil, fmt.Errorf("mass-expiry: no key family %q", k.Family)
	}
	pat, err := keypattern.Parse(fam.KeyPattern)
	if err != nil {
		return nil, fmt.Errorf("mass-expiry: family %s: %w", fam.Name, err)
	}
	primaries, err := dataPrimaries(ctx, t)
	if err != nil {
		return nil, err
	}
	// The keys chosen are a pure function of the key: the same fraction of
	// the same keys on every run that wrote them.
	cut := uint64(k.Fraction * float64(^uint64(0)))
	if k.Fraction >= 1 {
		cut = ^uint64(0)
	}
	chosen := map[string][]string{}
	var found, picked int
	for _, node := range primaries {
		cursor := "0"
		for {
			v, err := t.Deployment.Do(ctx, node, "SCAN", cursor, "MATCH", globEscape(t.KeyPrefix)+globOf(pat), "COUNT", scanBatch)
			if err != nil {
				return nil, fmt.Errorf("mass-expiry: SCAN %s: %w", node, err)
			}
			next, keys, err := scanReply(v)
			if err != nil {
				return nil, fmt.Errorf("mass-expiry: SCAN %s: %w", node, err)
			}
			for _, rkey := range keys {
				key, ok := strings.CutPrefix(rkey, t.KeyPrefix)
				if !ok || !pat.Match(key) {
					continue
				}
				found++
				if xxhash.Sum64String(key) <= cut {
					chosen[node] = append(chosen[node], key)
					picked++
				}
			}
			if cursor = next; cursor == "0" {
				break
			}
		}
	}
	// One instant for every key: a whole second at least one second after
	// the scan, so the PEXPIREATs (a round trip each) are all sent before
	// it, and the keys expire together 1 to 2 s into the fault.
	at := time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	var set uint64
	for _, node := range primaries {
		n, err := expireAll(ctx, t, node, chosen[node], ms)
		set += n
		if err != nil {
			return nil, fmt.Errorf("mass-expiry: PEXPIREAT on %s: %w", node, err)
		}
		if t.Ledger != nil {
			for _, key := range chosen[node] {
				t.Ledger.ExpiredAt(key, at)
			}
		}
	}
	mode := t.cacheMode()
	mode.Keys = set
	if !t.runStart.IsZero() {
		mode.ExpireAtS = roundS(at.Sub(t.runStart))
	}
	t.Notef("%d of the %d keys of %s found (fraction %g) set to expire at %s (PEXPIREAT %s)", set, found, fam.Name, k.Fraction, at.UTC().Format("15:04:05"), ms)
	expired := make(map[string]struct{}, picked)
	for _, keys := range chosen {
		for _, key := range keys {
			expired[key] = struct{}{}
		}
	}
	mode.Instances = t.Model.Instances()
	var ww *watchWindow
	if t.Watch != nil {
		ww = t.Watch.openWindow(func(key string) bool { _, ok := expired[key]; return ok })
	}
	return func(context.Context) error {
		if ww != nil {
			t.Watch.closeWindow(ww)
			ww.figures(mode)
		}
		return nil
	}, nil
}

// expireBatch is how many keys one script call expires.
const expireBatch = 500

// expireScript gives every key the expiry instant ARGV[1] and returns how
// many existed: one round trip a batch, so every key is set well before
// the instant.
const expireScript = `local n = 0
for _, k in ipairs(KEYS) do n = n + redis.call('PEXPIREAT', k, ARGV[1]) end
return n`

// expireAll gives keys (the workload's, without the prefix) on node the
// expiry instant ms, in script batches; where a batch is refused (a
// cluster node's keys span slots: CROSSSLOT) one PEXPIREAT a key. It
// returns how many keys existed to be given it.
func expireAll(ctx context.Context, t *Target, node string, keys []string, ms string) (uint64, error) {
	var set uint64
	for len(keys) > 0 {
		batch := keys[:min(len(keys), expireBatch)]
		keys = keys[len(batch):]
		args := []any{"EVAL", expireScript, len(batch)}
		for _, k := range batch {
			args = append(args, t.KeyPrefix+k)
		}
		args = append(args, ms)
		if v, err := t.Deployment.Do(ctx, node, args...); err == nil {
			if n, ok := v.(int64); ok {
				set += uint64(n)
			}
			continue
		}
		for _, k := range batch {
			v, err := t.Deployment.Do(ctx, node, "PEXPIREAT", t.KeyPrefix+k, ms)
			if err != nil {
				return set, fmt.Errorf("%s: %w", k, err)
			}
			if n, ok := v.(int64); ok {
				set += uint64(n)
			}
		}
	}
	return set, nil
}

// dataPrimaries are the data nodes that are primaries now (INFO role).
func dataPrimaries(ctx context.Context, t *Target) ([]string, error) {
	var out []string
	for _, n := range t.Deployment.Nodes() {
		if n.Role == "sentinel" {
			continue
		}
		info, err := t.Deployment.Info(ctx, n.Name, "replication")
		if err != nil {
			continue // a node down (another fault) holds nothing to expire now
		}
		if info["role"] == "master" {
			out = append(out, n.Name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no primary answered INFO replication")
	}
	return out, nil
}

// globOf is a SCAN MATCH glob for a key pattern: its literals with their
// glob characters escaped, a * for each placeholder. The keys it returns
// are matched against the pattern itself afterwards (a * also matches what
// no placeholder would).
func globOf(p keypattern.Pattern) string {
	var b strings.Builder
	for i := 0; i <= p.NumPlaceholders(); i++ {
		if i > 0 {
			b.WriteByte('*')
		}
		b.WriteString(globEscape(p.Literal(i)))
	}
	return b.String()
}

// globEscape escapes the characters a SCAN MATCH glob gives a meaning.
func globEscape(s string) string { return globEscaper.Replace(s) }

var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// scanReply splits a SCAN reply into its next cursor and its keys.
func scanReply(v any) (string, []string, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return "", nil, fmt.Errorf("unexpected reply %T", v)
	}
	keys, _ := arr[1].([]any)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprint(k))
	}
	return fmt.Sprint(arr[0]), out, nil
}
