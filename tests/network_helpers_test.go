package tests

// Helpers of the network tests (network_*_test.go): their image (busybox, a static UDP
// echo server built here from the source below, a web root, EXPOSE 80), free host ports,
// HTTP and UDP requests from the host, and the host's listening sockets of a user.

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	netImage   = "net"                // CMD ["sh"], EXPOSE 80/tcp
	netIndex   = "hello from httpd\n" // /www/index.html
	netUDPEcho = "/bin/udpecho"       // udpecho PORT: answers "echo:" + each datagram
	netHTTPD   = "httpd -f -p 80 -h /www"
)

// udpEchoSource is a UDP echo server (busybox's nc has no UDP mode).
const udpEchoSource = `package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("listening\n")
	b := make([]byte, 65536)
	for {
		n, addr, err := c.ReadFrom(b)
		if err != nil {
			os.Exit(1)
		}
		c.WriteTo(append([]byte("echo:"), b[:n]...), addr)
	}
}
`

var (
	netRootfsOnce sync.Once
	netRootfsPath string
	netRootfsErr  error
)

// netRootfs is the network tests' root file system: busybox with every applet,
// /bin/udpecho (static, built from udpEchoSource with the Go toolchain of the test),
// /www/index.html, /tmp.
func netRootfs(t *testing.T) string {
	t.Helper()
	netRootfsOnce.Do(func() {
		netRootfsErr = func() error {
			src := filepath.Join(fix.dir, "udpecho")
			if err := os.MkdirAll(src, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(udpEchoSource), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module udpecho\n\ngo 1.21\n"), 0o644); err != nil {
				return err
			}
			bin := filepath.Join(src, "udpecho")
			cmd := exec.Command("go", "build", "-o", bin, ".")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building the UDP echo server: %w\n%s", err, out)
			}
			echo, err := os.ReadFile(bin)
			if err != nil {
				return err
			}
			bb, err := os.ReadFile("/bin/busybox")
			if err != nil {
				return err
			}
			list, err := exec.Command("/bin/busybox", "--list").Output()
			if err != nil {
				return fmt.Errorf("busybox --list: %w", err)
			}
			es := []tarEntry{dirEntry("bin/"), fileEntry("bin/busybox", bb, 0o755)}
			for _, a := range strings.Fields(string(list)) {
				if a != "busybox" && !strings.Contains(a, "/") {
					es = append(es, symlinkEntry("bin/"+a, "busybox"))
				}
			}
			tmp := dirEntry("tmp/")
			tmp.mode = 0o1777
			es = append(es, fileEntry("bin/udpecho", echo, 0o755), dirEntry("www/"),
				fileEntry("www/index.html", []byte(netIndex), 0o644), tmp, dirEntry("etc/"))
			layer, err := makeTar(es)
			if err != nil {
				return err
			}
			p := filepath.Join(fix.dir, "network-rootfs.tar")
			if err := writePublic(p, layer); err != nil {
				return err
			}
			netRootfsPath = p
			return nil
		}()
	})
	if netRootfsErr != nil {
		t.Fatalf("writing the network fixture: %v", netRootfsErr)
	}
	return netRootfsPath
}

// netSandbox is a sandbox of the user with a subordinate range holding netImage; its
// containers are removed at the end even when the test fails.
func netSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t, userWithRange)
	lcCleanupContainers(t, sb)
	sb.ok("import", "--change", `CMD ["sh"]`, "--change", "EXPOSE 80/tcp", netRootfs(t), netImage)
	return sb
}

// netFreePort is a port nobody listens on (TCP and UDP) on 127.0.0.1 right now, below
// the kernel's ephemeral range (ip_local_port_range): a port from that range, free a
// moment, can be taken meanwhile as the source port of any outgoing connection on the
// machine, and a test that publishes it 100 times would then find it taken.
func netFreePort(t *testing.T) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			low, _ = strconv.Atoi(f[0])
		}
	}
	if low <= 11000 {
		t.Fatalf("ip_local_port_range starts at %d: no room below it for test ports", low)
	}
	for i := 0; i < 200; i++ {
		port := 10000 + rand.Intn(low-11000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		if u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// httpGet fetches url, retrying for a few seconds while the server is not up yet.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		if resp.StatusCode != 200 {
			last = fmt.Errorf("status %s: %s", resp.Status, b)
			continue
		}
		return string(b)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// udpAsk sends msg to addr and returns the answer, retrying while nothing answers.
func udpAsk(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 1024)
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := c.Write([]byte(msg)); err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(b)
		if err == nil {
			return string(b[:n])
		}
		last = err
	}
	t.Fatalf("UDP %s: no answer to %q: %v", addr, msg, last)
	return ""
}

// sockets lists the host's TCP listening sockets and UDP sockets owned by the sandbox's
// user or its subordinate ids, as "tcp 127.0.0.1:8080" (from /proc/net/{tcp,tcp6,udp,udp6}),
// leaving out those every process of which belongs to someone else: the test users are
// shared by every copy of the suite on the machine, and a second copy's containers
// publish ports too. (A socket whose holder cannot be found is listed.)
func sockets(sb *sandbox) []string {
	u := sb.user
	mine := map[int]bool{}
	for _, p := range lcProcs(sb) {
		mine[p.pid] = true
	}
	holders := socketHolders()
	var out []string
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		fh, err := os.Open("/proc/net/" + f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 {
				continue
			}
			uid, _ := strconv.Atoi(fs[7])
			if uid != u.uid && (u.subUID == nil || uid < u.subUID.start || uid >= u.subUID.start+u.subUID.count) {
				continue
			}
			if strings.HasPrefix(f, "tcp") && fs[3] != "0A" { // LISTEN
				continue
			}
			if pids := holders[fs[9]]; len(pids) > 0 {
				ours := false
				for _, pid := range pids {
					ours = ours || mine[pid]
				}
				if !ours {
					continue
				}
			}
			out = append(out, f+" "+fs[1])
		}
		fh.Close()
	}
	return out
}

// socketHolders maps each socket inode to the processes that hold it open.
func socketHolders() map[string][]int {
	out := map[string][]int{}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
				ino = strings.TrimSuffix(ino, "]")
				out[ino] = append(out[ino], pid)
			}
		}
	}
	return out
}

// childrenOf lists the live children of pid as "PID COMM".
func childrenOf(pid int) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if pp, _ := strconv.Atoi(f[1]); pp == pid {
			out[p] = s[strings.IndexByte(s, '(')+1 : i]
		}
	}
	return out
}

// netPorts is the network part of inspect.
type netPorts struct {
	NetworkSettings struct {
		Ports     map[string][]struct{ HostIp, HostPort string }
		IPAddress string
	}
	HostConfig struct {
		NetworkMode     string
		PortBindings    map[string][]struct{ HostIp, HostPort string }
		PublishAllPorts bool
	}
}

func netInspect(sb *sandbox, ref string) netPorts {
	sb.t.Helper()
	var v []netPorts
	mustJSON(sb.t, sb.ok("inspect", ref), &v)
	if len(v) != 1 {
		sb.t.Fatalf("inspect %s: %d objects", ref, len(v))
	}
	return v[0]
}
