package profile

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Deployment is what the profiler found at the URL: the shape and the
// nodes whose keyspaces it reads (the node itself, or every primary of a
// cluster).
type Deployment struct {
	Shape string   `json:"shape"` // standalone | replica | cluster
	Nodes []string `json:"nodes"`
	// Role is the role of the node the URL names (master or slave).
	Role    string `json:"role"`
	Version string `json:"redis_version"`
	// MaxMemory and Policy are the server's (INFO memory), on the first node.
	MaxMemory int64  `json:"maxmemory"`
	Policy    string `json:"maxmemory_policy"`
}

// EnvError is a failure to reach or read Redis (exit code 3), as opposed
// to a bad flag.
type EnvError struct{ Err error }

func (e *EnvError) Error() string { return e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// connect parses the URL, reaches its node and, for a cluster, every
// primary. The returned nodes share the URL's credentials and TLS.
func connect(ctx context.Context, o Options) (Deployment, []*node, error) {
	base, err := redis.ParseURL(o.URL)
	if err != nil {
		return Deployment{}, nil, fmt.Errorf("--redis-url %q: %w", o.URL, err)
	}
	first := dial(base, base.Addr, o.MaxOpsPerSec)
	info, err := first.c.Info(ctx, "server", "replication", "memory", "cluster").Result()
	if err != nil {
		first.close()
		return Deployment{}, nil, &EnvError{fmt.Errorf("reach %s: %w", base.Addr, err)}
	}
	kv := redistext.ParseInfo(info)
	d := Deployment{Shape: "standalone", Role: kv["role"], Version: kv["redis_version"], Policy: kv["maxmemory_policy"]}
	d.MaxMemory, _ = strconv.ParseInt(kv["maxmemory"], 10, 64)
	if d.Role == "slave" {
		d.Shape = "replica"
	}
	if kv["cluster_enabled"] != "1" {
		d.Nodes = []string{base.Addr}
		return d, []*node{first}, nil
	}
	d.Shape = "cluster"
	addrs, err := primaries(ctx, first, base.Addr)
	if err != nil {
		first.close()
		return Deployment{}, nil, &EnvError{err}
	}
	var nodes []*node
	for _, a := range addrs {
		if a == base.Addr {
			nodes = append(nodes, first)
			continue
		}
		nodes = append(nodes, dial(base, a, o.MaxOpsPerSec))
	}
	if !containsNode(nodes, first) {
		first.close()
	}
	d.Nodes = addrs
	return d, nodes, nil
}

func containsNode(ns []*node, n *node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// primaries lists a cluster's primaries: CLUSTER SHARDS (7.0+), else
// CLUSTER NODES. An address the node announces without a host ("":port)
// takes the host the URL reached.
func primaries(ctx context.Context, n *node, reached string) ([]string, error) {
	host, _, _ := net.SplitHostPort(reached)
	if shards, err := n.c.ClusterShards(ctx).Result(); err == nil {
		var out []string
		for _, s := range shards {
			for _, nd := range s.Nodes {
				if nd.Role != "master" || nd.Health == "fail" {
					continue
				}
				ip := nd.IP
				if ip == "" || ip == "?" {
					ip = host
				}
				port := nd.Port
				if port == 0 {
					port = nd.TLSPort
				}
				out = append(out, net.JoinHostPort(ip, strconv.FormatInt(port, 10)))
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	text, err := n.c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("list the cluster's primaries (CLUSTER SHARDS, CLUSTER NODES): %w", err)
	}
	return parseClusterNodes(text, host), nil
}

// parseClusterNodes takes the primaries (flags "master", not "fail") of a
// CLUSTER NODES reply: "id ip:port@cport flags master ...".
func parseClusterNodes(text, host string) []string {
	var out []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if h == "" {
			h = host
		}
		out = append(out, net.JoinHostPort(h, p))
	}
	return out
}
