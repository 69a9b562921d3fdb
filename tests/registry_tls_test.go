package tests

import (
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// tlsPEM makes a CA and a server certificate for 127.0.0.1 signed by it, and returns
// the CA certificate, the server certificate and the server key, PEM-encoded.
func tlsPEM(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hutch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// startTLSRegistry starts docker-registry over HTTPS with a certificate from a private
// CA, and returns its host:port and the CA certificate. It is stopped by its PID.
func startTLSRegistry(t *testing.T) (string, []byte) {
	t.Helper()
	base, err := os.MkdirTemp(baseDir, "registry-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	caPEM, certPEM, keyPEM := tlsPEM(t)
	certFile, keyFile := filepath.Join(base, "server.crt"), filepath.Join(base, "server.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n"+
		"http:\n  addr: %s\n  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(base, "data"), host, certFile, keyFile)
	cfgPath := filepath.Join(base, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(base, "registry.log"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker-registry serve: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := client.Get("https://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			return host, caPEM
		}
	}
	b, _ := os.ReadFile(filepath.Join(base, "registry.log"))
	t.Fatalf("the TLS registry on %s did not answer:\n%s", host, b)
	return "", nil
}

// TestRegistryCertsDir: a registry whose certificate comes from a private CA is refused
// (with the fix: certs.d or --tls-verify=false) until the CA is put in
// $XDG_CONFIG_HOME/hutch/certs.d/HOST:PORT/ca.crt, the Docker layout; then push and pull
// work with TLS verified.
func TestRegistryCertsDir(t *testing.T) {
	t.Parallel()
	host, caPEM := startTLSRegistry(t)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)
	dest := host + "/tls/bb:1"

	r := sb.expect(125, "push", fix.docker.name, dest)
	lastErrorLine(t, r, "certs.d", "--tls-verify=false")

	sb.writeUserFile(sb.path("config", "hutch", "certs.d", host, "ca.crt"), string(caPEM))
	sb.ok("push", fix.docker.name, dest)
	sb.ok("rmi", fix.docker.name)
	if id := sb.pulledID(dest); id != fix.docker.id {
		t.Fatalf("pulled image ID %s, want %s (the pushed one)", id, fix.docker.id)
	}
}
