//go:build cgroupvm

package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the VM gives us (tests/cgroupvm/cgvm.sh).
var (
	session    string // "full": every controller delegated; "partial": only cpu and pids
	delegated  string // the delegated cgroup we were started in
	imageArch  = "/cgvm/files/busybox.tar"
	image      = "localhost/cgvm-busybox:1"
	cmdTimeout = 3 * time.Minute // TCG runs about 15x slower than the host
)

// TestMain runs the checks of this session only: TestVM* in the fully delegated subtree,
// TestPartial* in the one without memory and io. Outside the VM it refuses to run: these
// checks must never pass by not running.
func TestMain(m *testing.M) {
	flag.Parse()
	session, delegated = os.Getenv("CGVM_SESSION"), os.Getenv("CGVM_CGROUP")
	if session == "" || delegated == "" {
		fmt.Fprintln(os.Stderr, "guest checks: CGVM_SESSION/CGVM_CGROUP unset: these run only inside the VM; use go test -tags cgroupvm ./tests/cgroupvm/")
		os.Exit(2)
	}
	run := flag.Lookup("test.run")
	switch session {
	case "full":
		if run.Value.String() == "" {
			_ = run.Value.Set("^TestVM")
		}
	case "partial":
		_ = run.Value.Set("^TestPartial")
	default:
		fmt.Fprintf(os.Stderr, "guest checks: unknown CGVM_SESSION %q\n", session)
		os.Exit(2)
	}
	if err := noNetworkConfig(); err != nil {
		fmt.Fprintln(os.Stderr, "guest checks: "+err.Error())
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// noNetworkConfig makes --network none the default: the VM has no network and no
// slirp4netns (hutch's default network), and these checks are about cgroups.
func noNetworkConfig() error {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(home, ".config")
	}
	dir = filepath.Join(dir, "hutch")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[network]\ndefault = \"none\"\n"), 0o600)
}

// result is one hutch invocation.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("hutch %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// hutch runs the real binary as we are (uid 1000, in our cgroup).
func hutch(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "hutch", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ctx.Err() != nil {
			t.Fatalf("hutch %s: no answer within %s", strings.Join(args, " "), cmdTimeout)
		}
	default:
		t.Fatalf("hutch %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs hutch and insists on exit 0; it returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := hutch(t, args...)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	return r.stdout
}

// ensureImage loads the test image from its archive unless the store has it already.
func ensureImage(t *testing.T) {
	t.Helper()
	if hutch(t, "image", "inspect", image).code == 0 {
		return
	}
	ok(t, "load", "-i", imageArch)
}

// readFile reads a (cgroup) file, trimmed.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

// keyed reads a flat-keyed cgroup file (memory.events, cpu.stat, pids.events …).
func keyed(t *testing.T, path string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, line := range strings.Split(readFile(t, path), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			m[f[0]] = n
		}
	}
	return m
}

// ownCgroup is our cgroup as /proc/self/cgroup gives it (cgroup2 only: "0::PATH").
func ownCgroup(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(readFile(t, "/proc/self/cgroup"), "\n") {
		if p, found := strings.CutPrefix(line, "0::"); found {
			return p
		}
	}
	t.Fatalf("/proc/self/cgroup has no cgroup2 line")
	return ""
}

// cgroupDirs lists every cgroup directory under the delegated subtree.
func cgroupDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(delegated, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", delegated, err)
	}
	return dirs
}

// TestVMSetup checks what the VM promises before hutch is trusted with anything: we run
// unprivileged, in the delegated cgroup, which offers the controllers; hutch sees cgroup
// v2 only and the delegation.
func TestVMSetup(t *testing.T) {
	if os.Getuid() != 1000 || os.Geteuid() != 1000 {
		t.Fatalf("running as uid %d/%d, want the unprivileged 1000", os.Getuid(), os.Geteuid())
	}
	if want := strings.TrimPrefix(delegated, "/sys/fs/cgroup"); ownCgroup(t) != want {
		t.Fatalf("started in cgroup %q, want the delegated %q", ownCgroup(t), want)
	}
	offered := " " + readFile(t, delegated+"/cgroup.controllers") + " "
	for _, c := range []string{"memory", "pids", "cpu", "io"} {
		if !strings.Contains(offered, " "+c+" ") {
			t.Errorf("controller %s is not offered to %s (offered:%s)", c, delegated, offered)
		}
	}
	var info struct {
		Cgroups struct {
			Mode        string   `json:"mode"`
			V2Mount     string   `json:"v2Mount"`
			Own         string   `json:"ownCgroup"`
			Delegated   bool     `json:"delegated"`
			Controllers []string `json:"controllers"`
			Limits      string   `json:"limits"`
		} `json:"cgroups"`
	}
	out := ok(t, "info", "--format", "json")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("hutch info --format json: %v\n%s", err, out)
	}
	cg := info.Cgroups
	t.Logf("hutch info: cgroups mode=%s mount=%s own=%s delegated=%v controllers=%v limits=%q",
		cg.Mode, cg.V2Mount, cg.Own, cg.Delegated, cg.Controllers, cg.Limits)
	if cg.Mode != "v2" || cg.V2Mount != "/sys/fs/cgroup" || !cg.Delegated {
		t.Errorf("hutch info sees mode %q at %q, delegated %v; want v2 at /sys/fs/cgroup, delegated", cg.Mode, cg.V2Mount, cg.Delegated)
	}
	for _, line := range strings.Split(ok(t, "info"), "\n") {
		if l := strings.TrimSpace(line); strings.Contains(strings.ToLower(l), "driver") || strings.Contains(l, "uid") {
			t.Logf("hutch info: %s", l)
		}
	}
}

// TestVMLoadImage loads the busybox image from its archive, as uid 1000.
func TestVMLoadImage(t *testing.T) {
	out := ok(t, "load", "-i", imageArch)
	t.Logf("hutch load: %s", strings.TrimSpace(out))
	if !strings.Contains(ok(t, "images"), "cgvm-busybox") {
		t.Fatalf("hutch images does not list %s after the load", image)
	}
}

// TestVMRunEcho runs a container: user namespace with the subordinate range, storage,
// pivot_root into the image's root, all as uid 1000.
func TestVMRunEcho(t *testing.T) {
	ensureImage(t)
	if out := ok(t, "run", "--rm", image, "echo", "hi"); out != "hi\n" {
		t.Fatalf("hutch run --rm %s echo hi printed %q, want \"hi\\n\"", image, out)
	}
	// The subordinate range is really used: uid 1 in the container is 100000 here.
	out := ok(t, "run", "--rm", image, "cat", "/proc/self/uid_map")
	t.Logf("the container's uid_map:\n%s", out)
	if !strings.Contains(out, "100000") {
		t.Errorf("the container's uid_map does not map the subordinate range 100000-165535:\n%s", out)
	}
}

// TestPartialSetup checks the second session's premise: started in a delegated cgroup
// whose parent offers only cpu and pids, and hutch still runs containers there.
func TestPartialSetup(t *testing.T) {
	if want := strings.TrimPrefix(delegated, "/sys/fs/cgroup"); ownCgroup(t) != want {
		t.Fatalf("started in cgroup %q, want %q", ownCgroup(t), want)
	}
	if got := readFile(t, delegated+"/cgroup.controllers"); got != "cpu pids" {
		t.Fatalf("%s/cgroup.controllers = %q, want \"cpu pids\"", delegated, got)
	}
	ensureImage(t)
	if out := ok(t, "run", "--rm", image, "echo", "partial"); out != "partial\n" {
		t.Fatalf("hutch run --rm %s echo partial printed %q", image, out)
	}
}
