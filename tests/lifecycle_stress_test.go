package tests

// Twenty detached containers, each run, exec'd into, stopped and removed, all at once.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLifecycleParallelCycles: twenty `run -d` + `exec` + `stop` + `rm` cycles in
// parallel all succeed and leave no process, no mount and no record behind.
func TestLifecycleParallelCycles(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	const n = 20
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("cyc%02d", i)
			step := func(want string, args ...string) (string, bool) {
				r := sb.run(runOpts{}, args...)
				if r.code != 0 || (want != "" && r.stdout != want) {
					errs <- fmt.Sprintf("%s: want exit 0 and %q:\n%s", name, want, r)
					return "", false
				}
				return r.stdout, true
			}
			id, ok := step("", "run", "-d", "--name", name, lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
			if !ok {
				return
			}
			if !lcHexID.MatchString(strings.TrimSpace(id)) {
				errs <- name + ": run -d printed " + id
				return
			}
			// The exec runs in this container: its hostname is the container's short ID.
			if _, ok := step(id[:12]+" "+name+"\n", "exec", name, "sh", "-c", "echo $(hostname) "+name); !ok {
				return
			}
			if _, ok := step(name+"\n", "stop", name); !ok {
				return
			}
			step(name+"\n", "rm", name)
		}(i)
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d cycles failed:\n%s", len(failed), n, strings.Join(failed, "\n"))
	}
	t.Logf("%d parallel cycles in %s", n, time.Since(began).Round(time.Millisecond))
	lcAssertClean(t, sb, "twenty parallel cycles")
}
