package inroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// tree makes files under dir from a spec: "name" -> content; a name ending in "/" is a
// directory; content "->target" makes a symlink.
func tree(t *testing.T, dir string, spec map[string]string) {
	t.Helper()
	for name, content := range spec {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes everything under dir (names, types, modes, contents, link
// targets), to prove that nothing there changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// hostDir is a directory standing for the host outside a root: a 0700 directory with a
// secret in it. check fails the test if anything there changed.
func hostDir(t *testing.T) (dir string, check func()) {
	t.Helper()
	dir = t.TempDir()
	tree(t, dir, map[string]string{"secret": "host secret", "sub/deep": "deep"})
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	return dir, func() {
		t.Helper()
		if after := snapshot(t, dir); after != before {
			t.Fatalf("the host directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// bothResolvers runs f with openat2 and with pathrs-lite's fallback resolver.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	t.Run("openat2", f)
	t.Run("fallback", func(t *testing.T) {
		defer UseFallback()()
		f(t)
	})
}

// swapper exchanges the entries a and b of dir (a directory and a symlink) with
// renameat2(RENAME_EXCHANGE) as fast as it can until stopped: the CVE-2018-15664 race.
type swapper struct {
	stop  atomic.Bool
	wg    sync.WaitGroup
	swaps atomic.Int64
}

func startSwapper(t *testing.T, dir, a, b string) *swapper {
	t.Helper()
	s := &swapper{}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer d.Close()
		for !s.stop.Load() {
			if err := unix.Renameat2(int(d.Fd()), a, int(d.Fd()), b, unix.RENAME_EXCHANGE); err == nil {
				s.swaps.Add(1)
			}
		}
	}()
	t.Cleanup(s.halt)
	return s
}

// halt stops the swapper and waits for it.
func (s *swapper) halt() {
	s.stop.Store(true)
	s.wg.Wait()
}
