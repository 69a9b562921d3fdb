package diskspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/t\011x\134`: "/t\tx\\", `/bad\9`: `/bad\9`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Describe finds the mount a path is on (here /proc's, and a missing path's nearest
// existing ancestor's), with its size and free space.
func TestDescribe(t *testing.T) {
	d, err := Describe("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if d.MountPoint != "/proc" || d.Type != "proc" {
		t.Errorf("Describe(/proc/self/status) = %+v, want the proc mount at /proc", d)
	}
	dir := t.TempDir()
	d, err = Describe(filepath.Join(dir, "not", "there", "yet"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Size == 0 || d.MountPoint == "" || !strings.HasPrefix(dir, strings.TrimSuffix(d.MountPoint, "/")) {
		t.Errorf("Describe of a missing path under %s = %+v", dir, d)
	}
	if s := d.String(); !strings.Contains(s, "free of") || !strings.Contains(s, d.MountPoint) {
		t.Errorf("String() = %q", s)
	}
}

// Explain names the file system of the path the error names (or the fallback's), and
// leaves other errors, and explained ones, alone.
func TestExplain(t *testing.T) {
	dir := t.TempDir()
	full := &os.PathError{Op: "write", Path: filepath.Join(dir, "f"), Err: syscall.ENOSPC}
	err := Explain(fmt.Errorf("saving: %w", full), "/proc")
	var fe *FullError
	if !errors.As(err, &fe) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Explain(ENOSPC) = %v", err)
	}
	if fe.FS.Path != full.Path || !strings.Contains(err.Error(), "the disk is full") || !strings.Contains(err.Error(), "hutch system prune") {
		t.Errorf("Explain names %q: %v", fe.FS.Path, err)
	}
	if again := Explain(err, "/proc"); again != err { //nolint:errorlint // the very same value: an explained error is returned as it is
		t.Errorf("explained twice: %v", again)
	}
	flat := errors.New("write x: no space left on device")
	if err := Explain(flat, "/proc"); !errors.As(err, &fe) || fe.FS.MountPoint != "/proc" {
		t.Errorf("a flattened ENOSPC without a path is not named after the fallback: %v", err)
	}
	other := errors.New("permission denied")
	if Explain(other, "/proc") != other || IsFull(nil) || !IsFull(syscall.EDQUOT) { //nolint:errorlint // the very same value: what is not a full disk is returned untouched
		t.Error("Explain or IsFull touched what is not a full disk")
	}
}

// The reserve is made when there is room, and given back only when space is short.
func TestReserve(t *testing.T) {
	dir := t.TempDir()
	if !EnsureReserve(dir) {
		t.Fatalf("no reserve made in %s (the test needs 12 MiB free there)", dir)
	}
	fi, err := os.Stat(filepath.Join(dir, ReserveName))
	if err != nil || fi.Size() != ReserveSize {
		t.Fatalf("the reserve: %v, %v", fi, err)
	}
	if !EnsureReserve(dir) {
		t.Fatal("EnsureReserve of an existing reserve")
	}
	if ReleaseIfLow(dir) {
		t.Fatal("the reserve was given back with plenty of space left")
	}
	if _, err := os.Stat(filepath.Join(dir, ReserveName)); err != nil {
		t.Fatal(err)
	}
}
