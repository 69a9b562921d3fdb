package tests

// Load (stress): many commands at once, all succeeding and leaving nothing behind. CI runs
// modest counts; LOAD_FULL=1 runs the issue's: 200 parallel `run --rm`, 50 parallel
// `run -d` + `exec` + stop/`rm -f` cycles (TestLifecycleParallelCycles), two users at
// once, 4 parallel builds, 20 parallel pulls of one image.

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadCount is n in CI and full with LOAD_FULL=1.
func loadCount(n, full int) int {
	if os.Getenv("LOAD_FULL") != "" {
		return full
	}
	return n
}

// loadParallel runs fn(i) for i in [0, n) at once and returns the failures.
func loadParallel(n int, fn func(i int) string) []string {
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if e := fn(i); e != "" {
				errs <- e
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var out []string
	for e := range errs {
		out = append(out, e)
	}
	return out
}

func loadFailed(t *testing.T, what string, n int, failed []string) {
	t.Helper()
	if len(failed) > 0 {
		if len(failed) > 5 {
			failed = append(failed[:5], fmt.Sprintf("(and %d more)", len(failed)-5))
		}
		t.Fatalf("%d of %d %s failed:\n%s", len(failed), n, what, strings.Join(failed, "\n"))
	}
}

// loadRunRm starts n `run --rm` at once in sb; each prints its container's hostname.
func loadRunRm(sb *sandbox, n int) []string {
	return loadParallel(n, func(i int) string {
		name := fmt.Sprintf("rm%03d", i)
		r := sb.run(runOpts{}, "run", "--rm", "--name", name, lcImage, "sh", "-c", "echo $(hostname) "+name)
		if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 2 || len(f[0]) != 12 || f[1] != name {
			return fmt.Sprintf("%s:\n%s", name, r)
		}
		return ""
	})
}

// TestStressRunRm: parallel `run --rm` (48 in CI, 200 with LOAD_FULL) all succeed, each in
// its own container, and leave no process, mount, record or store problem.
func TestStressRunRm(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	n := loadCount(48, 200)
	began := time.Now()
	loadFailed(t, "parallel run --rm", n, loadRunRm(sb, n))
	t.Logf("%d parallel run --rm in %s", n, time.Since(began).Round(time.Millisecond))
	lcAssertClean(t, sb, "parallel run --rm")
	assertCheckClean(t, sb, "parallel run --rm")
}

// TestStressTwoUsers: two users at once, each with parallel `run --rm` and `run -d` +
// `exec` + `rm -f` cycles: all succeed, and neither user's store is left with anything.
func TestStressTwoUsers(t *testing.T) {
	t.Parallel()
	a := lcSandbox(t)
	b := bdSecond(t)
	lcImport(t, b)
	n := loadCount(16, 60)
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, sb := range []*sandbox{a, b} {
		for _, job := range []func(sb *sandbox) []string{
			func(sb *sandbox) []string { return loadRunRm(sb, n) },
			func(sb *sandbox) []string { return loadCycles(sb, "cyc", n/4, true) },
		} {
			wg.Add(1)
			go func(sb *sandbox, job func(*sandbox) []string) {
				defer wg.Done()
				f := job(sb)
				mu.Lock()
				for _, e := range f {
					failed = append(failed, sb.user.name+": "+e)
				}
				mu.Unlock()
			}(sb, job)
		}
	}
	wg.Wait()
	loadFailed(t, "commands of two users", 2*(n+n/4), failed)
	t.Logf("two users, each %d run --rm and %d run -d/exec/rm -f cycles, in %s", n, n/4, time.Since(began).Round(time.Millisecond))
	for _, sb := range []*sandbox{a, lcAt(b, t)} {
		lcAssertClean(t, sb, "two users at once")
		assertCheckClean(t, sb, "two users at once")
	}
}

// loadCycles runs n `run -d` + `exec` + stop-and-rm (or, with force, `rm -f`) cycles at
// once in sb, naming the containers prefix00, prefix01 ….
func loadCycles(sb *sandbox, prefix string, n int, force bool) []string {
	return loadParallel(n, func(i int) string {
		name := fmt.Sprintf("%s%02d", prefix, i)
		step := func(want string, args ...string) (string, bool) {
			r := sb.run(runOpts{}, args...)
			if r.code != 0 || (want != "" && r.stdout != want) {
				return fmt.Sprintf("%s: want exit 0 and %q:\n%s", name, want, r), false
			}
			return r.stdout, true
		}
		id, ok := step("", append([]string{"run", "-d", "--name", name, lcImage}, lcSleeper...)...)
		if !ok {
			return id
		}
		if !lcHexID.MatchString(strings.TrimSpace(id)) {
			return name + ": run -d printed " + id
		}
		// The exec runs in this container: its hostname is the container's short ID.
		if e, ok := step(id[:12]+" "+name+"\n", "exec", name, "sh", "-c", "echo $(hostname) "+name); !ok {
			return e
		}
		if force {
			if e, ok := step(name+"\n", "rm", "-f", name); !ok {
				return e
			}
			return ""
		}
		// A stop is heard once the container's trap is set: it says "ready" then.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(25 * time.Millisecond) {
			if r := sb.run(runOpts{}, "logs", name); r.stdout == "ready\n" {
				break
			}
			if time.Now().After(deadline) {
				return name + ": never said ready"
			}
		}
		if e, ok := step(name+"\n", "stop", name); !ok {
			return e
		}
		if e, ok := step(name+"\n", "rm", name); !ok {
			return e
		}
		return ""
	})
}

// TestStressParallelBuilds: 4 builds at once in one store (they take turns on the store
// lock) all succeed, and each image is what its Dockerfile says.
func TestStressParallelBuilds(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	const n = 4
	ctxs := make([]string, n)
	for i := range ctxs {
		ctxs[i] = bdCtx(t, sb, fmt.Sprintf("ctx%d", i), map[string]string{
			"Dockerfile": fmt.Sprintf("FROM %s\nCOPY file /file\nRUN echo built-%d >> /file\nRUN echo step two > /two\n", bdBase, i),
			"file":       fmt.Sprintf("context %d\n", i),
		})
	}
	began := time.Now()
	failed := loadParallel(n, func(i int) string {
		r := sb.run(runOpts{}, "build", "-t", fmt.Sprintf("par%d", i), ctxs[i])
		if r.code != 0 {
			return r.String()
		}
		return ""
	})
	loadFailed(t, "parallel builds", n, failed)
	t.Logf("%d parallel builds in %s", n, time.Since(began).Round(time.Millisecond))
	for i := 0; i < n; i++ {
		want := fmt.Sprintf("context %d\nbuilt-%d\n", i, i)
		assertEqual(t, sb.ok("run", "--rm", fmt.Sprintf("par%d", i), "cat", "/file").stdout, want, "the file of image par"+itoa(i))
	}
	lcAssertClean(t, sb, "parallel builds")
	assertCheckClean(t, sb, "parallel builds")
}

// TestStressParallelPulls: many pulls of one image at once (8 in CI, 20 with LOAD_FULL)
// all succeed and give one image, whose container runs; the new store records one
// undisturbed driver probe.
func TestStressParallelPulls(t *testing.T) {
	t.Parallel()
	big, err := fix.bigArchive()
	if err != nil {
		t.Fatal(err)
	}
	reg := startRegistry(t, false)
	reg.seedDocker(t, big, "load/big:1")
	ref := reg.host + "/load/big:1"
	sb := newSandbox(t, userWithRange)
	n := loadCount(8, 20)
	began := time.Now()
	ids := make([]string, n)
	failed := loadParallel(n, func(i int) string {
		r := sb.run(runOpts{}, "pull", "-q", "--tls-verify=false", ref)
		if r.code != 0 {
			return r.String()
		}
		ids[i] = strings.TrimSpace(r.stdout)
		return ""
	})
	loadFailed(t, "parallel pulls", n, failed)
	t.Logf("%d parallel pulls of %s in %s", n, ref, time.Since(began).Round(time.Millisecond))
	for _, id := range ids {
		assertEqual(t, id, big.id, "the ID a parallel pull printed")
	}
	if list := sb.images(true); len(list) != 1 || list[0].ID != big.id {
		t.Fatalf("after the parallel pulls, images -a should list one image %s: %+v", big.id, list)
	}
	sb.ok("run", "--rm", ref, "/bin/busybox", "true")
	// The 8 first commands of a new store probed its driver at once: the record must be
	// one undisturbed probe (native overlay, as TestDriverProbe), not a fallback that a
	// probe chose after another command removed its scratch directory mid-mount.
	if d := sb.info().Store.Driver; d.Name != "overlay" || len(d.Probe) != 1 {
		t.Fatalf("after parallel first pulls the store records driver %q, probe %q: want overlay from one native probe", d.Name, d.Probe)
	}
	assertCheckClean(t, sb, "parallel pulls")
}
