//go:build cgroupvm

package cgroupvm

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCgroupVM boots the VM once and runs every guest check in it.
func TestCgroupVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("must run as root (the VM's initramfs holds root-owned setuid newuidmap): sudo go test -tags cgroupvm … ./tests/cgroupvm/")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var only *regexp.Regexp // CGVM_CHECKS: a subset of the full session's checks
	if re := os.Getenv("CGVM_CHECKS"); re != "" {
		if only, err = regexp.Compile(re); err != nil {
			t.Fatalf("CGVM_CHECKS=%q: %v", re, err)
		}
	}
	work := t.TempDir()
	hutchBin := hutchBinary(t, here, work)
	checks := filepath.Join(work, "cgvm-checks")
	start := time.Now()
	build := exec.Command("go", "test", "-c", "-tags", "cgroupvm", "-trimpath", "-o", checks, "./guest")
	build.Dir = here
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the guest checks (%s): %v\n%s", strings.Join(build.Args, " "), err, out)
	}
	archive := filepath.Join(work, "busybox.tar")
	if err := writeBusyboxArchive(archive, "localhost/cgvm-busybox:1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("guest checks and image archive ready in %s", time.Since(start).Round(100*time.Millisecond))

	args := []string{"run", "--partial",
		"-f", hutchBin + "=bin/hutch",
		"-f", archive + "=files/busybox.tar",
		checks, "-test.v", "-test.timeout", "8m"}
	if only != nil {
		args = append(args, "-test.run", only.String())
	}
	vm := exec.Command(filepath.Join(here, "cgvm.sh"), args...)
	var log bytes.Buffer
	// The guest's output, live: a TCG boot plus the checks take a while.
	vm.Stdout = io.MultiWriter(&log, os.Stdout)
	vm.Stderr = io.MultiWriter(&log, os.Stderr)
	start = time.Now()
	vmErr := vm.Run()
	t.Logf("VM boot + checks + power-off: %s (cgvm.sh exit: %v)", time.Since(start).Round(100*time.Millisecond), vmErr)

	inSource, err := guestChecks(filepath.Join(here, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	problems := verdicts(parseResults(log.String()), inSource, only)
	for _, p := range problems {
		t.Error(p)
	}
	if vmErr != nil && len(problems) == 0 {
		t.Errorf("every expected check passed, but cgvm.sh failed: %v (another test of ./guest failed, or the guest did not power off cleanly; see the output above)", vmErr)
	}
}

// hutchBinary is $HUTCH_BIN or a fresh build (cgo on, the project's tags).
func hutchBinary(t *testing.T, here, work string) string {
	t.Helper()
	if b := os.Getenv("HUTCH_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("HUTCH_BIN: %v", err)
		}
		return abs
	}
	out := filepath.Join(work, "hutch")
	build := exec.Command(filepath.Join(here, "..", "..", "hack", "build.sh"), out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building hutch (hack/build.sh %s): %v\n%s", out, err, b)
	}
	return out
}

// writeBusyboxArchive writes a docker-archive (`docker save` layout) of a one-layer image
// FROM scratch: the host's static /bin/busybox and the applets the checks use.
func writeBusyboxArchive(path, name string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("the image needs a static /bin/busybox (apt-get install busybox-static): %w", err)
	}
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil); err != nil {
		return err
	}
	if err := add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb); err != nil {
		return err
	}
	for _, a := range []string{"sh", "awk", "cat", "echo", "true", "sleep", "seq", "head", "ls", "id", "dd", "grep", "wc", "time"} {
		if err := add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil); err != nil {
			return err
		}
	}
	if err := add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerSum := sum(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      mtime,
		"config":       map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerSum}},
		"history":      []map[string]any{{"created": mtime, "created_by": "hutch cgroup VM test image"}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   sum(config) + ".json",
		"RepoTags": []string{name},
		"Layers":   []string{layerSum + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	for _, m := range []struct {
		name string
		body []byte
	}{{layerSum + "/layer.tar", layer.Bytes()}, {sum(config) + ".json", config}, {"manifest.json", manifest}} {
		h := &tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.body)), ModTime: mtime}
		if err := aw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := aw.Write(m.body); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
