package inroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRel(t *testing.T) {
	for in, want := range map[string]string{
		"": ".", "/": ".", ".": ".", "./a/": "a", "/a/b/../c": "a/c", "../../x": "x", "a//b/.": "a/b", "/..": ".",
	} {
		if got := Rel(in); got != want {
			t.Errorf("Rel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every path is resolved inside the root: symlinks (absolute, relative, with `..`) and
// `..` itself never leave it.
func TestOpenFileStaysInside(t *testing.T) { bothResolvers(t, testOpenFileStaysInside) }

func testOpenFileStaysInside(t *testing.T) {
	host, check := hostDir(t)
	root := t.TempDir()
	tree(t, root, map[string]string{
		"etc/passwd":  "root file",
		"usr/bin/sh":  "shell",
		"bin":         "->usr/bin",
		"abs":         "->" + host,
		"rel":         "->../../../../../../../.." + host,
		"up":          "->../../../../..",
		"chain":       "->abs",
		"etc/hostlnk": "->" + filepath.Join(host, "secret"),
		"loop1":       "->loop2",
		"loop2":       "->loop1",
		"magic":       "->/proc/self/root" + host,
	})
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(rel string) (string, error) {
		f, err := r.OpenFile(rel, unix.O_RDONLY)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b := make([]byte, 100)
		n, _ := f.Read(b)
		return string(b[:n]), nil
	}
	for rel, want := range map[string]string{
		"etc/passwd":                 "root file",
		"/bin/sh":                    "shell",
		"../../../etc/passwd":        "root file",
		"up/etc/passwd":              "root file",
		"up/up/up/bin/../etc/passwd": "root file",
		"etc/../../../../usr/bin/sh": "shell",
		"abs/../etc/passwd":          "root file",
	} {
		got, err := read(rel)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", rel, got, err, want)
		}
	}
	// What points at the host leads to the same path inside the root, where there is
	// nothing.
	for _, rel := range []string{"abs/secret", "rel/secret", "chain/secret", "etc/hostlnk", "up" + host + "/secret"} {
		if got, err := read(rel); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %q, %v; want not found inside the root", rel, got, err)
		}
	}
	if _, err := read("loop1/x"); err == nil {
		t.Error("a symlink loop was resolved")
	}
	if got, err := read("magic/secret"); err == nil {
		t.Errorf("a path through a magic link was resolved: %q", got)
	}
	// Once the root has the host path, it is the root's copy that is opened.
	tree(t, root, map[string]string{strings.TrimPrefix(host, "/") + "/secret": "the root's own"})
	for _, rel := range []string{"abs/secret", "rel/secret", "etc/hostlnk"} {
		if got, err := read(rel); err != nil || got != "the root's own" {
			t.Errorf("%s: %q, %v; want the root's own file", rel, got, err)
		}
	}
	check()
}

func TestOpenFileRefusesCreateAndNoFollow(t *testing.T) {
	r, err := OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, flags := range []int{unix.O_WRONLY | unix.O_CREAT, unix.O_RDONLY | unix.O_NOFOLLOW} {
		if f, err := r.OpenFile("x", flags); err == nil {
			f.Close()
			t.Errorf("flags %#x accepted", flags)
		}
	}
}

func TestOpenRootErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := OpenRoot(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v", err)
	}
	r, err := OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.OpenFile("no/such", unix.O_RDONLY)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/no/such ("+r.Dir()+"/no/such)") {
		t.Fatalf("the error should name the path in the root and on the host: %v", err)
	}
}

func TestMkdirAll(t *testing.T) { bothResolvers(t, testMkdirAll) }

func testMkdirAll(t *testing.T) {
	host, check := hostDir(t)
	root := t.TempDir()
	tree(t, root, map[string]string{
		"usr/lib/":  "",
		"lib":       "->usr/lib",
		"dangling":  "->/srv/app",
		"evil":      "->" + host + "/newdir",
		"file":      "a file",
		"loop":      "->loop",
		"up":        "->../../..",
		"etc/conf/": "",
	})
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	var made []string
	mkdir := func(rel string) error {
		f, err := r.MkdirAll(rel, func(d *os.File, rel string) error {
			made = append(made, rel)
			return nil
		})
		if err == nil {
			f.Close()
		}
		return err
	}
	if err := mkdir("a/b/c"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(made, ",") != "a,a/b,a/b/c" {
		t.Errorf("made was called for %v, want a, a/b, a/b/c", made)
	}
	for rel, where := range map[string]string{
		"a/b/c":      "a/b/c",
		"lib/x/y":    "usr/lib/x/y",
		"dangling/d": "srv/app/d",
		"evil/e":     strings.TrimPrefix(host, "/") + "/newdir/e",
		"up/u":       "u",
		"etc/conf":   "etc/conf",
		"/../../z/.": "z",
	} {
		if err := mkdir(rel); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		fi, err := os.Stat(filepath.Join(root, where))
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s: %s not made: %v", rel, where, err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %o, want 0755 whatever the umask", where, fi.Mode().Perm())
		}
	}
	for _, rel := range []string{"file/x", "loop/x"} {
		if err := mkdir(rel); err == nil {
			t.Errorf("%s: made", rel)
		}
	}
	check()
}

func TestFollowLeaf(t *testing.T) { bothResolvers(t, testFollowLeaf) }

func testFollowLeaf(t *testing.T) {
	host, check := hostDir(t)
	root := t.TempDir()
	tree(t, root, map[string]string{
		"data/":      "",
		"data/f":     "file",
		"dirlink":    "->data",
		"filelink":   "->/data/f",
		"chain":      "->dirlink/f",
		"hostdir":    "->" + host,
		"hostfile":   "->" + host + "/secret",
		"hostrel":    "->../../../../../../.." + host + "/secret",
		"dangling":   "->/data/new",
		"loop":       "->loop",
		"data/inner": "->../data/f",
	})
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		rel, want string // want: the final root-relative path
		kind      uint32 // 0: nothing there
	}{
		{"data", "data", unix.S_IFDIR},
		{"data/f", "data/f", unix.S_IFREG},
		{"dirlink", "data", unix.S_IFDIR},
		{"filelink", "data/f", unix.S_IFREG},
		{"chain", "dirlink/f", unix.S_IFREG}, // lexical: dirlink is followed when used
		{"data/inner", "data/f", unix.S_IFREG},
		{"dangling", "data/new", 0},
		{"/", ".", unix.S_IFDIR},
		{"data/missing", "data/missing", 0},
	}
	for _, tt := range tests {
		l, err := r.FollowLeaf(tt.rel)
		if err != nil {
			t.Errorf("%s: %v", tt.rel, err)
			continue
		}
		var kind uint32
		if l.Stat != nil {
			kind = l.Stat.Mode & unix.S_IFMT
		}
		if l.Rel != tt.want || kind != tt.kind {
			t.Errorf("%s: led to %s (%s), want %s (%o)", tt.rel, l.Rel, Kind(kind), tt.want, tt.kind)
		}
		l.Close()
	}
	// The parent of what a host link names does not exist in the root: an error, the
	// same whether the host has the path or not.
	for _, rel := range []string{"hostdir", "hostfile", "hostrel"} {
		if l, err := r.FollowLeaf(rel); err == nil || !errors.Is(err, fs.ErrNotExist) {
			if l != nil {
				l.Close()
			}
			t.Errorf("%s: %v, want not found inside the root", rel, err)
		}
	}
	if _, err := r.FollowLeaf("loop"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("loop: %v", err)
	}
	if _, err := r.FollowLeaf("data/f/x"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("through a file: %v", err)
	}
	check()
}

// A directory on the way swapped for a symlink to the host, as fast as the machine
// allows, never makes a resolution leave the root.
func TestResolverRace(t *testing.T) { bothResolvers(t, testResolverRace) }

func testResolverRace(t *testing.T) {
	host, check := hostDir(t)
	root := t.TempDir()
	tree(t, root, map[string]string{"race/dir/": "", "race/lnk": "->" + host})
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := startSwapper(t, filepath.Join(root, "race"), "dir", "lnk")
	for i := 0; i < 2000; i++ {
		if f, err := r.MkdirAll("race/dir/sub", nil); err == nil {
			if cf, err := Create(int(f.Fd()), "f"); err == nil {
				cf.Close()
			}
			f.Close()
		}
		if f, err := r.OpenFile("race/dir/secret", unix.O_RDONLY); err == nil {
			b := make([]byte, 64)
			n, _ := f.Read(b)
			f.Close()
			if string(b[:n]) == "host secret" {
				t.Fatal("read the host's secret through the swapped link")
			}
		}
	}
	s.halt()
	if s.swaps.Load() == 0 {
		t.Fatal("the swapper never swapped")
	}
	check()
}
