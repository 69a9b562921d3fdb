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
		}, "belongs to uid 0"},
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

// TestRuntimeDirRefused: a fallback dir that is a symlink, or belongs to someone else,
// may have been planted by another user: hutch refuses it, names it, exits 125, and
// writes nothing through it.
func TestRuntimeDirRefused(t *testing.T) {
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
		}, "belongs to uid " + "OTHER"},
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
			mention := strings.ReplaceAll(tc.mention, "OTHER", strconv.Itoa(users[userNoRange].uid))
			sb.env = map[string]string{"XDG_RUNTIME_DIR": ""}
			sb.allowResetFailure = true // reset is refused the same way
			for _, args := range [][]string{{"images"}, {"info"}, {"load", "-i", fix.docker.path}, {"unshare", "true"}, {"system", "reset", "-f"}} {
				r := sb.expect(125, args...)
				assertOneLineError(t, r, fb, mention)
				if r.stdout != "" {
					t.Fatalf("refused command printed on stdout:\n%s", r)
				}
			}
			if mustStayEmpty != "" {
				entries, err := os.ReadDir(mustStayEmpty)
				if err != nil || len(entries) != 0 {
					t.Fatalf("hutch wrote into the planted directory %s: %v %v", mustStayEmpty, entries, err)
				}
			}
			// Nothing else was created: no store.
			if _, err := os.Stat(sb.graphRoot()); err == nil {
				t.Fatalf("the store %s was created although the runtime dir was refused", sb.graphRoot())
			}
		})
	}
}
