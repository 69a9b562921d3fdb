package tests

// Network faults and leaks: a host port taken, a privileged port, a malformed -p,
// slirp4netns missing, slirp4netns killed while the container runs, the monitor killed,
// and 100 run/stop cycles with -p that must leave no process and no socket.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNetworkFaults: each bad -p or missing piece is exit 125 with an error that names
// it and the fix, before any container exists.
func TestNetworkFaults(t *testing.T) {
	sb := netSandbox(t)
	noContainers := func(after string) {
		t.Helper()
		if r := sb.ok("ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
			t.Fatalf("after %s, a container was left:\n%s", after, r)
		}
	}

	// A host port taken (by the test, as root: a user cannot bind it either).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	for _, args := range [][]string{{"run", "--rm"}, {"run", "-d"}, {"create"}} {
		r := sb.expect(125, append(args, "-p", fmt.Sprintf("127.0.0.1:%d:80", taken), netImage, "true")...)
		assertOneLineError(t, r, "host port "+strconv.Itoa(taken)+"/tcp", "already in use")
		noContainers(strings.Join(args, " ") + " with a taken port")
	}

	// A privileged port: the error shows the sysctl's value and how to change it.
	start := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		start, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if start > 80 {
		r := sb.expect(125, "run", "--rm", "-p", "80:80", netImage, "true")
		assertOneLineError(t, r, "host port 80 is privileged", fmt.Sprintf("(%d on this machine)", start),
			"sudo sysctl net.ipv4.ip_unprivileged_port_start=80", "-p 8080:80")
		noContainers("a privileged port")
	}

	// Malformed -p and --network name their flag.
	for _, p := range []string{"abc", "8080:80/sctp", "1.2.3:80:80", "8000-8010:80-81", "70000:80"} {
		r := sb.expect(125, "run", "--rm", "-p", p, netImage, "true")
		assertOneLineError(t, r, "-p/--publish", strconv.Quote(p))
	}
	r := sb.expect(125, "run", "--rm", "--network", "slirp4netns:mtu=big", netImage, "true")
	assertOneLineError(t, r, "--network", "mtu")
	r = sb.expect(125, "run", "--rm", "-p", "127.0.0.1:18080:80", "-p", "127.0.0.1:18080:81", netImage, "true")
	assertOneLineError(t, r, "both publish host port 18080/tcp")
	r = sb.expect(125, "run", "--rm", "--network", "none", "-p", "8080:80", netImage, "true")
	assertOneLineError(t, r, "-p/--publish", "--network none")
	noContainers("malformed flags")

	// slirp4netns not on $PATH: a PATH with only the helpers hutch needs besides it.
	bin := sb.path("tmp", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"newuidmap", "newgidmap", "fuse-overlayfs"} {
		if p, err := os.Stat("/usr/bin/" + h); err == nil && !p.IsDir() {
			if err := os.Symlink("/usr/bin/"+h, filepath.Join(bin, h)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r = sb.expectWith(runOpts{env: map[string]string{"PATH": bin}}, 125, "run", "--rm", netImage, "true")
	assertOneLineError(t, r, "slirp4netns is not installed", "apt-get install slirp4netns", "--network none")
	noContainers("slirp4netns missing")
	// --network none does not need it.
	sb.expectWith(runOpts{env: map[string]string{"PATH": bin}}, 0, "run", "--rm", "--network", "none", netImage, "true")
	// A configured path that does not exist.
	sb.writeConfig("[network]\nslirp4netns_path = \"/nonexistent/slirp4netns\"\n")
	r = sb.expect(125, "run", "--rm", netImage, "true")
	assertOneLineError(t, r, "slirp4netns_path", "/nonexistent/slirp4netns", "apt-get install slirp4netns")
	sb.writeConfig("[network]\nslirp4netns_path = \"/usr/bin/slirp4netns\"\n")
	sb.ok("run", "--rm", netImage, "true")
	r = sb.ok("info")
	assertContains(t, r.stdout, "slirp4netns: /usr/bin/slirp4netns (slirp4netns version", "info names the backend")
	assertContains(t, r.stdout, "/dev/net/tun: accessible", "info checks /dev/net/tun")
}

// TestNetworkSlirpKilled: slirp4netns killed under a running container is noticed by
// the monitor and written to the container's log; killing the monitor ends slirp4netns
// and the port forwarder too.
func TestNetworkSlirpKilled(t *testing.T) {
	sb := netSandbox(t)
	port := netFreePort(t)
	id := lcRunD(sb, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), netImage, "sh", "-c", netHTTPD)
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), netIndex, "GET before the kill")
	mon := lcMonitorOf(sb, id)
	kids := childrenOf(mon.pid)
	slirp, helper := 0, 0
	for pid, comm := range kids {
		switch comm {
		case "slirp4netns":
			slirp = pid
		case "hutch-port":
			helper = pid
		}
	}
	if slirp == 0 || helper == 0 {
		t.Fatalf("the monitor (pid %d) should have slirp4netns and the port forwarder as children: %v", mon.pid, kids)
	}
	if err := syscall.Kill(slirp, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcEventually(t, 10*time.Second, "the log tells that slirp4netns ended", func() (bool, string) {
		r := sb.ok("logs", id)
		return strings.Contains(r.stderr, "slirp4netns (pid "+strconv.Itoa(slirp)+") ended unexpectedly"), r.String()
	})
	assertEqual(t, lcInspect(sb, id).State.Status, "running", "the container itself runs on")

	// The monitor killed outright: the container, slirp4netns and the forwarder end.
	id2 := lcRunD(sb, "-p", fmt.Sprintf("127.0.0.1:%d:80", netFreePort(t)), netImage, "sh", "-c", netHTTPD)
	mon2 := lcMonitorOf(sb, id2)
	if n := len(childrenOf(mon2.pid)); n != 3 {
		t.Fatalf("the monitor should have 3 children (init, slirp4netns, forwarder): %v", childrenOf(mon2.pid))
	}
	sb.ok("rm", "-f", id)
	if err := syscall.Kill(mon2.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcAssertNoProcsNoMounts(t, sb, "killing the monitor with SIGKILL")
	lcEventually(t, 5*time.Second, "no socket of the user left", func() (bool, string) {
		s := sockets(sb)
		return len(s) == 0, strings.Join(s, "\n")
	})
}

// TestNetworkCycles: 100 detached runs with -p, each stopped and removed, leave no
// process, no listening socket and no forwarder state behind.
func TestNetworkCycles(t *testing.T) {
	sb := netSandbox(t)
	before := sockets(sb)
	if len(before) > 0 {
		t.Fatalf("the user has sockets before the test: %v", before)
	}
	port := netFreePort(t)
	for i := 0; i < 100; i++ {
		r := sb.run(runOpts{}, "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "-p", fmt.Sprintf("127.0.0.1:%d:5353/udp", port), netImage, "sh", "-c", netHTTPD)
		if r.code != 0 {
			ss, _ := exec.Command("ss", "-tanup").Output()
			var held []string
			for _, l := range strings.Split(string(ss), "\n") {
				if strings.Contains(l, ":"+strconv.Itoa(port)+" ") {
					held = append(held, l)
				}
			}
			t.Fatalf("cycle %d:\n%s\nsockets on the port:\n%s\nprocesses:\n%s", i, r, strings.Join(held, "\n"), lcProcList(lcProcs(sb)))
		}
		id := strings.TrimSpace(r.stdout)
		if i%25 == 0 {
			assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), netIndex, fmt.Sprintf("GET in cycle %d", i))
		}
		if i%2 == 0 {
			sb.ok("rm", "-f", id)
		} else {
			sb.ok("stop", "-t", "0", id)
			// slirp4netns ends as the stopped container's namespace goes: no news.
			assertNotContains(t, sb.ok("logs", id).stderr, "ended unexpectedly", fmt.Sprintf("logs in cycle %d", i))
			sb.ok("rm", id)
		}
	}
	lcAssertNoProcsNoMounts(t, sb, "100 run/stop cycles with -p")
	lcEventually(t, 5*time.Second, "no socket of the user left", func() (bool, string) {
		s := sockets(sb)
		return len(s) == 0, strings.Join(s, "\n")
	})
	netAssertNoState(t, sb, "100 run/stop cycles with -p")
	// The port is free again for anyone.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d is not free after the cycles: %v", port, err)
	}
	l.Close()
}

// TestNetworkForegroundKilled: a foreground run killed outright (SIGKILL) leaves nothing
// of its network once the container is removed: no process, no socket, no state
// directory (its slirp4netns came up before the container had an id).
func TestNetworkForegroundKilled(t *testing.T) {
	sb := netSandbox(t)
	port := netFreePort(t)
	run := sb.startRun(runOpts{}, "run", "--name", "fgkill", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), netImage,
		"sh", "-c", "httpd -p 80 -h /www && echo listening && exec sleep 1000")
	run.waitOutput("listening", 15*time.Second)
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)), netIndex, "GET through the foreground run's -p")
	run.signal(syscall.SIGKILL)
	if r := run.wait(); r.code != 128+int(syscall.SIGKILL) {
		t.Fatalf("hutch run should have died of SIGKILL:\n%s", r)
	}
	sb.ok("rm", "-f", "fgkill")
	lcAssertNoProcsNoMounts(t, sb, "rm of a killed foreground run")
	lcEventually(t, 5*time.Second, "no socket of the user left", func() (bool, string) {
		s := sockets(sb)
		return len(s) == 0, strings.Join(s, "\n")
	})
	netAssertNoState(t, sb, "rm of a killed foreground run")
}

// netAssertNoState fails the test when a container's network left state (the port
// forwarder's socket, slirp4netns's log) in the runtime directory.
func netAssertNoState(t *testing.T, sb *sandbox, after string) {
	t.Helper()
	dir := sb.path("run", "hutch", "net")
	if es, err := os.ReadDir(dir); err == nil && len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("after %s, network state left in %s: %v", after, dir, names)
	}
}

// TestNetworkEndIsNoNews: a detached container without published ports (nothing but its
// processes holds its network namespace) that ends, on its own or stopped, takes
// slirp4netns with it without the monitor calling that unexpected.
func TestNetworkEndIsNoNews(t *testing.T) {
	sb := netSandbox(t)
	for i := 0; i < 6; i++ {
		var id string
		if i%2 == 0 {
			id = lcRunD(sb, netImage, "sh", "-c", "sleep 1000 & sleep 0.2")
		} else {
			id = lcRunD(sb, append([]string{netImage}, lcSleeper...)...)
			sb.ok("stop", "-t", "0", id)
		}
		lcWaitStatus(sb, id, "exited", 10*time.Second)
		assertNotContains(t, sb.ok("logs", id).stderr, "ended unexpectedly", fmt.Sprintf("logs of container %d", i))
		sb.ok("rm", id)
	}
	lcAssertNoProcsNoMounts(t, sb, "containers that ended")
	netAssertNoState(t, sb, "containers that ended")
}

// TestNetworkForegroundSlirpKilled: slirp4netns killed under a foreground run is
// reported on the run's stderr, and the container runs on.
func TestNetworkForegroundSlirpKilled(t *testing.T) {
	sb := netSandbox(t)
	run := sb.startRun(runOpts{}, "run", "--rm", "--name", "fgslirp", netImage, "sh", "-c", "echo ready; exec sleep 1000")
	run.waitOutput("ready", 15*time.Second)
	slirp := 0
	for todo := []int{run.cmd.Process.Pid}; len(todo) > 0 && slirp == 0; todo = todo[1:] {
		for pid, comm := range childrenOf(todo[0]) {
			if comm == "slirp4netns" {
				slirp = pid
			}
			todo = append(todo, pid)
		}
	}
	if slirp == 0 {
		t.Fatalf("no slirp4netns under the foreground run (pid %d):\n%s", run.cmd.Process.Pid, lcProcList(lcProcs(sb)))
	}
	if err := syscall.Kill(slirp, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcEventually(t, 10*time.Second, "the run says that slirp4netns ended", func() (bool, string) {
		s := run.stderr.String()
		return strings.Contains(s, "slirp4netns (pid "+strconv.Itoa(slirp)+") ended unexpectedly"), s
	})
	assertEqual(t, lcInspect(sb, "fgslirp").State.Status, "running", "the container itself runs on")
	sb.ok("stop", "-t", "0", "fgslirp")
	run.wait()
	lcAssertNoProcsNoMounts(t, sb, "the foreground run ended")
	netAssertNoState(t, sb, "the foreground run ended")
}
