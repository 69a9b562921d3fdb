package tests

// A build interrupted in the middle of a RUN (SIGINT, SIGKILL of hutch) leaves no image,
// no process, no mount and no container, and the next build works — on every driver.

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuildInterrupt(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcCleanupContainers(t, sb)
		bdImport(t, sb)
		ctx := bdCtx(t, sb, "ctx", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\n" +
				"RUN echo before > /before\n" +
				"ARG SLEEP=30\n" +
				"RUN " + bdMarker("SLOW") + " && sleep $SLEEP && echo done > /slow\n" +
				`CMD ["cat", "/before", "/slow"]` + "\n",
		})
		before := bdImageIDs(sb)
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
			b := sb.startRun(runOpts{}, "build", "-t", "interrupted", ctx)
			bdWaitAny(b, bdRan("SLOW"), time.Minute)
			began := time.Now()
			b.signal(sig)
			r := b.wait()
			if r.code == 0 {
				t.Fatalf("a build that got %s in its RUN succeeded:\n%s", sig, r)
			}
			if sig == syscall.SIGINT && time.Since(began) > 15*time.Second {
				t.Fatalf("the build took %s to end after SIGINT (the RUN sleeps 30 s: it was not stopped)", time.Since(began))
			}
			if sig == syscall.SIGINT {
				// No process (the RUN's sleep included), no mount.
				lcAssertNoProcsNoMounts(t, sb, "a build interrupted with "+sig.String())
			} else {
				// SIGKILL: no clean-up can run. The RUN's processes die with hutch and the
				// host has no mount of the sandbox; on fuse-overlayfs, the daemon of the
				// working container (in a mount namespace of its own) may stay until the
				// next command cleans up, as after a killed `hutch run`
				// (TestRunHutchKilled): the check after the next build covers it.
				bdAssertOnlyFuseLeft(t, sb, "a build killed with "+sig.String())
			}
			for _, i := range sb.images(true) {
				if !before[strings.TrimPrefix(i.ID, "sha256:")] && strings.Contains(strings.Join(i.Names, " "), "interrupted") {
					t.Fatalf("after %s, the build's image is tagged: %+v", sig, i)
				}
			}
			if findImage(sb.images(true), "localhost/interrupted:latest") != nil {
				t.Fatalf("after %s, localhost/interrupted:latest exists", sig)
			}
			if ids := strings.TrimSpace(sb.ok("ps", "-a", "-q").stdout); ids != "" {
				t.Fatalf("after %s, ps -a lists containers: %s", sig, ids)
			}
		}
		// The next build works, and leaves no container behind, nor anything of the
		// killed build.
		bdBuild(sb, "-t", "interrupted", "--build-arg", "SLEEP=0", ctx)
		assertEqual(t, bdRun(sb, "interrupted"), "before\ndone\n", "the build after the interrupted ones")
		lcAssertNoProcsNoMounts(t, sb, "the build after the interrupted ones")
		if n := sb.df()["Containers"].Total; n != 0 {
			t.Fatalf("after the interrupted builds and a good one, system df counts %d container(s), want 0", n)
		}
	})
}

// bdAssertOnlyFuseLeft checks that the only process of the sandbox left (within a few
// seconds) is a fuse-overlayfs daemon, and that the host's mount table has no mount of
// the sandbox.
func bdAssertOnlyFuseLeft(t *testing.T, sb *sandbox, after string) {
	t.Helper()
	var left []lcProc
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for _, p := range lcProcs(sb) {
			if !strings.HasPrefix(p.args, "/usr/bin/fuse-overlayfs ") && !strings.HasPrefix(p.args, "fuse-overlayfs ") {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		t.Fatalf("after %s, processes of the sandbox are still running (killed now):\n%s", after, lcProcList(left))
	}
	for _, l := range strings.Split(string(readFile(t, "/proc/self/mountinfo")), "\n") {
		if strings.Contains(l, sb.dir+"/") {
			t.Fatalf("after %s, the host has a mount of the sandbox:\n%s", after, l)
		}
	}
}
