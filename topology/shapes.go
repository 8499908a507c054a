package topology

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// How long a shape may take to settle after its nodes answer PING.
const (
	settleTimeout = 60 * time.Second
	// Fast failure detection keeps chaos tests and failovers short; production
	// values would be several seconds.
	sentinelDownAfterMS  = 1000
	sentinelFailoverMS   = 10000
	clusterNodeTimeoutMS = 2000
	clusterSlots         = 16384
	sentinelQuorum       = 2
)

// buildReplicated starts primary-0, its replicas (replica-1..N) and, when
// withSentinels, sentinel-0..2; standalone is the case with no replicas.
func (d *procDeployment) buildReplicated(ctx context.Context, withSentinels bool) error {
	primary, err := d.newNode(PrimaryName, RolePrimary, func(port int) string {
		return d.baseConf(d.byName[PrimaryName], port) + d.extraConf()
	})
	if err != nil {
		return err
	}
	if err := d.launch(ctx, primary); err != nil {
		return err
	}
	for i := 1; i <= d.spec.Replicas; i++ {
		name := ReplicaName(i)
		n, err := d.newNode(name, RoleReplica, nil)
		if err != nil {
			return err
		}
		n.genConf = func(port int) string {
			return d.baseConf(n, port) + "replicaof 127.0.0.1 " + strconv.Itoa(primary.announcedPort()) + "\n" + d.extraConf()
		}
		if err := d.launch(ctx, n); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	for _, n := range d.nodes {
		if n.initRole == RoleReplica {
			if err := waitReplicaUp(sctx, n.client); err != nil {
				return envErr("replication of "+n.name, err)
			}
		}
	}
	if !withSentinels {
		return nil
	}
	for i := range SentinelCount {
		name := SentinelName(i)
		n, err := d.newNode(name, RoleSentinel, nil)
		if err != nil {
			return err
		}
		n.genConf = func(port int) string { return d.sentinelConf(n, port, primary.announcedPort()) }
		if err := d.launch(ctx, n); err != nil {
			return err
		}
	}
	var sentinels []*redis.Client
	for _, n := range d.nodes {
		if n.sentinel {
			sentinels = append(sentinels, n.client)
		}
	}
	if err := waitSentinels(sctx, sentinels, d.spec.MasterName, primary.addr(), d.spec.Replicas); err != nil {
		return envErr("sentinels", err)
	}
	return nil
}

func (d *procDeployment) sentinelConf(n *procNode, port, primaryPort int) string {
	m := d.spec.MasterName
	var b strings.Builder
	line := func(k string, v ...any) {
		b.WriteString(k)
		for _, x := range v {
			fmt.Fprintf(&b, " %v", x)
		}
		b.WriteByte('\n')
	}
	line("port", port)
	line("bind", "127.0.0.1")
	line("protected-mode", "no")
	line("daemonize", "no")
	line("dir", quoteConf(n.dir))
	line("logfile", quoteConf(n.logPath))
	line("sentinel resolve-hostnames", "no")
	b.WriteString(n.announceConf())
	line("sentinel monitor", m, "127.0.0.1", primaryPort, sentinelQuorum)
	line("sentinel down-after-milliseconds", m, sentinelDownAfterMS)
	line("sentinel failover-timeout", m, sentinelFailoverMS)
	line("sentinel parallel-syncs", m, 1)
	if pw := d.password(); pw != "" {
		line("sentinel auth-pass", m, quoteConf(pw))
	}
	return b.String()
}

// buildCluster starts node-0..5, gives node-0..2 a third of the slots each,
// joins them, makes node-3..5 replicas of node-0..2 and waits until every
// node reports cluster_state:ok with the same slot map. It does this with
// plain cluster commands so it needs no redis-cli.
func (d *procDeployment) buildCluster(ctx context.Context) error {
	total := ClusterPrimaries * (1 + d.spec.Replicas)
	for i := range total {
		name := ClusterNodeName(i)
		role := RolePrimary
		if i >= ClusterPrimaries {
			role = RoleReplica
		}
		n, err := d.newNode(name, role, nil)
		if err != nil {
			return err
		}
		n.genConf = func(port int) string {
			return d.baseConf(n, port) +
				"cluster-enabled yes\ncluster-config-file nodes.conf\n" +
				// CLUSTER SLOTS hides a replica whose replication offset is
				// still 0, and an idle primary only moves the offset when it
				// pings its replicas (every 10 s by default).
				"repl-ping-replica-period 1\n" +
				"cluster-node-timeout " + strconv.Itoa(clusterNodeTimeoutMS) + "\n" + d.extraConf()
		}
		if err := d.launch(ctx, n); err != nil {
			return err
		}
	}
	clients := make([]*redis.Client, len(d.nodes))
	addrs := make([]string, len(d.nodes))
	var busPorts []int // with node links, the nodes' bus gates
	for i, n := range d.nodes {
		clients[i], addrs[i] = n.client, n.addr()
		if n.busGate != nil {
			busPorts = append(busPorts, n.busGate.port())
		}
	}
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	d.spec.Logf("topology: cluster nodes up, creating cluster")
	if err := createCluster(sctx, clients, addrs, busPorts, ClusterPrimaries, d.spec.Logf); err != nil {
		return envErr("create cluster", err)
	}
	return nil
}

// createCluster assigns slots, meets and replicates; nodes [0, primaries) are
// primaries and the rest replicate them round robin. busPorts, when not nil,
// are the nodes' cluster bus ports (else each address's port + 10000).
func createCluster(ctx context.Context, clients []*redis.Client, addrs []string, busPorts []int, primaries int, logf func(string, ...any)) error {
	ids := make([]string, len(clients))
	for i, c := range clients {
		id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return fmt.Errorf("CLUSTER MYID on %s: %w", addrs[i], err)
		}
		ids[i] = id
	}
	for i := range primaries {
		lo := i * clusterSlots / primaries
		hi := (i+1)*clusterSlots/primaries - 1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d on %s: %w", lo, hi, addrs[i], err)
		}
	}
	for i := 1; i < len(clients); i++ {
		host, port, _ := strings.Cut(addrs[i], ":")
		meet := []any{"CLUSTER", "MEET", host, port}
		if busPorts != nil {
			meet = append(meet, busPorts[i])
		}
		if err := clients[0].Do(ctx, meet...).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", addrs[i], err)
		}
	}
	// Every node must know every other before a replica can name its primary.
	if err := poll(ctx, func() error {
		for i, c := range clients {
			nodes, err := c.Do(ctx, "CLUSTER", "NODES").Text()
			if err != nil {
				return err
			}
			known := 0
			for _, l := range strings.Split(strings.TrimSpace(nodes), "\n") {
				f := strings.Fields(l)
				if len(f) > 2 && !strings.Contains(f[2], "handshake") && !strings.Contains(f[2], "noaddr") {
					known++
				}
			}
			if known < len(clients) {
				return fmt.Errorf("%s knows %d of %d nodes", addrs[i], known, len(clients))
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("cluster nodes never met: %w", err)
	}
	logf("topology: cluster nodes met")
	for i := primaries; i < len(clients); i++ {
		p := (i - primaries) % primaries
		if err := poll(ctx, func() error {
			return clients[i].Do(ctx, "CLUSTER", "REPLICATE", ids[p]).Err()
		}); err != nil {
			return fmt.Errorf("CLUSTER REPLICATE %s on %s: %w", addrs[p], addrs[i], err)
		}
	}
	logf("topology: replicas assigned, waiting for cluster_state:ok")
	return waitClusterOK(ctx, clients, addrs, len(clients)-primaries)
}

// waitClusterOK waits until every node says cluster_state:ok, all report the
// same slot map with the expected number of replicas, and replicas are in sync.
func waitClusterOK(ctx context.Context, clients []*redis.Client, addrs []string, replicas int) error {
	return poll(ctx, func() error {
		var first string
		for i, c := range clients {
			info, err := c.Do(ctx, "CLUSTER", "INFO").Text()
			if err != nil {
				return err
			}
			if redistext.ParseInfo(info)["cluster_state"] != "ok" {
				return fmt.Errorf("%s: cluster_state is not ok", addrs[i])
			}
			m, nrep, err := slotMap(ctx, c)
			if err != nil {
				return err
			}
			if nrep != replicas {
				return fmt.Errorf("%s sees %d replicas, want %d", addrs[i], nrep, replicas)
			}
			if i == 0 {
				first = m
			} else if m != first {
				return fmt.Errorf("slot maps differ: %s has %q, %s has %q", addrs[0], first, addrs[i], m)
			}
			r, err := c.Do(ctx, "INFO", "replication").Text()
			if err != nil {
				return err
			}
			if inf := redistext.ParseInfo(r); inf["role"] == "slave" && inf["master_link_status"] != "up" {
				return fmt.Errorf("%s: replication link is %s", addrs[i], inf["master_link_status"])
			}
		}
		return nil
	})
}

// slotMap renders CLUSTER SLOTS canonically ("lo-hi:primary>replicas;") and
// counts the replicas it names.
func slotMap(ctx context.Context, c *redis.Client) (string, int, error) {
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", 0, err
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Start < slots[j].Start })
	var b strings.Builder
	nrep := 0
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		reps := make([]string, 0, len(s.Nodes)-1)
		for _, n := range s.Nodes[1:] {
			reps = append(reps, n.Addr)
		}
		sort.Strings(reps)
		nrep += len(reps)
		fmt.Fprintf(&b, "%d-%d:%s>%s;", s.Start, s.End, s.Nodes[0].Addr, strings.Join(reps, ","))
	}
	return b.String(), nrep, nil
}

// waitReplicaUp waits for master_link_status:up on a replica.
func waitReplicaUp(ctx context.Context, c *redis.Client) error {
	return poll(ctx, func() error {
		s, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		inf := redistext.ParseInfo(s)
		if inf["role"] != "slave" || inf["master_link_status"] != "up" {
			return fmt.Errorf("role %s, master_link_status %s", inf["role"], inf["master_link_status"])
		}
		return nil
	})
}

// waitSentinels waits until every sentinel names primary as the master, sees
// the replicas and the other sentinels: only then can SENTINEL FAILOVER work.
func waitSentinels(ctx context.Context, sentinels []*redis.Client, master, primary string, replicas int) error {
	return poll(ctx, func() error {
		for i, s := range sentinels {
			addr, err := masterAddr(ctx, s, master)
			if err != nil {
				return err
			}
			if addr != primary {
				return fmt.Errorf("sentinel %d names %s, want %s", i, addr, primary)
			}
			m, err := sentinelMaster(ctx, s, master)
			if err != nil {
				return err
			}
			if m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != strconv.Itoa(len(sentinels)-1) {
				return fmt.Errorf("sentinel %d sees %s replicas and %s other sentinels", i, m["num-slaves"], m["num-other-sentinels"])
			}
			if strings.Contains(m["flags"], "down") {
				return fmt.Errorf("sentinel %d flags master %s", i, m["flags"])
			}
		}
		return nil
	})
}

func masterAddr(ctx context.Context, s *redis.Client, master string) (string, error) {
	v, err := s.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master).StringSlice()
	if err != nil {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %w", master, err)
	}
	if len(v) != 2 {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: reply %v", master, v)
	}
	return v[0] + ":" + v[1], nil
}

func sentinelMaster(ctx context.Context, s *redis.Client, master string) (map[string]string, error) {
	v, err := s.Do(ctx, "SENTINEL", "MASTER", master).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("SENTINEL MASTER %s: %w", master, err)
	}
	m := make(map[string]string, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		m[v[i]] = v[i+1]
	}
	return m, nil
}

// poll runs f until it succeeds or ctx ends, returning f's last error.
func poll(ctx context.Context, f func() error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		if last = f(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

// roleOf asks a data node whether it is a primary or a replica.
func roleOf(ctx context.Context, c *redis.Client) (Role, error) {
	s, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", err
	}
	switch redistext.ParseInfo(s)["role"] {
	case "master":
		return RolePrimary, nil
	case "slave":
		return RoleReplica, nil
	default:
		return "", fmt.Errorf("unknown role in INFO replication")
	}
}

// primaryByRole picks, among the data nodes that say role:master, the one
// with the most connected replicas (several can say master after a manual
// REPLICAOF NO ONE); ties go to the earlier node.
func primaryByRole(ctx context.Context, clients []*redis.Client) (string, error) {
	best, bestReps := "", -1
	var errs []error
	for _, c := range clients {
		s, err := c.Info(ctx, "replication").Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Options().Addr, err))
			continue
		}
		inf := redistext.ParseInfo(s)
		if inf["role"] != "master" {
			continue
		}
		reps, _ := strconv.Atoi(inf["connected_slaves"])
		if reps > bestReps {
			best, bestReps = c.Options().Addr, reps
		}
	}
	if best == "" {
		return "", fmt.Errorf("no node says role:master: %w", errors.Join(append(errs, errors.New("all answering nodes are replicas"))...))
	}
	return best, nil
}

// primaryBySentinel asks every sentinel and takes the majority answer.
func primaryBySentinel(ctx context.Context, sentinels []*redis.Client, master string) (string, error) {
	return majorityOf(ctx, sentinels, func(ctx context.Context, s *redis.Client) (string, error) {
		return masterAddr(ctx, s, master)
	})
}

// primaryByCluster asks every node which primary serves slot 0 and takes the
// majority answer, since gossip reaches nodes at different times.
func primaryByCluster(ctx context.Context, clients []*redis.Client) (string, error) {
	return majorityOf(ctx, clients, func(ctx context.Context, c *redis.Client) (string, error) {
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			return "", fmt.Errorf("CLUSTER SLOTS on %s: %w", c.Options().Addr, err)
		}
		for _, s := range slots {
			if s.Start <= 0 && 0 <= s.End && len(s.Nodes) > 0 {
				return s.Nodes[0].Addr, nil
			}
		}
		return "", fmt.Errorf("%s: slot 0 is not served", c.Options().Addr)
	})
}

// majorityOf asks every client at once which address is the primary and
// returns the most named one (see majority); the clients' errors only
// when none answered.
func majorityOf(ctx context.Context, clients []*redis.Client, ask func(context.Context, *redis.Client) (string, error)) (string, error) {
	votes := map[string]int{}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := ask(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			votes[a]++
		}()
	}
	wg.Wait()
	return majority(votes, errs)
}

func majority(votes map[string]int, errs []error) (string, error) {
	best, n := "", 0
	for a, v := range votes {
		if v > n || (v == n && a < best) {
			best, n = a, v
		}
	}
	if best == "" {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no node answered"))
		}
		return "", errors.Join(errs...)
	}
	return best, nil
}
