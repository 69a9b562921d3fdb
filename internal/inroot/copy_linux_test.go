package inroot

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// copyEntry copies src/name to dst/dname with c.
func copyEntry(t *testing.T, c *Copy, src, name, dst, dname string) error {
	t.Helper()
	s, d := openDirT(t, src), openDirT(t, dst)
	defer c.Close()
	return c.Entry(s, name, d, dname)
}

func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	tree(t, src, map[string]string{
		"d/file":          "content",
		"d/sub/deep":      "deep",
		"d/empty/":        "",
		"d/abs":           "->/etc/passwd",
		"d/rel":           "->../../../../outside",
		"d/dangling":      "->nowhere",
		"d/ro/inside":     "in a read-only directory",
		"d/tool":          "#!/bin/sh\n",
		"d/links/a":       "linked",
		"d/sub/.hidden":   "h",
		"d/sub/other/one": "1",
	})
	old := unix.Umask(0o077) // the copy's modes do not depend on the umask
	defer unix.Umask(old)
	p := func(rel string) string { return filepath.Join(src, rel) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Link(p("d/links/a"), p("d/links/b")))
	must(os.Link(p("d/links/a"), p("d/sub/c")))
	must(unix.Mkfifo(p("d/pipe"), 0o620))
	must(unix.Chmod(p("d/pipe"), 0o620))
	must(unix.Chmod(p("d/tool"), 0o4755))
	must(unix.Chmod(p("d/sub"), 0o1770))
	must(os.Chmod(p("d/file"), 0o640))
	// A sparse file: 1 GiB apparent, 2 bytes of data.
	sp, err := os.OpenFile(p("d/sparse"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	must(err)
	_, err = sp.WriteAt([]byte("a"), 0)
	must(err)
	_, err = sp.WriteAt([]byte("z"), 1<<30-1)
	must(err)
	sp.Close()
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, rel := range []string{"d/file", "d/sub/deep", "d/sub", "d/empty", "d", "d/pipe"} {
		must(os.Chtimes(p(rel), mtime, mtime))
	}
	must(unix.Lutimes(p("d/abs"), []unix.Timeval{unix.NsecToTimeval(mtime.UnixNano()), unix.NsecToTimeval(mtime.UnixNano())}))
	must(os.Chmod(p("d/ro"), 0o555))

	c := &Copy{KeepSpecialBits: true}
	must(copyEntry(t, c, src, "d", dst, "copy"))
	q := func(rel string) string { return filepath.Join(dst, "copy", rel) }
	for rel, want := range map[string]string{"file": "content", "sub/deep": "deep", "ro/inside": "in a read-only directory", "links/b": "linked", "sub/.hidden": "h", "sub/other/one": "1"} {
		if got := readFile(t, q(rel)); got != want {
			t.Errorf("%s: %q, want %q", rel, got, want)
		}
	}
	for rel, want := range map[string]string{"abs": "/etc/passwd", "rel": "../../../../outside", "dangling": "nowhere"} {
		if got, err := os.Readlink(q(rel)); err != nil || got != want {
			t.Errorf("%s: link to %q (%v), want %q", rel, got, err, want)
		}
	}
	for rel, want := range map[string]os.FileMode{
		"file": 0o640, "tool": 0o755 | os.ModeSetuid, "sub": 0o770 | os.ModeSticky | os.ModeDir, "ro": 0o555 | os.ModeDir,
		"pipe": 0o620 | os.ModeNamedPipe, "empty": 0o755 | os.ModeDir, "sub/deep": 0o644,
	} {
		if fi, err := os.Lstat(q(rel)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", rel, fi.Mode(), err, want)
		}
	}
	for _, rel := range []string{"file", "sub/deep", "sub", "empty", ".", "pipe", "abs"} {
		if fi, err := os.Lstat(q(rel)); err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v (%v), want %v", rel, fi.ModTime(), err, mtime)
		}
	}
	var a, b, cc syscall.Stat_t
	must(syscall.Lstat(q("links/a"), &a))
	must(syscall.Lstat(q("links/b"), &b))
	must(syscall.Lstat(q("sub/c"), &cc))
	if a.Ino != b.Ino || a.Ino != cc.Ino {
		t.Error("hard links in the source are not hard links in the copy")
	}
	var sst syscall.Stat_t
	must(syscall.Stat(q("sparse"), &sst))
	if sst.Size != 1<<30 || sst.Blocks*512 > 1<<20 {
		t.Errorf("the sparse file has %d bytes in %d blocks: its hole was filled", sst.Size, sst.Blocks)
	}
	f, err := os.Open(q("sparse"))
	must(err)
	buf := make([]byte, 1)
	_, _ = f.ReadAt(buf, 1<<30-1)
	f.Close()
	if string(buf) != "z" {
		t.Errorf("the sparse file's last byte is %q", buf)
	}

	// Without KeepSpecialBits only the permission bits are copied.
	c = &Copy{}
	must(copyEntry(t, c, p("d"), "tool", dst, "tool"))
	if fi, _ := os.Lstat(filepath.Join(dst, "tool")); fi.Mode() != 0o755 {
		t.Errorf("tool: mode %v, want 0755 without setuid", fi.Mode())
	}
}

func TestCopyContentsMerge(t *testing.T) {
	host, check := hostDir(t)
	src, dst := t.TempDir(), t.TempDir()
	tree(t, src, map[string]string{"keep/new": "new", "file": "from source", "tofile": "replaces a link", "linked": "new content"})
	tree(t, dst, map[string]string{
		"keep/old":   "old",
		"file":       "old content",
		"tofile":     "->" + filepath.Join(host, "secret"),
		"linked":     "shared",
		"other-link": "",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dst, "other-link")))
	must(os.Link(filepath.Join(dst, "linked"), filepath.Join(dst, "other-link")))
	must(os.Chmod(filepath.Join(dst, "keep"), 0o700))
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(dst, "keep"), mtime, mtime))
	c := &Copy{}
	s, d := openDirT(t, src), openDirT(t, dst)
	must(c.Contents(s, d))
	for rel, want := range map[string]string{"keep/new": "new", "keep/old": "old", "file": "from source", "tofile": "replaces a link", "linked": "new content", "other-link": "shared"} {
		if got := readFile(t, filepath.Join(dst, rel)); got != want {
			t.Errorf("%s: %q, want %q", rel, got, want)
		}
	}
	fi, _ := os.Lstat(filepath.Join(dst, "keep"))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("an existing directory's mode changed to %v", fi.Mode())
	}
	if fi, _ := os.Lstat(filepath.Join(dst, "tofile")); !fi.Mode().IsRegular() {
		t.Error("the symlink at a file's place was not replaced")
	}
	check()
}

func TestCopyConflicts(t *testing.T) {
	host, check := hostDir(t)
	src := t.TempDir()
	tree(t, src, map[string]string{"dir/x": "x", "file": "f"})
	tests := []struct {
		name, entry string
		dst         map[string]string
		want        string
	}{
		{"a directory over a symlink to the host", "dir", map[string]string{"dir": "->" + host}, "DST/dir, which is a symlink (a symlink there is not followed)"},
		{"a directory over a file", "dir", map[string]string{"dir": "file"}, "DST/dir, which is a regular file"},
		{"a file over a directory", "file", map[string]string{"file/inside": "x"}, "cannot replace the directory DST/file with the regular file SRC/file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := t.TempDir()
			tree(t, dst, tt.dst)
			c := &Copy{
				SrcName: func(rel string) string { return "SRC/" + rel },
				DstName: func(rel string) string { return "DST/" + rel },
			}
			err := copyEntry(t, c, src, tt.entry, dst, tt.entry)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			check()
		})
	}
}

func TestCopySpecialFiles(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	tree(t, src, map[string]string{"d/ok": "ok"})
	l, err := net.Listen("unix", filepath.Join(src, "d/sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The unit tests run as root (see docs/development.md), which may make a device.
	if err := unix.Mknod(filepath.Join(src, "d/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("making a device node (the unit tests need root): %v", err)
	}
	c := &Copy{}
	if err := copyEntry(t, c, src, "d", dst, "d"); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, s := range c.Skipped {
		got += s.Rel + "=" + s.Kind + ";"
	}
	if got != "d/null=character device;d/sock=socket;" {
		t.Errorf("Skipped: %s", got)
	}
	if readFile(t, filepath.Join(dst, "d/ok")) != "ok" {
		t.Error("d/ok not copied")
	}
	for _, n := range []string{"d/null", "d/sock"} {
		if _, err := os.Lstat(filepath.Join(dst, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was made (%v)", n, err)
		}
	}
}

func TestCopyIntoItself(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/f": "f"})
	c := &Copy{}
	a := openDirT(t, filepath.Join(dir, "a"))
	err := c.Entry(openDirT(t, dir), "a", a, "copy")
	if err == nil || !strings.Contains(err.Error(), "into itself") {
		t.Fatalf("got %v", err)
	}
}

// A tree deeper than PATH_MAX is copied: nothing walks a whole path.
func TestCopyDeep(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	name := strings.Repeat("d", 60)
	d := openDirT(t, src)
	fd := int(d.Fd())
	const depth = 120 // 120 * 61 bytes > PATH_MAX
	var keep []*os.File
	for i := 0; i < depth; i++ {
		sub, err := MkdirOpen(fd, name)
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, sub)
		fd = int(sub.Fd())
	}
	f, err := Create(fd, "leaf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("bottom"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, k := range keep {
		k.Close()
	}
	c := &Copy{}
	if err := copyEntry(t, c, src, name, dst, name); err != nil {
		t.Fatal(err)
	}
	fd = int(openDirT(t, dst).Fd())
	for i := 0; i < depth; i++ {
		sub, err := OpenDir(fd, name)
		if err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
		defer sub.Close()
		fd = int(sub.Fd())
	}
	in, _, err := OpenRead(fd, "leaf")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b := make([]byte, 10)
	n, _ := in.Read(b)
	if string(b[:n]) != "bottom" {
		t.Fatalf("leaf: %q", b[:n])
	}
}

// The source swapping a directory with a symlink to the host while it is copied never
// brings a host file into the copy.
func TestCopyRaceSource(t *testing.T) {
	host, check := hostDir(t)
	src := t.TempDir()
	tree(t, src, map[string]string{"race/lnk": "->" + host})
	for i := 0; i < 50; i++ {
		tree(t, src, map[string]string{filepath.Join("race/dir", "f"+string(rune('a'+i%26))+string(rune('a'+i/26))): "container file"})
	}
	s := startSwapper(t, filepath.Join(src, "race"), "dir", "lnk")
	for i := 0; i < 200; i++ {
		dst := t.TempDir()
		c := &Copy{}
		_ = copyEntry(t, c, filepath.Join(src, "race"), "dir", dst, "out")
		_ = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && readFile(t, p) != "container file" {
				t.Fatalf("%s holds %q: a host file was read into the copy", p, readFile(t, p))
			}
			if err == nil && (fi.Name() == "secret" || fi.Name() == "sub") {
				t.Fatalf("%s: the host directory's entries were copied", p)
			}
			return nil
		})
	}
	s.halt()
	if s.swaps.Load() == 0 {
		t.Fatal("the swapper never swapped")
	}
	check()
}

// The destination swapping a directory with a symlink to the host while it is written
// never gets a file written, or a mode or time set, in the host directory.
func TestCopyRaceDestination(t *testing.T) {
	host, check := hostDir(t)
	src, dst := t.TempDir(), t.TempDir()
	for i := 0; i < 50; i++ {
		tree(t, src, map[string]string{filepath.Join("tree", "f"+string(rune('a'+i%26))+string(rune('a'+i/26))): "x"})
	}
	tree(t, src, map[string]string{"tree/sub/secret": "overwrite?"})
	if err := os.Chmod(filepath.Join(src, "tree"), 0o777); err != nil {
		t.Fatal(err)
	}
	tree(t, dst, map[string]string{"race/dir/": "", "race/lnk": "->" + host})
	s := startSwapper(t, filepath.Join(dst, "race"), "dir", "lnk")
	r, err := OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 200; i++ {
		// As cp does: resolve the destination once in the root, then by descriptor.
		d, err := r.OpenFile("race/dir", unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue // the link was there: inside the root it leads nowhere
		}
		in, _ := os.Open(filepath.Join(src, "tree"))
		c := &Copy{}
		_ = c.Contents(in, d)
		c.Close()
		in.Close()
		d.Close()
	}
	s.halt()
	if s.swaps.Load() == 0 {
		t.Fatal("the swapper never swapped")
	}
	check()
}
