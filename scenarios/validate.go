package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
)

// The driver's defaults. The target:, pool: and workload: sections' live
// in the packages that own them (topology, pool, workload).
const (
	DefaultDropAfter = Duration(time.Second)
	DefaultOpTimeout = Duration(10 * time.Second)
	maxPhase         = 7 * 24 * time.Hour
)

// Defaults fills every value the file left out, so a report's resolved
// scenario shows what the run really used, and never replaces a value the
// file wrote: a written 0, 0s or "" stays, for validation to accept where it
// means something (prefill: 0s, no prefill; maxmemory: 0, no limit) and
// reject where it cannot (active_users: 0). For a scenario built in Go,
// which has no record of what was written, a zero value counts as unset.
//
// Each section's defaults are its owner's: the target's topology's, the
// pool's pool's, the workload's workload's. Those of the driver, the phases
// and the targets, which are the scenario's own, are here.
func (s *Scenario) Defaults() {
	s.Target.Defaults()
	s.Pool.Defaults()
	s.Workload.Defaults()
	w := &s.Workload
	fill(&s.Driver.DropAfter, s.Driver.wrote, "drop_after", DefaultDropAfter)
	fill(&s.Driver.OpTimeout, s.Driver.wrote, "op_timeout", DefaultOpTimeout)
	if len(s.Phases) == 0 && !s.wrote["phases"] {
		f := false
		s.Phases = []Phase{
			{Name: "warmup", Duration: Duration(30 * time.Second), Record: &f},
			{Name: "steady", Duration: Duration(2 * time.Minute)},
		}
	}
	for i := range s.Phases {
		p := &s.Phases[i]
		if p.Users == nil && p.UsersFrom == nil && p.UsersTo == nil {
			n := w.ActiveUsers
			p.Users = &n
		}
	}
	for i := range s.Faults {
		s.Faults[i].defaults()
	}
	s.Targets = mergeTargets(s.Targets)
}

// fill gives *v its default def unless the file wrote key or *v already
// holds a non-zero value (field.Default).
func fill[T comparable](v *T, wrote keySet, key string, def T) { field.Default(v, wrote, key, def) }

// mergeTargets puts the seed's default targets first unless the scenario
// overrides them by name, then the scenario's own. A scenario that wants to
// drop a default can set it to "off".
func mergeTargets(own Targets) Targets {
	byName := map[string]Target{}
	for _, t := range own {
		byName[t.Name] = t
	}
	var out Targets
	for _, d := range result.DefaultTargets() {
		if t, ok := byName[d.Name]; ok {
			if !strings.EqualFold(strings.TrimSpace(t.Expr), "off") {
				out = append(out, t)
			}
			delete(byName, d.Name)
			continue
		}
		out = append(out, Target{Name: d.Name, Expr: d.Expr})
	}
	for _, t := range own {
		if _, ok := byName[t.Name]; ok && !strings.EqualFold(strings.TrimSpace(t.Expr), "off") {
			out = append(out, t)
		}
	}
	return out
}

// defaultTargetsText lists the default targets as a scenario writes them.
func defaultTargetsText() string {
	var parts []string
	for _, d := range result.DefaultTargets() {
		parts = append(parts, d.Name+" "+d.Expr)
	}
	return strings.Join(parts, ", ")
}

// TargetSpecs returns the targets as parsed when the scenario was validated,
// for result.Finalize and chaos measurement; nothing downstream parses them
// again. A target changed after validation (or never validated) is parsed
// here instead, and fails evaluation if it does not parse.
func (s *Scenario) TargetSpecs() []result.Target {
	out := make([]result.Target, len(s.Targets))
	for i, t := range s.Targets {
		if t.parsed.Name == t.Name && t.parsed.Text == t.Expr && t.Name != "" && (t.parsed.Abort != nil) == (t.Abort || t.AbortAfter > 0) {
			out[i] = t.parsed
			continue
		}
		out[i], _ = result.ParseTarget(t.Spec())
	}
	return out
}

// problem is a validation finding with the YAML path it concerns; LoadBytes
// turns the path into a line and column.
type problem struct {
	Error
	path string
	// named: Msg already starts with the setting's path (a domain package's
	// finding), so Validate does not prefix it again.
	named bool
	// section: the finding is about a whole top-level section; it points at
	// the section's key.
	section bool
}

type checker struct{ out []*problem }

func (c *checker) add(path, format string, args ...any) {
	c.out = append(c.out, &problem{path: path, Error: Error{Msg: fmt.Sprintf(format, args...)}})
}

// merge adds a domain package's findings about section (its settings'
// Validate error, a field.List with paths below the section), each named by
// its full path: "workload.active_users: must be at least 1".
func (c *checker) merge(section string, err error) {
	var l field.List
	l.Merge(section, err)
	for _, e := range l {
		c.out = append(c.out, &problem{path: "$." + e.Path, named: true, Error: Error{Msg: e.Error()}})
	}
}

func (c *checker) addSection(path, format string, args ...any) {
	c.out = append(c.out, &problem{path: path, section: true, Error: Error{Msg: fmt.Sprintf(format, args...)}})
}

func (c *checker) at(line, col int, format string, args ...any) {
	c.out = append(c.out, &problem{Error: Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}})
}

func (c *checker) oneOf(path, name, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	msg := fmt.Sprintf("%s: unknown value %q, expected one of %s", name, v, strings.Join(allowed, ", "))
	if s := suggest(v, allowed); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	c.add(path, "%s", msg)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks a defaulted scenario and returns every problem found.
func (s *Scenario) Validate() error {
	probs := s.validate()
	if len(probs) == 0 {
		return nil
	}
	out := make(ErrorList, len(probs))
	for i, p := range probs {
		out[i] = &Error{File: s.File, Line: p.Line, Col: p.Col, Msg: p.Msg}
		if p.Line == 0 && !p.named {
			out[i].Msg = strings.TrimPrefix(p.path, "$.") + ": " + p.Msg
		}
	}
	return out
}

func (s *Scenario) validate() []*problem {
	c := &checker{}
	if s.Name == "" {
		c.add("$", "name: required (it names the results folder), e.g. name: baseline")
	} else if !nameRE.MatchString(s.Name) || len(s.Name) > 100 {
		c.add("$.name", "name: %q must be letters, digits, '.', '_' or '-' (it names the results folder)", s.Name)
	}
	c.merge("target", s.Target.Validate())
	c.merge("pool", s.Pool.Validate())
	c.merge("workload", s.Workload.Validate())
	// A family's tier names one of pool's, which workload does not import.
	c.merge("workload", s.Workload.CheckTiers(pool.TierNames()))
	s.validatePhases(c)
	s.validateFaults(c)
	s.validateTargets(c)
	s.validateCapacity(c)
	if _, err := s.Repeat.Parse(); err != nil {
		c.add("$.repeat", "repeat: %v", err)
	}
	d := s.Driver
	if d.DropAfter <= 0 {
		c.add("$.driver.drop_after", "drop_after: must be positive (0s would drop every command not started on the instant it was due)")
	}
	if d.MaxInflight < 0 || d.MaxInflight == 0 && d.wrote["max_inflight"] {
		c.add("$.driver.max_inflight", "max_inflight: must be at least 1 (0 would run no command; leave it out to bound by the peak number of users)")
	}
	if d.OpTimeout <= 0 {
		c.add("$.driver.op_timeout", "op_timeout: must be positive (0s would time out every command)")
	}
	return c.out
}

func (s *Scenario) validatePhases(c *checker) {
	if len(s.Phases) == 0 {
		c.add("$.phases", "phases: at least one phase is needed")
	}
	names := map[string]bool{}
	recorded := false
	for i, ph := range s.Phases {
		p := fmt.Sprintf("$.phases[%d]", i)
		if ph.Name == "" {
			c.add(p, "phases[%d].name: required", i)
		} else if names[ph.Name] {
			c.add(p+".name", "phase name %q used twice", ph.Name)
		}
		names[ph.Name] = true
		switch {
		case ph.Duration <= 0:
			c.add(p+".duration", "phase %q: duration must be positive, e.g. duration: 60s", ph.Name)
		case ph.Duration.D() > maxPhase:
			c.add(p+".duration", "phase %q: duration %s is longer than the 7-day limit", ph.Name, ph.Duration.D())
		}
		if (ph.UsersFrom == nil) != (ph.UsersTo == nil) {
			c.add(p, "phase %q: a ramp needs both users_from and users_to", ph.Name)
		}
		if (ph.UsersFrom != nil || ph.UsersTo != nil) && ph.Users != nil {
			c.add(p+".users", "phase %q: set either users or users_from/users_to, not both", ph.Name)
		}
		users := []*int{ph.UsersFrom, ph.UsersTo}
		// Users taken from active_users are checked there, once.
		if ph.Users != nil && (ph.wrote["users"] || *ph.Users != s.Workload.ActiveUsers) {
			users = append(users, ph.Users)
		}
		for _, u := range users {
			if u != nil && (*u < 0 || *u > s.Workload.Population) {
				c.add(p, "phase %q: users %d out of range, expected 0 to the population (%d)", ph.Name, *u, s.Workload.Population)
				break
			}
		}
		if ph.Recorded() {
			recorded = true
		}
	}
	if len(s.Phases) > 0 && !recorded {
		c.add("$.phases", "phases: every phase has record: false, so no target could be evaluated")
	}
}

func (s *Scenario) validateFaults(c *checker) {
	shape := topology.Shape(s.Target.Topology)
	site := chaos.Site{Shape: shape, Backend: topology.Backend(s.Target.Backend), Nodes: topology.PlannedNodes(shape, s.Target.Replicas), Total: s.TotalDuration(), Families: s.Workload.FamilyNames()}
	for i, f := range s.Faults {
		c.merge(field.Index("faults", i), chaos.Validate(f.Spec(), site))
	}
}

func (s *Scenario) validateTargets(c *checker) {
	// Defaults dropped the targets set to "off": a file that wrote targets
	// and has none left turned every one off. Such a run cannot fail, so
	// its PASS would say nothing.
	if len(s.Targets) == 0 && s.wrote["targets"] {
		c.addSection("$.targets", "targets: every target is \"off\", so the run could not fail and its PASS would mean nothing; keep at least one (for example latency_p99: \"< 5ms\"), or leave targets: out for the defaults (%s)", defaultTargetsText())
	}
	seen := map[string]bool{}
	for i := range s.Targets {
		t := &s.Targets[i]
		errAt := func(format string, args ...any) {
			if t.Line > 0 {
				c.at(t.Line, t.Col, format, args...)
			} else {
				c.add("$.targets."+t.Name, format, args...)
			}
		}
		if seen[t.Name] {
			errAt("target %q listed twice", t.Name)
		}
		seen[t.Name] = true
		// The per-tier forms (hit_rate.session) name pool's tiers.
		tiers := pool.TierNames()
		if !result.KnownMetric(t.Name) {
			msg := fmt.Sprintf("unknown target metric %q", t.Name)
			if sug := suggest(t.Name, result.MetricNames(tiers...)); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			errAt("%s; known: %s", msg, strings.Join(result.MetricNames(tiers...), ", "))
			continue
		}
		if tier, ok := result.TierOf(t.Name); ok && !slices.Contains(tiers, tier) {
			msg := fmt.Sprintf("target %q: unknown tier %q, expected one of %s", t.Name, tier, strings.Join(tiers, ", "))
			if sug := suggest(tier, tiers); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.TrimSuffix(t.Name, tier)+sug)
			}
			errAt("%s", msg)
			continue
		}
		parsed, err := result.ParseTarget(t.Spec())
		if err != nil {
			errAt("target %s: %v", t.Name, err)
			continue
		}
		if err := result.CheckAbort(parsed); err != nil {
			if t.AbortLine > 0 {
				c.at(t.AbortLine, t.AbortCol, "target %s: %v", t.Name, err)
			} else {
				errAt("target %s: %v", t.Name, err)
			}
			continue
		}
		t.parsed = parsed
	}
}

// Overrides are the command line's changes to a loaded scenario.
type Overrides struct {
	// Duration, when set, is the new total of the recorded phases; each is
	// scaled in proportion and warm-up phases keep their length. Faults
	// move with the phases (see scaleFaults), so a built-in fault scenario
	// can be shortened; Notes says so.
	Duration time.Duration
	// Warmup, when non-nil, is the new total of the unrecorded (warm-up)
	// phases, scaled in proportion; zero removes them.
	Warmup *time.Duration
	// Users, when set, replaces workload.active_users; phase user counts
	// scale in proportion.
	Users int
	// Seed, when non-nil, replaces the scenario's seed.
	Seed *int64
}

// Apply changes the scenario and validates it again.
func (s *Scenario) Apply(o Overrides) error {
	before := slices.Clone(s.Phases)
	if o.Users < 0 {
		return &Error{File: s.File, Msg: "--users must be at least 1"}
	}
	if o.Duration < 0 {
		return &Error{File: s.File, Msg: "--duration must be positive"}
	}
	if o.Users > 0 {
		old := s.Workload.ActiveUsers
		scale := func(n int) int {
			if old == 0 {
				return o.Users
			}
			return int(float64(n) * float64(o.Users) / float64(old))
		}
		for i := range s.Phases {
			p := &s.Phases[i]
			if p.Users != nil {
				n := scale(*p.Users)
				p.Users = &n
			}
			if p.UsersFrom != nil {
				f, t := scale(*p.UsersFrom), scale(*p.UsersTo)
				p.UsersFrom, p.UsersTo = &f, &t
			}
		}
		s.Workload.ActiveUsers = o.Users
		if s.Workload.Population < o.Users {
			return &Error{File: s.File, Msg: fmt.Sprintf("--users %d exceeds the scenario's population (%d)", o.Users, s.Workload.Population)}
		}
	}
	if o.Duration > 0 {
		var recorded time.Duration
		for _, p := range s.Phases {
			if p.Recorded() {
				recorded += p.Duration.D()
			}
		}
		for i := range s.Phases {
			p := &s.Phases[i]
			if p.Recorded() && recorded > 0 {
				p.Duration = Duration(time.Duration(float64(p.Duration) * float64(o.Duration) / float64(recorded)).Round(time.Millisecond))
			}
		}
	}
	if o.Warmup != nil {
		if *o.Warmup < 0 {
			return &Error{File: s.File, Msg: "--warmup must not be negative"}
		}
		var warm time.Duration
		for _, p := range s.Phases {
			if !p.Recorded() {
				warm += p.Duration.D()
			}
		}
		kept := s.Phases[:0]
		for _, p := range s.Phases {
			if !p.Recorded() {
				if *o.Warmup == 0 || warm == 0 {
					continue
				}
				p.Duration = Duration(time.Duration(float64(p.Duration) * float64(*o.Warmup) / float64(warm)).Round(time.Millisecond))
			}
			kept = append(kept, p)
		}
		s.Phases = kept
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if o.Duration > 0 || o.Warmup != nil {
		s.scaleFaults(before)
	}
	return s.Validate()
}

// scaleFaults moves each fault with the phase it falls in when --duration
// or --warmup changed the phases' lengths (before is the phases as they
// were): a fault a third into a phase stays a third into it, and its
// length and repeat interval stretch as the phases around them did. A
// fault kept at its written offset would land past a shortened run's end
// (soak's client-kill at 10m in an 8m run) or bunch up at the start of a
// lengthened one. The change is in Notes, which the console and the
// report show.
func (s *Scenario) scaleFaults(before []Phase) {
	if len(s.Faults) == 0 {
		return
	}
	// The phases that --warmup removed take no time after it.
	var starts, lens, newLens []time.Duration
	var t time.Duration
	j := 0
	for _, p := range before {
		starts = append(starts, t)
		lens = append(lens, p.Duration.D())
		t += p.Duration.D()
		if j < len(s.Phases) && s.Phases[j].Name == p.Name {
			newLens = append(newLens, s.Phases[j].Duration.D())
			j++
		} else {
			newLens = append(newLens, 0)
		}
	}
	remap := func(at time.Duration) time.Duration {
		var out time.Duration
		for i := range starts {
			end := starts[i] + lens[i]
			if at < end || i == len(starts)-1 {
				into := at - starts[i]
				if lens[i] > 0 {
					into = time.Duration(float64(into) * float64(newLens[i]) / float64(lens[i]))
				}
				return (out + into).Round(time.Millisecond)
			}
			out += newLens[i]
		}
		return at
	}
	var moved []string
	for i := range s.Faults {
		f := &s.Faults[i]
		at := remap(f.At.D())
		if f.For > 0 {
			f.For = Duration(remap(f.At.D()+f.For.D()) - at)
		}
		if f.Every > 0 {
			f.Every = Duration(remap(f.At.D()+f.Every.D()) - at)
		}
		if at != f.At.D() {
			moved = append(moved, fmt.Sprintf("%s %s → %s", f.Kind, f.At.D(), at))
		}
		f.At = Duration(at)
	}
	if len(moved) > 0 {
		s.Notes = append(s.Notes, "faults moved with the phases the command line rescaled (their lengths and repeat intervals in proportion): "+strings.Join(moved, ", "))
	}
}
