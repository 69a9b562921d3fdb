package nsinit

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sessionKeyring describes the calling thread's session keyring: TYPE;UID;GID;PERM;NAME.
func sessionKeyring(t *testing.T) (int, []string) {
	t.Helper()
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		t.Fatalf("the session keyring: %v", err)
	}
	d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		t.Fatalf("describing keyring %d: %v", id, err)
	}
	return id, strings.Split(d, ";")
}

// TestJoinSessionKeyring: a named keyring is made, owned and searchable by its owner,
// and joined again (not made anew) by a later join of the same name; an empty name
// gives a new anonymous keyring. The session keyring belongs to the thread, as it
// does in the init and the exec child.
func TestJoinSessionKeyring(t *testing.T) {
	runtime.LockOSThread() // this thread's keyring changes: it must not serve another test
	before, _ := sessionKeyring(t)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := SessionKeyring("unit-" + hex.EncodeToString(b))
	if err := joinSessionKeyring(name, true); err != nil {
		t.Fatal(err)
	}
	id, d := sessionKeyring(t)
	if id == before || d[0] != "keyring" || d[4] != name || d[3] != "3f1b0000" || d[1] != strconv.Itoa(os.Getuid()) {
		t.Fatalf("after joining %s: keyring %d %v (before: %d), want a new keyring %s owned by uid %d with permissions 3f1b0000", name, id, d, before, name, os.Getuid())
	}
	if err := joinSessionKeyring("", false); err != nil {
		t.Fatal(err)
	}
	anon, d := sessionKeyring(t)
	if anon == id || d[4] != "_ses" {
		t.Fatalf("after joining an anonymous keyring: %d %v, want a new keyring _ses", anon, d)
	}
	if err := joinSessionKeyring(name, false); err != nil {
		t.Fatal(err)
	}
	if again, _ := sessionKeyring(t); again != id {
		t.Fatalf("joining %s again gave keyring %d, want the same one, %d", name, again, id)
	}
}

// TestCloseExtraFiles: a descriptor opened without O_CLOEXEC (as one inherited from the
// caller is) is close-on-exec afterwards; 0-2 are not.
func TestCloseExtraFiles(t *testing.T) {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := closeExtraFiles(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("fd %d: flags %#x (%v), want FD_CLOEXEC", fd, flags, err)
	}
	for std := 0; std <= 2; std++ {
		if flags, err := unix.FcntlInt(uintptr(std), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC != 0 {
			t.Errorf("fd %d is close-on-exec; the standard streams must stay open", std)
		}
	}
}
