package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fallbackDir is where hutch keeps its runtime state without a usable XDG_RUNTIME_DIR.
func (sb *sandbox) fallbackDir() string {
	return sb.path("tmp", "hutch-"+strconv.Itoa(sb.user.uid))
}

// TestRuntimeDirFallback: without XDG_RUNTIME_DIR, or with one the user does not own,
// hutch uses $TMPDIR/hutch-UID (0700, the user's), says so, and works.
func TestRuntimeDirFallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		runtime func(sb *sandbox) string // XDG_RUNTIME_DIR ("" = unset)
		why     string
	}{
		{"unset", func(sb *sandbox) string { return "" }, "XDG_RUNTIME_DIR is not set"},
		{"root-owned", func(sb *sandbox) string {
			d := sb.path("root-run")
			if err := os.Mkdir(d, 0o700); err != nil {
				sb.t.Fatal(err)
			}
			return d
		}, "belongs to root (uid 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			rt := tc.runtime(sb)
			sb.env = map[string]string{"XDG_RUNTIME_DIR": rt}
			fb := sb.fallbackDir()

			r := sb.ok("images")
			assertContains(t, r.stderr, "hutch: warning: ", "first command's stderr")
			assertContains(t, r.stderr, fb, "the fallback warning")
			r = sb.ok("images")
			assertNotContains(t, r.stderr, "warning", "second command's stderr (shown once)")

			fi, err := os.Lstat(fb)
			if err != nil {
				t.Fatalf("the fallback runtime dir was not created: %v", err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Fatalf("%s: mode %v, want a directory with 0700", fb, fi.Mode())
			}
			uid, _ := fileOwner(t, fb)
			assertEqual(t, uid, sb.user.uid, "owner of "+fb)
			// Nothing went to the regular runtime dir.
			if _, err := os.Stat(sb.runtimeDir()); err == nil {
				t.Fatalf("%s was created although XDG_RUNTIME_DIR=%q", sb.runtimeDir(), rt)
			}

			text := sb.ok("info").stdout
			assertContains(t, text, "runtime dir:        "+fb, "info text")
			assertContains(t, text, "runtime dir is a fallback: ", "info text")
			assertContains(t, text, tc.why, "info text")
			in := sb.info()
			assertEqual(t, in.Paths.RuntimeDir, fb, "info json: paths.runtimeDir")
			assertEqual(t, in.Paths.RunRoot, filepath.Join(fb, "storage"), "info json: paths.runRoot")
			assertContains(t, in.Paths.RuntimeFallback, tc.why, "info json: paths.runtimeFallback")
			assertContains(t, in.Paths.RuntimeFallback, fb, "info json: paths.runtimeFallback")

			// The store works from there.
			sb.ok("load", "-i", fix.docker.path)
			assertContains(t, sb.ok("images").stdout, "localhost/bb", "images")
		})
	}
	t.Run("xdg-used-when-owned", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t, userWithRange)
		in := sb.info()
		assertEqual(t, in.Paths.RuntimeDir, sb.runtimeDir(), "info json: paths.runtimeDir")
		assertEqual(t, in.Paths.RuntimeFallback, "", "info json: paths.runtimeFallback")
		assertNotContains(t, sb.ok("info").stdout, "fallback", "info text")
		fi, err := os.Stat(sb.runtimeDir())
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want a 0700 directory", sb.runtimeDir(), fi, err)
		}
		if _, err := os.Lstat(sb.fallbackDir()); err == nil {
			t.Fatalf("%s created although XDG_RUNTIME_DIR is usable", sb.fallbackDir())
		}
	})
	t.Run("existing-dir-tightened", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t, userWithRange)
		sb.env = map[string]string{"XDG_RUNTIME_DIR": ""}
		fb := sb.fallbackDir()
		if err := os.Mkdir(fb, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(fb, sb.user.uid, sb.user.gid); err != nil {
			t.Fatal(err)
		}
		sb.ok("images")
		fi, err := os.Stat(fb)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v: hutch should make its own 0755 runtime dir private (0700)", fb, fi, err)
		}
	})
}

// homeRuntimeDir is where hutch keeps its runtime state when neither XDG_RUNTIME_DIR
// nor $TMPDIR/hutch-UID can be used: under the sandbox's cache directory.
func (sb *sandbox) homeRuntimeDir() string {
	host, err := os.Hostname()
	if err != nil {
		sb.t.Fatal(err)
	}
	return sb.path("cache", "hutch", "run-"+host)
}

// TestRuntimeDirPlanted: a fallback dir that is a symlink, belongs to someone else, or
// is not a directory may have been planted by another user to stop hutch or to read or
// redirect its state. hutch passes it over for a private directory in the user's home,
// says so once (naming the planted path), works, and writes nothing through it.
// (Before: every command, `system reset` included, exited 125 with advice the victim
// could not follow — remove another user's directory.)
func TestRuntimeDirPlanted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		plant   func(sb *sandbox, fb string) string // returns a directory that must stay empty
		mention string
	}{
		{"symlink", func(sb *sandbox, fb string) string {
			target := sb.path("planted-target")
			if err := os.Mkdir(target, 0o777); err != nil {
				sb.t.Fatal(err)
			}
			if err := os.Chmod(target, 0o777); err != nil {
				sb.t.Fatal(err)
			}
			if err := os.Symlink(target, fb); err != nil {
				sb.t.Fatal(err)
			}
			return target
		}, "is a symbolic link"},
		{"other-owner", func(sb *sandbox, fb string) string {
			if err := os.Mkdir(fb, 0o777); err != nil {
				sb.t.Fatal(err)
			}
			if err := os.Chmod(fb, 0o777); err != nil {
				sb.t.Fatal(err)
			}
			other := users[userNoRange]
			if err := os.Chown(fb, other.uid, other.gid); err != nil {
				sb.t.Fatal(err)
			}
			return fb
		}, "belongs to " + userNoRange},
		{"not-a-directory", func(sb *sandbox, fb string) string {
			if err := os.WriteFile(fb, nil, 0o644); err != nil {
				sb.t.Fatal(err)
			}
			if err := os.Chown(fb, sb.user.uid, sb.user.gid); err != nil {
				sb.t.Fatal(err)
			}
			return ""
		}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			fb := sb.fallbackDir()
			mustStayEmpty := tc.plant(sb, fb)
			sb.env = map[string]string{"XDG_RUNTIME_DIR": ""}
			home := sb.homeRuntimeDir()

			r := sb.ok("load", "-i", fix.docker.path)
			assertContains(t, r.stderr, "hutch: warning: ", "first command's stderr")
			assertContains(t, r.stderr, fb+" cannot be used", "the fallback warning")
			assertContains(t, r.stderr, tc.mention, "the fallback warning")
			assertContains(t, r.stderr, home, "the fallback warning")
			r = sb.ok("images")
			assertNotContains(t, r.stderr, "warning", "second command's stderr (shown once)")
			assertContains(t, r.stdout, "localhost/bb", "images")
			in := sb.info()
			assertEqual(t, in.Paths.RuntimeDir, home, "info json: paths.runtimeDir")
			assertContains(t, in.Paths.RuntimeFallback, fb, "info json: paths.runtimeFallback")
			assertContains(t, sb.ok("info").stdout, "runtime dir:        "+home, "info text")
			fi, err := os.Lstat(home)
			if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Fatalf("%s: %v %v, want a 0700 directory", home, fi, err)
			}
			if mustStayEmpty != "" {
				entries, err := os.ReadDir(mustStayEmpty)
				if err != nil || len(entries) != 0 {
					t.Fatalf("hutch wrote into the planted directory %s: %v %v", mustStayEmpty, entries, err)
				}
			}
			sb.ok("system", "reset", "-f")
		})
	}
}

// TestRuntimeDirPlantedInTmp: the attack as it happens under su or cron. Root makes
// /tmp/hutch-UID of the test user belong to another user; the test user, with neither
// XDG_RUNTIME_DIR nor TMPDIR set, still works (in a private directory in the home),
// warns once, and writes nothing into the foreign directory. /tmp is a directory of the
// sandbox bind-mounted over /tmp in a mount namespace of the commands' own, so the
// machine's /tmp is not touched.
func TestRuntimeDirPlantedInTmp(t *testing.T) {
	t.Parallel()
	ns := newMountNS(t) // before the sandbox: its cleanup (reset) runs in the namespace
	sb := newSandbox(t, userWithRange)
	fakeTmp := sb.path("fake-tmp")
	if err := os.Mkdir(fakeTmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fakeTmp, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(fakeTmp, "hutch-"+strconv.Itoa(sb.user.uid))
	if err := os.Mkdir(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	other := users[userNoRange]
	if err := os.Chown(planted, other.uid, other.gid); err != nil {
		t.Fatal(err)
	}
	sb.env = map[string]string{"XDG_RUNTIME_DIR": "", "TMPDIR": ""}
	ns.bind(fakeTmp, "/tmp")
	sb.ns = ns
	inTmp := func(args ...string) result {
		t.Helper()
		return sb.run(runOpts{}, args...)
	}
	r := inTmp("load", "-i", fix.docker.path)
	if r.code != 0 {
		t.Fatalf("hutch failed although it could use a directory in the home:\n%s", r)
	}
	home := sb.homeRuntimeDir()
	assertContains(t, r.stderr, "hutch: warning: ", "first command's stderr")
	assertContains(t, r.stderr, "/tmp/hutch-"+strconv.Itoa(sb.user.uid)+" cannot be used", "the warning")
	assertContains(t, r.stderr, "belongs to "+userNoRange, "the warning")
	assertContains(t, r.stderr, home, "the warning")
	r = inTmp("images")
	if r.code != 0 || strings.Contains(r.stderr, "warning") || !strings.Contains(r.stdout, "localhost/bb") {
		t.Fatalf("the second command failed, warned again or lost the image:\n%s", r)
	}
	r = inTmp("info")
	assertContains(t, r.stdout, "runtime dir:        "+home, "info")
	if entries, err := os.ReadDir(planted); err != nil || len(entries) != 0 {
		t.Fatalf("hutch wrote into the foreign directory %s: %v %v", planted, entries, err)
	}
	sb.ok("system", "reset", "-f")
}

// TestStoreNotPrivate: a store (or a directory above it) that another user owns, or
// that others may write without the sticky bit, is refused by every command — `system
// reset` included — with one line naming the directory at fault and the fix, and
// nothing is written there. (Before: a graphroot in another user's directory was used
// silently; that user removed the image records and `hutch images` printed an empty
// list, exit 0.)
func TestStoreNotPrivate(t *testing.T) {
	t.Parallel()
	t.Run("other-users-directory", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t, userWithRange)
		other := users[userNoRange]
		theirs := sb.path("theirs")
		if err := os.Mkdir(theirs, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(theirs, 0o777); err != nil { // the victim could write there
			t.Fatal(err)
		}
		if err := os.Chown(theirs, other.uid, other.gid); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(theirs, "store")
		sb.writeConfig("[storage]\ngraphroot = \"" + store + "\"\n")
		for _, args := range [][]string{{"images"}, {"load", "-i", fix.docker.path}, {"info"}, {"system", "reset", "-f"}} {
			r := sb.expect(125, args...)
			assertOneLineError(t, r, "refusing the store (graph root) "+store, theirs+" belongs to "+userNoRange,
				"set [storage] graphroot in "+sb.configFile())
		}
		if entries, _ := os.ReadDir(theirs); len(entries) != 0 {
			t.Fatalf("hutch wrote into the other user's directory: %v", entries)
		}
		// The fix: a store of one's own.
		sb.writeConfig("")
		sb.ok("load", "-i", fix.docker.path)
	})
	t.Run("writable-by-others", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t, userWithRange)
		sb.ok("load", "-i", fix.docker.path)
		data := sb.path("data")
		if err := os.Chmod(data, 0o777); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"images"}, {"system", "reset", "-f"}} {
			r := sb.expect(125, args...)
			assertOneLineError(t, r, data+" is writable by everyone (mode 0777) without the sticky bit", "chmod go-w "+data)
		}
		// The store is the user's own but writable by others: the same.
		if err := os.Chmod(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(sb.graphRoot(), 0o777); err != nil {
			t.Fatal(err)
		}
		r := sb.expect(125, "images")
		assertOneLineError(t, r, "refusing the store (graph root) "+sb.graphRoot(), "writable by everyone (mode 0777)", "chmod go-w "+sb.graphRoot())
		// The fix it names mends it, and the images are still there.
		sb.shell("chmod go-w " + sb.graphRoot())
		assertContains(t, sb.ok("images").stdout, "localhost/bb", "images after the fix")
	})
}
