package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/scenarios"
)

const secretPass = "s3cret-Pa55-do-not-print"

// writeCert writes a certificate (signed by parent, or self-signed) and its
// key as PEM files and returns them.
func writeCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startTLSRedis runs a redis-server that accepts only TLS with client
// certificates and only the ACL user "cacheproof", whose keys are confined to
// the cacheproof: prefix: any write outside it fails with NOPERM.
func startTLSRedis(t *testing.T) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	now := time.Now()
	ca, caKey := writeCert(t, dir, "ca", &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cacheproof test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	writeCert(t, dir, "server", &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis.test"}, DNSNames: []string{"redis.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	writeCert(t, dir, "client", &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "cacheproof"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	port := freePort(t)
	conf := fmt.Sprintf(`port 0
bind 127.0.0.1
tls-port %d
tls-cert-file %s/server.crt
tls-key-file %s/server.key
tls-ca-cert-file %s/ca.crt
tls-auth-clients yes
save ""
appendonly no
dir %s
user default off
user cacheproof on >%s ~cacheproof:* &* +@all
`, port, dir, dir, dir, dir, secretPass)
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", filepath.Join(dir, "redis.conf"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, dir
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("TLS redis-server did not start:\n%s", logs.String())
	return "", ""
}

// Against an external Redis reached over TLS with an ACL user: the run
// works, writes only under the cacheproof: prefix (the ACL would refuse any
// other key), deletes what it wrote at the end, and never prints the
// password in its report or its logs.
func TestExternalTLSACLPrefixAndCleanup(t *testing.T) {
	needRedis(t)
	addr, dir := startTLSRedis(t)
	yaml := fmt.Sprintf(`
name: external-tls
seed: 9
target:
  backend: external
  addrs: [%q]
  username: cacheproof
  password: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q, server_name: redis.test}
workload: {population: 20000, active_users: 200, commands_per_user_per_minute: 120}
phases:
  - {name: steady, duration: 3s}
`, addr, secretPass, dir+"/ca.crt", dir+"/client.crt", dir+"/client.key")
	sc, err := scenarios.LoadBytes("ext.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs strings.Builder
	res, err := Run(context.Background(), Options{Scenario: sc, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&logs, f+"\n", a...)
	}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Users.Requests == 0 || res.Cache.Hits == 0 {
		t.Fatalf("no traffic: %+v %+v", res.Users, res.Cache)
	}
	for kind, n := range res.Errors {
		if kind != "fetch" { // origin errors are simulated; anything else means a refused command
			t.Errorf("%d %s errors (a NOPERM would mean a key outside the prefix): %v", n, kind, res.Errors)
		}
	}
	var noted bool
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "cleanup: deleted the run's") {
			noted = true
		}
	}
	t.Logf("notes: %v; requests %d; errors %v", res.Notes, res.Users.Requests, res.Errors)
	if !noted {
		t.Errorf("no cleanup note: %v", res.Notes)
	}

	// Nothing of the run is left on the server.
	cert, err := tls.LoadX509KeyPair(dir+"/client.crt", dir+"/client.key")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(dir + "/ca.crt")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	c := redis.NewClient(&redis.Options{Addr: addr, Username: "cacheproof", Password: secretPass,
		TLSConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "redis.test"}})
	defer c.Close()
	keys, _, err := c.Scan(context.Background(), 0, "*", 1000).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys left after the run, e.g. %v", len(keys), keys[:min(len(keys), 5)])
	}

	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteText(&buf, res); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secretPass) || strings.Contains(logs.String(), secretPass) {
		t.Error("the password appears in a report or the logs")
	}
	if !strings.Contains(buf.String(), `"key_prefix":"cacheproof:"`) && !strings.Contains(buf.String(), `"key_prefix": "cacheproof:"`) {
		t.Error("the report does not show the key prefix the run wrote under")
	}
}
