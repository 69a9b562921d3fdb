package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// blContext writes a build context holding dockerfile in the sandbox and returns it.
func blContext(sb *sandbox, name, dockerfile string) string {
	sb.t.Helper()
	dir := sb.path("work", name)
	sb.writeUserFile(filepath.Join(dir, "Dockerfile"), dockerfile)
	return dir
}

// TestBuildLimitsRefused: `hutch build` takes run's limit flags for its RUN steps, and
// on this hybrid host (no resource controller in cgroup2, nothing delegated) every one
// is refused with 125 before any step runs, naming the limit and the fixes — never a
// build whose steps run unlimited. Docker's value rules apply; with [cgroups]
// on_unavailable = "warn" the build runs after one warning.
func TestBuildLimitsRefused(t *testing.T) {
	if cgHostHasControllers(t) {
		t.Skip("the host's cgroup2 offers resource controllers: the refusal is for hosts without them (the cgroup VM tests cover real limits)")
	}
	t.Parallel()
	sb := lcSandbox(t)
	ctx := blContext(sb, "ctx", "FROM "+lcImage+"\nRUN echo ran-unlimited\n")
	for _, fam := range cgLimitFamilies(t) {
		args := append(append([]string{"build", "--pull=never", "-t", "limited"}, fam.args...), ctx)
		r := sb.expect(125, args...)
		if strings.Contains(r.stdout, "ran-unlimited") || strings.Contains(r.stdout, "STEP") {
			t.Fatalf("build %s ran although its limit could not be applied:\n%s", strings.Join(fam.args, " "), r)
		}
		for _, want := range []string{"Error: cannot apply --", fam.mention, "the " + fam.controller + " controller",
			"Delegate=cpu cpuset io memory pids", "user@.service.d/delegate.conf",
			"systemd.unified_cgroup_hierarchy=1", "[cgroups] parent", `on_unavailable = "warn"`} {
			assertContains(t, r.stderr, want, "build "+strings.Join(fam.args, " "))
		}
	}
	if findImage(sb.images(false), "localhost/limited:latest") != nil {
		t.Errorf("a refused build made the image limited")
	}
	// Docker's value rules, before anything else.
	r := sb.expect(125, "build", "--pull=never", "--memory", "4m", ctx)
	assertContains(t, r.stderr, "minimum memory limit allowed is 6MB", "build --memory 4m")
	r = sb.expect(125, "build", "--pull=never", "--cpus", "0.5", "--cpu-period", "50000", ctx)
	assertContains(t, r.stderr, "--cpus and --cpu-period cannot both be set", "build --cpus --cpu-period")

	// Warn mode: one warning, and the steps run.
	sb.writeConfig("[cgroups]\non_unavailable = \"warn\"\n")
	r = sb.ok("build", "--pull=never", "-t", "warned", "--memory", "32m", "--pids-limit", "8", ctx)
	assertContains(t, r.stdout, "ran-unlimited", "RUN output in warn mode")
	assertContains(t, r.stderr, "Warning: RUN steps run without --memory 32m (needs the memory controller), --pids-limit 8 (needs the pids controller)", "warning")
	if n := strings.Count(r.stderr, "Warning:"); n != 1 {
		t.Errorf("%d warnings, want exactly one:\n%s", n, r.stderr)
	}
}

var blStepCgroup = regexp.MustCompile(`^hutch-build-[0-9]+-[0-9]+-[0-9a-f]{16}$`)

// blStepCgroups lists the RUN steps' cgroups in the delegated directory, with their
// processes.
func blStepCgroups(dir string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() && blStepCgroup.MatchString(e.Name()) {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name(), "cgroup.procs"))
			out[e.Name()] = strings.TrimSpace(string(b))
		}
	}
	return out
}

// TestBuildStepCgroup: with hutch started in a delegated cgroup, each RUN step's
// process tree runs in a cgroup of its own beside the containers' (hutch-build-…,
// not hutch's own leaf), sees it as its root (0::/), and the cgroup is gone after the
// step; a limit the delegated directory cannot give is refused, naming it.
func TestBuildStepCgroup(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	deleg := cgDelegate(t, sb)
	ctx := blContext(sb, "ctx", "FROM "+lcImage+"\nRUN cat /proc/self/cgroup && sleep 2 && echo first-done\nRUN sleep 2 && echo second-done\n")

	fd, err := unix.Open(deleg, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := sb.command(runOpts{}, "build", "--pull=never", "-t", "stepcg", ctx)
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	seen := map[string]bool{} // step cgroups seen holding processes
	var buildErr error
poll:
	for {
		select {
		case buildErr = <-done:
			break poll
		case <-time.After(50 * time.Millisecond):
		}
		for name, procs := range blStepCgroups(deleg) {
			if procs != "" {
				seen[name] = true
			}
		}
	}
	if buildErr != nil {
		t.Fatalf("build in the delegated cgroup: %v\nstdout: %s\nstderr: %s", buildErr, stdout.String(), stderr.String())
	}
	out := stdout.String()
	assertContains(t, out, "second-done", "build output")
	if !regexp.MustCompile(`(?m)^0::/$`).MatchString(out) {
		t.Errorf("the RUN step does not see its cgroup as the root of its cgroup namespace:\n%s", out)
	}
	if len(seen) != 2 {
		t.Errorf("RUN steps seen running in %d cgroups of their own (%v), want 2 (one per step)", len(seen), seen)
	}
	if left := blStepCgroups(deleg); len(left) > 0 {
		t.Errorf("the build left its steps' cgroups behind: %v", left)
	}
	if procs := strings.TrimSpace(cgRead(t, deleg+"/cgroup.procs")); procs != "" {
		t.Errorf("processes left in the delegated cgroup itself: %s", procs)
	}

	// A build interrupted (SIGINT) in a RUN step removes the step's cgroup.
	slow := blContext(sb, "slow", "FROM "+lcImage+"\nRUN echo slow-began-$((40+2)) && sleep 60\n")
	b := &bgRun{t: t, args: []string{"build", slow}, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = sb.command(runOpts{}, "build", "--pull=never", slow)
	b.cmd.SysProcAttr.UseCgroupFD, b.cmd.SysProcAttr.CgroupFD = true, fd
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	b.launch()
	bdWaitAny(b, "slow-began-42", time.Minute)
	if got := blStepCgroups(deleg); len(got) != 1 {
		t.Errorf("step cgroups while the slow step runs: %v, want one", got)
	}
	b.signal(syscall.SIGINT)
	if r := b.wait(); r.code != 130 {
		t.Fatalf("build interrupted with SIGINT: want exit 130:\n%s", r)
	}
	if left := blStepCgroups(deleg); len(left) > 0 {
		t.Errorf("an interrupted build left its step's cgroup behind: %v", left)
	}

	// A build killed outright (SIGKILL to hutch and its namespaced child) leaves its
	// step's cgroup, emptied; the next build sweeps it away.
	k := &bgRun{t: t, args: []string{"build", slow}, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	k.cmd = sb.command(runOpts{}, "build", "--pull=never", slow)
	k.cmd.SysProcAttr.UseCgroupFD, k.cmd.SysProcAttr.CgroupFD = true, fd
	k.cmd.Stdout, k.cmd.Stderr = k.stdout, k.stderr
	k.launch()
	bdWaitAny(k, "slow-began-42", time.Minute)
	if err := syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	k.wait()
	lcEventually(t, 10*time.Second, "the killed build's step processes gone", func() (bool, string) {
		for name, procs := range blStepCgroups(deleg) {
			if procs != "" {
				return false, name + " still holds " + procs
			}
		}
		return true, ""
	})

	// A step whose command cannot be executed: its cgroup goes too.
	noexec := blContext(sb, "noexec", "FROM "+lcImage+"\nRUN [\"/nonexistent\"]\n")
	if r := cgRunIn(sb, deleg, "build", "--pull=never", noexec); r.code != 1 {
		t.Fatalf("a RUN of a missing program: want exit 1:\n%s", r)
	}
	if left := blStepCgroups(deleg); len(left) > 0 {
		t.Errorf("a step that could not execute its command, or the build killed before it, left its cgroup behind: %v", left)
	}

	// A limit the delegated directory does not offer: refused, naming it.
	r := cgRunIn(sb, deleg, "build", "--pull=never", "--no-cache", "--memory", "32m", ctx)
	if r.code != 125 || strings.Contains(r.stdout, "first-done") {
		t.Fatalf("build --memory 32m in a cgroup without the memory controller should fail with 125 before any step:\n%s", r)
	}
	assertContains(t, r.stderr, "the cgroup delegated to you, "+deleg+", offers the controllers [] but not memory", "refusal")
	if left := blStepCgroups(deleg); len(left) > 0 {
		t.Errorf("a refused build left cgroups behind: %v", left)
	}
}
