package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var cgSeq atomic.Int64

// cgDelegate makes, as root, a cgroup under the host's cgroup2 mount delegated to the
// sandbox's user the way systemd delegates one (the directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads chowned), and removes it with everything in
// it at the end of the test. The host's cgroup2 here has no resource controllers, but
// delegation, freeze, kill, events and cgroup namespaces work.
func cgDelegate(t *testing.T, sb *sandbox) string {
	t.Helper()
	v2, _ := hostCgroups(t)
	if v2 == "" {
		t.Fatal("no cgroup2 mount on this host: the delegation tests need one (even a hybrid host has it)")
	}
	dir := filepath.Join(v2, fmt.Sprintf("hutch-systest-%d-%d", os.Getpid(), cgSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cgRemoveTree(t, dir) })
	for _, p := range []string{dir, dir + "/cgroup.procs", dir + "/cgroup.subtree_control", dir + "/cgroup.threads"} {
		if err := os.Chown(p, sb.user.uid, sb.user.gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cgRemoveTree kills what is left in a test cgroup tree and removes it, children first.
func cgRemoveTree(t *testing.T, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			cgRemoveTree(t, filepath.Join(dir, e.Name()))
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup: rmdir %s: %v", dir, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgRunIn runs hutch as the sandbox's user, started inside the cgroup dir: root clones
// it there (CLONE_INTO_CGROUP), as a root shell writing its pid into dir/cgroup.procs
// before dropping to the user would.
func cgRunIn(sb *sandbox, dir string, args ...string) result {
	sb.t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		sb.t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := sb.command(runOpts{}, args...)
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		sb.t.Fatalf("running hutch %s in %s: %v", shellJoin(args), dir, err)
	}
	return r
}

func cgOKIn(sb *sandbox, dir string, args ...string) result {
	sb.t.Helper()
	r := cgRunIn(sb, dir, args...)
	if r.code != 0 {
		sb.t.Fatalf("expected success in cgroup %s:\n%s", dir, r)
	}
	return r
}

var cgContainerDir = regexp.MustCompile(`^hutch-[0-9a-f]{64}$`)

// cgContainerCgroups lists the containers' cgroups in the delegated directory.
func cgContainerCgroups(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && cgContainerDir.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func cgRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cgInspect is the part of `hutch inspect` these tests read.
type cgInspect struct {
	State struct {
		Status    string
		Running   bool
		Paused    bool
		Pid       int
		OOMKilled bool
		ExitCode  int
	}
	Resources struct {
		Cgroup string
		Limits []struct {
			Flag, Requested, Status string
			Applied                 []string
		}
		NotApplied string
	}
}

func cgInspectOf(sb *sandbox, ref string) cgInspect {
	sb.t.Helper()
	var in []cgInspect
	mustJSON(sb.t, sb.ok("inspect", ref), &in)
	if len(in) != 1 {
		sb.t.Fatalf("inspect %s: %d objects", ref, len(in))
	}
	return in[0]
}

// TestCgroupsDelegatedHost drives containers' own cgroups on the host's cgroup2, in a
// subtree delegated to the test user, with hutch started inside it: each container gets
// a cgroup of its own (its init cloned into it) that it sees as its root (0::/), hutch
// moves its own processes into a leaf, pause and unpause freeze and thaw it, stop and
// kill reach a paused container, stats read it, and rm (or the end of a --rm run)
// removes it. Limits still fail here, naming the delegated directory: it offers no
// controllers.
func TestCgroupsDelegatedHost(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	deleg := cgDelegate(t, sb)

	// What info finds from inside.
	var info struct {
		Cgroups struct {
			DelegatedDir string `json:"delegatedDir"`
			Availability []struct {
				Controller string
				Available  bool
				Why        string
			} `json:"limitsAvailability"`
		} `json:"cgroups"`
	}
	mustJSON(t, cgOKIn(sb, deleg, "info", "--format", "json"), &info)
	assertEqual(t, info.Cgroups.DelegatedDir, deleg, "info: delegated cgroup")
	for _, a := range info.Cgroups.Availability {
		if a.Available {
			t.Errorf("info says the %s controller is available in %s, which offers none", a.Controller, deleg)
		}
		assertContains(t, a.Why, "the cgroup delegated to you, "+deleg+", offers the controllers [] but not "+a.Controller, "why "+a.Controller+" is unavailable")
	}
	// The text says it too, per controller.
	assertContains(t, cgOKIn(sb, deleg, "info").stdout, "cpuset: unavailable (--cpuset-cpus --cpuset-mems): the cgroup delegated to you, "+deleg+
		", offers the controllers [] but not cpuset", "info text")

	// A --rm run: its own cgroup, seen as the root of its cgroup namespace, gone at the end.
	r := cgOKIn(sb, deleg, "run", "--rm", lcImage, "cat", "/proc/self/cgroup")
	if !regexp.MustCompile(`(?m)^0::/$`).MatchString(r.stdout) {
		t.Errorf("the container does not see its cgroup as the root of its cgroup namespace:\n%s", r)
	}
	if left := cgContainerCgroups(t, deleg); len(left) > 0 {
		t.Errorf("a --rm run left its cgroup behind: %v", left)
	}
	// The no-internal-process rule: hutch moved itself out of the delegated directory.
	if procs := strings.TrimSpace(cgRead(t, deleg+"/cgroup.procs")); procs != "" {
		t.Errorf("processes left in the delegated cgroup itself (cgroup v2 wants them in a leaf): %s", procs)
	}
	if _, err := os.Stat(filepath.Join(deleg, "hutch-engine")); err != nil {
		t.Errorf("no leaf cgroup for hutch's own processes: %v", err)
	}

	// Limits cannot be applied: none of the controllers is offered.
	r = cgRunIn(sb, deleg, "run", "--rm", "--memory", "32m", lcImage, "echo", "ran-unlimited")
	if r.code != 125 || strings.Contains(r.stdout, "ran-unlimited") {
		t.Fatalf("a --memory run in a cgroup without the memory controller should fail with 125:\n%s", r)
	}
	assertContains(t, r.stderr, "the cgroup delegated to you, "+deleg+", offers the controllers [] but not memory", "refusal")

	// A detached container: a counter printing every 0.1 s.
	id := strings.TrimSpace(cgOKIn(sb, deleg, "run", "-d", "--name", "counter", lcImage,
		"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done").stdout)
	if !lcHexID.MatchString(id) {
		t.Fatalf("run -d printed %q", id)
	}
	own := filepath.Join(deleg, "hutch-"+id)
	// A run that fails to create its container (the name is taken) leaves no cgroup,
	// although its init was launched into one before the container was created.
	if r := cgRunIn(sb, deleg, "run", "--rm", "--name", "counter", lcImage, "true"); r.code != 125 {
		t.Fatalf("a second container named counter:\n%s", r)
	}
	if got := cgContainerCgroups(t, deleg); len(got) != 1 || got[0] != "hutch-"+id {
		t.Errorf("cgroups after a failed run: %v, want only the counter's", got)
	}
	in := cgInspectOf(sb, id)
	assertEqual(t, in.Resources.Cgroup, own, "inspect: the container's cgroup")
	procs := strings.Fields(cgRead(t, own+"/cgroup.procs"))
	if len(procs) == 0 || procs[0] != strconv.Itoa(in.State.Pid) && !strings.Contains(" "+strings.Join(procs, " ")+" ", " "+strconv.Itoa(in.State.Pid)+" ") {
		t.Errorf("the container's init (pid %d) is not in its cgroup %s: %v", in.State.Pid, own, procs)
	}
	// exec from inside the delegated cgroup joins the container's cgroup.
	r = cgOKIn(sb, deleg, "exec", "counter", "cat", "/proc/self/cgroup")
	if !regexp.MustCompile(`(?m)^0::/$`).MatchString(r.stdout) {
		t.Errorf("exec's command is not in the container's cgroup:\n%s", r)
	}

	// stats from the container's own files (as the plain user, from anywhere).
	lcWaitLog(sb, "counter", "\n3\n", 10*time.Second)
	var st struct{ Name, ID, CPUPerc, MemUsage, PIDs, BlockIO string }
	mustJSON(t, sb.ok("stats", "--no-stream", "--format", "json", "counter"), &st)
	assertEqual(t, st.Name, "counter", "stats name")
	assertEqual(t, st.ID, id[:12], "stats ID")
	if n, err := strconv.Atoi(st.PIDs); err != nil || n < 1 || n > 3 {
		t.Errorf("stats PIDs = %q, want the shell and perhaps its sleep", st.PIDs)
	}
	if !strings.HasSuffix(st.CPUPerc, "%") {
		t.Errorf("stats CPU %% = %q", st.CPUPerc)
	}
	tr := sb.ok("stats", "--no-stream", "--format", "{{.Name}}={{.PIDs}}", "counter").stdout
	if !regexp.MustCompile(`^counter=\d+\n$`).MatchString(tr) {
		t.Errorf("stats --format template printed %q", tr)
	}
	table := sb.ok("stats", "--no-stream").stdout
	assertContains(t, table, "CONTAINER ID   NAME", "stats table")
	assertContains(t, table, id[:12], "stats table")

	// pause: frozen in the kernel, no output while paused, ps and inspect say so.
	sb.ok("pause", "counter")
	if !strings.Contains(cgRead(t, own+"/cgroup.events"), "frozen 1") {
		t.Errorf("paused, but cgroup.events says:\n%s", cgRead(t, own+"/cgroup.events"))
	}
	in = cgInspectOf(sb, "counter")
	if in.State.Status != "paused" || !in.State.Paused || !in.State.Running {
		t.Errorf("inspect of a paused container: %+v", in.State)
	}
	assertContains(t, sb.ok("ps").stdout, "(Paused)", "ps")
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "--filter", "status=paused", "--format", "{{.Names}} {{.State}}").stdout), "counter paused", "ps filter status=paused")
	before := sb.ok("logs", "counter").stdout
	time.Sleep(700 * time.Millisecond)
	if after := sb.ok("logs", "counter").stdout; after != before {
		t.Errorf("the paused container kept printing: %d lines, then %d", strings.Count(before, "\n"), strings.Count(after, "\n"))
	}
	sb.expect(1, "pause", "counter") // already paused
	r = sb.expect(125, "exec", "counter", "true")
	assertContains(t, r.stderr, "container counter is paused: unpause it first", "exec in a paused container")
	// update from anywhere: judged by the container's delegated cgroup, which offers no pids.
	r = sb.expect(125, "update", "--pids-limit", "10", "counter")
	assertContains(t, r.stderr, "cannot apply --pids-limit 10 (needs the pids controller): the cgroup delegated to you, "+deleg+", offers the controllers [] but not pids", "update refused")
	sb.ok("unpause", "counter")
	lcEventually(t, 5*time.Second, "output after unpause", func() (bool, string) {
		now := sb.ok("logs", "counter").stdout
		return strings.Count(now, "\n") > strings.Count(before, "\n")+2, now
	})
	assertEqual(t, cgInspectOf(sb, "counter").State.Status, "running", "status after unpause")

	// stop of a paused container works (the stop signal, then SIGKILL).
	sb.ok("pause", "counter")
	sb.ok("stop", "-t", "1", "counter")
	in = cgInspectOf(sb, "counter")
	if in.State.Status != "exited" || in.State.OOMKilled {
		t.Errorf("after stop of a paused container: %+v", in.State)
	}
	// The cgroup outlives the run (its counters stay readable) until rm.
	if _, err := os.Stat(own); err != nil {
		t.Errorf("the exited container's cgroup is gone before rm: %v", err)
	}
	// start again: a fresh cgroup; kill of a paused container works too.
	cgOKIn(sb, deleg, "start", "counter")
	sb.ok("pause", "counter")
	sb.ok("kill", "counter")
	lcWaitStatus(sb, "counter", "exited", 10*time.Second)
	sb.ok("rm", "counter")
	if _, err := os.Stat(own); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rm left the container's cgroup %s (%v)", own, err)
	}
	if left := cgContainerCgroups(t, deleg); len(left) > 0 {
		t.Errorf("cgroups left after rm: %v", left)
	}
	// system reset stops containers and removes their cgroups too.
	cgOKIn(sb, deleg, "run", "-d", "--name", "resetme", lcImage, "sleep", "1000")
	if len(cgContainerCgroups(t, deleg)) != 1 {
		t.Fatalf("no cgroup for the container resetme")
	}
	sb.ok("system", "reset", "-f")
	if left := cgContainerCgroups(t, deleg); len(left) > 0 {
		t.Errorf("cgroups left after system reset: %v", left)
	}
}

// TestCgroupsParentConfig: [cgroups] parent names the delegated directory when hutch's
// own cgroup is not delegated (here a root-owned child of it).
func TestCgroupsParentConfig(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	deleg := cgDelegate(t, sb)
	inner := filepath.Join(deleg, "rootowned")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	// Without the config: not delegated.
	r := cgRunIn(sb, inner, "run", "--rm", "--pids-limit", "8", lcImage, "true")
	if r.code != 125 {
		t.Fatalf("expected 125:\n%s", r)
	}
	assertContains(t, r.stderr, "no cgroup is delegated to you: your cgroup /"+filepath.Base(deleg)+"/rootowned", "refusal")
	sb.writeConfig(fmt.Sprintf("[cgroups]\nparent = %q\n", deleg))
	r = cgOKIn(sb, inner, "run", "--rm", lcImage, "cat", "/proc/self/cgroup")
	if !regexp.MustCompile(`(?m)^0::/$`).MatchString(r.stdout) {
		t.Errorf("the container does not see its own cgroup as root:\n%s", r)
	}
	id := strings.TrimSpace(cgOKIn(sb, inner, "run", "-d", lcImage, "sleep", "1000").stdout)
	assertEqual(t, cgInspectOf(sb, id).Resources.Cgroup, filepath.Join(deleg, "hutch-"+id), "the container's cgroup")
	sb.ok("rm", "-f", id)
	if left := cgContainerCgroups(t, deleg); len(left) > 0 {
		t.Errorf("cgroups left after rm -f: %v", left)
	}
	// Started outside the parent: a clear refusal of limits.
	r = sb.expect(125, "run", "--rm", "--memory", "32m", lcImage, "true")
	assertContains(t, r.stderr, "outside the delegated [cgroups] parent "+deleg, "refusal outside the parent")
}

// TestCgroupsUnavailableWithoutDelegation: on a host where nothing is delegated,
// containers run as before, and stats, pause and update say why they cannot work.
func TestCgroupsUnavailableWithoutDelegation(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	id := lcRunD(sb, "--name", "plain", lcImage, "sleep", "1000")
	assertEqual(t, cgInspectOf(sb, id).Resources.Cgroup, "", "a container without delegation has no cgroup")
	// stats of every container lists it, without figures.
	all := sb.ok("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}").stdout
	assertEqual(t, all, "plain -- --\n", "stats of all containers")
	for _, args := range [][]string{{"stats", "--no-stream", "plain"}, {"pause", "plain"}} {
		r := sb.run(runOpts{}, args...)
		if r.code == 0 {
			t.Fatalf("%v succeeded without a cgroup:\n%s", args, r)
		}
		assertContains(t, r.stderr, "the container has no cgroup of its own", strings.Join(args, " "))
		assertContains(t, r.stderr, "Delegate=cpu cpuset io memory pids", strings.Join(args, " "))
	}
	r := sb.expect(125, "update", "--memory", "64m", "plain")
	assertContains(t, r.stderr, "cannot apply --memory 64m (needs the memory controller)", "update")
	sb.ok("rm", "-f", "plain")
}
