package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/nsenter"
)

// The verdict is written here (Go) and compared by the kept namespace's C constructor
// (internal/nsenter/kept.c, through nsenter.Verdict): these tests write one as a
// command would and check that the constructor finds it holding, and that each change
// of what the checks depend on makes it not hold.

// verdictHome is a user's world for the verdict tests: a home, a runtime directory
// (XDG_RUNTIME_DIR) and TMPDIR, all in the test's own directories, set in the
// environment (the constructor reads the real one).
type verdictHome struct {
	t                *testing.T
	base, home, xdg  string
	tmp, config, cfg string
}

func newVerdictHome(t *testing.T) *verdictHome {
	t.Helper()
	requireRoot(t)
	base := t.TempDir()
	v := &verdictHome{t: t, base: base, home: filepath.Join(base, "home"), xdg: filepath.Join(base, "run"), tmp: filepath.Join(base, "tmp")}
	for _, d := range []string{v.home, v.xdg, v.tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	v.config = filepath.Join(v.home, ".config", "hutch")
	v.cfg = filepath.Join(v.config, "config.toml")
	if err := os.MkdirAll(v.config, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v.cfg, []byte("[storage]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range VerdictEnv {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", v.home)
	t.Setenv("XDG_RUNTIME_DIR", v.xdg)
	t.Setenv("TMPDIR", v.tmp)
	return v
}

// decide does what a plain-user command does before it enters the kept namespace:
// resolve the paths, check them, write the verdict.
func (v *verdictHome) decide() *Paths {
	v.t.Helper()
	rec := NewStamps()
	uid := os.Getuid()
	p, err := UserPathsRecorded(uid, os.Getenv("HOME"), os.Getenv, rec)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := p.CheckRecorded(uid, "", os.Getenv, rec); err != nil {
		v.t.Fatal(err)
	}
	if err := WriteVerdict(p, rec, os.Getenv); err != nil {
		v.t.Fatalf("no verdict: %v", err)
	}
	return p
}

// holds asserts that the constructor finds the verdict holding, naming p.
func (v *verdictHome) holds(p *Paths, after string) {
	v.t.Helper()
	dir, js, why := nsenter.Verdict()
	if why != "" {
		v.t.Fatalf("after %s the verdict does not hold: %s", after, why)
	}
	if dir != p.RuntimeDir {
		v.t.Fatalf("after %s the verdict names the runtime directory %s, want %s", after, dir, p.RuntimeDir)
	}
	var got Paths
	if err := json.Unmarshal(js, &got); err != nil {
		v.t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, p) {
		v.t.Fatalf("after %s the verdict's paths are %+v, want %+v", after, got, *p)
	}
}

// fails asserts that the constructor finds no verdict that holds, for one of the
// reasons whys.
func (v *verdictHome) fails(after string, whys ...string) {
	v.t.Helper()
	_, _, got := nsenter.Verdict()
	if got == "" {
		v.t.Fatalf("after %s the verdict still holds", after)
	}
	for _, why := range whys {
		if strings.Contains(got, why) {
			return
		}
	}
	v.t.Fatalf("after %s the verdict does not hold because %q, want %q", after, got, whys)
}

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestTokenAgreesWithConstructor: Go writes the tokens the constructor compares, so both
// must write every kind of path the same way.
func TestTokenAgreesWithConstructor(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustDo(t, os.WriteFile(file, []byte("x"), 0o640), os.Symlink(file, filepath.Join(dir, "link")),
		syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	for _, p := range []string{"/", dir, file, filepath.Join(dir, "link"), filepath.Join(dir, "fifo"),
		filepath.Join(dir, "missing"), filepath.Join(file, "below"), "/dev/null", "/proc/self/exe"} {
		if g, c := Token(p), nsenter.VerdictToken(p); g != c {
			t.Errorf("Token(%s): Go %q, C %q", p, g, c)
		}
	}
	if got := Token(filepath.Join(dir, "missing")); got != "-" {
		t.Errorf("a missing path's token is %q, want -", got)
	}
	if got := Token(filepath.Join(file, "below")); got != "e:20" {
		t.Errorf("a path below a file: token %q, want e:20 (ENOTDIR)", got)
	}
	if !strings.HasPrefix(Token(dir), "d:") || !strings.HasPrefix(Token(file), "f:") {
		t.Errorf("tokens %q (directory) and %q (file)", Token(dir), Token(file))
	}
	if !reflect.DeepEqual(VerdictEnv, nsenter.VerdictEnv()) {
		t.Errorf("the variables the verdict records %v and those the constructor compares %v differ", VerdictEnv, nsenter.VerdictEnv())
	}
}

// TestVerdictHolds: a verdict written after the checks holds, names the checked paths,
// and keeps holding while only what the checks do not look at changes (files made in
// the directories on the way: the runtime directory changes at every command).
func TestVerdictHolds(t *testing.T) {
	v := newVerdictHome(t)
	p := v.decide()
	if p.RuntimeDir != filepath.Join(v.xdg, "hutch") {
		t.Fatalf("runtime dir %s", p.RuntimeDir)
	}
	v.holds(p, "writing it")
	b, _ := os.ReadFile(filepath.Join(p.RuntimeDir, VerdictFile))
	for _, want := range []string{"\ndir " + p.RuntimeDir + "\n", "\nenv HOME=" + v.home + "\n", "\nenv XDG_DATA_HOME\n",
		"\nstamp " + Token(v.cfg) + " " + v.cfg + "\n", "\nstamp - " + filepath.Join(v.home, ".local") + "\n",
		"\nstamp - /etc/hutch\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the verdict has no line %q:\n%s", strings.TrimSpace(want), b)
		}
	}
	fi, _ := os.Stat(filepath.Join(p.RuntimeDir, VerdictFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the verdict's mode is %v", fi.Mode().Perm())
	}
	// Written again only when it changed.
	v.decide()
	if fi2, _ := os.Stat(filepath.Join(p.RuntimeDir, VerdictFile)); !os.SameFile(fi, fi2) {
		t.Errorf("an unchanged verdict was written again")
	}
	for _, f := range []string{filepath.Join(p.RuntimeDir, "registries.conf"), filepath.Join(v.home, "notes"), filepath.Join(v.config, "auth.json")} {
		mustDo(t, os.WriteFile(f, nil, 0o600))
	}
	v.holds(p, "files were made in the runtime directory, the home and the config directory")
}

// TestVerdictMismatches: every change of what the checks judge makes the verdict not
// hold: a directory on the way or a checked one made writable by others or given to
// another user, a config file whose mode, owner or content changed (even when changed
// back), a path that appeared where there was none, a directory replaced, a symbolic
// link replaced, the environment, the host name, the groups; and a verdict that is not
// in a private directory of the user's, or names another one, is not taken.
func TestVerdictMismatches(t *testing.T) {
	v := newVerdictHome(t)
	p := v.decide()
	v.holds(p, "writing it")
	changed := "a path changed since it was checked"

	// A directory on the way made writable by others (what Check refuses), and back: a
	// directory is stamped by its type, owner, group and mode, which are what Check
	// judges; its ctime, which changes with every entry made in it, is not.
	mustDo(t, os.Chmod(v.home, 0o777))
	v.fails("chmod 0777 of the home", changed)
	mustDo(t, os.Chmod(v.home, 0o700))
	v.holds(p, "chmod back")
	mustDo(t, os.Chown(v.config, otherUID, otherUID))
	v.fails("chown of the config directory to another user", changed)
	mustDo(t, os.Chown(v.config, 0, 0))
	v.holds(p, "chown back")
	fi, err := os.Stat(v.base)
	mustDo(t, err, os.Chmod(v.base, 0o1777))
	v.fails("the sticky bit on a directory on the way", changed)
	mustDo(t, os.Chmod(v.base, fi.Mode().Perm()))
	v.holds(p, "chmod back")

	// The config file: its ctime, which a chmod or chown changes even when undone, and a
	// new content.
	mustDo(t, os.Chmod(v.cfg, 0o666), os.Chmod(v.cfg, 0o600))
	v.fails("chmod of the config file and back", changed)
	v.decide()
	mustDo(t, os.Chown(v.cfg, otherUID, otherUID), os.Chown(v.cfg, 0, 0))
	v.fails("chown of the config file and back", changed)
	v.decide()
	time.Sleep(10 * time.Millisecond) // a coarse clock would give the same ctime
	mustDo(t, os.WriteFile(v.cfg, []byte("[storage]\ngraphroot = \"/elsewhere\"\n"), 0o600))
	v.fails("a new graph root in the config file", changed)
	v.decide()

	// Paths that were absent and appear: the data directory (the store's way), the
	// system config file.
	mustDo(t, os.MkdirAll(filepath.Join(v.home, ".local"), 0o700))
	v.fails("the data directory's parent appeared", changed)
	v.decide()
	mustDo(t, os.MkdirAll(filepath.Join(v.home, ".local", "share", "hutch", "storage"), 0o700))
	v.fails("the store appeared", changed)
	p = v.decide()
	v.holds(p, "checking again")

	// A directory replaced by another of the same owner and mode (another inode).
	store := filepath.Join(v.home, ".local", "share", "hutch", "storage")
	mustDo(t, os.Rename(store, store+".old"), os.Mkdir(store, 0o700))
	v.fails("the store replaced", changed)
	v.decide()

	// A symbolic link on the way, replaced by one to elsewhere.
	real1, real2 := filepath.Join(v.base, "cache1"), filepath.Join(v.base, "cache2")
	mustDo(t, os.Mkdir(real1, 0o700), os.Mkdir(real2, 0o700), os.Symlink(real1, filepath.Join(v.home, ".cache")))
	p = v.decide()
	v.holds(p, "a cache behind a link")
	mustDo(t, os.Remove(filepath.Join(v.home, ".cache")), os.Symlink(real2, filepath.Join(v.home, ".cache")))
	v.fails("the link to the cache replaced", changed)
	p = v.decide()

	// The environment that chose the paths.
	for _, k := range VerdictEnv {
		old := os.Getenv(k)
		t.Setenv(k, filepath.Join(v.base, "other"))
		// (XDG_RUNTIME_DIR elsewhere: no runtime directory that holds one)
		v.fails(k+" changed", "another environment", "no verdict")
		t.Setenv(k, old)
		v.holds(p, k+" back")
	}
	t.Setenv("XDG_DATA_HOME", "")
	os.Unsetenv("XDG_DATA_HOME")
	v.holds(p, "XDG_DATA_HOME unset (as it was empty)")

	// The host name (the last fallback's name) and the groups, in a thread of their own
	// (the constructor reads them from the thread it runs on).
	inThread(t, func() {
		mustDo(t, unix.Unshare(unix.CLONE_NEWUTS), unix.Sethostname([]byte("another-host")))
		v.fails("another host name", "another host name")
	})
	inThread(t, func() {
		mustDo(t, unix.Setgroups([]int{4242}))
		v.fails("other groups", "other groups")
	})
	v.holds(p, "the threads ended")

	// Not in a private directory of the user's: not taken.
	mustDo(t, os.Chmod(p.RuntimeDir, 0o750))
	v.fails("the runtime directory opened to its group", "no verdict")
	mustDo(t, os.Chmod(p.RuntimeDir, 0o700), os.Chown(p.RuntimeDir, otherUID, otherUID))
	v.fails("the runtime directory given to another user", "no verdict")
	mustDo(t, os.Chown(p.RuntimeDir, 0, 0))
	file := filepath.Join(p.RuntimeDir, VerdictFile)
	mustDo(t, os.Chmod(file, 0o620))
	v.fails("the verdict made writable by its group", "no verdict")
	mustDo(t, os.Chmod(file, 0o600))
	v.holds(p, "chmod back")

	// A verdict copied where it does not belong names another runtime directory.
	b, err := os.ReadFile(file)
	mustDo(t, err)
	mustDo(t, os.Remove(file))
	fallback := filepath.Join(v.tmp, "hutch-0")
	mustDo(t, os.Mkdir(fallback, 0o700), os.WriteFile(filepath.Join(fallback, VerdictFile), b, 0o600))
	t.Setenv("XDG_RUNTIME_DIR", "")
	v.fails("the verdict copied to TMPDIR's runtime directory, XDG_RUNTIME_DIR unset", "another environment")
	b = []byte(strings.Replace(string(b), "env XDG_RUNTIME_DIR="+v.xdg+"\n", "env XDG_RUNTIME_DIR\n", 1))
	mustDo(t, os.WriteFile(filepath.Join(fallback, VerdictFile), b, 0o600))
	v.fails("the verdict edited to match the environment", "the verdict names another runtime directory")
}

// TestVerdictPassedOver: a runtime directory passed over (another user's
// XDG_RUNTIME_DIR) is stamped as it was: when it becomes usable, the verdict naming the
// fallback no longer holds, since Go would now choose it.
func TestVerdictPassedOver(t *testing.T) {
	v := newVerdictHome(t)
	mustDo(t, os.Chown(v.xdg, otherUID, otherUID))
	p := v.decide()
	if p.RuntimeDir != filepath.Join(v.tmp, "hutch-0") || p.RuntimeFallback == "" {
		t.Fatalf("runtime dir %s (%s), want the fallback in TMPDIR", p.RuntimeDir, p.RuntimeFallback)
	}
	v.holds(p, "writing it in the fallback")
	mustDo(t, os.Chown(v.xdg, 0, 0))
	v.fails("XDG_RUNTIME_DIR became the user's", "a path changed since it was checked")
	p = v.decide()
	v.holds(p, "checking again")
	if p.RuntimeDir != filepath.Join(v.xdg, "hutch") {
		t.Fatalf("runtime dir %s, want the one in XDG_RUNTIME_DIR", p.RuntimeDir)
	}
}

// TestVerdictNotWritten: no verdict is written, and an old one goes, when the record
// cannot make one: a path that changed while it was checked, HOME unset.
func TestVerdictNotWritten(t *testing.T) {
	v := newVerdictHome(t)
	p := v.decide()
	file := filepath.Join(p.RuntimeDir, VerdictFile)
	rec := NewStamps()
	var st syscall.Stat_t
	_ = rec.lstat(v.home, &st)
	mustDo(t, os.Chmod(v.home, 0o755))
	_ = rec.lstat(v.home, &st)
	if rec.Spoiled() == "" {
		t.Fatal("a path that changed between two looks did not spoil the record")
	}
	if err := WriteVerdict(p, rec, os.Getenv); err == nil {
		t.Fatal("a verdict was written from a spoiled record")
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old verdict stayed: %v", err)
	}
	if _, err := MakeVerdict(p, NewStamps(), mapEnv(nil)); err == nil || !strings.Contains(err.Error(), "HOME") {
		t.Fatalf("a verdict without HOME: %v", err)
	}
}

// inThread runs f on a thread of its own that ends after it (f may change what only
// that thread sees).
func inThread(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f()
	}()
	<-done
}

// BenchmarkVerdict is what the constructor spends on the verdict before it joins: find
// it, read it, compare every stamp.
func BenchmarkVerdict(b *testing.B) {
	base := b.TempDir()
	home, xdg := filepath.Join(base, "home"), filepath.Join(base, "run")
	for _, d := range []string{home, xdg} {
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range VerdictEnv {
		b.Setenv(k, "")
	}
	b.Setenv("HOME", home)
	b.Setenv("XDG_RUNTIME_DIR", xdg)
	rec := NewStamps()
	p, err := UserPathsRecorded(os.Getuid(), home, os.Getenv, rec)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.CheckRecorded(os.Getuid(), "", os.Getenv, rec); err != nil {
		b.Fatal(err)
	}
	if err := WriteVerdict(p, rec, os.Getenv); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, why := nsenter.Verdict(); why != "" {
			b.Fatal(why)
		}
	}
	b.ReportMetric(float64(len(rec.List())), "stamps")
}

// BenchmarkCheckAndVerdict is what a plain-user command spends on its paths: resolving
// and checking them, and with the record and the verdict (unchanged: read and compared,
// not written) as every such command now does.
func BenchmarkCheckAndVerdict(b *testing.B) {
	base := b.TempDir()
	home, xdg := filepath.Join(base, "home"), filepath.Join(base, "run")
	for _, d := range []string{home, xdg} {
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range VerdictEnv {
		b.Setenv(k, "")
	}
	b.Setenv("HOME", home)
	b.Setenv("XDG_RUNTIME_DIR", xdg)
	uid := os.Getuid()
	for _, verdict := range []bool{false, true} {
		name := "check"
		if verdict {
			name = "check+verdict"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var rec *Stamps
				if verdict {
					rec = NewStamps()
				}
				p, err := UserPathsRecorded(uid, home, os.Getenv, rec)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.CheckRecorded(uid, "", os.Getenv, rec); err != nil {
					b.Fatal(err)
				}
				if verdict {
					if err := WriteVerdict(p, rec, os.Getenv); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
