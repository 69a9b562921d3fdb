package tests

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bnHostService serves "host-service" on the host's 127.0.0.1 until the test ends and
// returns its port.
func bnHostService(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "host-service\n") })}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestBuildNetwork: RUN steps get the network of `run`: slirp4netns by default (their
// own namespace with lo and tap0, DNS at 10.0.2.3), reaching a TCP service on the host's
// 127.0.0.1 through 10.0.2.2 when allow_host_loopback=true (by the flag or by
// config.toml), and not with --network none or without it. RUN --network=none|host|default
// picks per step; [network] default sets the build's default. No slirp4netns outlives
// the build.
func TestBuildNetwork(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	port := bnHostService(t)
	// busybox's wget -T crashes (SIGSEGV) here: timeout(1) bounds it instead.
	get := "timeout 10 wget -qO- http://10.0.2.2:" + port + "/"

	reach := blContext(sb, "reach", "FROM "+lcImage+"\nRUN "+get+"\n")
	r := sb.ok("build", "--pull=never", "--network", "slirp4netns:allow_host_loopback=true", "-t", "reached", reach)
	assertContains(t, r.stdout, "host-service\n", "a RUN step reaching the host's 127.0.0.1 through 10.0.2.2 (allow_host_loopback=true)")

	// No --no-cache: the network mode is in the step's cache key, so the step runs again.
	r = sb.run(runOpts{}, "build", "--pull=never", "--network", "none", reach)
	if r.code != 1 || strings.Contains(r.stdout, "host-service") {
		t.Fatalf("with --network none the RUN step must fail to reach the host (exit 1):\n%s", r)
	}
	assertContains(t, r.stderr, `Error: building at STEP "RUN `+get+`"`, "the failed step")
	assertContains(t, r.stderr, "wget: can't connect to remote host (10.0.2.2): Network is unreachable", "--network none")

	// The default network is slirp4netns, without the host's loopback.
	r = sb.run(runOpts{}, "build", "--pull=never", "--no-cache", reach)
	if r.code != 1 || strings.Contains(r.stdout, "host-service") {
		t.Fatalf("without allow_host_loopback the RUN step must not reach the host's loopback (exit 1):\n%s", r)
	}
	assertContains(t, r.stderr, "wget: can't connect to remote host (10.0.2.2)", "the default network, without allow_host_loopback")
	look := blContext(sb, "look", "FROM "+lcImage+"\n"+
		"RUN echo default: $(ls /sys/class/net) && grep nameserver /etc/resolv.conf && grep hutch-build /etc/hosts\n"+
		"RUN --network=none echo none: $(ls /sys/class/net)\n"+
		"RUN --network=default echo again: $(ls /sys/class/net)\n")
	r = sb.ok("build", "--pull=never", "--no-cache", look)
	for _, want := range []string{"default: lo tap0\n", "nameserver 10.0.2.3\n", "10.0.2.100\thutch-build\n", "none: lo\n", "again: lo tap0\n"} {
		assertContains(t, r.stdout, want, "RUN steps of a build with the default network")
	}
	// RUN --network=default is the build's --network; RUN --network=host the host's.
	r = sb.ok("build", "--pull=never", "--no-cache", "--network", "none", look)
	assertContains(t, r.stdout, "again: lo\n", "RUN --network=default under build --network none")
	hostNet := blContext(sb, "hostnet", "FROM "+lcImage+"\nRUN --network=host timeout 10 wget -qO- http://127.0.0.1:"+port+"/\n")
	r = sb.ok("build", "--pull=never", "--network", "none", hostNet)
	assertContains(t, r.stdout, "host-service\n", "RUN --network=host reaching the host's 127.0.0.1 under build --network none")

	// config.toml: [network] default and allow_host_loopback apply to build as to run.
	sb.writeConfig("[network]\nallow_host_loopback = true\n")
	r = sb.ok("build", "--pull=never", "--no-cache", reach)
	assertContains(t, r.stdout, "host-service\n", "[network] allow_host_loopback = true")
	sb.writeConfig("[network]\ndefault = \"none\"\n")
	r = sb.ok("build", "--pull=never", "--no-cache", look)
	assertContains(t, r.stdout, "again: lo\n", "[network] default = none")

	// slirp4netns missing: the step fails with the fix, the build with 125.
	sb.writeConfig("[network]\nslirp4netns_path = \"/nonexistent/slirp4netns\"\n")
	r = sb.expect(125, "build", "--pull=never", "--no-cache", look)
	assertContains(t, r.stderr, "install slirp4netns (sudo apt-get install slirp4netns) or fix the path; or run with --network none or --network host", "slirp4netns missing")
	assertNotContains(t, r.stdout, "default: lo", "slirp4netns missing")
	sb.ok("build", "--pull=never", "--no-cache", "--network", "none", look)
	sb.writeConfig("")

	r = sb.expect(125, "build", "--pull=never", "--network", "slirp4netns:mtu=5", look)
	assertContains(t, r.stderr, "mtu must be a number from 68 to 65521", "bad --network")
	r = sb.expect(125, "build", "--pull=never", "--network", "bridged", look)
	assertContains(t, r.stderr, `--network "bridged"`, "unknown --network")

	// Nothing the network needed outlives the builds.
	lcEventually(t, 5*time.Second, "no slirp4netns left", func() (bool, string) {
		var left []string
		for _, p := range lcProcs(sb) {
			if strings.Contains(p.args, "slirp4netns") {
				left = append(left, p.String())
			}
		}
		return len(left) == 0, strings.Join(left, "\n")
	})
}
