//go:build cgroupvm

package cgroupvm

import (
	"archive/tar"
	"bufio"
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

// The checks each session of the VM must run and pass (the TestMain of ./guest picks
// them by prefix). A check that does not show up counts as failed.
var wantChecks = map[string][]string{
	"full": {
		"TestVMSetup",
		"TestVMLoadImage",
		"TestVMRunEcho",
		"TestVMMemoryOOMKilled",
		"TestVMMemorySwap",
		"TestVMPidsLimit",
		"TestVMCPUQuota",
		"TestVMStats",
		"TestVMUpdate",
		"TestVMPauseUnpause",
		"TestVMIOAndOtherLimits",
		"TestVMCgroupsRemoved",
	},
	"partial": {
		"TestPartialSetup",
		"TestPartialNotDelegated",
	},
}

// TestCgroupVM boots the VM once and runs every guest check in it.
func TestCgroupVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("must run as root (the VM's initramfs holds root-owned setuid newuidmap): sudo go test -tags cgroupvm … ./tests/cgroupvm/")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
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
	if re := os.Getenv("CGVM_CHECKS"); re != "" { // a subset of the full session's checks
		args = append(args, "-test.run", re)
	}
	vm := exec.Command(filepath.Join(here, "cgvm.sh"), args...)
	var log bytes.Buffer
	// The guest's output, live: a TCG boot plus the checks take a while.
	vm.Stdout = io.MultiWriter(&log, os.Stdout)
	vm.Stderr = io.MultiWriter(&log, os.Stderr)
	start = time.Now()
	vmErr := vm.Run()
	t.Logf("VM boot + checks + power-off: %s (cgvm.sh exit: %v)", time.Since(start).Round(100*time.Millisecond), vmErr)

	results := parseResults(log.String())
	failed := false
	for _, sess := range []string{"full", "partial"} {
		want := wantChecks[sess]
		if re := os.Getenv("CGVM_CHECKS"); re != "" && sess == "full" {
			want = filterChecks(t, want, re)
		}
		for _, name := range want {
			r, found := results[sess+"/"+name]
			switch {
			case !found:
				failed = true
				t.Errorf("%s session: check %s did not run (did the guest crash or time out? see the output above)", sess, name)
			case r.status != "PASS":
				failed = true
				t.Errorf("%s session: check %s: %s\n%s", sess, name, r.status, r.output)
			}
		}
	}
	if vmErr != nil && !failed {
		t.Errorf("every expected check passed, but cgvm.sh failed: %v (a check not listed in wantChecks failed, or the guest did not power off cleanly)", vmErr)
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

func filterChecks(t *testing.T, names []string, expr string) []string {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("CGVM_CHECKS=%q: %v", expr, err)
	}
	var out []string
	for _, n := range names {
		if re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

// checkResult is one top-level guest check as `go test -v` reported it.
type checkResult struct {
	status string // PASS, FAIL or SKIP
	output string // its lines, from === RUN to the result
}

// parseResults reads the guest's `-test.v` output, split into sessions by cgvm.sh's
// CGVM-SESSION=NAME lines, into "session/TestName" → result.
var resultLine = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\w+) `)

func parseResults(out string) map[string]checkResult {
	res := map[string]checkResult{}
	sess := ""
	var block []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if s, found := strings.CutPrefix(line, "CGVM-SESSION="); found {
			sess, block = s, nil
			continue
		}
		if strings.HasPrefix(line, "=== RUN ") && !strings.Contains(line, "/") {
			block = nil
		}
		block = append(block, line)
		if m := resultLine.FindStringSubmatch(line); m != nil && sess != "" {
			res[sess+"/"+m[2]] = checkResult{status: m[1], output: strings.Join(block, "\n")}
			block = nil
		}
	}
	return res
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
