package topology

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cut implements Partitioner on the container backend (the replica shape,
// its nodes on one Docker network): an iptables rule in the network
// namespace of the container that receives (DROP of the sender's address
// on INPUT), or of the sender when the receiver is the clients (DROP of the
// network's gateway, the address the published port's traffic comes from,
// on OUTPUT). Packets are dropped as on a real link: TCP resends them and
// a one-way cut stalls the connection's other direction's acknowledgements
// only. The rule is entered with nsenter from the host, so it needs root and
// the host's iptables, and a Docker engine on this host (a container's pid
// names its namespace); a restarted container gets a fresh namespace
// without the rule.
func (d *contDeployment) Cut(from, to string) (func(), error) {
	if from == to {
		return nil, fmt.Errorf("topology: cut %s from itself", from)
	}
	if d.net == nil {
		return nil, fmt.Errorf("topology: cut %s -> %s: the %s shape on the container backend has one node: %w", from, to, d.spec.Shape, ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, on, peer := "INPUT", to, from
	if to == Clients {
		in, on, peer = "OUTPUT", from, to
	}
	n, err := d.node(on)
	if err != nil {
		return nil, err
	}
	pid, ip, gw, err := d.netOf(ctx, n)
	if err != nil {
		return nil, err
	}
	addr := gw
	if peer != Clients {
		p, err := d.node(peer)
		if err != nil {
			return nil, err
		}
		if _, addr, _, err = d.netOf(ctx, p); err != nil {
			return nil, err
		}
	}
	flag := "-s"
	if in == "OUTPUT" {
		flag = "-d"
	}
	rule := []string{in, flag, addr, "-j", "DROP"}
	if err := nsIptables(pid, append([]string{"-I"}, rule...)); err != nil {
		return nil, fmt.Errorf("topology: cut %s -> %s (%s %s %s in %s's namespace, %s): %w", from, to, in, flag, addr, on, ip, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() { _ = nsIptables(pid, append([]string{"-D"}, rule...)) })
	}, nil
}

// netOf returns the container's pid, its address on the deployment's
// network and that network's gateway.
func (d *contDeployment) netOf(ctx context.Context, n *contNode) (pid int, ip, gw string, err error) {
	if n.c == nil {
		return 0, "", "", fmt.Errorf("topology: %s was never started", n.name)
	}
	in, err := n.c.Inspect(ctx)
	if err != nil {
		return 0, "", "", fmt.Errorf("topology: inspect %s: %w", n.name, err)
	}
	if in.State == nil || in.State.Pid == 0 {
		return 0, "", "", fmt.Errorf("topology: %s is not running", n.name)
	}
	if in.NetworkSettings == nil || in.NetworkSettings.Networks[d.net.Name] == nil {
		return 0, "", "", fmt.Errorf("topology: %s is not on network %s", n.name, d.net.Name)
	}
	ep := in.NetworkSettings.Networks[d.net.Name]
	return in.State.Pid, ep.IPAddress.String(), ep.Gateway.String(), nil
}

// nsIptables runs iptables in the network namespace of process pid.
func nsIptables(pid int, args []string) error {
	out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "iptables"}, args...)...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		return envErr("partition on the container backend", fmt.Errorf("nsenter -t %d -n iptables %s: %w: %s (it needs root, iptables on the host and the Docker engine on this host)", pid, strings.Join(args, " "), err, msg))
	}
	return nil
}

var _ Partitioner = (*contDeployment)(nil)
