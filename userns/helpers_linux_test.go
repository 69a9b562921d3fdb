package userns

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	vfsCapRevision2 = 0x02000000
	vfsCapRevision3 = 0x03000000
	vfsCapEffective = 0x000001
)

// capXattr builds a struct vfs_cap_data (revision 2, or 3 with a root id) whose
// permitted set holds the given capabilities.
func capXattr(rev uint32, caps ...int) []byte {
	var perm [2]uint32
	for _, c := range caps {
		perm[c/32] |= 1 << uint(c%32)
	}
	size := 20
	if rev == vfsCapRevision3 {
		size = 24
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], rev|vfsCapEffective)
	binary.LittleEndian.PutUint32(b[4:], perm[0])  // data[0].permitted
	binary.LittleEndian.PutUint32(b[8:], 0)        // data[0].inheritable
	binary.LittleEndian.PutUint32(b[12:], perm[1]) // data[1].permitted
	binary.LittleEndian.PutUint32(b[16:], 0)       // data[1].inheritable
	return b                                       // a revision 3 root id stays 0
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test sets file capabilities and setuid bits and must run as root (as CI does)")
	}
}

// capDir is a directory on a file system that keeps security.* xattrs (ext4 /var/tmp
// on the test machines; tmpfs /tmp may not).
func capDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "hutch-userns-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// helperFile writes an executable file at dir/name with mode, owned by uid.
func helperFile(t *testing.T, dir, name string, mode os.FileMode, uid int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
	// chown clears setuid bits, so chmod comes last.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func setCap(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := unix.Setxattr(p, "security.capability", data, 0); err != nil {
		t.Fatalf("setting security.capability on %s: %v", p, err)
	}
}

func TestHasFileCap(t *testing.T) {
	requireRoot(t)
	dir := capDir(t)

	setuidCap := helperFile(t, dir, "setuid-cap", 0o755, 0)
	setCap(t, setuidCap, capXattr(vfsCapRevision2, capSetuid))
	if !hasFileCap(setuidCap, capSetuid) {
		t.Error("cap_setuid in the permitted set was not seen")
	}
	if hasFileCap(setuidCap, capSetgid) {
		t.Error("cap_setgid was seen though only cap_setuid is set")
	}

	setgidCap := helperFile(t, dir, "setgid-cap", 0o755, 0)
	setCap(t, setgidCap, capXattr(vfsCapRevision2, capSetgid, 1))
	if !hasFileCap(setgidCap, capSetgid) || hasFileCap(setgidCap, capSetuid) {
		t.Error("a file with cap_setgid (and cap_dac_override) is misread")
	}

	// Capabilities 32 and above live in the second word.
	high := helperFile(t, dir, "high-cap", 0o755, 0)
	setCap(t, high, capXattr(vfsCapRevision2, 40))
	if !hasFileCap(high, 40) || hasFileCap(high, 8) || hasFileCap(high, capSetuid) {
		t.Error("capability 40 is misread")
	}

	// Revision 3 (with a root id), as setcap writes in a user namespace.
	v3 := helperFile(t, dir, "v3-cap", 0o755, 0)
	setCap(t, v3, capXattr(vfsCapRevision3, capSetuid))
	if !hasFileCap(v3, capSetuid) {
		t.Error("a revision 3 cap_setuid was not seen")
	}

	plain := helperFile(t, dir, "plain", 0o755, 0)
	if hasFileCap(plain, capSetuid) {
		t.Error("a file without security.capability has cap_setuid")
	}
	none := helperFile(t, dir, "none", 0o755, 0)
	setCap(t, none, capXattr(vfsCapRevision2))
	if hasFileCap(none, capSetuid) || hasFileCap(none, capSetgid) {
		t.Error("an empty permitted set grants a capability")
	}
	if hasFileCap(filepath.Join(dir, "missing"), capSetuid) {
		t.Error("a missing file has cap_setuid")
	}
}

func TestCheckHelperSetuidRoot(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	p := helperFile(t, dir, "newuidmap", 0o755|os.ModeSetuid, 0)
	t.Setenv("PATH", dir)
	h := CheckHelper("newuidmap")
	if !h.OK || h.How != "setuid root" || h.Path != p || h.Problem != "" || h.Name != "newuidmap" {
		t.Errorf("setuid root copy: %+v", h)
	}
}

func TestCheckHelperNotSetuid(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	p := helperFile(t, dir, "newgidmap", 0o755, 0)
	t.Setenv("PATH", dir)
	h := CheckHelper("newgidmap")
	if h.OK || h.Path != p {
		t.Fatalf("non-setuid copy accepted: %+v", h)
	}
	for _, want := range []string{"neither setuid nor has the cap_setgid file capability", "chmod u+s " + p, "setcap cap_setgid+ep " + p} {
		if !strings.Contains(h.Problem, want) {
			t.Errorf("problem %q does not contain %q", h.Problem, want)
		}
	}
}

func TestCheckHelperFileCapability(t *testing.T) {
	requireRoot(t)
	dir := capDir(t)
	uidmap := helperFile(t, dir, "newuidmap", 0o755, 0)
	setCap(t, uidmap, capXattr(vfsCapRevision2, capSetuid))
	gidmap := helperFile(t, dir, "newgidmap", 0o755, 0)
	// newgidmap needs cap_setgid: cap_setuid alone does not do.
	setCap(t, gidmap, capXattr(vfsCapRevision2, capSetuid))
	t.Setenv("PATH", dir)

	h := CheckHelper("newuidmap")
	if !h.OK || h.How != "file capability cap_setuid" || h.Path != uidmap {
		t.Errorf("newuidmap with cap_setuid: %+v", h)
	}
	h = CheckHelper("newgidmap")
	if h.OK || !strings.Contains(h.Problem, "cap_setgid") {
		t.Errorf("newgidmap with only cap_setuid: %+v", h)
	}
	setCap(t, gidmap, capXattr(vfsCapRevision2, capSetgid))
	h = CheckHelper("newgidmap")
	if !h.OK || h.How != "file capability cap_setgid" {
		t.Errorf("newgidmap with cap_setgid: %+v", h)
	}
}

func TestCheckHelperNotOwnedByRoot(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	p := helperFile(t, dir, "newuidmap", 0o755|os.ModeSetuid, 65534)
	t.Setenv("PATH", dir)
	h := CheckHelper("newuidmap")
	if h.OK {
		t.Fatalf("a copy owned by uid 65534 was accepted: %+v", h)
	}
	if !strings.Contains(h.Problem, p+" belongs to uid 65534, not root") {
		t.Errorf("problem %q does not name the owner", h.Problem)
	}
}

func TestCheckHelperMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	const name = "hutch-test-no-such-helper"
	h := CheckHelper(name)
	if h.OK || h.Path != "" {
		t.Fatalf("a missing helper: %+v", h)
	}
	if !strings.Contains(h.Problem, name+" is not installed") || !strings.Contains(h.Problem, "apt-get install uidmap") {
		t.Errorf("problem %q does not say it is not installed and how to install it", h.Problem)
	}
}

func TestCheckHelperFallsBackToSystemDirs(t *testing.T) {
	// Not on $PATH (e.g. a PATH without /usr/sbin): the usual directories are looked in.
	t.Setenv("PATH", t.TempDir())
	h := CheckHelper("newuidmap")
	var found string
	for _, d := range []string{"/usr/bin/", "/usr/sbin/", "/bin/"} {
		if _, err := os.Stat(d + "newuidmap"); err == nil {
			found = d + "newuidmap"
			break
		}
	}
	if found == "" {
		if h.OK || !strings.Contains(h.Problem, "not installed") {
			t.Errorf("no newuidmap on this machine, yet: %+v", h)
		}
		return
	}
	if h.Path != found {
		t.Errorf("Path = %q, want the system copy %q", h.Path, found)
	}
}

func TestCheckHelperNonExecutableOnPathIsPassedOver(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	helperFile(t, dir, "hutch-test-helper", 0o644, 0) // not executable: LookPath skips it
	t.Setenv("PATH", dir)
	h := CheckHelper("hutch-test-helper")
	if h.OK || !strings.Contains(h.Problem, "not installed") {
		t.Errorf("a non-executable file on PATH: %+v", h)
	}
}
