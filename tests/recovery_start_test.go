package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startGate holds a container's start at a point where its root is mounted and its
// network state made, but the container not yet recorded as running: slirp4netns is a
// wrapper that says it was entered (a FIFO the test reads) and waits on a second FIFO
// before it executes the real one.
type startGate struct {
	sb              *sandbox
	entered, opened string
}

func newStartGate(t *testing.T, sb *sandbox) *startGate {
	dir := sb.path("work", "gate")
	sb.userDir(dir)
	g := &startGate{sb: sb, entered: filepath.Join(dir, "entered"), opened: filepath.Join(dir, "open")}
	for _, p := range []string{g.entered, g.opened} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(dir, "slirp4netns")
	script := fmt.Sprintf("#!/bin/sh\necho in > %s\nread go < %s\nexec /usr/bin/slirp4netns \"$@\"\n", g.entered, g.opened)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	sb.chownTree(dir)
	sb.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n[network]\nslirp4netns_path = %q\n", sb.driver, wrapper))
	return g
}

// waitEntered returns once a start reached the gate (its root mounted).
func (g *startGate) waitEntered(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := os.ReadFile(g.entered); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("no start reached slirp4netns in 2 minutes")
	}
}

// open lets the start waiting at the gate go on.
func (g *startGate) open(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- os.WriteFile(g.opened, []byte("go\n"), 0) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the start waiting at the gate did not read it in 2 minutes")
	}
}

// TestSystemCheckStartInProgress: a container being started (its root mounted, its
// network state made, not yet recorded as running) by a live monitor whose `run -d` was
// killed, or by a live `start -a`, is no leftover: `system check` finds nothing, and
// the start goes on. Once the monitor starting it is killed, the check finds what it
// left and --repair mends it. (Issue 19: the crash campaign's run-d trial that found
// "mounted, but nothing runs it" while the monitor was still starting the container.)
func TestSystemCheckStartInProgress(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		g := newStartGate(t, sb)

		// 1. `run -d` killed while its monitor starts the container.
		bg := lcStart(sb, runOpts{}, append([]string{"run", "-d", "--name", "d", lcImage}, crashReady...)...)
		g.waitEntered(t)
		_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
		bg.wait(t, time.Minute)
		mons := lcMonitors(sb)
		if len(mons) != 1 {
			t.Fatalf("want the monitor alive after its run -d was killed, have %v", mons)
		}
		var mon lcProc
		var id string
		for k, m := range mons {
			id, mon = k, m
		}
		// The full check (which mounts layers to read them) must leave the mount the
		// monitor made in its own mount namespace alone (issue 19: it mounted and
		// unmounted the container's layer itself, which renamed a fresh directory over
		// `merged` and so took the monitor's mount away; the monitor then wrote into the
		// bare directory and its unmount failed with "directory not empty").
		held := startMerged(t, sb, mon.pid)
		full, fullRun := sb.check()
		if now := startMerged(t, sb, mon.pid); now != held {
			t.Fatalf("the full check took the monitor's mount of the container's root away: mounted before %q, after %q", held, now)
		}
		if fullRun.code != 0 || !strings.Contains(checkedStore(full), "none mounted: 1 in use") {
			t.Fatalf("the full check while a monitor starts the container should be clean and mount no layer:\n%s", fullRun)
		}
		assertCheckClean(t, sb, "run -d was killed while its monitor starts the container", "--quick")
		g.open(t)
		lcWaitLog(sb, "d", "ready", time.Minute)
		assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.State.Status}}", "d").stdout), "running", "status of d once its start went on")
		assertCheckClean(t, sb, "the monitor started the container")
		rec := lcRecord(sb, id)
		if sb.driver != "vfs" && !lcHasMount(mon.pid, rec.State.Rootfs) {
			t.Fatalf("after the full checks, the monitor no longer holds the container's root %q mounted", rec.State.Rootfs)
		}
		if out := sb.ok("exec", "d", "cat", "/etc/hostname").stdout; strings.TrimSpace(out) == "" {
			t.Fatalf("the container's /etc/hostname is empty after the checks")
		}

		// 1b. `rm -f` of a container its monitor is starting waits for the start, then
		// stops and removes it: nothing is left running.
		sb.ok("rm", "-f", "d")
		lcAssertNoProcsNoMounts(t, sb, "rm -f of the container started during a full check")
		if c, r := sb.check(); r.code != 0 || !strings.HasSuffix(checkedStore(c), "(every layer's content read)") {
			t.Fatalf("the full check with nothing mounted should be clean and mount every layer:\n%s", r)
		}
		bg = lcStart(sb, runOpts{}, append([]string{"run", "-d", "--name", "d", lcImage}, crashReady...)...)
		g.waitEntered(t)
		_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
		bg.wait(t, time.Minute)
		rm := lcStart(sb, runOpts{}, "rm", "-f", "d")
		g.open(t)
		if r := rm.wait(t, time.Minute); r.code != 0 {
			t.Fatalf("rm -f of a container being started:\n%s", r)
		}
		lcAssertNoProcsNoMounts(t, sb, "rm -f of a container being started")
		assertCheckClean(t, sb, "rm -f of a container being started", "--quick")

		// 2. A foreground `start -a` of a container another command created.
		sb.ok("create", "--name", "a", lcImage, "echo", "attached")
		fg := lcStart(sb, runOpts{}, "start", "-a", "a")
		g.waitEntered(t)
		assertCheckClean(t, sb, "start -a mounted the container", "--quick")
		g.open(t)
		if r := fg.wait(t, time.Minute); r.code != 0 || !strings.Contains(r.stdout, "attached") {
			t.Fatalf("start -a after the check:\n%s", r)
		}
		assertCheckClean(t, sb, "start -a ended", "--quick")

		// 3. `run -d` killed, then its monitor, while it starts the container: now
		// nothing starts it, and what it left is found and repaired.
		sb.ok("rm", "-f", "a")
		bg = lcStart(sb, runOpts{}, append([]string{"run", "-d", "--name", "d", lcImage}, crashReady...)...)
		g.waitEntered(t)
		_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL) // (alive, it would remove the container its monitor failed)
		bg.wait(t, time.Minute)
		mons = lcMonitors(sb)
		if len(mons) != 1 {
			t.Fatalf("want one monitor, have %v", mons)
		}
		for _, m := range mons {
			_ = syscall.Kill(m.pid, syscall.SIGKILL)
			lcEventually(t, 10*time.Second, "the killed monitor is gone", func() (bool, string) { return !lcAlive(m.pid), "" })
		}
		c, r := sb.check("--quick")
		if r.code != 1 || !c.has("mount", "") {
			t.Fatalf("after the monitor was killed while it started the container, the check should find its mount:\n%s", r)
		}
		if c, r := sb.check("--repair"); r.code != 0 {
			t.Fatalf("system check --repair:\n%s", c)
		}
		assertCheckClean(t, sb, "the repair")
		// (`hutch info` runs slirp4netns --version: not through the gate.)
		sb.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n", sb.driver))
	})
}

// startMerged is the overlay mount (`…/merged` in the store) that the monitor pid holds
// in its mount namespace: the root of the container it starts ("" with vfs, which
// mounts nothing; fatal if an overlay driver's monitor holds none).
func startMerged(t *testing.T, sb *sandbox, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], sb.graphRoot()+"/") && strings.HasSuffix(f[4], "/merged") {
			found = append(found, f[4])
		}
	}
	if sb.driver == "vfs" {
		if len(found) != 0 {
			t.Fatalf("vfs mounts nothing, but the monitor holds %v", found)
		}
		return ""
	}
	if len(found) != 1 {
		dbg := ""
		for _, p := range lcProcs(sb) {
			mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", p.pid))
			dbg += fmt.Sprintf("%d %q merged=%v\n", p.pid, p.args, strings.Contains(string(mi), "/merged"))
		}
		t.Fatalf("the monitor %d should hold the container's root mounted, it holds %v\n%s", pid, found, dbg)
	}
	return found[0]
}

// checkedStore is the report's line about go.podman.io/storage's check.
func checkedStore(c checkJSON) string {
	for _, l := range c.Checked {
		if strings.HasPrefix(l, "store: ") {
			return l
		}
	}
	return ""
}
