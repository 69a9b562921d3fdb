package container

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mkTree makes files under dir: "name" -> content; a name ending in "/" is a directory;
// content "->target" makes a symlink.
func mkTree(t *testing.T, dir string, spec map[string]string) {
	t.Helper()
	for name, content := range spec {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listTree describes what is under dir: "path" -> content, "path/" for a directory,
// "->target" for a symlink.
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "->" + target
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func show(m map[string]string) string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, " ")
}

// docker cp's rules, both ways.
func TestCopySemantics(t *testing.T) {
	hostSpec := map[string]string{"f": "F", "d/x": "X", "d/s/y": "Y", "lnk": "->f", "dlnk": "->d"}
	ctrSpec := map[string]string{"etc/": "", "data/old": "O", "bin/": "", "usrbin": "->/bin", "file": "C", "relbin": "->../../bin"}
	tests := []struct {
		name     string
		in       bool   // host -> container
		src, dst string // host paths relative to the host dir; container paths absolute
		want     map[string]string
		err      string
	}{
		{"file to a new name", true, "f", "/etc/new", map[string]string{"etc/new": "F"}, ""},
		{"file into a directory", true, "f", "/etc", map[string]string{"etc/f": "F"}, ""},
		{"file into a directory, slash", true, "f", "/etc/", map[string]string{"etc/f": "F"}, ""},
		{"file replaces a file", true, "f", "/file", map[string]string{"file": "F"}, ""},
		{"file into a missing directory", true, "f", "/nodir/", nil, "destination directory does not exist"},
		{"file under a missing parent", true, "f", "/nodir/f", nil, "parent directory does not exist"},
		{"file onto a file with a slash", true, "f", "/file/", nil, "not a directory"},
		{"dir to a new name", true, "d", "/new", map[string]string{"new/": "", "new/x": "X", "new/s/": "", "new/s/y": "Y"}, ""},
		{"dir into a directory", true, "d", "/etc", map[string]string{"etc/d/": "", "etc/d/x": "X", "etc/d/s/": "", "etc/d/s/y": "Y"}, ""},
		{"dir contents into a directory", true, "d/.", "/etc", map[string]string{"etc/x": "X", "etc/s/": "", "etc/s/y": "Y"}, ""},
		{"dir contents to a new name", true, "d/.", "/n", map[string]string{"n/": "", "n/x": "X", "n/s/": "", "n/s/y": "Y"}, ""},
		{"dir onto a file", true, "d", "/file", nil, "cannot copy the directory"},
		{"symlink copied as a symlink", true, "lnk", "/etc/", map[string]string{"etc/lnk": "->f"}, ""},
		{"symlink to dir followed with a slash", true, "dlnk/", "/etc/", map[string]string{"etc/dlnk/": "", "etc/dlnk/x": "X", "etc/dlnk/s/": "", "etc/dlnk/s/y": "Y"}, ""},
		{"destination symlink followed inside", true, "f", "/usrbin", map[string]string{"bin/f": "F"}, ""},
		{"relative destination symlink followed inside", true, "f", "/relbin/", map[string]string{"bin/f": "F"}, ""},
		{"missing source", true, "none", "/etc", nil, "no such file"},
		{"out: file", false, "/file", "got", map[string]string{"got": "C"}, ""},
		{"out: dir", false, "/data", "got", map[string]string{"got/": "", "got/old": "O"}, ""},
		{"out: symlink as a symlink", false, "/usrbin", "got", map[string]string{"got": "->/bin"}, ""},
		{"out: the root's contents", false, "/", "got", nil, ""},
		{"out: missing", false, "/none", "got", nil, "/none (in the container): no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, rootfs := t.TempDir(), t.TempDir()
			mkTree(t, host, hostSpec)
			mkTree(t, rootfs, ctrSpec)
			beforeHost, beforeCtr := listTree(t, host), listTree(t, rootfs)
			var err error
			if tt.in {
				err = CopyIn(rootfs, slash(t), host+"/"+tt.src, tt.dst) // not cleaned: "/." and "/" mean something
			} else {
				err = CopyOut(rootfs, slash(t), tt.src, filepath.Join(host, tt.dst))
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				if show(listTree(t, host)) != show(beforeHost) || show(listTree(t, rootfs)) != show(beforeCtr) {
					t.Fatal("a failed copy changed something")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, dir := listTree(t, rootfs), rootfs
			if !tt.in {
				got, dir = listTree(t, host), host
			}
			if tt.want == nil { // the whole root came out
				tt.want = map[string]string{}
				for k, v := range ctrSpec {
					tt.want["got/"+k] = v
				}
				tt.want["got/"] = ""
				tt.want["got/data/"] = ""
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q (in %s: %s)", k, got[k], v, dir, show(got))
				}
			}
		})
	}
}

// `cp host ctr:/link` looks at what /link names inside the container only: whether the
// host has that path or not makes no difference to what happens or what is said.
func TestCopyNoHostOracle(t *testing.T) {
	host := t.TempDir()
	mkTree(t, host, map[string]string{"exists/": "", "exists/inner/": "", "file": "F"})
	src := filepath.Join(host, "file")
	outcome := func(target, dst string) string {
		rootfs := t.TempDir()
		mkTree(t, rootfs, map[string]string{"tmp/": "", "link": "->" + target, "rel": "->../../../.." + target})
		err := CopyIn(rootfs, slash(t), src, dst)
		msg := "ok"
		if err != nil {
			msg = strings.ReplaceAll(err.Error(), target, "TARGET")
		}
		return msg + " | " + show(listTree(t, rootfs))
	}
	for _, dst := range []string{"/link", "/link/", "/link/x", "/rel", "/rel/", "/rel/inner/y"} {
		a := outcome(filepath.Join(host, "exists"), dst)
		b := outcome(filepath.Join(host, "missing"), dst)
		c := outcome(filepath.Join(host, "exists", "inner"), dst)
		a = strings.ReplaceAll(a, strings.TrimPrefix(filepath.Join(host, "exists"), "/"), "T")
		b = strings.ReplaceAll(b, strings.TrimPrefix(filepath.Join(host, "missing"), "/"), "T")
		c = strings.ReplaceAll(c, strings.TrimPrefix(filepath.Join(host, "exists", "inner"), "/"), "T")
		if a != b || a != c {
			t.Errorf("cp to %s depends on the host:\n  existing dir: %s\n  missing:      %s\n  deeper dir:   %s", dst, a, b, c)
		}
	}
	if got := listTree(t, host); show(got) != "exists/= exists/inner/= file=F" {
		t.Fatalf("the host changed: %s", show(got))
	}
	// When the container has the path itself, that is where the copy goes.
	rootfs := t.TempDir()
	mkTree(t, rootfs, map[string]string{"link": "->/srv", "srv/": ""})
	if err := CopyIn(rootfs, slash(t), src, "/link"); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, rootfs)["srv/file"]; got != "F" {
		t.Fatalf("srv/file: %q", got)
	}
}

// Symlinks in the container that point at the host never lead a copy there, in or out.
func TestCopyHostileLinks(t *testing.T) {
	host := t.TempDir()
	mkTree(t, host, map[string]string{"secret": "S", "dir/inner": "I"})
	if err := os.Chmod(host, 0o700); err != nil {
		t.Fatal(err)
	}
	before := show(listTree(t, host))
	rootfs, out, src := t.TempDir(), t.TempDir(), t.TempDir()
	mkTree(t, rootfs, map[string]string{
		"abs":       "->" + host,
		"rel":       "->../../../../../../.." + host,
		"secretlnk": "->" + host + "/secret",
		"tmp/":      "",
	})
	mkTree(t, src, map[string]string{"f": "F", "d/x": "X"})
	for _, dst := range []string{"/abs", "/abs/", "/abs/dir", "/rel/dir/", "/secretlnk", "/abs/secret"} {
		_ = CopyIn(rootfs, slash(t), filepath.Join(src, "f"), dst)
		_ = CopyIn(rootfs, slash(t), filepath.Join(src, "d"), dst)
	}
	for _, s := range []string{"/abs/secret", "/rel/secret", "/abs/dir/", "/secretlnk/", "/abs/.", "/rel/dir/."} {
		if err := CopyOut(rootfs, slash(t), s, filepath.Join(out, "x")); err == nil {
			t.Errorf("cp out of %s succeeded: %s", s, show(listTree(t, out)))
		}
	}
	// Copied out as they are, the links are data: their targets are not read.
	for _, s := range []string{"/secretlnk", "/abs"} {
		if err := CopyOut(rootfs, slash(t), s, out+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if got := show(listTree(t, out)); got != "abs=->"+host+" secretlnk=->"+host+"/secret" {
		t.Errorf("out: %s", got)
	}
	if after := show(listTree(t, host)); after != before {
		t.Fatalf("the host directory changed:\n%s\n%s", before, after)
	}
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil || st.Mode&0o777 != 0o700 {
		t.Fatalf("the host directory's mode is %o", st.Mode&0o777)
	}
}

// dirHandle opens dir as cp's plain-user half opens the host's "/": an O_PATH handle,
// closed when the test ends.
func dirHandle(t *testing.T, dir string) *os.File {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), dir)
	t.Cleanup(func() { f.Close() })
	return f
}

// slash is the host's "/" as this process sees it.
func slash(t *testing.T) *os.File { return dirHandle(t, "/") }

// The host's side is resolved from the handle on "/" that cp was given — the user's
// "/", opened in the user's mount namespace —, never from this process's own "/" (which,
// in a container's monitor's mount namespace, can show other files at the same paths):
// here the handle is a directory standing for the user's "/", whose paths (and absolute
// symlinks) this process's "/" does not have.
func TestCopyHostSideFromHandle(t *testing.T) {
	user := t.TempDir() // the user's "/"
	base := "/hutch-cp-view-" + filepath.Base(user)
	if _, err := os.Lstat(base); err == nil {
		t.Fatalf("%s exists in this process's /: the test needs a path only the handle has", base)
	}
	mkTree(t, user, map[string]string{
		base[1:] + "/f":       "user-view",
		base[1:] + "/lnk":     "->" + base + "/d", // the user's own absolute symlink
		base[1:] + "/out/":    "",
		base[1:] + "/d/inner": "I",
	})
	host := dirHandle(t, user)
	rootfs := t.TempDir()
	mkTree(t, rootfs, map[string]string{"data/x": "X", "etc/": ""})
	for src, dst := range map[string]string{base + "/f": "/etc/f", base + "/lnk/": "/etc/viaLink", base + "/d": "/etc/d"} {
		if err := CopyIn(rootfs, host, src, dst); err != nil {
			t.Fatalf("cp %s %s with the user's / handed: %v", src, dst, err)
		}
	}
	if err := CopyOut(rootfs, host, "/data", base+"/out/"); err != nil {
		t.Fatalf("cp out with the user's / handed: %v", err)
	}
	got := listTree(t, rootfs)
	if got["etc/f"] != "user-view" || got["etc/viaLink/inner"] != "I" || got["etc/d/inner"] != "I" {
		t.Fatalf("copied in from the handle: %s", show(got))
	}
	if x := listTree(t, user)[base[1:]+"/out/data/x"]; x != "X" {
		t.Fatalf("copied out through the handle: %s", show(listTree(t, user)))
	}
	if _, err := os.Lstat(base); err == nil {
		t.Fatalf("the copy made %s in this process's /", base)
	}
	// The process's own "/" is not the host's side: a path that only it has is missing.
	err := CopyIn(rootfs, host, filepath.Join(t.TempDir()), "/etc/")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a path of this process's / only, through the user's handle: %v, want no such file", err)
	}
}
