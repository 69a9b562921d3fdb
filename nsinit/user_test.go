package nsinit

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/fsutil"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nohome:x:1001:1001::/:/bin/sh
emptyroot:x:0:0:::/bin/sh
`

const testGroup = `root:x:0:
alice:x:1000:
staff:x:50:alice
wheel:x:10:alice,bob
`

func TestLookupUser(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Identity
	}{
		{"", Identity{User{0, 0, nil}, "/root"}},
		{"0", Identity{User{0, 0, nil}, "/root"}},
		{"root", Identity{User{0, 0, nil}, "/root"}},
		{"emptyroot", Identity{User{0, 0, nil}, "/root"}},
		// By name: passwd's group, and the groups that list the user.
		{"alice", Identity{User{1000, 1000, []uint32{50, 10}}, "/home/alice"}},
		// An explicit group: no supplementary groups (Docker's rule).
		{"alice:staff", Identity{User{1000, 50, nil}, "/home/alice"}},
		{"alice:7", Identity{User{1000, 7, nil}, "/home/alice"}},
		// Numeric ids need no entry; HOME is / for a uid the image does not know.
		{"4242", Identity{User{4242, 0, nil}, "/"}},
		{"4242:4343", Identity{User{4242, 4343, nil}, "/"}},
		{"1000", Identity{User{1000, 1000, []uint32{50, 10}}, "/home/alice"}},
	} {
		got, err := lookupUser(c.spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %+v, want %+v", c.spec, got, c.want)
		}
	}
}

func TestLookupUserErrors(t *testing.T) {
	for spec, want := range map[string]error{
		"mallory":        ErrUnknownUser,
		"alice:nogroup":  ErrUnknownUser,
		"99999999999999": ErrIDRange,
	} {
		_, err := lookupUser(spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", spec, err, want)
		}
	}
}

// Without passwd and group files (FROM scratch), numeric ids work and names do not.
func TestLookupUserNoFiles(t *testing.T) {
	root := t.TempDir()
	got, err := LookupUser(root, "1000:1000")
	if err != nil || got.UID != 1000 || got.GID != 1000 || got.Home != "/" {
		t.Fatalf("1000:1000 = %+v, %v", got, err)
	}
	if got, err := LookupUser(root, ""); err != nil || got.Home != "/root" {
		t.Fatalf(`"" = %+v, %v`, got, err)
	}
	if _, err := LookupUser(root, "alice"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("alice without passwd: %v", err)
	}
}

// An image's /etc/passwd that is a symlink out of its root is read inside the root.
func TestLookupUserStaysInRoot(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(outside, []byte("mallory:x:666:666::/evil:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupUser(root, "mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("a passwd linked out of the root was read: %v", err)
	}
	// The same path inside the root is the one read.
	inside := filepath.Join(root, outside)
	if err := os.MkdirAll(filepath.Dir(inside), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inside, []byte("mallory:x:7:7::/in:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LookupUser(root, "mallory")
	if err != nil || got.UID != 7 || got.Home != "/in" {
		t.Fatalf("mallory inside the root = %+v, %v", got, err)
	}
}

// An image's /etc/passwd that is a FIFO (or a device, or too large) is refused at once,
// naming it, through fsutil's bounded reader: not waited on, and not "no such user".
func TestLookupUserFIFO(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"nobody", "1000"} {
		_, err := LookupUser(root, spec)
		var fe *fsutil.FileError
		if !errors.As(err, &fe) || errors.Is(err, ErrUnknownUser) || !strings.Contains(err.Error(), "/etc/passwd: is a named pipe (FIFO)") {
			t.Fatalf("%q with a FIFO passwd: %v", spec, err)
		}
	}
}
