package tests

// `hutch system check [--repair]` and removals that finish what a crash left half done.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemCheckRepairs: a clean store checks clean (exit 0); every kind of damage a
// crash leaves is listed with what --repair does (exit 1), and nothing changes without
// --repair; --repair mends it all (exit 0), the next check is clean, and the store
// works again (the names are free).
func TestSystemCheckRepairs(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		checkRepairs(t, sb)
	})
}

func checkRepairs(t *testing.T, sb *sandbox) {
	// Two checks in a row: the first mounts every layer (with fuse-overlayfs, through
	// mount programs that end a moment after their unmount), the second must not take
	// those for strays.
	c, r := sb.check()
	if r.code != 0 || len(c.Problems) != 0 || len(c.Checked) == 0 {
		t.Fatalf("a new store should check clean:\n%s", r)
	}
	assertContains(t, sb.ok("system", "check").stdout, "No problems found.", "system check of a clean store")

	// Healthy: a running container, a stopped one, a volume.
	alive := lcRunD(sb, append([]string{"--name", "alive", lcImage}, lcSleeper...)...)
	stopped := lcRunD(sb, "--name", "stopped", lcImage, "true")
	lcWaitStatus(sb, stopped, "exited", 10*time.Second)
	sb.ok("volume", "create", "keep")
	assertCheckClean(t, sb, "starting containers")

	// 1. A container whose monitor is killed.
	dead := lcRunD(sb, append([]string{"--name", "dead", lcImage}, lcSleeper...)...)
	mon := lcMonitorOf(sb, dead)
	if err := syscall.Kill(mon.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcEventually(t, 10*time.Second, "the killed monitor is gone", func() (bool, string) { return !lcAlive(mon.pid), "" })
	// 2. A record whose store entry is gone, holding the name "ghost".
	ghost := sb.ghostRecord(stopped, "ghost")
	// 3. A store entry whose records are gone, holding the name "orphan".
	orphan := strings.TrimSpace(sb.ok("create", "--name", "orphan", lcImage, "true").stdout)
	sb.dropRecord(orphan)
	// 4. A record directory whose deletion was cut short.
	halfID := randomHexID(t)
	halfRec := filepath.Join(sb.recordsDir(), ".removing-"+halfID)
	sb.userDir(halfRec)
	sb.userFile(filepath.Join(halfRec, "ctr.log"), "{}\n")
	// 5. A volume whose removal was cut short.
	halfVol := sb.path("data", "hutch", "volumes", ".removing-old-0a1b2c")
	sb.userDir(halfVol)
	sb.userFile(filepath.Join(halfVol, "volume.json"), "{}")
	// 6. The scratch files of a killed load (its spooled standard input) and a killed
	// save (to standard output), made by a process that is gone.
	scratch := filepath.Join(sb.graphRoot(), "tmp", "stdin-999999999-123456")
	sb.userFile(scratch, "half an archive")
	saveDir := filepath.Join(sb.graphRoot(), "tmp", ".hutch-save-999999999-654321")
	sb.userDir(saveDir)
	// 7. An image whose record went while its layers stayed (an image removal cut short).
	sb.ok("tag", lcImage, "extra")
	sb.ok("build", "-t", "layered", bdCtx(t, sb, "layered", map[string]string{"Dockerfile": "FROM " + lcImage + "\nRUN echo more > /more\n"}))
	layered := sb.inspect("layered").ID
	sb.dropImageRecord(sb.storeDriver(), strings.TrimPrefix(layered, "sha256:"))
	// 9. A creation cut short while it wrote the record: the store entry and an empty
	// record directory (found by the crash campaign: repaired twice over, the second
	// time with an error).
	halfMade := strings.TrimSpace(sb.ok("create", "--name", "halfmade", lcImage, "true").stdout)
	if err := os.Remove(filepath.Join(sb.recordsDir(), halfMade, "config.json")); err != nil {
		t.Fatal(err)
	}
	// 8. A damaged state record (a power cut after an unsynced write).
	sb.userFile(filepath.Join(sb.recordsDir(), stopped, "state.json"), "")

	before := sb.ok("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout
	c, r = sb.check()
	if r.code != 1 {
		t.Fatalf("system check of a damaged store should exit 1:\n%s", r)
	}
	for _, want := range []struct{ kind, what string }{
		{"container", "dead"}, {"container", "ghost"}, {"container", orphan}, {"record", halfID},
		{"volume", ".removing-old-0a1b2c"}, {"scratch", "stdin-999999999-123456"}, {"scratch", ".hutch-save-999999999-654321"}, {"layer", "no image or container uses it"},
		{"record", "stopped"}, {"record", halfMade},
	} {
		if !c.has(want.kind, want.what) {
			t.Errorf("the check does not list the %s %q:\n%s", want.kind, want.what, c)
		}
	}
	for _, p := range c.Problems {
		if p.Repair == "" || p.Found == "" || p.Repaired {
			t.Errorf("every problem says what is wrong and what --repair does, none is repaired yet: %+v", p)
		}
		if p.Name == "alive" || p.Name == "keep" {
			t.Errorf("a healthy object is listed as a problem: %+v", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The text form says the same, and what to run.
	text := sb.expect(1, "system", "check")
	assertContains(t, text.stdout, "--repair: ", "system check text")
	assertContains(t, text.stdout, "Run `hutch system check --repair`", "system check text")
	// Nothing changed without --repair.
	again, _ := sb.check()
	assertEqual(t, len(again.Problems), len(c.Problems), "problems found by a second check without --repair")
	assertEqual(t, sb.ok("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout, before, "ps -a after checks without --repair")
	if _, err := os.Stat(scratch); err != nil {
		t.Fatalf("check without --repair removed %s: %v", scratch, err)
	}
	// A command that meets the damage says what to run.
	r = sb.expect(anyFailure, "start", "ghost")
	assertContains(t, r.stderr, "hutch system check --repair", "start of a container without its store entry")
	assertContains(t, r.stderr, "ghost", "start of a container without its store entry")

	c, r = sb.check("--repair")
	if r.code != 0 || c.Remaining != 0 {
		t.Fatalf("system check --repair should repair everything:\n%s", r)
	}
	assertCheckClean(t, sb, "system check --repair")
	text = sb.ok("system", "check")
	assertContains(t, text.stdout, "No problems found.", "check after the repair")

	// What the repair left works, and the healthy objects are untouched.
	assertEqual(t, lcRecord(sb, alive).State.Status, "running", "the running container after the repair")
	assertEqual(t, lcRecord(sb, stopped).State.Status, "exited", "the stopped container after the repair")
	st := lcInspect(sb, "dead").State
	if st.Status != "exited" || st.ExitCode != 137 {
		t.Fatalf("the container whose monitor died: %+v, want exited 137", st)
	}
	names := sb.ok("ps", "-a", "--format", "{{.Names}}").stdout
	for _, gone := range []string{"ghost", "orphan"} {
		if strings.Contains(names, gone) {
			t.Fatalf("ps -a still lists %s after the repair:\n%s", gone, names)
		}
	}
	if _, err := os.Stat(filepath.Join(sb.recordsDir(), ghost)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the ghost's record is still there: %v", err)
	}
	for _, name := range []string{"ghost", "orphan", "halfmade"} {
		sb.ok("run", "--rm", "--name", name, lcImage, "true")
	}
	sb.ok("start", "dead")
	lcWaitStatus(sb, "dead", "running", 10*time.Second)
	sb.ok("volume", "inspect", "keep")
	sb.ok("run", "--rm", "extra", "true")
	sb.ok("rm", "-f", "alive", "dead", "stopped")
	lcAssertClean(t, sb, "the repair and rm -f")
	assertCheckClean(t, sb, "rm -f of everything")
}

// TestRemoveFinishesHalfRemoved: every removal finishes what a removal cut short left:
// rm of a container whose store entry is gone, or whose records are gone (by name and
// by ID); a name held by such leftovers is free for run --name; container prune, volume
// rm and system prune clear theirs.
func TestRemoveFinishesHalfRemoved(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	base := strings.TrimSpace(sb.ok("create", "--name", "base", lcImage, "true").stdout)

	// The record is left, the store entry gone (the bug: "identifier is not a container").
	sb.ghostRecord(base, "victim")
	r := sb.ok("rm", "victim")
	assertEqual(t, r.stdout, "victim\n", "rm of a container without its store entry")
	if strings.Contains(sb.ok("ps", "-a").stdout, "victim") {
		t.Fatal("ps -a still lists victim")
	}
	sb.ghostRecord(base, "victim")
	sb.ok("rm", "-f", "victim")
	sb.ghostRecord(base, "victim")
	sb.ok("container", "prune", "-f")
	if strings.Contains(sb.ok("ps", "-a").stdout, "victim") {
		t.Fatal("container prune left victim")
	}

	// The store entry is left, the records gone: rm by name, by ID; run --name takes
	// the name; container prune clears one.
	id := strings.TrimSpace(sb.ok("create", "--name", "held", lcImage, "true").stdout)
	sb.dropRecord(id)
	assertEqual(t, sb.ok("rm", "held").stdout, "held\n", "rm by name of a store entry without records")
	id = strings.TrimSpace(sb.ok("create", "--name", "held", lcImage, "true").stdout)
	sb.dropRecord(id)
	sb.ok("rm", id)
	id = strings.TrimSpace(sb.ok("create", "--name", "held", lcImage, "true").stdout)
	sb.dropRecord(id)
	r = sb.ok("run", "--name", "held", lcImage, "echo", "took the name")
	assertEqual(t, r.stdout, "took the name\n", "run --name of a name a leftover store entry held")
	if n := strings.Count(sb.ok("ps", "-a", "--format", "{{.Names}}").stdout, "held"); n != 1 {
		t.Fatalf("ps -a lists %d containers named held, want 1", n)
	}
	sb.ok("rm", "held")
	id = strings.TrimSpace(sb.ok("create", "--name", "held", lcImage, "true").stdout)
	sb.dropRecord(id)
	sb.ok("container", "prune", "-f")
	sb.ok("run", "--rm", "--name", "held", lcImage, "true")

	// A volume directory without its record (an older removal cut short), and one
	// renamed for removal: volume rm finishes the first by name, and any removal the other.
	vols := sb.path("data", "hutch", "volumes")
	sb.ok("volume", "create", "v1")
	if err := os.Remove(filepath.Join(vols, "v1", "volume.json")); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, sb.ok("volume", "rm", "v1").stdout, "v1\n", "volume rm of a volume without its record")
	half := filepath.Join(vols, ".removing-v2-000000")
	sb.userDir(half)
	sb.ok("volume", "create", "v3")
	sb.ok("volume", "rm", "v3")
	if _, err := os.Stat(half); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("volume rm left %s: %v", half, err)
	}

	// An image whose record went while its layers stayed: system prune frees them.
	sb.ok("build", "-t", "layered", bdCtx(t, sb, "layered", map[string]string{"Dockerfile": "FROM " + lcImage + "\nRUN echo more > /more\n"}))
	layered := strings.TrimPrefix(sb.inspect("layered").ID, "sha256:")
	sb.dropImageRecord(sb.storeDriver(), layered)
	if c, _ := sb.check(); !c.has("layer", "no image or container uses it") {
		t.Fatalf("the check does not see the layers an image removal left:\n%s", c)
	}
	sb.ok("system", "prune", "-f")
	assertCheckClean(t, sb, "system prune")
	lcAssertClean(t, sb, "removing everything")
}

// TestCheckRunRmCutShort: a container `run --rm` created but never started, because
// the run was killed, is removed by the repair (its name is free again); one made by
// `create --rm`, to be started later, is no problem.
func TestCheckRunRmCutShort(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sb.ok("create", "--rm", "--name", "later", lcImage, "true")
	assertCheckClean(t, sb, "create --rm")
	// What a run --rm killed between creating and starting its container leaves: the
	// same record, marked as made by run, whose creator is gone.
	id := strings.TrimSpace(sb.ok("create", "--rm", "--name", "cut", lcImage, "true").stdout)
	p := filepath.Join(sb.recordsDir(), id, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sb.userFile(p, strings.Replace(string(b), `"AutoRemove": true`, `"AutoRemove": true, "ByRun": true`, 1))
	c, r := sb.check()
	if r.code != 1 || !c.has("container", "cut") || c.has("container", "later") {
		t.Fatalf("the check should list cut (and not later):\n%s", c)
	}
	if c, r := sb.check("--repair"); r.code != 0 {
		t.Fatalf("the repair:\n%s", c)
	}
	sb.ok("run", "--rm", "--name", "cut", lcImage, "true")
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-a", "--format", "{{.Names}}").stdout), "later", "ps -a after the repair")
	assertEqual(t, sb.ok("start", "-a", "later").stdout, "", "start -a of the create --rm container")
	lcAssertClean(t, sb, "start -a of a create --rm container")
}
