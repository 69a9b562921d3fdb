package builder

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/internal/inroot"
)

// exportLocal writes files, directories, symlinks (not followed) and fifos, leaves
// sockets out (listed), and replaces a symlink of the destination's instead of writing
// through it.
func TestExportLocal(t *testing.T) {
	src, dest, outside := t.TempDir(), filepath.Join(t.TempDir(), "made", "dest"), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "d"), 0o750))
	must(os.WriteFile(filepath.Join(src, "d", "f"), []byte("f"), 0o4711))
	must(os.Symlink(outside, filepath.Join(src, "out")))
	must(os.WriteFile(filepath.Join(outside, "victim"), []byte("v"), 0o644))
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	must(err)
	defer l.Close()
	// The destination exists with a symlink where the source has the file d/f.
	must(os.MkdirAll(filepath.Join(dest, "d"), 0o755))
	must(os.Symlink(filepath.Join(outside, "victim"), filepath.Join(dest, "d", "f")))

	skipped, err := exportLocal(src, dest)
	must(err)
	if want := []inroot.Skipped{{Rel: "sock", Kind: "socket"}}; !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if got, err := os.Readlink(filepath.Join(dest, "out")); err != nil || got != outside {
		t.Errorf("out: %q, %v; want a symlink to %s", got, err, outside)
	}
	fi, err := os.Lstat(filepath.Join(dest, "d", "f"))
	must(err)
	if fi.Mode() != 0o711 {
		t.Errorf("d/f: mode %v, want a regular file 0711 (setuid dropped)", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "v" {
		t.Errorf("the destination's symlink was written through: %q", b)
	}
	if note := skippedList(skipped); !strings.Contains(note, "/sock (a socket)") {
		t.Errorf("note %q", note)
	}
}
