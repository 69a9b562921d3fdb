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
			// No process (the RUN's sleep included), no mount: also after SIGKILL, when no
			// clean-up can run in hutch (the fuse-overlayfs daemon of the working
			// container must end with the build).
			lcAssertNoProcsNoMounts(t, sb, "a build interrupted with "+sig.String())
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
