package profile

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"time"
)

// WriteFiles writes profile.json and profile.html into dir.
func (p *Profile) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("profile folder: %w", err)
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("profile.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profile.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("profile.json: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "profile.html"))
	if err != nil {
		return fmt.Errorf("profile.html: %w", err)
	}
	defer f.Close()
	if err := htmlPage.Execute(f, p); err != nil {
		return fmt.Errorf("profile.html: %w", err)
	}
	return f.Close()
}

var htmlPage = template.Must(template.New("profile").Funcs(template.FuncMap{
	"pct":   func(x float64) string { return fmt.Sprintf("%.1f %%", 100*x) },
	"num":   func(x float64) string { return fmt.Sprintf("%.0f", x) },
	"f2":    func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"bytes": func(x float64) string { return fmt.Sprintf("%.0f B", x) },
	"dur":   func(d time.Duration) string { return d.String() },
	"ttl": func(t TTLFit) string {
		switch {
		case t.Tier != "" && t.TTL > 0:
			return fmt.Sprintf("tier %s (%s)", t.Tier, t.TTL)
		case t.Tier != "":
			return "tier " + t.Tier + " (none)"
		}
		return t.TTL.String()
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cacheproof profile: {{.URL}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:10em}
.card b{display:block;font-size:1.3em}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:right}
th:first-child,td:first-child,td.l{text-align:left}code{font-size:12px}.warn{color:#a40}
</style></head><body>
<h1>What <code>{{.URL}}</code> holds and does</h1>
<p>{{.Deployment.Shape}}, Redis {{.Deployment.Version}}, nodes {{range .Deployment.Nodes}}<code>{{.}}</code> {{end}}; maxmemory {{.Deployment.MaxMemory}} B, {{.Deployment.Policy}}. Profiled {{.Started.Format "2006-01-02 15:04:05"}} UTC in {{dur .Took}}.</p>
{{if .Stopped}}<p class="warn">Stopped early: {{.Stopped}}</p>{{end}}
<div class="cards">
<div class="card">keys (DBSIZE)<b>{{.DBSize}}</b></div>
<div class="card">sampled<b>{{.Sampled}}</b>of {{.Requested}} asked</div>
<div class="card">families explain<b>{{pct .ExplainedKeys}}</b>of keys, {{pct .ExplainedMem}} of memory</div>
<div class="card">commands/s<b>{{num .OpsPerSec}}</b></div>
<div class="card">cache age<b>{{if .CacheAge}}{{dur .CacheAge}}{{else}}n/a{{end}}</b>prefill {{dur .Prefill}}</div>
<div class="card">server hit rate<b>{{if ge .Traffic.HitRate 0.0}}{{pct .Traffic.HitRate}}{{else}}n/a{{end}}</b>over {{dur .Traffic.Window}}</div>
</div>
<h2>Families</h2>
<table><tr><th>family</th><th>pattern</th><th>type</th><th>keys (95 % CI)</th><th>key space</th><th>memory</th><th>size fit</th><th>mean size ± CI</th><th>fields/members</th><th>TTL</th><th>no TTL</th><th>popularity</th><th>weight</th><th>writes</th><th>deletes</th></tr>
{{range .Families}}<tr><td>{{.Name}}</td><td class="l"><code>{{.Pattern}}</code></td><td>{{.Type}}</td>
<td>{{num .Keys}} ({{num .KeysLo}}–{{num .KeysHi}})</td><td title="{{.KeyspaceBy}}">{{num .Keyspace}}</td><td>{{pct .MemShare}}</td>
<td>{{.Size.Kind}} (KS {{f2 .Size.KS}})</td><td>{{bytes .Size.Mean}} ± {{f2 .Size.MeanCI95}}</td><td>{{num .Len}}</td><td>{{ttl .TTL}}</td><td>{{pct .TTL.NoTTLShare}}</td>
<td title="{{.Popularity.Method}}">{{.Popularity.Kind}} {{if .Popularity.Exponent}}{{f2 .Popularity.Exponent}}{{end}}</td><td>{{pct .Weight}}</td><td>{{pct .WriteShare}}</td><td>{{pct .DeleteShare}}</td></tr>
{{end}}</table>
<ul>{{range .Families}}{{$n := .Name}}{{range .Notes}}<li><b>{{$n}}</b>: {{.}}</li>{{end}}{{end}}</ul>
{{if .OtherExamples}}<p>Keys of no family (patterns too rare), e.g. {{range .OtherExamples}}<code>{{.}}</code> {{end}}</p>{{end}}
<h2>Traffic</h2>
<p>{{.Traffic.Reads}} reads, {{.Traffic.Writes}} writes ({{.Traffic.Deletes}} of them deletes), {{.Traffic.Other}} other commands over {{dur .Traffic.Window}}; {{.Traffic.Evicted}} evictions, {{.Traffic.Expired}} expirations.
{{if .Observation.Enabled}}MONITOR: {{.Observation.Lines}} lines over {{dur .Observation.Duration}}{{if .Observation.Capped}} (capped){{end}}, {{.Observation.Accesses}} key accesses, {{.Observation.Unmatched}} to keys of no family.{{else}}No MONITOR observation: popularity and shares are estimates.{{end}}</p>
<table><tr><th>command</th><th>calls</th><th>share</th></tr>
{{range $name, $n := .Traffic.Commands}}<tr><td>{{$name}}</td><td>{{$n}}</td><td>{{pct (index $.Traffic.Mix $name)}}</td></tr>
{{end}}</table>
<h2>How sure, and what could not be read</h2>
<p>The profiler sent {{.OwnCommands}} commands. PING probe: baseline {{f2 .Probe.BaselineMs}} ms, max {{f2 .Probe.MaxMs}} ms over {{.Probe.Probes}} probes, {{.Probe.Slow}} slow, {{.Probe.Backoffs}} back-offs.</p>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
</body></html>
`))
