package tests

// Networking as the unprivileged user: slirp4netns by default, published ports (TCP and
// UDP, -p forms, -P), ps/port/inspect, exec in the container's network, --network none,
// the host's loopback through 10.0.2.2 when allowed, DNS and hosts files.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNetworkPublishHTTP: busybox httpd in a detached container with
// -p 127.0.0.1:PORT:80 answers the host; a second container on another port answers at
// the same time; ps, port and inspect show the ports; exec runs in the container's
// network; stopping ends the forwarding.
func TestNetworkPublishHTTP(t *testing.T) {
	sb := netSandbox(t)
	p1, p2 := netFreePort(t), netFreePort(t)
	for p2 == p1 {
		p2 = netFreePort(t)
	}
	a := lcRunD(sb, "--name", "web1", "-p", fmt.Sprintf("127.0.0.1:%d:80", p1), netImage, "sh", "-c", netHTTPD)
	b := lcRunD(sb, "--name", "web2", "-p", fmt.Sprintf("127.0.0.1:%d:80/tcp", p2), netImage, "sh", "-c", "echo second > /www/index.html && exec "+netHTTPD)
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p1)), netIndex, "GET through -p of web1")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p2)), "second\n", "GET through -p of web2")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p1)), netIndex, "web1 again, web2 running")

	r := sb.ok("ps", "--format", "{{.Names}} {{.Ports}}")
	assertContains(t, r.stdout, fmt.Sprintf("web1 127.0.0.1:%d->80/tcp\n", p1), "ps PORTS of web1")
	assertContains(t, r.stdout, fmt.Sprintf("web2 127.0.0.1:%d->80/tcp\n", p2), "ps PORTS of web2")
	assertContains(t, sb.ok("ps").stdout, "PORTS", "ps header")
	assertEqual(t, sb.ok("port", "web1").stdout, fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", p1), "hutch port web1")
	assertEqual(t, sb.ok("port", "web1", "80").stdout, fmt.Sprintf("127.0.0.1:%d\n", p1), "hutch port web1 80")
	assertOneLineError(t, sb.expect(125, "port", "web1", "81/tcp"), "no public port 81/tcp published for web1", "it publishes 80/tcp")
	in := netInspect(sb, "web1")
	assertEqual(t, in.HostConfig.NetworkMode, "slirp4netns", "HostConfig.NetworkMode")
	if pb := in.HostConfig.PortBindings["80/tcp"]; len(pb) != 1 || pb[0].HostIp != "127.0.0.1" || pb[0].HostPort != strconv.Itoa(p1) {
		t.Errorf("HostConfig.PortBindings = %+v", in.HostConfig.PortBindings)
	}
	if np := in.NetworkSettings.Ports["80/tcp"]; len(np) != 1 || np[0].HostPort != strconv.Itoa(p1) {
		t.Errorf("NetworkSettings.Ports = %+v", in.NetworkSettings.Ports)
	}
	assertEqual(t, in.NetworkSettings.IPAddress, "10.0.2.100", "NetworkSettings.IPAddress")

	// exec joins the container's network namespace: its tap0, not the host's interfaces.
	r = sb.ok("exec", "web1", "ip", "-o", "-4", "addr")
	assertContains(t, r.stdout, "tap0", "exec's interfaces")
	assertContains(t, r.stdout, "10.0.2.100/24", "exec's address")
	assertEqual(t, sb.ok("exec", "web1", "wget", "-qO-", "http://127.0.0.1:80/").stdout, netIndex, "exec reaches the server on the container's loopback")

	sb.ok("stop", "-t", "0", a)
	lcWaitStatus(sb, a, "exited", 10*time.Second)
	lcEventually(t, 5*time.Second, "port of the stopped container closed", func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p1), time.Second)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, "still accepts connections"
	})
	assertEqual(t, sb.ok("port", "web1").stdout, "", "hutch port of a stopped container")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p2)), "second\n", "web2 after web1 stopped")
	// The check below sees this sandbox's own sockets: web2's forwarder listens.
	if s := sockets(sb); !strings.Contains(strings.Join(s, " "), fmt.Sprintf(":%04X", p2)) {
		t.Fatalf("sockets(sb) does not list web2's published port %d: %v", p2, s)
	}
	sb.ok("rm", "-f", a, b)
	lcAssertNoProcsNoMounts(t, sb, "rm -f of both web servers")
	if s := sockets(sb); len(s) > 0 {
		t.Fatalf("sockets left after rm -f: %v", s)
	}
}

// TestNetworkForegroundPublishAndUDP: `hutch run` in the foreground publishes a TCP
// port and a UDP port (-p …/udp) to the UDP echo server, and two -p at once.
func TestNetworkForegroundPublishAndUDP(t *testing.T) {
	sb := netSandbox(t)
	tp, up := netFreePort(t), netFreePort(t)
	for up == tp {
		up = netFreePort(t)
	}
	run := sb.startRun(runOpts{}, "run", "--rm", "--name", "fg", "-p", fmt.Sprintf("127.0.0.1:%d:80", tp),
		"-p", fmt.Sprintf("127.0.0.1:%d:5353/udp", up), netImage, "sh", "-c", "httpd -p 80 -h /www && exec "+netUDPEcho+" 5353")
	run.waitOutput("listening", 15*time.Second)
	assertEqual(t, udpAsk(t, fmt.Sprintf("127.0.0.1:%d", up), "ping"), "echo:ping", "UDP echo through -p /udp")
	assertEqual(t, udpAsk(t, fmt.Sprintf("127.0.0.1:%d", up), "second"), "echo:second", "UDP echo, second datagram")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", tp)), netIndex, "GET through the foreground run's -p")
	r := sb.ok("ps", "--format", "{{.Ports}}")
	assertContains(t, r.stdout, fmt.Sprintf("127.0.0.1:%d->80/tcp", tp), "ps PORTS")
	assertContains(t, r.stdout, fmt.Sprintf("127.0.0.1:%d->5353/udp", up), "ps PORTS")
	sb.ok("stop", "-t", "0", "fg")
	run.wait()
	lcAssertNoProcsNoMounts(t, sb, "the foreground run ended")
	if s := sockets(sb); len(s) > 0 {
		t.Fatalf("sockets left after the foreground run: %v", s)
	}
}

// TestNetworkPublishAll: -P publishes the image's EXPOSE 80 on a free host port; a
// range -p publishes each port of it.
func TestNetworkPublishAll(t *testing.T) {
	sb := netSandbox(t)
	id := lcRunD(sb, "-P", netImage, "sh", "-c", netHTTPD)
	addr := strings.TrimSpace(sb.ok("port", id, "80/tcp").stdout)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "0.0.0.0" || port == "0" {
		t.Fatalf("hutch port %s 80/tcp = %q", id, addr)
	}
	assertEqual(t, httpGet(t, "http://127.0.0.1:"+port+"/"), netIndex, "GET through -P")
	in := netInspect(sb, id)
	if !in.HostConfig.PublishAllPorts || len(in.NetworkSettings.Ports["80/tcp"]) != 1 {
		t.Errorf("inspect after -P: %+v", in)
	}
	// A range: 2 host ports to 2 container ports, both served.
	base := netFreePort(t)
	for tries := 0; ; tries++ { // two free ports in a row
		c, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+1))
		if err == nil {
			c.Close()
			break
		}
		if tries == 20 {
			t.Fatalf("found no two free ports in a row: %v", err)
		}
		base = netFreePort(t)
	}
	rid := lcRunD(sb, "-p", fmt.Sprintf("127.0.0.1:%d-%d:80-81", base, base+1), netImage, "sh", "-c",
		"httpd -p 81 -h /www && exec "+netHTTPD)
	assertEqual(t, sb.ok("port", rid).stdout, fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n81/tcp -> 127.0.0.1:%d\n", base, base+1), "port of a range")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", base+1)), netIndex, "GET through the second port of the range")
}

// TestNetworkNoneAndDefault: --network none has only lo; the default network has lo and
// tap0 with slirp4netns's address and route.
func TestNetworkNoneAndDefault(t *testing.T) {
	sb := netSandbox(t)
	r := sb.ok("run", "--rm", "--network", "none", netImage, "ls", "/sys/class/net")
	assertEqual(t, r.stdout, "lo\n", "interfaces with --network none")
	r = sb.ok("run", "--rm", netImage, "sh", "-c", "ls /sys/class/net; ip -4 -o addr show tap0; ip route; cat /sys/class/net/tap0/mtu")
	assertContains(t, r.stdout, "lo\ntap0\n", "interfaces of the default network")
	assertContains(t, r.stdout, "10.0.2.100/24", "address")
	assertContains(t, r.stdout, "default via 10.0.2.2 dev tap0", "route")
	assertContains(t, r.stdout, "\n65520\n", "mtu")
	r = sb.ok("run", "--rm", "--network", "slirp4netns:mtu=1500", netImage, "cat", "/sys/class/net/tap0/mtu")
	assertEqual(t, r.stdout, "1500\n", "mtu=1500")
	r = sb.ok("run", "--rm", "--network", "host", netImage, "ls", "/sys/class/net")
	if strings.Contains(r.stdout, "tap0") || !strings.Contains(r.stdout, "lo\n") {
		t.Errorf("--network host: %s", r)
	}
	// config.toml's [network] default applies when --network is not given.
	sb.writeConfig("[network]\ndefault = \"none\"\n")
	assertEqual(t, sb.ok("run", "--rm", netImage, "ls", "/sys/class/net").stdout, "lo\n", "[network] default = none")
}

// TestNetworkHostLoopback: a TCP service on the host's 127.0.0.1 is reached through
// 10.0.2.2 (and host.containers.internal) when allow_host_loopback=true, by the flag or
// by config.toml, and not by default.
func TestNetworkHostLoopback(t *testing.T) {
	sb := netSandbox(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "host-service\n") })}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	r := sb.ok("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", netImage, "wget", "-qO-", "http://10.0.2.2:"+port+"/")
	assertEqual(t, r.stdout, "host-service\n", "GET 10.0.2.2 with allow_host_loopback=true")
	r = sb.ok("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", netImage, "wget", "-qO-", "http://host.containers.internal:"+port+"/")
	assertEqual(t, r.stdout, "host-service\n", "GET host.containers.internal")
	// (timeout, not wget -T: this busybox's wget crashes on -T, which would pass for
	// "not reached".)
	r = sb.run(runOpts{}, "run", "--rm", netImage, "timeout", "10", "wget", "-qO-", "http://10.0.2.2:"+port+"/")
	if r.code != 1 || strings.Contains(r.stdout, "host-service") || !strings.Contains(r.stderr, "can't connect to remote host") {
		t.Fatalf("the host's loopback was reachable without allow_host_loopback, or wget failed otherwise:\n%s", r)
	}
	assertNotContains(t, sb.ok("run", "--rm", netImage, "cat", "/etc/hosts").stdout, "host.containers.internal", "/etc/hosts without host loopback")
	sb.writeConfig("[network]\nallow_host_loopback = true\n")
	r = sb.ok("run", "--rm", netImage, "wget", "-qO-", "http://host.docker.internal:"+port+"/")
	assertEqual(t, r.stdout, "host-service\n", "GET with [network] allow_host_loopback = true")
	r = sb.run(runOpts{}, "run", "--rm", "--network", "slirp4netns:allow_host_loopback=false", netImage, "timeout", "10", "wget", "-qO-", "http://10.0.2.2:"+port+"/")
	if r.code != 1 || !strings.Contains(r.stderr, "can't connect to remote host") {
		t.Fatalf("allow_host_loopback=false on the command line did not win over the config:\n%s", r)
	}
}

// TestNetworkDNSAndHosts: /etc/resolv.conf names slirp4netns's DNS forwarder with the
// host's search domains and options; /etc/hosts names the container.
func TestNetworkDNSAndHosts(t *testing.T) {
	sb := netSandbox(t)
	r := sb.ok("run", "--rm", "--name", "dnsct", "--hostname", "box", netImage, "cat", "/etc/resolv.conf", "/etc/hosts")
	assertContains(t, r.stdout, "nameserver 10.0.2.3\n", "resolv.conf")
	host, _ := os.ReadFile("/etc/resolv.conf")
	for _, l := range strings.Split(string(host), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[0] == "search" || f[0] == "options") {
			assertContains(t, r.stdout, strings.Join(f, " ")+"\n", "the host's "+f[0]+" line")
		}
		if f := strings.Fields(l); len(f) > 1 && f[0] == "nameserver" && f[1] != "10.0.2.3" {
			assertNotContains(t, r.stdout, "nameserver "+f[1]+"\n", "the host's nameserver")
		}
	}
	assertContains(t, r.stdout, "10.0.2.100\tbox dnsct\n", "hosts: the container's names")
	assertContains(t, r.stdout, "127.0.0.1\tlocalhost\n", "hosts: localhost")
	// The names resolve inside.
	r = sb.ok("run", "--rm", "--name", "dnsct2", "--hostname", "box2", netImage, "sh", "-c", "ping -c1 -W1 box2 >/dev/null 2>&1; nslookup dnsct2 2>/dev/null | tail -2; cat /etc/hosts | grep dnsct2")
	assertContains(t, r.stdout, "10.0.2.100\tbox2 dnsct2", "hosts names the container")
}

// TestNetworkLowPortsInOwnNamespace: as Docker, a container with a network namespace of
// its own lets any of its users bind low ports (net.ipv4.ip_unprivileged_port_start=0
// there); the host's setting is untouched and --network host keeps it.
func TestNetworkLowPortsInOwnNamespace(t *testing.T) {
	sb := netSandbox(t)
	const sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
	host, err := os.ReadFile(sysctl)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, sb.ok("run", "--rm", "-u", "1000", netImage, "cat", sysctl).stdout, "0\n", "own network namespace")
	assertEqual(t, sb.ok("run", "--rm", "--network", "none", netImage, "cat", sysctl).stdout, "0\n", "--network none")
	assertEqual(t, sb.ok("run", "--rm", "--network", "host", netImage, "cat", sysctl).stdout, string(host), "--network host")
	// A non-root process of the container serves on port 80, published.
	p := netFreePort(t)
	id := lcRunD(sb, "-u", "1000", "-p", fmt.Sprintf("127.0.0.1:%d:80", p), netImage, "sh", "-c", netHTTPD)
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p)), netIndex, "GET from a server run as uid 1000 on port 80")
	sb.ok("rm", "-f", id)
	if now, _ := os.ReadFile(sysctl); string(now) != string(host) {
		t.Errorf("the host's %s changed: %q, was %q", sysctl, now, host)
	}
}

// TestNetworkCIDRAndIPv6: --network slirp4netns:cidr=… moves the container, its gateway
// and its DNS forwarder into that network (resolv.conf and /etc/hosts follow);
// enable_ipv6=true gives the interface an IPv6 address and resolv.conf slirp4netns's
// IPv6 DNS forwarder.
func TestNetworkCIDRAndIPv6(t *testing.T) {
	sb := netSandbox(t)
	r := sb.ok("run", "--rm", "--name", "cidr", "--network", "slirp4netns:cidr=10.7.0.0/24", netImage, "sh", "-c",
		"ip -4 -o addr show tap0; ip route; cat /etc/resolv.conf /etc/hosts")
	assertContains(t, r.stdout, "10.7.0.100/24", "address in the cidr")
	assertContains(t, r.stdout, "default via 10.7.0.2 dev tap0", "gateway in the cidr")
	assertContains(t, r.stdout, "nameserver 10.7.0.3\n", "DNS forwarder in the cidr")
	assertContains(t, r.stdout, "10.7.0.100\t", "/etc/hosts names the container at its address")
	assertNotContains(t, r.stdout, "10.0.2.", "the default network")
	r = sb.ok("run", "--rm", "--network", "slirp4netns:enable_ipv6=true", netImage, "sh", "-c",
		"ip -6 -o addr show tap0; cat /etc/resolv.conf")
	assertContains(t, r.stdout, "fd00::", "IPv6 address of tap0")
	assertContains(t, r.stdout, "nameserver fd00::3\n", "IPv6 DNS forwarder")
}
