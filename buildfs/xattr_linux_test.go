package buildfs

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// capNetRaw is a security.capability value (VFS_CAP_REVISION_2) granting cap_net_raw+ep.
func capNetRaw() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000000|0x000001) // revision 2, effective
	binary.LittleEndian.PutUint32(b[4:], 1<<unix.CAP_NET_RAW) // permitted, low word
	return b
}

func getXattr(t *testing.T, p, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		t.Fatalf("%s on %s: %v", name, p, err)
	}
	return buf[:n]
}

func TestXattrsCopiedAndDigested(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"d/ping": "elf", "d/sub/f": "f"})
	ping := filepath.Join(ctx, "d/ping")
	if err := unix.Setxattr(ping, "user.note", []byte("hello"), 0); err != nil {
		t.Fatalf("this file system has no user xattrs: %v", err)
	}
	if err := unix.Setxattr(ping, "security.capability", capNetRaw(), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(ctx, "d/sub"), "user.dir", []byte("dv"), 0); err != nil {
		t.Fatal(err)
	}
	before := digestOf(t, ctx, nil, "d")

	rootfs := t.TempDir()
	if err := CopyInto(rootfs, "/app", mustSources(t, ctx, nil, "d"), CopyOptions{Chown: &IDPair{1, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := getXattr(t, filepath.Join(rootfs, "app/ping"), "user.note"); string(got) != "hello" {
		t.Fatalf("user.note %q", got)
	}
	// Set after chown, which would have cleared it.
	if got := getXattr(t, filepath.Join(rootfs, "app/ping"), "security.capability"); !bytes.Equal(got, capNetRaw()) {
		t.Fatalf("security.capability %x", got)
	}
	if got := getXattr(t, filepath.Join(rootfs, "app/sub"), "user.dir"); string(got) != "dv" {
		t.Fatalf("user.dir %q", got)
	}

	if err := unix.Setxattr(ping, "user.note", []byte("HELLO"), 0); err != nil {
		t.Fatal(err)
	}
	if digestOf(t, ctx, nil, "d") == before {
		t.Fatal("an extended attribute change left the digest alone")
	}
	if err := unix.Setxattr(ping, "user.note", []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if digestOf(t, ctx, nil, "d") != before {
		t.Fatal("restoring the attribute did not restore the digest")
	}
}

func TestXattrsExtracted(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, PAXRecords: map[string]string{"SCHILY.xattr.user.d": "dv"}}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "dir/ping", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3, Uid: 5, PAXRecords: map[string]string{
		"SCHILY.xattr.security.capability": string(capNetRaw()),
		"SCHILY.xattr.user.k":              "v",
		"SCHILY.xattr.security.selinux":    "system_u:object_r:bin_t:s0",
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("elf")); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	rootfs := t.TempDir()
	if _, err := ExtractArchive(rootfs, "/", writeTemp(t, buf.Bytes()), CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(rootfs, "dir/ping")
	if !bytes.Equal(getXattr(t, p, "security.capability"), capNetRaw()) || string(getXattr(t, p, "user.k")) != "v" {
		t.Fatal("xattrs not extracted")
	}
	if string(getXattr(t, filepath.Join(rootfs, "dir"), "user.d")) != "dv" {
		t.Fatal("directory xattr not extracted")
	}
	if _, err := unix.Lgetxattr(p, "security.selinux", make([]byte, 64)); err == nil {
		if v := getXattr(t, p, "security.selinux"); string(v) == "system_u:object_r:bin_t:s0" {
			t.Fatal("the archive's selinux label was applied")
		}
	}
	wantOwner(t, p, 5, 0)
	os.Remove(p)
}
