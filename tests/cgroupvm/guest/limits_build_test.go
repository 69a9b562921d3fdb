//go:build cgroupvm

package guest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVMBuildOOM: `hutch build --memory 32m` applies the limit to each RUN step in a
// cgroup of its own: a step allocating 100 MiB is killed by the OOM killer, the build
// fails with status 1 naming out-of-memory and the limit, no image is made, and the
// step's cgroup (hutch-build-…) is gone afterwards. A step within the limit runs and is
// inside memory.max = 32 MiB, as the kernel says from the step itself.
func TestVMBuildOOM(t *testing.T) {
	ensureImage(t)
	ctx := t.TempDir()
	const alloc = `BEGIN { s = "0123456789abcdef"; while (length(s) < 100 * 1024 * 1024) s = s s; print "allocated", length(s) }`
	df := "FROM " + image + "\n" +
		// A network namespace of its own gives the step a sysfs of its own, with its cgroup
		// at /sys/fs/cgroup (with the host's network it sees the host's /sys).
		"RUN --network=none echo memory.max=$(cat /sys/fs/cgroup/memory.max)\n" +
		"RUN awk '" + alloc + "'\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, d := range cgroupDirs(t) {
		before[d] = true
	}
	start := time.Now()
	// --network none: the guest has no slirp4netns (the build's default network).
	r := hutch(t, "build", "--pull=never", "--network", "none", "--memory", "32m", "-t", "oombuild", ctx)
	t.Logf("build in %s: %s", time.Since(start).Round(100*time.Millisecond), r)
	if r.code != 1 || regexp.MustCompile(`(?m)^allocated \d`).MatchString(r.stdout) {
		t.Errorf("a RUN step allocating 100 MiB under build --memory 32m: exit %d (want 1, the step failed), output %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "RUN step was killed: out of memory (--memory 32m)") {
		t.Errorf("the build's error does not name the OOM kill and the limit:\n%s", r.stderr)
	}
	// The first step ran under the limit, in its own cgroup (mounted as /sys/fs/cgroup
	// through its cgroup namespace).
	if !strings.Contains(r.stdout, "memory.max=33554432") {
		t.Errorf("the first RUN step did not see memory.max = 33554432 in its own cgroup:\n%s", r.stdout)
	}
	if hutch(t, "image", "inspect", "oombuild").code == 0 {
		t.Errorf("the failed build made the image oombuild")
	}
	for _, d := range cgroupDirs(t) {
		if !before[d] && filepath.Base(d) != "hutch-engine" { // hutch's own leaf stays
			t.Errorf("the build left the cgroup %s", d)
		}
	}
}
