package overlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the probes mount overlays; as a plain user they need a user namespace: run as root (as CI does)")
	}
}

// checkClean asserts that a probe left no mount and no directory behind in scratch.
func checkClean(t *testing.T, scratch string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), scratch) {
		t.Errorf("a probe mount under %s is still mounted", scratch)
	}
	if es, err := os.ReadDir(scratch); err == nil && len(es) > 0 {
		t.Errorf("the probes left %d entries in %s", len(es), scratch)
	}
}

func TestChooseForcedVFS(t *testing.T) {
	scratch := filepath.Join(t.TempDir(), "probe")
	c, err := Choose(scratch, VFS, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != VFS || c.Reason != "forced by config.toml" || !c.Forced || c.MountProgram != "" {
		t.Errorf("choice = %+v", c)
	}
	if c.StorageDriver() != "vfs" {
		t.Errorf("StorageDriver = %q", c.StorageDriver())
	}
	// A forced driver is the only one tried.
	if len(c.Probe) != 1 || c.Probe[0] != "vfs: ok (always available)" {
		t.Errorf("probe log = %q", c.Probe)
	}
	checkClean(t, scratch)
}

func TestChooseForcedUnknown(t *testing.T) {
	c, err := Choose(filepath.Join(t.TempDir(), "probe"), "btrfs", "")
	if err == nil {
		t.Fatalf("an unknown driver was accepted: %+v", c)
	}
	if !strings.Contains(err.Error(), `unknown storage driver "btrfs"`) {
		t.Errorf("err = %v", err)
	}
}

func TestChooseProbesNativeOverlay(t *testing.T) {
	requireRoot(t)
	scratch := filepath.Join(t.TempDir(), "probe")
	c, err := Choose(scratch, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != Native || c.Forced || c.StorageDriver() != "overlay" {
		t.Fatalf("choice = %+v, want native overlay (probe log %q)", c, c.Probe)
	}
	if !strings.Contains(c.Reason, "the kernel allows overlay mounts") {
		t.Errorf("reason = %q", c.Reason)
	}
	if c.Probe[0] != "native overlay (kernel, userxattr): ok" {
		t.Errorf("probe log = %q", c.Probe)
	}
	checkClean(t, scratch)
}

func TestProbeNative(t *testing.T) {
	requireRoot(t)
	scratch := filepath.Join(t.TempDir(), "probe")
	if err := probeNative(scratch); err != nil {
		t.Fatalf("native overlay on this kernel: %v", err)
	}
	checkClean(t, scratch)
}

func TestChooseForcedNative(t *testing.T) {
	requireRoot(t)
	c, err := Choose(filepath.Join(t.TempDir(), "probe"), Native, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != Native || !c.Forced || c.Reason != "forced by config.toml" {
		t.Errorf("choice = %+v", c)
	}
}

func TestChooseForcedFuseWithMissingProgram(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-fuse-overlayfs")
	c, err := Choose(filepath.Join(t.TempDir(), "probe"), Fuse, missing)
	if err == nil {
		t.Fatalf("a missing mount program was accepted: %+v", c)
	}
	if !strings.Contains(err.Error(), `forces storage driver "fuse-overlayfs", but it cannot be used`) || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v", err)
	}
}

func TestChooseAutoIgnoresBrokenFuse(t *testing.T) {
	requireRoot(t)
	// The mount program would fail, but native overlay works: the choice is native and
	// fuse-overlayfs is not even tried (it would cost a mount and a process for nothing).
	c, err := Choose(filepath.Join(t.TempDir(), "probe"), "", "/bin/false")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != Native || len(c.Probe) != 1 || !strings.HasPrefix(c.Probe[0], "native overlay (kernel, userxattr): ok") {
		t.Errorf("choice = %+v", c)
	}
}

func TestProbeFuseNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := probeFuse(filepath.Join(t.TempDir(), "probe"), "")
	if err == nil || !strings.Contains(err.Error(), "fuse-overlayfs is not installed") {
		t.Errorf("err = %v", err)
	}
}

func TestExerciseCatchesAnUnmountedView(t *testing.T) {
	scratch := t.TempDir()
	dir, opts, err := layout(scratch)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"lower", "upper", "work"} {
		if !strings.Contains(opts, d+"dir="+filepath.Join(dir, d)) {
			t.Errorf("options %q lack %sdir", opts, d)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lower", "f")); err != nil || string(b) != "lower" {
		t.Errorf("lower/f = %q, %v", b, err)
	}
	// Nothing is mounted on merged: the lower file is not visible there.
	if err := exercise(dir); err == nil || !strings.Contains(err.Error(), "lower layer not visible") {
		t.Errorf("exercise on a plain directory: %v", err)
	}
	// A merged directory that shows the lower file but keeps writes to itself.
	if err := os.WriteFile(filepath.Join(dir, "merged", "f"), []byte("lower"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exercise(dir); err == nil || !strings.Contains(err.Error(), "did not reach the upper layer") {
		t.Errorf("exercise on a pretend mount: %v", err)
	}
}

func TestStorageDriver(t *testing.T) {
	for name, want := range map[string]string{Native: "overlay", Fuse: "overlay", VFS: "vfs"} {
		if got := (Choice{Name: name}).StorageDriver(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

func TestChooseForcedFuse(t *testing.T) {
	requireRoot(t)
	// hack/install-deps.sh installs fuse-overlayfs on every test machine.
	scratch := filepath.Join(t.TempDir(), "probe")
	c, err := Choose(scratch, Fuse, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != Fuse || !c.Forced || !strings.HasSuffix(c.MountProgram, "/fuse-overlayfs") || c.StorageDriver() != "overlay" {
		t.Errorf("choice = %+v", c)
	}
	if len(c.Probe) != 1 || c.Probe[0] != "fuse-overlayfs: ok" {
		t.Errorf("probe log = %q", c.Probe)
	}
	checkClean(t, scratch)
}
