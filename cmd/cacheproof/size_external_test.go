package main

import (
	"testing"

	"github.com/cacheproof/cacheproof/topology"
)

// TestExternalURL: size reads the CONFIG of an external standalone or
// replica target's first node (credentials escaped into the URL), and of
// no target cacheproof starts, no cluster or sentinel, none over TLS.
func TestExternalURL(t *testing.T) {
	for _, c := range []struct {
		t    topology.Settings
		want string
		ok   bool
	}{
		{topology.Settings{Backend: "external", Topology: "standalone", Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"}}, "redis://10.0.0.1:6379", true},
		{topology.Settings{Backend: "external", Topology: "replica", Addrs: []string{"h:1"}, Password: "p@ss/w"}, "redis://:p%40ss%2Fw@h:1", true},
		{topology.Settings{Backend: "external", Addrs: []string{"h:1"}, Username: "u", Password: "p"}, "redis://u:p@h:1", true},
		{topology.Settings{Backend: "process", Topology: "standalone", Addrs: []string{"h:1"}}, "", false},
		{topology.Settings{Backend: "external", Topology: "cluster", Addrs: []string{"h:1"}}, "", false},
		{topology.Settings{Backend: "external", Topology: "standalone", Addrs: []string{"h:1"}, TLS: &topology.TLSSettings{}}, "", false},
		{topology.Settings{Backend: "external", Topology: "standalone"}, "", false},
	} {
		got, ok := externalURL(c.t)
		if got != c.want || ok != c.ok {
			t.Errorf("%+v: %q %v, want %q %v", c.t, got, ok, c.want, c.ok)
		}
	}
}
