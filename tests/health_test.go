package tests

// Healthchecks without a daemon: the container's monitor runs the probes (its C half's
// timer starts `hutch-health ID`), the results are in inspect's .State.Health and ps's
// STATUS, changes are events, and --health-on-failure acts on an unhealthy container.

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type hcHealth struct {
	Status        string `json:"Status"`
	FailingStreak int    `json:"FailingStreak"`
	Log           []struct {
		Start    time.Time `json:"Start"`
		End      time.Time `json:"End"`
		ExitCode int       `json:"ExitCode"`
		Output   string    `json:"Output"`
	} `json:"Log"`
}

// hcInspect is inspect's .State.Health of ref (nil: none).
func hcInspect(sb *sandbox, ref string) *hcHealth {
	sb.t.Helper()
	var out []struct {
		State struct {
			Status string    `json:"Status"`
			Health *hcHealth `json:"Health"`
		} `json:"State"`
	}
	mustJSON(sb.t, sb.ok("inspect", ref), &out)
	return out[0].State.Health
}

func (h *hcHealth) String() string {
	if h == nil {
		return "<no health>"
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// hcWaitEvent follows the events of container name until its `health_status: status`.
func hcWaitEvent(f *evFollower, name, status string) {
	f.t.Helper()
	f.until("health_status: "+status+" of "+name, func(e evEvent) bool {
		return e.Action == "health_status: "+status && e.Actor.Attributes["name"] == name
	})
}

// hcRSS is the resident set of pid, in KiB.
func hcRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	fast := []string{"--health-interval", "200ms", "--health-timeout", "5s"}

	t.Run("healthy-then-unhealthy", func(t *testing.T) {
		sb := lcAt(sb, t)
		ev := evFollow(t, sb, "--filter", "container=hc-ok")
		args := append([]string{"--name", "hc-ok", "--health-cmd", "test -e /tmp/ok && echo fine", "--health-retries", "2"}, fast...)
		lcRunD(sb, append(args, lcImage, "sh", "-c", "touch /tmp/ok; exec sleep 1000")...)
		hcWaitEvent(ev, "hc-ok", "healthy")
		h := hcInspect(sb, "hc-ok")
		if h == nil || h.Status != "healthy" || h.FailingStreak != 0 || len(h.Log) == 0 {
			t.Fatalf("after health_status: healthy, inspect's Health: %s", h)
		}
		last := h.Log[len(h.Log)-1]
		if last.ExitCode != 0 || last.Output != "fine\n" || last.End.Before(last.Start) {
			t.Fatalf("the last probe: %+v", last)
		}
		assertContains(t, sb.ok("ps", "--format", "{{.Names}} {{.Status}}").stdout, "hc-ok Up", "ps")
		if st := sb.ok("ps", "--filter", "name=hc-ok", "--format", "{{.Status}}").stdout; !strings.HasSuffix(strings.TrimSpace(st), "(healthy)") {
			t.Fatalf("ps STATUS of a healthy container: %q, want … (healthy)", st)
		}
		// ps's health filter (Docker's) sees the status too.
		assertEqual(t, sb.ok("ps", "--filter", "health=healthy", "--filter", "name=hc-ok", "--format", "{{.Names}}").stdout, "hc-ok\n", "ps --filter health=healthy")
		assertEqual(t, sb.ok("ps", "--filter", "health=none", "--filter", "name=hc-ok", "-q").stdout, "", "ps --filter health=none of a healthy container")
		r := sb.ok("healthcheck", "run", "hc-ok")
		assertEqual(t, r.stdout, "", "healthcheck run of a healthy container prints nothing")
		// The check fails from now on: unhealthy after two failures in a row.
		sb.ok("exec", "hc-ok", "rm", "/tmp/ok")
		hcWaitEvent(ev, "hc-ok", "unhealthy")
		h = hcInspect(sb, "hc-ok")
		if h.Status != "unhealthy" || h.FailingStreak < 2 || len(h.Log) > 5 {
			t.Fatalf("after health_status: unhealthy (retries 2), inspect's Health: %s", h)
		}
		if last := h.Log[len(h.Log)-1]; last.ExitCode != 1 {
			t.Fatalf("a failing probe's exit code: %+v", last)
		}
		r = sb.expect(1, "healthcheck", "run", "hc-ok")
		assertEqual(t, r.stdout, "unhealthy\n", "healthcheck run of an unhealthy container")
		assertContains(t, sb.ok("ps", "--filter", "name=hc-ok", "--format", "{{.Status}}").stdout, "(unhealthy)", "ps STATUS")
		// Five results at most are kept.
		lcEventually(t, 20*time.Second, "five results kept", func() (bool, string) {
			h := hcInspect(sb, "hc-ok")
			return len(h.Log) == 5 && h.FailingStreak > 5, h.String()
		})
		sb.ok("rm", "-f", "hc-ok")
	})

	t.Run("start-period", func(t *testing.T) {
		sb := lcAt(sb, t)
		lcRunD(sb, "--name", "hc-start", "--health-cmd", "false", "--health-retries", "1", "--health-start-period", "1h",
			"--health-start-interval", "100ms", "--health-interval", "1h", lcImage, "sleep", "1000")
		// Failures in the start period do not count: still starting after several.
		lcEventually(t, 20*time.Second, "three failed probes", func() (bool, string) {
			h := hcInspect(sb, "hc-start")
			return h != nil && len(h.Log) >= 3, h.String()
		})
		h := hcInspect(sb, "hc-start")
		if h.Status != "starting" || h.FailingStreak != 0 {
			t.Fatalf("failures in the start period count: %s", h)
		}
		assertContains(t, sb.ok("ps", "--filter", "name=hc-start", "--format", "{{.Status}}").stdout, "(health: starting)", "ps STATUS")
		r := sb.expect(1, "healthcheck", "run", "hc-start")
		assertEqual(t, r.stdout, "starting\n", "healthcheck run in the start period")
		sb.ok("rm", "-f", "hc-start")
	})

	t.Run("timeout", func(t *testing.T) {
		sb := lcAt(sb, t)
		ev := evFollow(t, sb, "--filter", "container=hc-slow")
		lcRunD(sb, "--name", "hc-slow", "--health-cmd", "sleep 600", "--health-timeout", "300ms", "--health-interval", "200ms",
			"--health-retries", "1", lcImage, "sleep", "1000")
		hcWaitEvent(ev, "hc-slow", "unhealthy")
		h := hcInspect(sb, "hc-slow")
		p := h.Log[0]
		if p.ExitCode != -1 || !strings.Contains(p.Output, "exceeded timeout (300ms)") {
			t.Fatalf("a probe past its timeout: %+v", p)
		}
		if d := p.End.Sub(p.Start); d < 300*time.Millisecond || d > 10*time.Second {
			t.Fatalf("a probe with a 300ms timeout took %s", d)
		}
		// The probe's processes were killed: no sleep 600 is left in the container.
		lcEventually(t, 10*time.Second, "no probe left running", func() (bool, string) {
			out := sb.ok("exec", "hc-slow", "ps", "-o", "args").stdout
			return !strings.Contains(out, "sleep 600"), out
		})
		sb.ok("rm", "-f", "hc-slow")
	})

	t.Run("on-failure-restart", func(t *testing.T) {
		sb := lcAt(sb, t)
		ev := evFollow(t, sb, "--filter", "container=hc-re")
		// The probe fails once /run/bad exists; /run is a tmpfs, empty on every start.
		lcRunD(sb, append([]string{"--name", "hc-re", "--tmpfs", "/run", "--health-cmd", "test ! -e /run/bad", "--health-retries", "1",
			"--health-on-failure", "restart", "--stop-timeout", "1"}, append(fast, lcImage, "sleep", "1000")...)...)
		hcWaitEvent(ev, "hc-re", "healthy")
		pid := lcInspect(sb, "hc-re").State.Pid
		sb.ok("exec", "hc-re", "touch", "/run/bad")
		hcWaitEvent(ev, "hc-re", "unhealthy")
		ev.until("restart of hc-re", func(e evEvent) bool { return e.Action == "restart" })
		hcWaitEvent(ev, "hc-re", "healthy")
		in := lcInspect(sb, "hc-re")
		if !in.State.Running || in.State.Pid == pid || in.RestartCount != 1 {
			t.Fatalf("restarted on failure: %+v restarts %d (pid was %d)", in.State, in.RestartCount, pid)
		}
		// Combined with --restart it is refused: the monitor restarts it itself.
		r := sb.expect(125, "run", "-d", "--health-cmd", "true", "--health-on-failure", "restart", "--restart", "always", lcImage, "true")
		assertContains(t, r.stderr, "cannot be combined", "--health-on-failure restart with --restart")
		sb.ok("rm", "-f", "hc-re")
	})

	t.Run("on-failure-stop", func(t *testing.T) {
		sb := lcAt(sb, t)
		ev := evFollow(t, sb, "--filter", "container=hc-stop")
		lcRunD(sb, append([]string{"--name", "hc-stop", "--restart", "always", "--health-cmd", "false", "--health-retries", "1",
			"--health-on-failure", "stop", "--stop-timeout", "1"}, append(fast, lcImage, "sleep", "1000")...)...)
		hcWaitEvent(ev, "hc-stop", "unhealthy")
		in := lcWaitStatus(sb, "hc-stop", "exited", 30*time.Second)
		lcEventually(t, 10*time.Second, "the monitor is gone", func() (bool, string) {
			_, ok := lcMonitors(sb)[in.ID]
			return !ok, lcProcList(lcProcs(sb))
		})
		// Stopped as `hutch stop` stops it: --restart always does not bring it back.
		if in := lcInspect(sb, "hc-stop"); in.State.Status != "exited" || in.RestartCount != 0 {
			t.Fatalf("--health-on-failure stop: %+v restarts %d", in.State, in.RestartCount)
		}
		if h := hcInspect(sb, "hc-stop"); h == nil || h.Status != "unhealthy" {
			t.Fatalf("a stopped container's health: %s", h)
		}
		sb.ok("rm", "-f", "hc-stop")
	})

	t.Run("monitor-killed", func(t *testing.T) {
		sb := lcAt(sb, t)
		ev := evFollow(t, sb, "--filter", "container=hc-dead")
		id := lcRunD(sb, append([]string{"--name", "hc-dead", "--health-cmd", "true"}, append(fast, lcImage, "sleep", "1000")...)...)
		hcWaitEvent(ev, "hc-dead", "healthy")
		mon := lcMonitorOf(sb, id)
		if err := syscall.Kill(mon.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		lcEventually(t, 10*time.Second, "the killed monitor and its probes are gone", func() (bool, string) {
			for _, p := range lcProcs(sb) {
				if strings.Contains(p.args, id) {
					return false, lcProcList(lcProcs(sb))
				}
			}
			return !lcAlive(mon.pid), ""
		})
		// As for any container whose monitor died: exited (137), and its health
		// unhealthy (its checks ended with it), before and after the repair.
		in := lcInspect(sb, id)
		if in.State.Status != "exited" || in.State.ExitCode != 137 {
			t.Fatalf("a container whose monitor was killed: %+v", in.State)
		}
		if h := hcInspect(sb, id); h == nil || h.Status != "unhealthy" {
			t.Fatalf("the health of a container whose monitor was killed: %s", h)
		}
		sb.expect(125, "healthcheck", "run", id)
		c, r := sb.check()
		if !c.has("container", "hc-dead") {
			t.Fatalf("system check does not list the container whose monitor died:\n%s", r)
		}
		if c, r = sb.check("--repair"); r.code != 0 || c.Remaining != 0 {
			t.Fatalf("system check --repair:\n%s", r)
		}
		if h := hcInspect(sb, id); h == nil || h.Status != "unhealthy" {
			t.Fatalf("the health after the repair: %s", h)
		}
		// Started again, it is checked again from "starting".
		sb.ok("start", "hc-dead")
		hcWaitEvent(ev, "hc-dead", "healthy")
		sb.ok("rm", "-f", "hc-dead")
	})

	t.Run("image-healthcheck", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "hcimg", map[string]string{"Dockerfile": "FROM " + lcImage +
			"\nHEALTHCHECK --interval=200ms --retries=1 CMD test -e /etc/hostname\n"})
		sb.ok("build", "-t", "hcimg", ctx)
		ev := evFollow(t, sb, "--filter", "container=hc-img")
		lcRunD(sb, "--name", "hc-img", "hcimg", "sleep", "1000")
		hcWaitEvent(ev, "hc-img", "healthy")
		// --no-healthcheck: none at all.
		lcRunD(sb, "--name", "hc-none", "--no-healthcheck", "hcimg", "sleep", "1000")
		if h := hcInspect(sb, "hc-none"); h != nil {
			t.Fatalf("--no-healthcheck: inspect shows %s", h)
		}
		r := sb.expect(125, "healthcheck", "run", "hc-none")
		assertContains(t, r.stderr, "has no healthcheck", "healthcheck run without one")
		// A foreground run is checked too (by hutch run itself).
		r = sb.ok("run", "--rm", "--name", "hc-fg", "--health-cmd", "touch /tmp/probed", "--health-interval", "100ms",
			lcImage, "sh", "-c", "until test -e /tmp/probed; do sleep 0.05; done; echo probed")
		assertEqual(t, r.stdout, "probed\n", "a foreground container's probe ran")
		sb.ok("rm", "-f", "hc-img", "hc-none")
	})

	t.Run("flags", func(t *testing.T) {
		sb := lcAt(sb, t)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--health-interval", "-1s"}, "--health-interval"},
			{[]string{"--health-retries", "-1"}, "--health-retries"},
			{[]string{"--health-on-failure", "explode"}, "use none, kill, restart or stop"},
			{[]string{"--health-cmd", "[not json"}, "JSON array"},
			{[]string{"--no-healthcheck", "--health-cmd", "true"}, "cannot be combined"},
		} {
			r := sb.expect(125, append(append([]string{"create"}, c.args...), lcImage, "true")...)
			assertContains(t, r.stderr, c.want, strings.Join(c.args, " "))
		}
	})
}

// TestHealthcheckMonitorMemory measures what a healthcheck costs the monitor that
// waits for the container: its C half holds a timer, nothing more.
func TestHealthcheckMonitorMemory(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	plain := lcRunD(sb, "--name", "plain", lcImage, "sleep", "1000")
	checked := lcRunD(sb, "--name", "checked", "--health-cmd", "true", "--health-interval", "200ms", lcImage, "sleep", "1000")
	ev := evFollow(t, sb, "--filter", "container=checked")
	hcWaitEvent(ev, "checked", "healthy")
	// Between probes (several have run by now).
	lcEventually(t, 20*time.Second, "three probes", func() (bool, string) {
		h := hcInspect(sb, "checked")
		return h != nil && len(h.Log) >= 3, h.String()
	})
	a, b := hcRSS(t, lcMonitorOf(sb, plain).pid), hcRSS(t, lcMonitorOf(sb, checked).pid)
	t.Logf("monitor RSS: %d KiB without a healthcheck, %d KiB with one", a, b)
	if b > a+256 {
		t.Fatalf("a healthcheck costs the monitor %d KiB more (%d KiB against %d KiB)", b-a, b, a)
	}
	sb.ok("rm", "-f", plain, checked)
}
