package tests

// --network container:NAME under a detached monitor (run -d, create + start): the
// joiner lives in the other's network namespace, its loopback and published ports; it
// keeps that namespace when the other stops first, and a later start of it while the
// other is not running fails saying so.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNetworkContainerDetached(t *testing.T) {
	t.Parallel()
	sb := netSandbox(t)
	p80, p81 := netFreePort(t), netFreePort(t)
	for p81 == p80 {
		p81 = netFreePort(t)
	}
	// web serves on 80 and publishes 81 too, where only the joiner will listen.
	web := lcRunD(sb, "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", p80), "-p", fmt.Sprintf("127.0.0.1:%d:81", p81), netImage, "sh", "-c", netHTTPD)
	joinerCmd := []string{"sh", "-c", "mkdir -p /w2 && echo joiner > /w2/index.html && exec httpd -f -p 81 -h /w2"}
	joiner := lcRunD(sb, append([]string{"--name", "joiner", "--network", "container:web", netImage}, joinerCmd...)...)

	// The joiner reaches web's server on 127.0.0.1, and web's published port 81 reaches
	// the joiner's: one network namespace.
	get := func(who, port string) string {
		t.Helper()
		var out string
		lcEventually(t, 10*time.Second, who+" gets 127.0.0.1:"+port, func() (bool, string) {
			r := sb.run(runOpts{}, "exec", who, "wget", "-qO-", "http://127.0.0.1:"+port+"/")
			out = r.stdout
			return r.code == 0, r.String()
		})
		return out
	}
	assertEqual(t, get("joiner", "80"), netIndex, "the joiner reaches web's server on 127.0.0.1")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p81)), "joiner\n", "web's published port reaches the joiner's server")
	nsOfCtr := func(who string) string {
		return strings.TrimSpace(sb.ok("exec", who, "readlink", "/proc/self/ns/net").stdout)
	}
	assertEqual(t, nsOfCtr("joiner"), nsOfCtr("web"), "the joiner's network namespace")
	assertEqual(t, netInspect(sb, "joiner").HostConfig.NetworkMode, "container:"+web, "inspect's NetworkMode of the joiner")
	assertEqual(t, lcInspect(sb, "joiner").State.Status, "running", "the joiner under its monitor")

	// create + start: the same.
	sb.ok("create", "--name", "j2", "--network", "container:web", netImage, "sleep", "1000")
	sb.ok("start", "j2")
	assertEqual(t, get("j2", "81"), "joiner\n", "a created joiner, started detached, reaches the joiner's server")

	// A restart (by the joiner's monitor, which lives in web's namespace since it
	// handed over) joins it again.
	rj := lcRunD(sb, "--name", "rj", "--restart", "on-failure:1", "--network", "container:web", netImage, "sh", "-c", "wget -qO- http://127.0.0.1:80/; exit 1")
	lcEventually(t, 20*time.Second, "rj done after one restart", func() (bool, string) {
		in := lcInspect(sb, rj)
		return in.State.Status == "exited" && in.RestartCount == 1 && !lcAlive(lcRecord(sb, rj).State.MonitorPid), fmt.Sprintf("%+v", in.State)
	})
	assertEqual(t, sb.ok("logs", "rj").stdout, netIndex+netIndex, "both runs of a restarted joiner reach web's server")
	sb.ok("rm", "rj")

	// web stops first: the joiners keep the namespace (its loopback) until they end.
	webNS := nsOfCtr("web")
	sb.ok("stop", "-t", "0", "web")
	lcWaitStatus(sb, "web", "exited", 10*time.Second)
	assertEqual(t, lcInspect(sb, "joiner").State.Status, "running", "the joiner after web stopped")
	assertEqual(t, nsOfCtr("joiner"), webNS, "the joiner keeps web's namespace")
	assertEqual(t, get("j2", "81"), "joiner\n", "the namespace's loopback after web stopped")

	// A start while web is not running fails, saying so.
	sb.ok("stop", "-t", "0", "joiner")
	lcWaitStatus(sb, joiner, "exited", 10*time.Second)
	r := sb.expect(125, "start", "joiner")
	assertOneLineError(t, r, "web", "start it first")
	r = sb.expect(125, "run", "-d", "--network", "container:web", netImage, "true")
	assertOneLineError(t, r, "web", "start it first")

	// Once web runs again, the joiner joins its new namespace.
	sb.ok("rm", "-f", "j2")
	sb.ok("start", "web")
	sb.ok("start", "joiner")
	assertEqual(t, nsOfCtr("joiner"), nsOfCtr("web"), "the restarted joiner in web's new namespace")
	assertEqual(t, get("joiner", "80"), netIndex, "the restarted joiner reaches web's server")
	assertEqual(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p81)), "joiner\n", "web's published port reaches the restarted joiner")

	// rm --depend (Podman's) removes the joiner first, then web.
	r = sb.ok("rm", "-f", "--depend", "web")
	assertEqual(t, r.stdout, joiner+"\nweb\n", "rm --depend: the joiner, then web")
	lcAssertClean(t, sb, "rm -f --depend web")
}
