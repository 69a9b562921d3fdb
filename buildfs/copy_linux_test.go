package buildfs

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"hutch.dev/hutch/internal/inroot"
)

func lstat(t *testing.T, p string) (fs.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

func wantOwner(t *testing.T, p string, uid, gid int) {
	t.Helper()
	_, st := lstat(t, p)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Fatalf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
	}
}

func wantMode(t *testing.T, p string, mode uint32) {
	t.Helper()
	_, st := lstat(t, p)
	if st.Mode&0o7777 != mode {
		t.Fatalf("%s has mode %o, want %o", p, st.Mode&0o7777, mode)
	}
}

func wantNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists (%v)", p, err)
	}
}

func newContext(t *testing.T) string {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{
		"a.txt":          "A",
		"b.txt":          "B",
		"dir/one":        "1",
		"dir/sub/deep":   "D",
		"dir/link":       "->one",
		"dir/abslink":    "->/etc/passwd",
		"dir/emptydir/":  "",
		"other/two":      "2",
		"tool":           "#!/bin/sh\n",
		"dir/sub/.dot":   "dot",
		"dir/sub/skip.o": "o",
	})
	if err := os.Chmod(filepath.Join(ctx, "tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestCopyIntoLayout(t *testing.T) {
	ctx := newContext(t)
	tests := []struct {
		name     string
		patterns []string
		dest     string
		setup    map[string]string // in the rootfs first
		want     map[string]string // path in rootfs -> content ("" for a directory, "->x" for a symlink)
		absent   []string
	}{
		{"file to new name", []string{"a.txt"}, "/new.txt", nil, map[string]string{"new.txt": "A"}, nil},
		{"file to dir slash", []string{"a.txt"}, "/app/", nil, map[string]string{"app/a.txt": "A"}, nil},
		{"file to existing dir without slash", []string{"a.txt"}, "/app", map[string]string{"app/": ""}, map[string]string{"app/a.txt": "A"}, nil},
		{"file to deep new path", []string{"a.txt"}, "/x/y/z.txt", nil, map[string]string{"x/y/z.txt": "A"}, nil},
		{"file replaces a file", []string{"a.txt"}, "/f", map[string]string{"f": "old"}, map[string]string{"f": "A"}, nil},
		{"dir copies its contents", []string{"dir"}, "/app", nil, map[string]string{"app/one": "1", "app/sub/deep": "D", "app/link": "->one", "app/abslink": "->/etc/passwd", "app/emptydir": "", "app/sub/.dot": "dot"}, []string{"app/dir"}},
		{"dir into existing dir merges", []string{"dir"}, "/app/", map[string]string{"app/keep": "k", "app/one": "old"}, map[string]string{"app/keep": "k", "app/one": "1"}, nil},
		{"the context to /", []string{"."}, "/", nil, map[string]string{"a.txt": "A", "dir/one": "1", "other/two": "2"}, nil},
		{"several sources need a dir", []string{"a.txt", "b.txt", "other"}, "/multi", nil, map[string]string{"multi/a.txt": "A", "multi/b.txt": "B", "multi/two": "2"}, nil},
		{"glob", []string{"*.txt"}, "/g/", nil, map[string]string{"g/a.txt": "A", "g/b.txt": "B"}, nil},
		{"dest dot slash", []string{"a.txt"}, "/w/./", nil, map[string]string{"w/a.txt": "A"}, nil},
		{"symlink source file is followed at the top", []string{"dir/link"}, "/top", nil, map[string]string{"top": "1"}, nil},
		{"symlink source file into a dir keeps its name", []string{"dir/link"}, "/d/", nil, map[string]string{"d/link": "1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			tree(t, rootfs, tt.setup)
			srcs := mustSources(t, ctx, nil, tt.patterns...)
			if err := CopyInto(rootfs, tt.dest, srcs, CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.want {
				full := filepath.Join(rootfs, p)
				fi, _ := lstat(t, full)
				switch {
				case want == "":
					if !fi.IsDir() {
						t.Errorf("%s is not a directory", p)
					}
				case strings.HasPrefix(want, "->"):
					got, err := os.Readlink(full)
					if err != nil || got != want[2:] {
						t.Errorf("%s: link %q %v, want %q", p, got, err, want[2:])
					}
				default:
					if got := readFile(t, full); got != want {
						t.Errorf("%s: %q, want %q", p, got, want)
					}
				}
			}
			for _, p := range tt.absent {
				wantNotExist(t, filepath.Join(rootfs, p))
			}
		})
	}
}

func TestCopyIntoMetadata(t *testing.T) {
	ctx := newContext(t)
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(ctx, "tool"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(ctx, "dir/sub"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(filepath.Join(ctx, "dir/one"), 0o4750); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(filepath.Join(ctx, "dir/sub"), 0o1770); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(ctx, "tool"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(ctx, "dir/link"), 1234, 5678); err != nil {
		t.Fatal(err)
	}

	t.Run("default owner is 0:0, modes and mtimes kept", func(t *testing.T) {
		rootfs := t.TempDir()
		if err := CopyInto(rootfs, "/app/", mustSources(t, ctx, nil, "tool", "dir"), CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"app", "app/tool", "app/one", "app/sub", "app/sub/deep", "app/link"} {
			wantOwner(t, filepath.Join(rootfs, p), 0, 0)
		}
		wantMode(t, filepath.Join(rootfs, "app/tool"), 0o755)
		wantMode(t, filepath.Join(rootfs, "app/one"), 0o4750)
		wantMode(t, filepath.Join(rootfs, "app/sub"), 0o1770)
		wantMode(t, filepath.Join(rootfs, "app"), 0o755)
		for _, p := range []string{"app/tool", "app/sub"} {
			fi, _ := lstat(t, filepath.Join(rootfs, p))
			if !fi.ModTime().Equal(mtime) {
				t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), mtime)
			}
		}
	})
	t.Run("chown and chmod apply to everything, parents owned too", func(t *testing.T) {
		rootfs := t.TempDir()
		mode := fs.FileMode(0o640)
		o := CopyOptions{Chown: &IDPair{1000, 1001}, Chmod: &mode}
		if err := CopyInto(rootfs, "/new/parent/app/", mustSources(t, ctx, nil, "dir"), o); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"new", "new/parent", "new/parent/app", "new/parent/app/one", "new/parent/app/sub", "new/parent/app/sub/deep", "new/parent/app/link"} {
			wantOwner(t, filepath.Join(rootfs, p), 1000, 1001)
		}
		wantMode(t, filepath.Join(rootfs, "new"), 0o755)
		wantMode(t, filepath.Join(rootfs, "new/parent/app/one"), 0o640)
		wantMode(t, filepath.Join(rootfs, "new/parent/app/sub"), 0o640)
	})
	t.Run("existing directories keep their owner and mode", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"app/": ""})
		if err := os.Chmod(filepath.Join(rootfs, "app"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := CopyInto(rootfs, "/app/", mustSources(t, ctx, nil, "a.txt"), CopyOptions{Chown: &IDPair{7, 7}}); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, filepath.Join(rootfs, "app"), 0, 0)
		wantMode(t, filepath.Join(rootfs, "app"), 0o700)
		wantOwner(t, filepath.Join(rootfs, "app/a.txt"), 7, 7)
	})
	t.Run("setgid directory in the image does not leak its group", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"sg/": ""})
		if err := os.Chown(filepath.Join(rootfs, "sg"), 0, 99); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(rootfs, "sg"), 0o2775); err != nil {
			t.Fatal(err)
		}
		if err := CopyInto(rootfs, "/sg/", mustSources(t, ctx, nil, "a.txt"), CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, filepath.Join(rootfs, "sg/a.txt"), 0, 0)
	})
}

// bothResolvers runs f with openat2 and with pathrs-lite's fallback resolver.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	t.Run("openat2", f)
	t.Run("fallback", func(t *testing.T) {
		defer inroot.UseFallback()()
		f(t)
	})
}

// Paths in the image are resolved inside it: its symlinks are followed, never out.
func TestCopyIntoImageSymlinks(t *testing.T) { bothResolvers(t, testCopyIntoImageSymlinks) }

func testCopyIntoImageSymlinks(t *testing.T) {
	ctx := newContext(t)
	host := t.TempDir() // stands for anything outside the rootfs
	tree(t, host, map[string]string{"passwd": "host file"})
	tests := []struct {
		name  string
		setup map[string]string
		pats  []string
		dest  string
		want  map[string]string // in rootfs
	}{
		{"usrmerge relative", map[string]string{"usr/bin/": "", "bin": "->usr/bin"}, []string{"tool"}, "/bin/tool", map[string]string{"usr/bin/tool": "#!/bin/sh\n"}},
		{"absolute symlink means the rootfs", map[string]string{"usr/lib/": "", "lib": "->/usr/lib"}, []string{"a.txt"}, "/lib/", map[string]string{"usr/lib/a.txt": "A"}},
		{"absolute symlink to a host path stays inside", map[string]string{"evil": "->" + host}, []string{"a.txt"}, "/evil/", map[string]string{strings.TrimPrefix(host, "/") + "/a.txt": "A"}},
		{"dotdot symlink clamps", map[string]string{"up": "->../../../../../.."}, []string{"a.txt"}, "/up/x/", map[string]string{"x/a.txt": "A"}},
		{"dotdot in dest clamps", nil, []string{"a.txt"}, "/../../../x.txt", map[string]string{"x.txt": "A"}},
		{"dangling symlink on the way is created inside", map[string]string{"app": "->/srv/app"}, []string{"a.txt"}, "/app/", map[string]string{"srv/app/a.txt": "A"}},
		{"dangling symlink to host path", map[string]string{"app": "->" + host + "/newdir"}, []string{"a.txt"}, "/app/", map[string]string{strings.TrimPrefix(host, "/") + "/newdir/a.txt": "A"}},
		{"directory source through an image symlink", map[string]string{"usr/bin/": "", "bin": "->usr/bin"}, []string{"dir"}, "/bin", map[string]string{"usr/bin/one": "1", "usr/bin/sub/deep": "D"}},
		{"subdirectory of a dir source meets an image symlink", map[string]string{"app/real/": "", "app/sub": "->real"}, []string{"dir"}, "/app", map[string]string{"app/real/deep": "D", "app/one": "1"}},
		{"subdirectory meets an escaping image symlink", map[string]string{"app/sub": "->" + host}, []string{"dir"}, "/app", map[string]string{strings.TrimPrefix(host, "/") + "/deep": "D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			tree(t, rootfs, tt.setup)
			if err := CopyInto(rootfs, tt.dest, mustSources(t, ctx, nil, tt.pats...), CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.want {
				if got := readFile(t, filepath.Join(rootfs, p)); got != want {
					t.Errorf("%s: %q, want %q", p, got, want)
				}
			}
			// Nothing was written on the host outside the rootfs.
			entries, _ := os.ReadDir(host)
			if len(entries) != 1 || readFile(t, filepath.Join(host, "passwd")) != "host file" {
				t.Fatalf("the host directory changed: %v", entries)
			}
		})
	}
}

// An existing symlink where a file is written is replaced, not written through.
func TestCopyIntoReplacesLeafSymlink(t *testing.T) {
	ctx := newContext(t)
	host := t.TempDir()
	tree(t, host, map[string]string{"passwd": "host file"})
	rootfs := t.TempDir()
	tree(t, rootfs, map[string]string{"etc/passwd": "->" + filepath.Join(host, "passwd"), "etc/rel": "->../../../../" + filepath.Join(host, "passwd")})
	if err := CopyInto(rootfs, "/etc/passwd", mustSources(t, ctx, nil, "a.txt"), CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(rootfs, "/etc/rel", "", []byte("heredoc"), CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(host, "passwd")); got != "host file" {
		t.Fatalf("wrote through the symlink: host file now %q", got)
	}
	fi, _ := lstat(t, filepath.Join(rootfs, "etc/passwd"))
	if !fi.Mode().IsRegular() || readFile(t, filepath.Join(rootfs, "etc/passwd")) != "A" {
		t.Fatal("etc/passwd not replaced")
	}
	if readFile(t, filepath.Join(rootfs, "etc/rel")) != "heredoc" {
		t.Fatal("etc/rel not replaced")
	}
}

func TestCopyIntoErrors(t *testing.T) {
	ctx := newContext(t)
	t.Run("fifo in the context", func(t *testing.T) {
		c := t.TempDir()
		tree(t, c, map[string]string{"d/ok": "ok"})
		if err := unix.Mkfifo(filepath.Join(c, "d/pipe"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := CopyInto(t.TempDir(), "/x/", mustSources(t, c, nil, "d"), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(c, "d/pipe")) || !strings.Contains(err.Error(), "fifo") {
			t.Fatalf("got %v", err)
		}
		// An ignored fifo is no problem.
		ign, _ := NewIgnore("test", []string{"d/pipe"})
		if err := CopyInto(t.TempDir(), "/x/", mustSources(t, c, ign, "d"), CopyOptions{Ignore: ign}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("socket in the context", func(t *testing.T) {
		c := t.TempDir()
		l, err := net.Listen("unix", filepath.Join(c, "sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		err = CopyInto(t.TempDir(), "/x/", mustSources(t, c, nil, "."), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), "sock") || !strings.Contains(err.Error(), "socket") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("directory over a file", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"app": "file"})
		err := CopyInto(rootfs, "/app", mustSources(t, ctx, nil, "dir"), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("file over a directory", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"app/sub/x": "x"})
		err := CopyInto(rootfs, "/app/", mustSources(t, ctx, nil, "dir/sub/deep", "a.txt"), CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := t.TempDir()
		tree(t, c, map[string]string{"sub": "a file named sub"})
		err = CopyInto(rootfs, "/app/", mustSources(t, c, nil, "sub"), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), "cannot replace the directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("parent is a file", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"f": "file"})
		err := CopyInto(rootfs, "/f/x/", mustSources(t, ctx, nil, "a.txt"), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), "/f") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("symlink loop in the image", func(t *testing.T) {
		rootfs := t.TempDir()
		tree(t, rootfs, map[string]string{"a": "->b", "b": "->a"})
		err := CopyInto(rootfs, "/a/x/", mustSources(t, ctx, nil, "a.txt"), CopyOptions{})
		if err == nil {
			t.Fatal("a symlink loop was followed")
		}
	})
	t.Run("missing rootfs", func(t *testing.T) {
		err := CopyInto(filepath.Join(t.TempDir(), "none"), "/", mustSources(t, ctx, nil, "a.txt"), CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), "none") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCopyIntoIgnore(t *testing.T) {
	ctx := newContext(t)
	ign, err := NewIgnore("test", []string{"dir/sub/*.o", "dir/emptydir", "dir/sub", "!dir/sub/deep"})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := CopyInto(rootfs, "/app", mustSources(t, ctx, ign, "dir"), CopyOptions{Ignore: ign}); err != nil {
		t.Fatal(err)
	}
	wantNotExist(t, filepath.Join(rootfs, "app/sub/skip.o"))
	wantNotExist(t, filepath.Join(rootfs, "app/sub/.dot"))
	wantNotExist(t, filepath.Join(rootfs, "app/emptydir"))
	if readFile(t, filepath.Join(rootfs, "app/sub/deep")) != "D" || readFile(t, filepath.Join(rootfs, "app/one")) != "1" {
		t.Fatal("kept files missing")
	}
}

// Ignore patterns see a directory reached through a symlink under its real name, as
// Docker's context (which holds the real files) would.
func TestCopyIntoIgnoreThroughSymlink(t *testing.T) {
	c := t.TempDir()
	tree(t, c, map[string]string{"real/secret": "s", "real/ok": "o", "alias": "->real"})
	ign, _ := NewIgnore("test", []string{"real/secret"})
	rootfs := t.TempDir()
	if err := CopyInto(rootfs, "/x", mustSources(t, c, ign, "alias"), CopyOptions{Ignore: ign}); err != nil {
		t.Fatal(err)
	}
	wantNotExist(t, filepath.Join(rootfs, "x/secret"))
	if readFile(t, filepath.Join(rootfs, "x/ok")) != "o" {
		t.Fatal("x/ok")
	}
}

func TestCopyIntoHardLinks(t *testing.T) {
	c := t.TempDir()
	tree(t, c, map[string]string{"d/a": "same"})
	if err := os.Link(filepath.Join(c, "d/a"), filepath.Join(c, "d/b")); err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := CopyInto(rootfs, "/x", mustSources(t, c, nil, "d"), CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(rootfs, "x/a")) != "same" || readFile(t, filepath.Join(rootfs, "x/b")) != "same" {
		t.Fatal("hard linked files not copied")
	}
}

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name  string
		setup map[string]string
		dest  string
		fname string
		want  string // path in rootfs
	}{
		{"dest is the file", nil, "/etc/conf", "ignored", "etc/conf"},
		{"dest slash", nil, "/etc/", "conf", "etc/conf"},
		{"existing dir", map[string]string{"etc/": ""}, "/etc", "conf", "etc/conf"},
		{"through an image symlink", map[string]string{"usr/etc/": "", "etc": "->/usr/etc"}, "/etc/", "conf", "usr/etc/conf"},
		{"replaces a file", map[string]string{"etc/conf": "old"}, "/etc/conf", "x", "etc/conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			tree(t, rootfs, tt.setup)
			if err := WriteFile(rootfs, tt.dest, tt.fname, []byte("data\n"), CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(rootfs, tt.want)
			if readFile(t, p) != "data\n" {
				t.Fatal("content")
			}
			wantMode(t, p, 0o644)
			wantOwner(t, p, 0, 0)
		})
	}
	rootfs := t.TempDir()
	mode := fs.FileMode(0o755)
	if err := WriteFile(rootfs, "/usr/local/bin/", "run.sh", []byte("#!/bin/sh\n"), CopyOptions{Chmod: &mode, Chown: &IDPair{5, 6}}); err != nil {
		t.Fatal(err)
	}
	wantMode(t, filepath.Join(rootfs, "usr/local/bin/run.sh"), 0o755)
	wantOwner(t, filepath.Join(rootfs, "usr/local/bin/run.sh"), 5, 6)
	wantOwner(t, filepath.Join(rootfs, "usr/local"), 5, 6)
	for _, bad := range []string{"", "..", "a/b"} {
		if err := WriteFile(rootfs, "/tmp/", bad, nil, CopyOptions{}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}
