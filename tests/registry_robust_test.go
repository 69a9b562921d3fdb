package tests

// Registry commands interrupted: a pull killed half-way, a registry that goes away
// half-way through a push.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRegistryKillDuringPull: a pull killed with SIGKILL (its whole process group) while
// the layer downloads, and while it is written into the store, leaves a store that
// works, and the next pull succeeds with the right ID — with another command changing
// the store while it runs.
func TestRegistryKillDuringPull(t *testing.T) {
	t.Parallel()
	big, err := fix.bigArchive()
	if err != nil {
		t.Fatal(err)
	}
	reg := startRegistry(t, false)
	reg.seedDocker(t, big, "big/img:1")
	ref := reg.host + "/big/img:1"
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)
	driver := sb.info().Store.Driver.Name
	layerDir := map[bool]string{true: "vfs/dir", false: "overlay"}[driver == "vfs"]
	for _, phase := range []struct {
		name string
		dir  string // where the pull's bytes show up in this phase
	}{
		{"while-downloading", filepath.Join(sb.graphRoot(), "tmp")},
		{"while-applying", filepath.Join(sb.graphRoot(), layerDir)},
	} {
		before := treeSize(phase.dir)
		bg := sb.start("pull", "-q", "--tls-verify=false", ref)
		killed := waitGrowth(phase.dir, before, 12<<20, bg.running)
		if killed {
			bg.killGroup(t)
		}
		r := bg.wait()
		if !killed {
			t.Fatalf("%s: the pull ended before %s grew by 12 MB, so it could not be killed half-way:\n%s", phase.name, phase.dir, r)
		}
		assertEqual(t, r.code, 128+int(syscall.SIGKILL), phase.name+": exit status of the killed pull")
		regWaitGroupGone(t, bg.cmd.Process.Pid, phase.name)

		list := sb.images(true)
		if len(list) != 1 || findImage(list, fix.docker.name) == nil {
			t.Fatalf("%s: after the kill `images` should list only %s: %+v", phase.name, fix.docker.name, list)
		}
		sb.ok("system", "df")
		r = sb.ok("run", "--rm", fix.docker.name, "cat", "/etc/hello")
		assertEqual(t, r.stdout, helloContent, phase.name+": run after the killed pull")
	}

	// The next pull succeeds, even with a command that changes the store (and clears the
	// store's scratch space of leftovers) started while it downloads.
	tmp := filepath.Join(sb.graphRoot(), "tmp")
	old := map[string]bool{}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		old[e.Name()] = true // the killed pulls' leftovers
	}
	bg := sb.start("pull", "-q", "--tls-verify=false", ref)
	if !waitNewEntryGrowth(tmp, old, 12<<20, bg.running) {
		t.Fatalf("the pull ended before it had 12 MB in %s:\n%s", tmp, bg.wait())
	}
	sb.ok("tag", fix.docker.name, "localhost/bb:during-pull")
	r := bg.wait()
	if r.code != 0 {
		t.Fatalf("a pull with `hutch tag` run meanwhile failed:\n%s", r)
	}
	assertEqual(t, r.stdout, big.id+"\n", "pull after the kills")
	if img := findImage(sb.images(false), "localhost/bb:during-pull"); img == nil || img.ID != fix.docker.id {
		t.Fatalf("the tag made during the pull is missing: %+v", sb.images(false))
	}
	r = sb.ok("run", "--rm", ref, "stat", "-c", "%s", "/data/noise")
	assertEqual(t, strings.TrimSpace(r.stdout), strconv.Itoa(50<<20), "the big image's file after the pull")
	// Nothing of the killed pulls is left in the store's scratch space.
	left, _ := filepath.Glob(filepath.Join(sb.graphRoot(), "tmp", "*"))
	if len(left) > 0 {
		t.Fatalf("the killed pulls left %v in the store's tmp (%d bytes)", left, treeSize(filepath.Join(sb.graphRoot(), "tmp")))
	}
}

// TestRegistryStoppedMidPush: a registry that disappears while a layer goes up makes the
// push fail with one line naming the registry; the local image is untouched.
func TestRegistryStoppedMidPush(t *testing.T) {
	t.Parallel()
	big, err := fix.bigArchive()
	if err != nil {
		t.Fatal(err)
	}
	reg := startRegistry(t, false)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", big.path)
	before := treeSize(reg.dir)
	bg := sb.start("push", "-q", "--tls-verify=false", big.name, reg.host+"/big/img:1")
	stopped := waitGrowth(reg.dir, before, 12<<20, bg.running)
	if stopped {
		reg.stop()
	}
	start := time.Now()
	r := bg.wait()
	elapsed := time.Since(start)
	if !stopped {
		t.Fatalf("the push ended before the registry received 12 MB:\n%s", r)
	}
	t.Logf("the push failed %s after the registry stopped: %s", elapsed.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	assertEqual(t, r.code, 125, "exit status of the push to a stopped registry")
	line := lastErrorLine(t, r, reg.host)
	assertEqual(t, len(lines(r.stderr)), 1, "lines of push -q's error")
	// However the connection ended (refused, reset, broken pipe), the push retried and
	// then said the registry cannot be reached.
	assertContains(t, line, "cannot reach registry "+reg.host, "the error")
	if elapsed < 5*time.Second {
		t.Fatalf("the push gave up %s after the registry stopped, without its retries (1 s, 2 s, 4 s):\n%s", elapsed, r)
	}
	list := sb.images(true)
	if len(list) != 1 || list[0].ID != big.id {
		t.Fatalf("after the failed push the store should hold %s: %+v", big.id, list)
	}
	r = sb.ok("run", "--rm", big.name, "stat", "-c", "%s", "/data/noise")
	assertEqual(t, strings.TrimSpace(r.stdout), strconv.Itoa(50<<20), "the image after the failed push")
}

// waitNewEntryGrowth polls until the entries of dir not in old hold more than n bytes
// (true), or until the watched work has ended (false).
func waitNewEntryGrowth(dir string, old map[string]bool, n int64, running func() bool) bool {
	deadline := time.Now().Add(2 * time.Minute)
	for running() && time.Now().Before(deadline) {
		var size int64
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !old[e.Name()] {
				size += treeSize(filepath.Join(dir, e.Name()))
			}
		}
		if size > n {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// regWaitGroupGone waits until no process of the killed command's group is left.
func regWaitGroupGone(t *testing.T, pgid int, what string) {
	t.Helper()
	for i := 0; ; i++ {
		out, _ := exec.Command("pgrep", "-g", strconv.Itoa(pgid)).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			return
		}
		if i == 500 {
			ps, _ := exec.Command("ps", "-o", "pid,pgid,stat,args", "-g", strconv.Itoa(pgid)).CombinedOutput()
			t.Fatalf("%s: processes of the killed command survive 5 s later:\n%s", what, ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
