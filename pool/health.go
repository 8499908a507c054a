package pool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Grade is a value graded with the seed's monitoring table.
type Grade string

// Grades, from the seed's "Key Metrics" table.
const (
	GradeGood     Grade = "good"
	GradeWarning  Grade = "warning"
	GradeCritical Grade = "critical"
	GradeUnknown  Grade = "unknown" // no limit to grade against (maxmemory 0)
)

// GradeMemory grades used/max: good under 70 %, warning to 85 %, critical
// above. Without a maxmemory there is nothing to grade.
func GradeMemory(used, max int64) Grade {
	if max <= 0 {
		return GradeUnknown
	}
	switch u := float64(used) / float64(max); {
	case u < 0.70:
		return GradeGood
	case u <= 0.85:
		return GradeWarning
	}
	return GradeCritical
}

// GradeHitRate grades a hit rate in 0..1: good above 85 %, warning from
// 70 %, critical below.
func GradeHitRate(rate float64, samples uint64) Grade {
	if samples == 0 {
		return GradeUnknown
	}
	switch {
	case rate > 0.85:
		return GradeGood
	case rate >= 0.70:
		return GradeWarning
	}
	return GradeCritical
}

// GradeClients grades connected clients: good under 20, warning to 40,
// critical above (the seed's table, sized for one bot process).
func GradeClients(n int64) Grade {
	switch {
	case n < 20:
		return GradeGood
	case n <= 40:
		return GradeWarning
	}
	return GradeCritical
}

// Health is one INFO health check, typed. On a cluster the counters are
// summed over the masters and MaxMemory is their sum.
type Health struct {
	At    time.Time
	Took  time.Duration
	Shape string
	Nodes int // nodes asked (cluster masters, or 1)

	Role              string // master/slave (of the node asked); "cluster" on a cluster
	ConnectedReplicas int64
	Version           string
	UptimeSeconds     int64

	UsedMemory, UsedMemoryPeak, MaxMemory int64
	MaxMemoryPolicy                       string
	MemoryUsage                           float64 // UsedMemory/MaxMemory, 0 without a limit
	MemoryGrade                           Grade

	Keys, KeysWithExpiry int64

	EvictedKeys, ExpiredKeys, KeyspaceHits, KeyspaceMisses int64
	TotalCommands, RejectedConnections, TotalConnections   int64
	ConnectedClients, BlockedClients                       int64
	ClientsGrade                                           Grade

	// ServerHitRate is keyspace_hits/(keyspace_hits+keyspace_misses): the
	// seed divided by all commands processed, which is not a hit rate.
	ServerHitRate float64
	HitRateGrade  Grade
}

func infoInt(f map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(f[k], 10, 64)
	return n
}

// add folds one node's INFO into h.
func (h *Health) add(f map[string]string) {
	h.Nodes++
	if h.Role == "" {
		h.Role = f["role"]
	}
	h.Version = f["redis_version"]
	if up := infoInt(f, "uptime_in_seconds"); h.UptimeSeconds == 0 || up < h.UptimeSeconds {
		h.UptimeSeconds = up
	}
	h.ConnectedReplicas += infoInt(f, "connected_slaves")
	h.UsedMemory += infoInt(f, "used_memory")
	h.UsedMemoryPeak += infoInt(f, "used_memory_peak")
	h.MaxMemory += infoInt(f, "maxmemory")
	h.MaxMemoryPolicy = f["maxmemory_policy"]
	k, e := redistext.Keyspace(f)
	h.Keys += k
	h.KeysWithExpiry += e
	h.EvictedKeys += infoInt(f, "evicted_keys")
	h.ExpiredKeys += infoInt(f, "expired_keys")
	h.KeyspaceHits += infoInt(f, "keyspace_hits")
	h.KeyspaceMisses += infoInt(f, "keyspace_misses")
	h.TotalCommands += infoInt(f, "total_commands_processed")
	h.RejectedConnections += infoInt(f, "rejected_connections")
	h.TotalConnections += infoInt(f, "total_connections_received")
	h.ConnectedClients += infoInt(f, "connected_clients")
	h.BlockedClients += infoInt(f, "blocked_clients")
}

// finish computes the derived fields and grades.
func (h *Health) finish() {
	if h.MaxMemory > 0 {
		h.MemoryUsage = float64(h.UsedMemory) / float64(h.MaxMemory)
	}
	h.MemoryGrade = GradeMemory(h.UsedMemory, h.MaxMemory)
	n := uint64(h.KeyspaceHits + h.KeyspaceMisses)
	h.ServerHitRate = hitRate(uint64(h.KeyspaceHits), uint64(h.KeyspaceMisses))
	h.HitRateGrade = GradeHitRate(h.ServerHitRate, n)
	h.ClientsGrade = GradeClients(h.ConnectedClients)
}

// infoSections are the INFO sections the health check reads.
var infoSections = []string{"server", "stats", "memory", "clients", "replication", "keyspace"}

// Health runs one health check now: INFO on the primary, or on every
// cluster master. The result is also kept for LastHealth and Status.
func (m *Manager) Health(ctx context.Context) (Health, error) {
	start := time.Now()
	h := Health{At: start, Shape: m.cfg.Shape()}
	b := m.cur.Load()
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			info, err := node.Info(ctx, infoSections...).Result()
			if err != nil {
				return fmt.Errorf("INFO on %s: %w", node.Options().Addr, err)
			}
			f := redistext.ParseInfo(info)
			mu.Lock()
			h.add(f)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return Health{}, fmt.Errorf("pool: health check: %w", err)
		}
		h.Role = "cluster"
	} else {
		info, err := b.client.Info(ctx, infoSections...).Result()
		if err != nil {
			return Health{}, fmt.Errorf("pool: health check: %w", err)
		}
		h.add(redistext.ParseInfo(info))
	}
	h.Took = time.Since(start)
	h.finish()
	m.lastHealth.Store(&h)
	if m.follow != nil && h.Role != "" && h.Role != "master" {
		m.follow.suspect() // demoted without a write noticing yet
	}
	return h, nil
}

// LastHealth returns the most recent health check, if any ran.
func (m *Manager) LastHealth() (Health, bool) {
	if h := m.lastHealth.Load(); h != nil {
		return *h, true
	}
	return Health{}, false
}

// healthLoop runs Health every HealthCheckInterval until Shutdown. Failures
// are visible as a stale LastHealth and in CommandErrors; nothing is logged
// per tick.
func (m *Manager) healthLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.CommandTimeout)
			_, _ = m.Health(ctx)
			cancel()
		}
	}
}

// Status renders the seed's status box (without its mojibake) from the
// client-side counters and the last health check.
func (m *Manager) Status() string {
	s := m.Stats()
	h, ok := m.LastHealth()
	var avg time.Duration
	if lat := m.met.cmdCount[cmdIndex("get")].Load(); lat > 0 {
		if hist := m.met.latency[cmdIndex("get")].snapshot(); hist != nil {
			avg = time.Duration(hist.Mean() * float64(time.Microsecond))
		}
	}
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
	var b strings.Builder
	b.WriteString("╔═══════════════════════════════════╗\n")
	b.WriteString("║        REDIS CACHE STATUS         ║\n")
	b.WriteString("╚═══════════════════════════════════╝\n\n")
	b.WriteString("PERFORMANCE\n")
	fmt.Fprintf(&b, "   Hit Rate:        %.1f%% (%s)\n", 100*s.HitRate(), GradeHitRate(s.HitRate(), s.Hits+s.Misses))
	fmt.Fprintf(&b, "   Hits:            %d\n", s.Hits)
	fmt.Fprintf(&b, "   Misses:          %d\n", s.Misses)
	fmt.Fprintf(&b, "   Avg GET:         %.2f ms\n", float64(avg)/float64(time.Millisecond))
	fmt.Fprintf(&b, "   Errors:          %d\n", s.Errors)
	b.WriteString("\nMEMORY\n")
	if ok {
		fmt.Fprintf(&b, "   Used:            %s\n", mb(h.UsedMemory))
		fmt.Fprintf(&b, "   Peak:            %s\n", mb(h.UsedMemoryPeak))
		if h.MaxMemory > 0 {
			fmt.Fprintf(&b, "   Max:             %s (%.0f%%, %s)\n", mb(h.MaxMemory), 100*h.MemoryUsage, h.MemoryGrade)
		} else {
			b.WriteString("   Max:             unlimited\n")
		}
		b.WriteString("\nKEYS\n")
		fmt.Fprintf(&b, "   Total:           %d\n", h.Keys)
		fmt.Fprintf(&b, "   Evicted:         %d\n", h.EvictedKeys)
		fmt.Fprintf(&b, "   Server Hit Rate: %.1f%%\n", 100*h.ServerHitRate)
		b.WriteString("\nCONNECTION\n")
		fmt.Fprintf(&b, "   Clients:         %d (%s)\n", h.ConnectedClients, h.ClientsGrade)
		fmt.Fprintf(&b, "   Total Commands:  %d\n", h.TotalCommands)
	} else {
		b.WriteString("   (no health check yet)\n")
	}
	fmt.Fprintf(&b, "   Pool:            %d total, %d idle, %d timeouts\n", s.Pool.TotalConns, s.Pool.IdleConns, s.Pool.Timeouts)
	b.WriteString("═════════════════════════════════════")
	return b.String()
}

// ApplyServerConfig sets maxmemory and maxmemory-policy on the server, as
// the seed did on 'ready' — but only when allowed: with ProtectServer set it
// returns ErrServerConfigRefused and changes nothing. It reaches every node
// it knows: all cluster shards, or the primary plus the other Addrs (so a
// promoted replica has the same limits). Zero values are left alone.
func (m *Manager) ApplyServerConfig(ctx context.Context) error {
	if m.cfg.ProtectServer {
		return ErrServerConfigRefused
	}
	var params []string
	if m.cfg.MaxMemory > 0 {
		params = append(params, "maxmemory", strconv.FormatInt(m.cfg.MaxMemory, 10))
	}
	if m.cfg.MaxMemoryPolicy != "" {
		params = append(params, "maxmemory-policy", m.cfg.MaxMemoryPolicy)
	}
	if len(params) == 0 {
		return nil
	}
	apply := func(ctx context.Context, c redis.UniversalClient, where string) error {
		for i := 0; i < len(params); i += 2 {
			if err := c.ConfigSet(ctx, params[i], params[i+1]).Err(); err != nil {
				return fmt.Errorf("pool: CONFIG SET %s %s on %s: %w", params[i], params[i+1], where, err)
			}
		}
		return nil
	}
	b := m.cur.Load()
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			return apply(ctx, node, node.Options().Addr)
		})
	}
	var errs []error
	if err := apply(ctx, b.client, "primary"); err != nil {
		return err
	}
	for _, a := range m.cfg.Addrs {
		if a == b.addr {
			continue
		}
		c := redis.NewClient(&redis.Options{
			Addr: a, Username: m.cfg.Username, Password: m.cfg.Password, TLSConfig: m.cfg.TLS,
			DialTimeout: m.cfg.ConnectionTimeout, ReadTimeout: m.cfg.CommandTimeout, WriteTimeout: m.cfg.CommandTimeout,
			MaxRetries: -1, PoolSize: 1, DisableIdentity: true, Protocol: 2,
		})
		errs = append(errs, apply(ctx, c, a))
		_ = c.Close()
	}
	return errors.Join(errs...)
}

// Warm loads keys from the origin and writes them with their tiers, the
// seed's cache warming (the meta:* keys at start). It runs up to 8 loads at
// once, returns how many keys were written, and joins every failure.
func (m *Manager) Warm(ctx context.Context, loader func(ctx context.Context, key string) (string, error), keys map[string]Tier) (int, error) {
	type result struct {
		ok  bool
		err error
	}
	sem := make(chan struct{}, 8)
	results := make(chan result, len(keys))
	var wg sync.WaitGroup
	for k, t := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := loader(ctx, k)
			if err != nil {
				results <- result{err: &FetchError{Key: k, Err: err}}
				return
			}
			if err := m.Set(ctx, k, v, t); err != nil {
				results <- result{err: fmt.Errorf("pool: warm: %w", err)}
				return
			}
			results <- result{ok: true}
		}()
	}
	wg.Wait()
	close(results)
	n := 0
	var errs []error
	for r := range results {
		if r.ok {
			n++
		} else {
			errs = append(errs, r.err)
		}
	}
	return n, errors.Join(errs...)
}
