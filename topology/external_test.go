package topology

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExternalStandaloneRefusesDestructiveControls(t *testing.T) {
	requireRedis(t)
	own := startT(t, Spec{ExtraConfig: map[string]string{
		"user":        "cacheproof on >s3cret ~* &* +@all",
		"requirepass": "default-users-password",
	}})
	_, port, _ := net.SplitHostPort(own.Endpoints().Addrs[0])
	reach := ExternalSpec{Addrs: own.Endpoints().Addrs, Password: "s3cret"}
	ctx := ctxT(t)

	if own.Endpoints().Password != "default-users-password" {
		t.Fatalf("process Endpoints must carry requirepass, got %+v", own.Endpoints())
	}
	if _, err := Start(ctx, Spec{Backend: BackendExternal, External: reach}); err == nil {
		t.Fatal("external without the ACL user must fail AUTH as the default user")
	} else if !errors.As(err, new(*EnvError)) {
		t.Fatalf("unreachable external is an environment error, got %T %v", err, err)
	}

	reach.Username = "cacheproof"
	d, err := Start(ctx, Spec{Backend: BackendExternal, External: reach})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	ep := d.Endpoints()
	if ep.Addrs[0] != own.Endpoints().Addrs[0] || ep.Username != "cacheproof" || ep.Password != "s3cret" {
		t.Fatalf("Endpoints = %+v", ep)
	}
	mustDo(t, own, "primary-0", "SET", "k", "v")
	if v := mustDo(t, d, "primary-0", "GET", "k"); v != "v" {
		t.Fatalf("GET via external = %v", v)
	}
	if inf, err := d.Info(ctx, "primary-0", "server"); err != nil || inf["tcp_port"] != port {
		t.Fatalf("Info = %v, %v", inf["tcp_port"], err)
	}
	if p, err := d.Primary(ctx); err != nil || p.Name != "primary-0" {
		t.Fatalf("Primary = %v, %v", p, err)
	}

	refusals := map[string]func() error{
		"CONFIG SET":  func() error { _, err := d.Do(ctx, "primary-0", "config", "set", "maxmemory", "1mb"); return err },
		"REPLICAOF":   func() error { _, err := d.Do(ctx, "primary-0", "REPLICAOF", "127.0.0.1", "1"); return err },
		"CLIENT KILL": func() error { _, err := d.Do(ctx, "primary-0", "CLIENT", "KILL", "TYPE", "normal"); return err },
		"FLUSHALL":    func() error { _, err := d.Do(ctx, "primary-0", "FLUSHALL"); return err },
		"stop":        func() error { return d.Stop(ctx, "primary-0") },
		"kill":        func() error { return d.Kill(ctx, "primary-0") },
		"pause":       func() error { return d.Pause(ctx, "primary-0") },
	}
	for control, f := range refusals {
		err := f()
		if !errors.Is(err, ErrDestructive) || !strings.Contains(err.Error(), control) || !strings.Contains(err.Error(), "--allow-destructive") {
			t.Errorf("%s: got %v, want ErrDestructive naming the control and --allow-destructive", control, err)
		}
	}
	if v := mustDo(t, own, "primary-0", "CONFIG", "GET", "maxmemory"); v.([]any)[1] != "0" {
		t.Fatalf("refused CONFIG SET changed the server: %v", v)
	}
	if v := mustDo(t, own, "primary-0", "GET", "k"); v != "v" {
		t.Fatal("refused FLUSHALL flushed")
	}

	// With --allow-destructive the same controls act.
	dd, err := Start(ctx, Spec{Backend: BackendExternal, AllowDestructive: true, External: reach})
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close(ctx)
	checkConfigSet(t, dd, "primary-0")
	if err := dd.Kill(ctx, "primary-0"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Kill on external: %v, want ErrUnsupported", err)
	}
	if err := dd.(TimedPauser).PauseFor(ctx, "primary-0", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := pingWithin(own, "primary-0", 300*time.Millisecond); err == nil {
		t.Fatal("PING answered during CLIENT PAUSE ALL")
	}
	if err := dd.Resume(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if err := pingWithin(own, "primary-0", time.Second); err != nil {
		t.Fatalf("no answer after Resume: %v", err)
	}
	logs := t.TempDir()
	if err := dd.KeepLogs(logs); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(logs, "primary-0.info.txt")); err != nil || !strings.Contains(string(b), "redis_version") {
		t.Fatalf("kept INFO: %v %.100s", err, b)
	}
	if err := dd.Stop(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if err := pingWithin(own, "primary-0", time.Second); err == nil {
		t.Fatal("server answers after external SHUTDOWN NOSAVE")
	}
	// The tool cannot start it; our own deployment plays the supervisor. Its
	// restart must succeed on the old port, or the wait below is for nothing.
	supervisor := make(chan error, 1)
	go func() { supervisor <- own.Start(context.Background(), "primary-0") }()
	err = dd.Start(ctx, "primary-0")
	if serr := <-supervisor; serr != nil {
		t.Fatalf("the supervisor's restart of primary-0 failed: %v (external Start: %v)", serr, err)
	}
	if err != nil {
		t.Fatalf("Start waits for the supervisor's restart: %v", err)
	}
}

func TestExternalSentinelDiscovers(t *testing.T) {
	t.Parallel()
	requireRedis(t)
	own := startT(t, Spec{Shape: ShapeSentinel})
	ctx := ctxT(t)
	d, err := Start(ctx, Spec{Backend: BackendExternal, Shape: ShapeSentinel, External: ExternalSpec{
		SentinelAddrs: own.Endpoints().SentinelAddrs,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	got := map[string]string{}
	for _, n := range d.Nodes() {
		got[n.Name] = n.Addr + "/" + string(n.Role)
	}
	want := map[string]string{}
	for _, n := range own.Nodes() {
		want[n.Name] = n.Addr + "/" + string(n.Role)
	}
	if len(got) != 5 || got["primary-0"] != want["primary-0"] || got["replica-1"] != want["replica-1"] || got["sentinel-2"] != want["sentinel-2"] {
		t.Fatalf("discovered %v, want %v", got, want)
	}
	if p, err := d.Primary(ctx); err != nil || p.Addr != addrOfNode(t, own, "primary-0") {
		t.Fatalf("Primary = %v, %v", p, err)
	}
	if _, err := d.Do(ctx, "sentinel-0", "SENTINEL", "FAILOVER", "mymaster"); !errors.Is(err, ErrDestructive) {
		t.Fatalf("SENTINEL FAILOVER on external: %v, want ErrDestructive", err)
	}
	if _, err := d.Do(ctx, "sentinel-0", "SENTINEL", "MASTERS"); err != nil {
		t.Fatalf("read-only SENTINEL MASTERS refused: %v", err)
	}
}

func TestExternalClusterDiscovers(t *testing.T) {
	t.Parallel()
	requireRedis(t)
	own := startT(t, Spec{Shape: ShapeCluster})
	ctx := ctxT(t)
	d, err := Start(ctx, Spec{Backend: BackendExternal, Shape: ShapeCluster, External: ExternalSpec{
		Addrs: own.Endpoints().Addrs[4:5],
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	nodes := d.Nodes()
	if len(nodes) != 6 {
		t.Fatalf("discovered %d nodes from one seed: %v", len(nodes), nodes)
	}
	primaries := 0
	for _, n := range nodes {
		if n.Role == RolePrimary {
			primaries++
		}
	}
	if primaries != 3 {
		t.Fatalf("discovered %d primaries: %v", primaries, nodes)
	}
	if p, err := d.Primary(ctx); err != nil || p.Addr != addrOfNode(t, own, "node-0") {
		t.Fatalf("Primary = %v, %v", p, err)
	}
	all, err := d.InfoAll(ctx, "cluster")
	if err != nil || len(all) != 6 {
		t.Fatalf("InfoAll = %d nodes, %v", len(all), err)
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cacheproof test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.pem", "CERTIFICATE", der)
	keyFile := write("key.pem", "EC PRIVATE KEY", kder)

	cfg, err := (&TLSSpec{CAFile: ca, CertFile: ca, KeyFile: keyFile, ServerName: "redis.test"}).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "redis.test" || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("TLSConfig = %+v", cfg)
	}
	if _, err := (&TLSSpec{CAFile: keyFile}).TLSConfig(); err == nil {
		t.Fatal("a CA file without a certificate must be an error")
	}
	if _, err := (&TLSSpec{CAFile: filepath.Join(dir, "missing")}).TLSConfig(); err == nil {
		t.Fatal("a missing CA file must be an error")
	}
	if cfg, err := (*TLSSpec)(nil).TLSConfig(); cfg != nil || err != nil {
		t.Fatalf("nil TLSSpec = %v, %v", cfg, err)
	}
}
