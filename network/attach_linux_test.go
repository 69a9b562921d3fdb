package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"
	"hutch.dev/hutch/internal/fsutil"
)

func TestMain(m *testing.M) {
	// The port forwarder, hutch-port, is this test binary re-executed (in hutch, the role
	// table of engine/roles_linux.go registers it).
	reexec.Register(HelperName, HelperMain)
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// TestAttachPublishAndClose connects a process in a new network namespace (root here
// owns it, as hutch owns a container's) with slirp4netns, publishes a port to busybox
// httpd inside, and checks that Close frees the port and ends both helpers.
func TestAttachPublishAndClose(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace outside a user namespace")
	}
	if _, err := FindSlirp(""); err != nil {
		t.Skip(err)
	}
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("/bin/busybox", "sh", "-c", "ip link set lo up && exec /bin/busybox httpd -f -p 80 -h "+www)
	srv.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: unix.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var log strings.Builder
	a, err := Attach(ctx, srv.Process.Pid, AttachOptions{Config: Config{Mode: ModeSlirp},
		Ports: []PortMapping{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"}},
		StateDir: filepath.Join(t.TempDir(), strings.Repeat("long-", 25)), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if a.SlirpPid == 0 || a.HelperPid == 0 || len(a.Ports) != 2 || a.Ports[1].HostPort == 0 {
		t.Fatalf("attachment: %+v", a)
	}
	dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", srv.Process.Pid))
	if err != nil || !strings.Contains(string(dev), "tap0:") {
		t.Fatalf("no tap0 in the namespace: %v\n%s", err, dev)
	}
	for _, p := range a.Ports {
		if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p.HostPort)); got != "inside\n" {
			t.Fatalf("GET through %s: %q", p, got)
		}
	}
	slirp, helper := a.SlirpPid, a.HelperPid
	dir := a.dir
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The forwarder is gone and the port free once Close returns.
	if fsutil.ProcessAlive(helper) {
		t.Errorf("the port forwarder (pid %d) outlived Close", helper)
	}
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Errorf("port %d still taken after Close: %v", port, err)
	} else {
		l.Close()
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory %s left: %v", dir, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fsutil.ProcessAlive(slirp) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if fsutil.ProcessAlive(slirp) {
		t.Errorf("slirp4netns (pid %d) still runs after Close", slirp)
	}
	if log.Len() > 0 {
		t.Errorf("Close made slirp4netns's end look unexpected: %s", log.String())
	}
}

// TestAttachReportsADeadSlirp: slirp4netns killed under a live process is reported.
func TestAttachReportsADeadSlirp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace outside a user namespace")
	}
	if _, err := FindSlirp(""); err != nil {
		t.Skip(err)
	}
	sleeper := exec.Command("/bin/busybox", "sleep", "30")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: unix.SIGKILL}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	r, w := io.Pipe()
	a, err := Attach(context.Background(), sleeper.Process.Pid, AttachOptions{Log: w})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_ = syscall.Kill(a.SlirpPid, syscall.SIGKILL)
	b := make([]byte, 512)
	n, _ := r.Read(b)
	if !strings.Contains(string(b[:n]), "slirp4netns (pid") || !strings.Contains(string(b[:n]), "ended unexpectedly") {
		t.Fatalf("report: %q", b[:n])
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}
