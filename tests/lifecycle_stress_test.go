package tests

// Detached containers, each run, exec'd into, and stopped and removed (or removed with
// rm -f), all at once: 20 in CI, 50 with LOAD_FULL=1 (stress_test.go).

import (
	"sync"
	"testing"
	"time"
)

// TestLifecycleParallelCycles: parallel `run -d` + `exec` + `stop` + `rm` cycles and,
// as many at the same time, `run -d` + `exec` + `rm -f` cycles all succeed and leave no
// process, no mount, no record and nothing for `system check` behind.
func TestLifecycleParallelCycles(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	n := loadCount(20, 50)
	began := time.Now()
	var wg sync.WaitGroup
	var failed [2][]string
	for k, force := range []bool{false, true} {
		wg.Add(1)
		go func(k int, force bool) {
			defer wg.Done()
			failed[k] = loadCycles(sb, map[bool]string{false: "stop", true: "rmf"}[force], n/2, force)
		}(k, force)
	}
	wg.Wait()
	loadFailed(t, "parallel cycles", n, append(failed[0], failed[1]...))
	t.Logf("%d parallel cycles in %s", n, time.Since(began).Round(time.Millisecond))
	lcAssertClean(t, sb, "parallel cycles")
	assertCheckClean(t, sb, "parallel cycles")
}
