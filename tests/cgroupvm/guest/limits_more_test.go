//go:build cgroupvm

package guest

import (
	"strings"
	"testing"
	"time"
)

// More checks of the limits, on the paths the first ones do not take: a detached
// container (its monitor records the OOM kill), a restart (a fresh cgroup), and exec
// (its command starts in the container's cgroup, under its limits).

// waitExited polls inspect until the container has exited with restarts restarts.
func waitExited(t *testing.T, name string, restarts string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", name))
		if got == "exited "+restarts {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: %q, want exited after %s restarts", name, got, restarts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVMDetachedOOMRestart: run -d --memory 32m --restart on-failure:1 of a process
// allocating 100 MiB: killed twice by the OOM killer, recorded by the monitor as
// OOMKilled with 137 (and an oom event before each die), each run in a fresh cgroup; rm
// removes it.
func TestVMDetachedOOMRestart(t *testing.T) {
	ensureImage(t)
	const alloc = `BEGIN { s = "0123456789abcdef"; while (length(s) < 100 * 1024 * 1024) s = s s; print "allocated", length(s) }`
	ok(t, "run", "-d", "--name", "doom", "--memory", "32m", "--restart", "on-failure:1", image, "awk", alloc)
	waitExited(t, "doom", "1")
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", "doom")); got != "137 true" {
		t.Errorf("inspect doom: exit code and OOMKilled %q, want \"137 true\"", got)
	}
	// The monitor's events: each OOM kill before its death, and the policy's restart.
	events := ok(t, "events", "--stream=false", "--filter", "container=doom", "--format", "{{.Action}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}")
	if want := "create\nstart\noom\ndie 137\nrestart\nstart\noom\ndie 137\n"; events != want {
		t.Errorf("the events of doom:\n%s\nwant:\n%s", events, want)
	}
	dir := containerCgroup(t, "doom")
	// The restart made the cgroup anew: its counters are the second run's alone.
	if ev := keyed(t, dir+"/memory.events"); ev["oom_kill"] != 1 {
		t.Errorf("%s/memory.events oom_kill = %d, want 1 (a fresh cgroup for the restart)", dir, ev["oom_kill"])
	}
	if got := readFile(t, dir+"/memory.max"); got != "33554432" {
		t.Errorf("memory.max after the restart = %s", got)
	}
	if logs := hutch(t, "logs", "doom"); strings.Contains(logs.stdout, "allocated") {
		t.Errorf("the allocation succeeded under --memory 32m: %s", logs.stdout)
	}
	removed(t, "doom", dir)
}

// TestVMExecUnderLimits: exec's command runs in the container's cgroup (0::/ through
// the cgroup namespace) and its forks count against the container's --pids-limit.
func TestVMExecUnderLimits(t *testing.T) {
	ensureImage(t)
	ok(t, "run", "-d", "--name", "ex", "--pids-limit", "16", image, "sleep", "1000")
	dir := containerCgroup(t, "ex")
	inCgroup(t, "ex", dir)
	if got := ok(t, "exec", "ex", "cat", "/proc/self/cgroup"); got != "0::/\n" {
		t.Errorf("exec's command sees its cgroup as %q, want 0::/ (the container's)", got)
	}
	const forks = `i=0; while [ $i -lt 40 ]; do sleep 120 >/dev/null 2>&1 & i=$((i+1)); done; echo all-forked`
	r := hutch(t, "exec", "ex", "sh", "-c", forks)
	t.Logf("%s", r)
	ev := keyed(t, dir+"/pids.events")
	t.Logf("%s: pids.max=%s pids.current=%s pids.events max=%d", dir, readFile(t, dir+"/pids.max"), readFile(t, dir+"/pids.current"), ev["max"])
	if strings.Contains(r.stdout, "all-forked") || !strings.Contains(r.stderr, "can't fork") {
		t.Errorf("40 forks from exec under --pids-limit 16 were not refused:\n%s", r)
	}
	if ev["max"] < 1 {
		t.Errorf("pids.events max = %d: the exec'd forks were not counted in the container's cgroup", ev["max"])
	}
	removed(t, "ex", dir)
}
