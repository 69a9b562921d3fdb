// Package tests holds hutch's system tests: they drive the built binary as real,
// unprivileged users, each test in its own sandbox (its own config, store, cache, runtime
// and temporary directories), once per storage driver where storage is involved.
//
// Run as root (the tests create the users and run hutch as them):
//
//	sudo go test -tags 'containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs' -v ./tests/
//
// Environment:
//
//	HUTCH_BIN            use this binary instead of building one
//	HUTCH_TEST_DRIVERS   restrict the driver matrix, e.g. "vfs,overlay"
//	HUTCH_TEST_KEEP      keep the sandboxes and fixtures (their paths are logged)
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Build tags hutch needs (docs/development.md).
const buildTags = "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs"

// The two test users: one with a subordinate id range, one without.
const (
	userWithRange = "hutch-test"
	userNoRange   = "hutch-nosub"
)

// Storage drivers, as config.toml names them.
var allDrivers = []string{"overlay", "fuse-overlayfs", "vfs"}

// Set up by TestMain.
var (
	hutchBin string    // the binary under test, executable by the test users
	baseDir  string    // root-owned 0755 directory holding sandboxes and fixtures
	fix      *fixtures // the test images and bad inputs, written once
	users    = map[string]*testUser{}
	sbSeq    atomic.Int64
)

// anyFailure as an expected exit code accepts any non-zero status.
const anyFailure = -1

// cmdTimeout bounds every hutch invocation: a hang fails the test instead of the suite.
const cmdTimeout = 3 * time.Minute

func TestMain(m *testing.M) {
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "hutch system tests: "+err.Error())
		teardown()
		os.Exit(1)
	}
	code := m.Run()
	teardown()
	os.Exit(code)
}

func setup() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root, to create the test users and run hutch as them: " +
			"sudo go test -tags '" + buildTags + "' ./tests/ (or sudo hack/test.sh)")
	}
	if err := checkFuse(); err != nil {
		return err
	}
	// Several tests run at once; hutch commands mostly wait on the disk and on their
	// re-exec, so a little more parallelism than the core count keeps both cores busy.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); f != nil && !explicit {
		_ = f.Value.Set(strconv.Itoa(max(2*runtime.GOMAXPROCS(0), 4)))
	}
	var err error
	baseDir, err = os.MkdirTemp("/var/tmp", "hutch-systest-")
	if err != nil {
		return err
	}
	if err := os.Chmod(baseDir, 0o755); err != nil {
		return err
	}
	if hutchBin, err = prepareBinary(filepath.Join(baseDir, "bin")); err != nil {
		return err
	}
	for _, spec := range []struct {
		name      string
		withRange bool
	}{{userWithRange, true}, {userNoRange, false}} {
		u, err := ensureUser(spec.name, spec.withRange)
		if err != nil {
			return err
		}
		users[spec.name] = u
	}
	if fix, err = writeFixtures(filepath.Join(baseDir, "fixtures")); err != nil {
		return fmt.Errorf("writing fixtures: %w", err)
	}
	return nil
}

func teardown() {
	if baseDir == "" {
		return
	}
	if os.Getenv("HUTCH_TEST_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "hutch system tests: kept "+baseDir)
		return
	}
	_ = os.RemoveAll(baseDir)
}

// checkFuse insists on /dev/fuse being usable by everyone, as CI sets it up: the
// fuse-overlayfs leg of the driver matrix depends on it.
func checkFuse() error {
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		return fmt.Errorf("/dev/fuse: %w: the fuse-overlayfs tests need it (modprobe fuse)", err)
	}
	if fi.Mode().Perm() != 0o666 {
		return fmt.Errorf("/dev/fuse has mode %#o, not 0666: the fuse-overlayfs tests need an unprivileged user to open it; run `chmod 0666 /dev/fuse` (CI does)", fi.Mode().Perm())
	}
	return nil
}

// prepareBinary returns a hutch binary the test users can execute: $HUTCH_BIN copied
// into dir, or a fresh build there.
func prepareBinary(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hutch")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if src := os.Getenv("HUTCH_BIN"); src != "" {
		// A relative path is taken from the current directory or, as docs/development.md
		// writes it (HUTCH_BIN=bin/hutch), from the module root.
		if !filepath.IsAbs(src) {
			if _, err := os.Stat(src); err != nil {
				src = filepath.Join(root, src)
			}
		}
		// A private copy: the user may not reach the original, and a rebuild while the
		// suite runs must not change the binary under test.
		if err := copyFile(src, out, 0o755); err != nil {
			return "", fmt.Errorf("HUTCH_BIN: %w", err)
		}
		return out, nil
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: a test binary runs where it was built, so its GOROOT is the go that built it
	}
	start := time.Now()
	// hack/build.sh, as make and CI build it: the same tags, and `hutch version` stamped with
	// the checkout's commit (TestVersion asserts it).
	cmd := exec.Command("bash", "hack/build.sh", out)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "PATH="+filepath.Dir(gobin)+":"+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building hutch (%s): %w\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "hutch system tests: built %s in %s\n", out, time.Since(start).Round(time.Second))
	return out, nil
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module hutch.dev/hutch")) {
			return dir, nil
		}
		if dir == "/" {
			return "", fmt.Errorf("no go.mod of hutch.dev/hutch above %s", wd)
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// ---------------------------------------------------------------------------------
// Sandboxes

// sandbox is one test's private world: a directory owned by the test user holding the
// XDG directories, TMPDIR and HOME, so that no two tests share a store and none touches
// the user's real home.
type sandbox struct {
	t      *testing.T
	user   *testUser
	dir    string
	driver string            // "" = hutch probes
	env    map[string]string // overrides of the default environment; "" unsets
	// allowResetFailure: the test leaves hutch unable to start (a planted runtime dir …),
	// so the final `system reset` is expected to fail.
	allowResetFailure bool
	// ns, when set, is a mount namespace of the test's own that every hutch command of
	// the sandbox runs in (host_helpers_test.go).
	ns *mountNS
	// harnessMounts are mount points the test itself made in the sandbox (a small file
	// system under the store): not hutch's leftovers.
	harnessMounts []string
	// timeout, when set, bounds each hutch command instead of cmdTimeout (a command
	// whose work is heavy by design, on a machine a second suite loads too).
	timeout time.Duration
}

// newSandbox makes a sandbox for the user and schedules its cleanup: `hutch system
// reset -f` as the user, then removal of the directory as root.
func newSandbox(t *testing.T, userName string) *sandbox {
	t.Helper()
	u := users[userName]
	if u == nil {
		t.Fatalf("no test user %q", userName)
	}
	return newSandboxOf(t, u)
}

// newSandboxOf makes a sandbox for a user a test made itself.
func newSandboxOf(t *testing.T, u *testUser) *sandbox {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	dir := filepath.Join(baseDir, fmt.Sprintf("sb-%03d-%s", sbSeq.Add(1), name))
	sb := &sandbox{t: t, user: u, dir: dir, env: map[string]string{}}
	for _, d := range []string{"", "home", "config", "data", "cache", "run", "tmp", "work"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sb.path("run"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.cleanup)
	return sb
}

func (sb *sandbox) path(elem ...string) string {
	return filepath.Join(append([]string{sb.dir}, elem...)...)
}

// Paths hutch derives from the sandbox's environment.
func (sb *sandbox) configFile() string { return sb.path("config", "hutch", "config.toml") }
func (sb *sandbox) graphRoot() string  { return sb.path("data", "hutch", "storage") }
func (sb *sandbox) runtimeDir() string { return sb.path("run", "hutch") }

func (sb *sandbox) cleanup() {
	t := sb.t
	if os.Getenv("HUTCH_TEST_KEEP") != "" {
		t.Logf("kept sandbox %s", sb.dir)
		return
	}
	// A test may have left a config that stops every command; reset must still run.
	_ = os.Remove(sb.configFile())
	if sb.driver != "" {
		sb.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n", sb.driver))
	}
	// Reset in the environment the test left (its runtime dir, its PATH …), and if that
	// cannot work, in the sandbox's default one.
	r := sb.run(runOpts{}, "system", "reset", "-f")
	if r.code != 0 && !sb.allowResetFailure && !t.Failed() {
		t.Errorf("cleanup: hutch system reset -f failed:\n%s", r)
	}
	if r.code != 0 && len(sb.env) > 0 {
		sb.env = nil
		sb.run(runOpts{}, "system", "reset", "-f")
	}
	if err := os.RemoveAll(sb.dir); err != nil {
		t.Errorf("cleanup: removing %s: %v", sb.dir, err)
	}
}

// writeConfig writes the user's config.toml (owned by the user, as it would be).
func (sb *sandbox) writeConfig(content string) {
	sb.t.Helper()
	sb.writeUserFile(sb.configFile(), content)
}

// writeUserFile writes a file (and its missing parents) owned by the sandbox's user.
func (sb *sandbox) writeUserFile(path, content string) {
	sb.t.Helper()
	rel, err := filepath.Rel(sb.dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		sb.t.Fatalf("writeUserFile: %s is outside the sandbox", path)
	}
	dir := sb.dir
	for _, part := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if part == "." {
			continue
		}
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err == nil {
			if err := os.Chown(dir, sb.user.uid, sb.user.gid); err != nil {
				sb.t.Fatal(err)
			}
		} else if !errors.Is(err, os.ErrExist) {
			sb.t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.Chown(path, sb.user.uid, sb.user.gid); err != nil {
		sb.t.Fatal(err)
	}
}

// environ is the clean environment hutch runs with: nothing of root's.
func (sb *sandbox) environ(extra map[string]string) []string {
	env := map[string]string{
		"HOME":            sb.path("home"),
		"USER":            sb.user.name,
		"LOGNAME":         sb.user.name,
		"PATH":            "/usr/local/bin:/usr/bin:/bin",
		"XDG_CONFIG_HOME": sb.path("config"),
		"XDG_DATA_HOME":   sb.path("data"),
		"XDG_CACHE_HOME":  sb.path("cache"),
		"XDG_RUNTIME_DIR": sb.path("run"),
		"TMPDIR":          sb.path("tmp"),
	}
	for _, m := range []map[string]string{sb.env, extra} {
		for k, v := range m {
			env[k] = v
		}
	}
	var out []string
	for k, v := range env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ---------------------------------------------------------------------------------
// Running hutch

// result is one finished command.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("$ hutch %s\n[exit %d after %s]\n--- stdout ---\n%s--- stderr ---\n%s--------------",
		shellJoin(r.args), r.code, r.elapsed.Round(time.Millisecond), ensureNL(r.stdout), ensureNL(r.stderr))
}

func ensureNL(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

func shellJoin(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`{}[]*?;&|<>()") {
			b.WriteString(a)
		} else {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
	}
	return b.String()
}

// runOpts vary how one command runs.
type runOpts struct {
	stdin io.Reader         // default: /dev/null
	env   map[string]string // added to (or, with "", removed from) the sandbox environment
	bin   string            // another program instead of hutch (args follow)
	dir   string            // working directory (default the sandbox's work dir)
}

// run runs hutch as the sandbox's user and returns what happened; it never fails the test.
func (sb *sandbox) run(o runOpts, args ...string) result {
	sb.t.Helper()
	cmd := sb.command(o, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if o.bin != "" {
		r.args = append([]string{"(" + o.bin + ")"}, args...)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	default:
		sb.t.Fatalf("running hutch %s: %v", shellJoin(args), err)
	}
	return r
}

// command builds the exec.Cmd for one hutch run as the user, in its own process group
// (so a timeout, or a test, can kill hutch and its re-executed child together).
func (sb *sandbox) command(o runOpts, args ...string) *exec.Cmd {
	bin, argv := hutchBin, args
	if o.bin != "" {
		bin = o.bin
	}
	if sb.ns != nil && o.bin == "" {
		bin, argv = "/usr/bin/nsenter", sb.ns.args(sb, args)
	}
	limit := cmdTimeout
	if sb.timeout != 0 {
		limit = sb.timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	sb.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = sb.environ(o.env)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = sb.path("work")
	}
	cmd.Stdin = o.stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(sb.user.uid), Gid: uint32(sb.user.gid), Groups: []uint32{uint32(sb.user.gid)}},
		Setpgid:    true,
	}
	if sb.ns != nil && o.bin == "" {
		cmd.SysProcAttr.Credential = nil // nsenter enters as root, setpriv becomes the user
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// expect runs hutch and fails the test unless it exits with code (anyFailure: any
// non-zero status), printing the command, both outputs and the status — Podman's
// `run_podman EXPECTED args…`.
func (sb *sandbox) expect(code int, args ...string) result {
	sb.t.Helper()
	return sb.expectWith(runOpts{}, code, args...)
}

func (sb *sandbox) expectWith(o runOpts, code int, args ...string) result {
	sb.t.Helper()
	r := sb.run(o, args...)
	if (code == anyFailure && r.code == 0) || (code != anyFailure && r.code != code) {
		want := strconv.Itoa(code)
		if code == anyFailure {
			want = "non-zero"
		}
		sb.t.Fatalf("expected exit status %s, got %d:\n%s", want, r.code, r)
	}
	return r
}

// ok runs hutch and fails the test unless it succeeds.
func (sb *sandbox) ok(args ...string) result {
	sb.t.Helper()
	return sb.expect(0, args...)
}

// shell runs a program (not hutch) as the user, e.g. to show what a plain process may do.
func (sb *sandbox) shell(script string) result {
	sb.t.Helper()
	return sb.run(runOpts{bin: "/bin/sh"}, "-c", script)
}

// ---------------------------------------------------------------------------------
// Driver matrix

// drivers is the driver matrix, restricted by HUTCH_TEST_DRIVERS=vfs,overlay.
func drivers(t *testing.T) []string {
	v := strings.TrimSpace(os.Getenv("HUTCH_TEST_DRIVERS"))
	if v == "" {
		return allDrivers
	}
	var out []string
	for _, d := range strings.Split(v, ",") {
		d = strings.TrimSpace(d)
		known := false
		for _, k := range allDrivers {
			known = known || k == d
		}
		if !known {
			t.Fatalf("HUTCH_TEST_DRIVERS: unknown driver %q (known: %s)", d, strings.Join(allDrivers, ", "))
		}
		out = append(out, d)
	}
	return out
}

// forEachDriver runs fn once per storage driver, each in a fresh sandbox of the user with
// range whose config.toml forces that driver. The subtests run in parallel.
func forEachDriver(t *testing.T, fn func(t *testing.T, sb *sandbox)) {
	forEachDriverAs(t, userWithRange, fn)
}

func forEachDriverAs(t *testing.T, userName string, fn func(t *testing.T, sb *sandbox)) {
	t.Helper()
	for _, d := range drivers(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userName)
			sb.driver = d
			sb.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n", d))
			fn(t, sb)
			// Every leg must really have used its driver.
			if got := sb.info().Store.Driver.Name; got != d {
				t.Fatalf("the store uses driver %q, the test forced %q", got, d)
			}
		})
	}
}

// ---------------------------------------------------------------------------------
// Test users

type testUser struct {
	name     string
	uid, gid int
	subUID   *subRange // nil for the user without a range
	subGID   *subRange
}

type subRange struct{ start, count int }

// ensureUser creates the user if needed (useradd -m) and gives it a subordinate id
// range, or takes every range away, as asked.
func ensureUser(name string, withRange bool) (*testUser, error) {
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
			// Another process may have created it at the same moment.
			if _, lerr := user.Lookup(name); lerr != nil {
				return nil, fmt.Errorf("useradd %s: %w: %s", name, err, out)
			}
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	tu := &testUser{name: name}
	tu.uid, _ = strconv.Atoi(u.Uid)
	tu.gid, _ = strconv.Atoi(u.Gid)
	if tu.uid == 0 {
		return nil, fmt.Errorf("test user %s has uid 0", name)
	}
	uids, err := readSubIDs("/etc/subuid", name)
	if err != nil {
		return nil, err
	}
	gids, err := readSubIDs("/etc/subgid", name)
	if err != nil {
		return nil, err
	}
	if withRange {
		var args []string
		if len(uids) == 0 || len(gids) == 0 {
			start, err := freeSubIDStart()
			if err != nil {
				return nil, err
			}
			r := fmt.Sprintf("%d-%d", start, start+65535)
			if len(uids) == 0 {
				args = append(args, "--add-subuids", r)
			}
			if len(gids) == 0 {
				args = append(args, "--add-subgids", r)
			}
		}
		if len(args) > 0 {
			if out, err := exec.Command("usermod", append(args, name)...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("usermod %s %s: %w: %s", strings.Join(args, " "), name, err, out)
			}
			if uids, err = readSubIDs("/etc/subuid", name); err != nil {
				return nil, err
			}
			if gids, err = readSubIDs("/etc/subgid", name); err != nil {
				return nil, err
			}
		}
		if len(uids) != 1 || len(gids) != 1 || uids[0].count < 65536 || gids[0].count < 65536 {
			return nil, fmt.Errorf("%s should have exactly one subordinate uid and gid range of at least 65536 ids; /etc/subuid has %v, /etc/subgid %v: fix the lines by hand", name, uids, gids)
		}
		tu.subUID, tu.subGID = &uids[0], &gids[0]
		return tu, nil
	}
	for _, f := range []struct {
		flag string
		rs   []subRange
	}{{"--del-subuids", uids}, {"--del-subgids", gids}} {
		for _, r := range f.rs {
			arg := fmt.Sprintf("%d-%d", r.start, r.start+r.count-1)
			if out, err := exec.Command("usermod", f.flag, arg, name).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("usermod %s %s %s: %w: %s", f.flag, arg, name, err, out)
			}
		}
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if rs, err := readSubIDs(f, name); err != nil || len(rs) > 0 {
			return nil, fmt.Errorf("%s still lists %s (%v, %w): remove the line by hand", f, name, rs, err)
		}
	}
	return tu, nil
}

// readSubIDs returns the ranges of name (or its uid) in a subuid/subgid file.
func readSubIDs(file, name string) ([]subRange, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := []string{name}
	if u, err := user.Lookup(name); err == nil {
		ids = append(ids, u.Uid)
	}
	var out []subRange
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != ids[0] && (len(ids) < 2 || f[0] != ids[1])) {
			continue
		}
		s, err1 := strconv.Atoi(f[1])
		c, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil {
			out = append(out, subRange{s, c})
		}
	}
	return out, nil
}

// freeSubIDStart is the first id above every range in /etc/subuid and /etc/subgid.
func freeSubIDStart() (int, error) {
	start := 100000
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			s, err1 := strconv.Atoi(f[1])
			c, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil && s+c > start {
				start = s + c
			}
		}
	}
	return start, nil
}

// ---------------------------------------------------------------------------------
// Reading hutch's JSON

// infoJSON is the part of `hutch info --format json` the tests read.
type infoJSON struct {
	User struct {
		Name string `json:"name"`
		UID  int    `json:"uid"`
	} `json:"user"`
	IDMappings struct {
		UIDMap []struct {
			ContainerID, HostID, Size int
		} `json:"uidMap"`
		GIDMap []struct {
			ContainerID, HostID, Size int
		} `json:"gidMap"`
		Source            string `json:"source"`
		SingleID          bool   `json:"singleID"`
		IgnoreChownErrors bool   `json:"ignoreChownErrors"`
		Helpers           []struct {
			Name    string `json:"name"`
			Path    string `json:"path"`
			OK      bool   `json:"ok"`
			How     string `json:"how"`
			Problem string `json:"problem"`
		} `json:"helpers"`
	} `json:"idMappings"`
	KeptNamespace struct {
		Kept      bool      `json:"kept"`
		HolderPID int       `json:"holderPid"`
		Since     time.Time `json:"since"`
		File      string    `json:"file"`
		Note      string    `json:"note"`
		JoinedBy  string    `json:"joinedBy"`
	} `json:"keptNamespace"`
	Paths struct {
		GraphRoot       string `json:"graphRoot"`
		RunRoot         string `json:"runRoot"`
		RuntimeDir      string `json:"runtimeDir"`
		RuntimeFallback string `json:"runtimeFallback"`
	} `json:"paths"`
	Store struct {
		Driver *struct {
			Name         string   `json:"name"`
			MountProgram string   `json:"mountProgram"`
			Reason       string   `json:"reason"`
			Probe        []string `json:"probe"`
			Forced       bool     `json:"forced"`
		} `json:"driver"`
		Images int    `json:"images"`
		Error  string `json:"error"`
	} `json:"store"`
	Warnings []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"warnings"`
}

func (sb *sandbox) info() *infoJSON {
	sb.t.Helper()
	r := sb.ok("info", "--format", "json")
	var in infoJSON
	mustJSON(sb.t, r, &in)
	if in.Store.Driver == nil {
		sb.t.Fatalf("info shows no storage driver:\n%s", r)
	}
	return &in
}

// imageJSON is one entry of `hutch images --format json`.
type imageJSON struct {
	ID           string   `json:"Id"`
	Names        []string `json:"Names"`
	Digest       string   `json:"Digest"`
	Size         int64    `json:"Size"`
	Dangling     bool     `json:"Dangling"`
	Intermediate bool     `json:"Intermediate"`
}

func (sb *sandbox) images(all bool) []imageJSON {
	sb.t.Helper()
	args := []string{"images", "--format", "json"}
	if all {
		args = append(args, "-a")
	}
	var out []imageJSON
	mustJSON(sb.t, sb.ok(args...), &out)
	return out
}

// imageByName finds the image that has name among its names.
func findImage(list []imageJSON, name string) *imageJSON {
	for i := range list {
		for _, n := range list[i].Names {
			if n == name {
				return &list[i]
			}
		}
	}
	return nil
}

func findImageID(list []imageJSON, id string) *imageJSON {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

// usageJSON is one row of `hutch system df --format json`.
type usageJSON struct {
	Type        string `json:"Type"`
	Total       int    `json:"Total"`
	Active      int    `json:"Active"`
	Size        int64  `json:"Size"`
	Reclaimable int64  `json:"Reclaimable"`
}

func (sb *sandbox) df() map[string]usageJSON {
	sb.t.Helper()
	var rows []usageJSON
	mustJSON(sb.t, sb.ok("system", "df", "--format", "json"), &rows)
	out := map[string]usageJSON{}
	for _, r := range rows {
		out[r.Type] = r
	}
	return out
}

// inspectJSON is the part of `hutch inspect` the tests read.
type inspectJSON struct {
	ID          string   `json:"Id"`
	RepoTags    []string `json:"RepoTags"`
	RepoDigests []string `json:"RepoDigests"`
	Config      struct {
		Cmd        []string          `json:"Cmd"`
		Entrypoint []string          `json:"Entrypoint"`
		Env        []string          `json:"Env"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
		User       string            `json:"User"`
	} `json:"Config"`
	Architecture string `json:"Architecture"`
	Os           string `json:"Os"`
	Size         int64  `json:"Size"`
	RootFS       struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	History []struct {
		CreatedBy string `json:"created_by"`
		Comment   string `json:"comment"`
	} `json:"History"`
	Digest string `json:"Digest"`
}

func (sb *sandbox) inspect(ref string) inspectJSON {
	sb.t.Helper()
	r := sb.ok("inspect", ref)
	var out []inspectJSON
	mustJSON(sb.t, r, &out)
	if len(out) != 1 {
		sb.t.Fatalf("inspect %s returned %d objects:\n%s", ref, len(out), r)
	}
	return out[0]
}

func mustJSON(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("output is not the expected JSON (%v):\n%s", err, r)
	}
}

// ---------------------------------------------------------------------------------
// Assertions

func assertContains(t *testing.T, haystack, needle, what string) {
	t.Helper()
	if !strings.Contains(haystack, needle) {
		t.Fatalf("%s: expected to contain %q, got:\n%s", what, needle, haystack)
	}
}

func assertNotContains(t *testing.T, haystack, needle, what string) {
	t.Helper()
	if strings.Contains(haystack, needle) {
		t.Fatalf("%s: expected not to contain %q, got:\n%s", what, needle, haystack)
	}
}

func assertEqual[T comparable](t *testing.T, got, want T, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// assertOneLineError checks that a failed command printed exactly one line on stderr,
// `Error: …`, containing every one of needles.
func assertOneLineError(t *testing.T, r result, needles ...string) {
	t.Helper()
	msg := strings.TrimRight(r.stderr, "\n")
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "Error: ") {
		t.Fatalf("expected one line `Error: …` on stderr:\n%s", r)
	}
	for _, n := range needles {
		if !strings.Contains(msg, n) {
			t.Fatalf("expected the error to mention %q:\n%s", n, r)
		}
	}
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// machineLock holds an exclusive lock named name, shared by every copy of the suite on
// the machine, until the test ends: for a test that changes what is the machine's (a
// user's subordinate ranges in /etc/subuid), which two suites run at once would
// otherwise change under each other.
func machineLock(t *testing.T, name string) {
	t.Helper()
	p := filepath.Join(os.TempDir(), "hutch-systest-"+name+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking %s: %v", p, err)
	}
	t.Cleanup(func() { f.Close() }) // closing the last descriptor releases the lock
}
