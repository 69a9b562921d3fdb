package inroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openDirT(t *testing.T, dir string) *os.File {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// The primitives never follow a symlink at the entry they work on.
func TestPrimitivesDoNotFollow(t *testing.T) {
	host, check := hostDir(t)
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"tofile": "->" + filepath.Join(host, "secret"),
		"todir":  "->" + host,
		"file":   "content",
		"sub/":   "",
	})
	d := openDirT(t, dir)
	fd := int(d.Fd())

	st, ok, err := Lstat(fd, "tofile")
	if err != nil || !ok || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("Lstat of a symlink: %v %v %s", err, ok, Kind(st.Mode))
	}
	if _, ok, err := Lstat(fd, "none"); ok || err != nil {
		t.Fatalf("Lstat of nothing: %v %v", ok, err)
	}
	if target, err := Readlink(fd, "todir"); err != nil || target != host {
		t.Fatalf("Readlink: %q %v", target, err)
	}
	_, err = Readlink(fd, "file")
	wantErrno(t, err, unix.EINVAL)

	_, err = Create(fd, "tofile")
	wantErrno(t, err, unix.EEXIST)
	_, err = MkdirOpen(fd, "todir")
	wantErrno(t, err, unix.EEXIST)
	_, err = OpenDir(fd, "todir") // O_DIRECTORY|O_NOFOLLOW on a symlink
	wantErrno(t, err, unix.ENOTDIR)
	_, _, err = OpenRead(fd, "tofile")
	wantErrno(t, err, unix.ELOOP)
	_, err = Mkfifo(fd, "tofile")
	wantErrno(t, err, unix.EEXIST)

	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := SetTimesAt(fd, "tofile", old); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(filepath.Join(dir, "tofile"))
	if !fi.ModTime().Equal(old) {
		t.Errorf("SetTimesAt did not set the link's own time: %v", fi.ModTime())
	}
	if err := RemoveAll(fd, "todir"); err != nil {
		t.Fatal(err)
	}
	tree(t, dir, map[string]string{"tree/a/b": "x", "tree/link": "->" + host, "tree/a/hostlink": "->" + host + "/sub"})
	if err := RemoveAll(fd, "tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "tree")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tree not removed: %v", err)
	}
	if err := RemoveAll(fd, "none"); err != nil {
		t.Fatalf("RemoveAll of nothing: %v", err)
	}
	check()
}

func TestPrimitivesMake(t *testing.T) {
	dir := t.TempDir()
	d := openDirT(t, dir)
	fd := int(d.Fd())
	old := unix.Umask(0)
	defer unix.Umask(old)

	f, err := Create(fd, "new")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	if err := SetTimes(f, mtime); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, _ := os.Lstat(filepath.Join(dir, "new"))
	if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) || readFile(t, filepath.Join(dir, "new")) != "data" {
		t.Fatalf("Create: %v %v", fi.Mode(), fi.ModTime())
	}
	_, err = Create(fd, "new")
	wantErrno(t, err, unix.EEXIST)

	sub, err := MkdirOpen(fd, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Chmod(0o751); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if fi, _ := os.Lstat(filepath.Join(dir, "sub")); !fi.IsDir() || fi.Mode().Perm() != 0o751 {
		t.Fatalf("MkdirOpen: %v", fi.Mode())
	}

	// A fifo is opened without blocking, whoever writes to it.
	done := make(chan error, 1)
	go func() {
		ff, err := Mkfifo(fd, "pipe")
		if err == nil {
			err = ff.Chmod(0o640)
			ff.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Mkfifo blocked")
	}
	in, st, err := OpenRead(fd, "pipe")
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o640 {
		t.Fatalf("OpenRead of a fifo says %s %o", Kind(st.Mode), st.Mode&0o777)
	}
}
