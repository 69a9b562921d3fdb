package buildfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// tarEntry describes one archive entry; Body is the content of a regular file.
type tarEntry struct {
	Name     string
	Type     byte
	Body     string
	Link     string
	Mode     int64
	UID, GID int
	MTime    time.Time
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		mt := e.MTime
		if mt.IsZero() {
			mt = time.Unix(1500000000, 0)
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Link, Mode: mode, Uid: e.UID, Gid: e.GID, ModTime: mt, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t *testing.T, data []byte, kind string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "tar":
		return data
	case "gz":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zst":
		w, err = zstd.NewWriter(&buf)
	default:
		t.Fatalf("no writer for %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsArchive(t *testing.T) {
	tarData := makeTar(t, []tarEntry{{Name: "a", Body: "A"}})
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"tar", tarData, true},
		{"gzip tar", compress(t, tarData, "gz"), true},
		{"xz tar", compress(t, tarData, "xz"), true},
		{"zstd tar", compress(t, tarData, "zst"), true},
		{"gzip text", compress(t, []byte("just text, long enough to be more than a block? no"), "gz"), false},
		{"xz text", compress(t, []byte(strings.Repeat("text ", 200)), "xz"), false},
		{"text", []byte(strings.Repeat("plain text\n", 100)), false},
		{"empty", nil, false},
		{"gzip magic only", []byte{0x1f, 0x8b}, false},
		{"zstd magic then garbage", []byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5}, false},
		{"512 zero bytes", make([]byte, 512), false},
		{"tar header with a bad checksum", func() []byte { b := append([]byte(nil), tarData...); b[148] ^= 0x55; return b }(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IsArchive(writeTemp(t, tt.data))
			if err != nil || got != tt.want {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
	for name, want := range map[string]bool{"testdata/small.tar.bz2": true, "testdata/text.bz2": false} {
		if got, err := IsArchive(name); err != nil || got != want {
			t.Errorf("%s: got %v %v, want %v", name, got, err, want)
		}
	}
	if got, _ := IsArchive(t.TempDir()); got {
		t.Error("a directory is an archive")
	}
	if _, err := IsArchive(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestExtractArchiveFormats(t *testing.T) {
	mt := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
	entries := []tarEntry{
		{Name: "top/", Type: tar.TypeDir, MTime: mt, Mode: 0o750},
		{Name: "top/file", Body: "content", Mode: 0o4755, UID: 1234, GID: 4321, MTime: mt},
		{Name: "top/link", Type: tar.TypeSymlink, Link: "file", UID: 1234, GID: 4321},
		{Name: "top/abs", Type: tar.TypeSymlink, Link: "/etc/passwd"},
		{Name: "top/hard", Type: tar.TypeLink, Link: "top/file"},
		{Name: "implicit/parent/f", Body: "deep"},
		{Name: "fifo", Type: tar.TypeFifo},
		{Name: "dev/null", Type: tar.TypeChar},
		{Name: "dev/sda", Type: tar.TypeBlock},
		{Name: "./dotslash", Body: "ds"},
	}
	for _, kind := range []string{"tar", "gz", "xz", "zst"} {
		t.Run(kind, func(t *testing.T) {
			rootfs := t.TempDir()
			skipped, err := ExtractArchive(rootfs, "/opt/x", writeTemp(t, compress(t, makeTar(t, entries), kind)), CopyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(skipped, []string{"dev/null", "dev/sda"}) {
				t.Fatalf("skipped %v", skipped)
			}
			d := filepath.Join(rootfs, "opt/x")
			if readFile(t, filepath.Join(d, "top/file")) != "content" || readFile(t, filepath.Join(d, "implicit/parent/f")) != "deep" || readFile(t, filepath.Join(d, "dotslash")) != "ds" {
				t.Fatal("content")
			}
			wantMode(t, filepath.Join(d, "top/file"), 0o4755)
			wantMode(t, filepath.Join(d, "top"), 0o750)
			wantOwner(t, filepath.Join(d, "top/file"), 1234, 4321)
			wantOwner(t, filepath.Join(d, "top/link"), 1234, 4321)
			if l, _ := os.Readlink(filepath.Join(d, "top/abs")); l != "/etc/passwd" {
				t.Fatalf("abs link %q", l)
			}
			_, st1 := lstat(t, filepath.Join(d, "top/file"))
			_, st2 := lstat(t, filepath.Join(d, "top/hard"))
			if st1.Ino != st2.Ino {
				t.Fatal("hard link not linked")
			}
			fi, _ := lstat(t, filepath.Join(d, "fifo"))
			if fi.Mode()&fs.ModeNamedPipe == 0 {
				t.Fatal("fifo")
			}
			for _, p := range []string{"top/file", "top"} {
				fi, _ := lstat(t, filepath.Join(d, p))
				if !fi.ModTime().Equal(mt) {
					t.Errorf("%s mtime %v", p, fi.ModTime())
				}
			}
			wantNotExist(t, filepath.Join(d, "dev/null"))
		})
	}
	t.Run("bz2", func(t *testing.T) {
		rootfs := t.TempDir()
		if _, err := ExtractArchive(rootfs, "/", "testdata/small.tar.bz2", CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		if readFile(t, filepath.Join(rootfs, "top/link")) != "hello\n" {
			t.Fatal("content")
		}
	})
	t.Run("chown overrides the archive", func(t *testing.T) {
		rootfs := t.TempDir()
		if _, err := ExtractArchive(rootfs, "/o", writeTemp(t, makeTar(t, entries[:3])), CopyOptions{Chown: &IDPair{7, 8}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"o", "o/top", "o/top/file", "o/top/link"} {
			wantOwner(t, filepath.Join(rootfs, p), 7, 8)
		}
		if _, err := ExtractArchive(rootfs, "/o", writeTemp(t, makeTar(t, entries[5:6])), CopyOptions{Chown: &IDPair{7, 8}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"o/implicit", "o/implicit/parent", "o/implicit/parent/f"} {
			wantOwner(t, filepath.Join(rootfs, p), 7, 8)
		}
		wantMode(t, filepath.Join(rootfs, "o/implicit"), 0o755)
	})
}

// Archives that try to write outside the root file system.
func TestExtractArchiveAdversarial(t *testing.T) { bothResolvers(t, testExtractArchiveAdversarial) }

func testExtractArchiveAdversarial(t *testing.T) {
	host := t.TempDir() // stands for the host outside the rootfs
	hostFile := filepath.Join(host, "secret")
	hostRel := strings.TrimPrefix(host, "/")
	tests := []struct {
		name    string
		setup   map[string]string // in the rootfs
		dest    string
		entries []tarEntry
		errHas  string            // "" = must succeed
		want    map[string]string // rootfs path -> content
	}{
		{name: "dotdot entry", entries: []tarEntry{{Name: "../../../../" + hostRel + "/evil", Body: "x"}}, errHas: `"../../../../` + hostRel + `/evil"`},
		{name: "dotdot in the middle", entries: []tarEntry{{Name: "a/../../evil", Body: "x"}}, errHas: "`..`"},
		{name: "absolute entry is made relative", dest: "/d", entries: []tarEntry{{Name: "/etc/passwd", Body: "root"}}, want: map[string]string{"d/etc/passwd": "root"}},
		{name: "absolute entry with host path", entries: []tarEntry{{Name: hostFile, Body: "x"}}, want: map[string]string{hostRel + "/secret": "x"}},
		{name: "symlink to host dir then file", entries: []tarEntry{
			{Name: "lnk", Type: tar.TypeSymlink, Link: host},
			{Name: "lnk/secret", Body: "overwritten?"},
		}, want: map[string]string{hostRel + "/secret": "overwritten?"}},
		{name: "relative symlink climbing out then file", entries: []tarEntry{
			{Name: "a/b/lnk", Type: tar.TypeSymlink, Link: "../../../../../../../../" + hostRel},
			{Name: "a/b/lnk/secret", Body: "x"},
		}, want: map[string]string{hostRel + "/secret": "x"}},
		{name: "symlink then same name as file replaces the link", entries: []tarEntry{
			{Name: "f", Type: tar.TypeSymlink, Link: hostFile},
			{Name: "f", Body: "replaced"},
		}, want: map[string]string{"f": "replaced"}},
		{name: "image symlink to host then file", setup: map[string]string{"data": "->" + host}, entries: []tarEntry{{Name: "data/secret", Body: "x"}}, want: map[string]string{hostRel + "/secret": "x"}},
		{name: "image symlink on the way is followed inside", setup: map[string]string{"usr/bin/": "", "bin": "->usr/bin"}, entries: []tarEntry{{Name: "bin/sh", Body: "sh"}}, want: map[string]string{"usr/bin/sh": "sh"}},
		{name: "dest through an escaping image symlink", setup: map[string]string{"opt": "->" + host}, dest: "/opt/app", entries: []tarEntry{{Name: "f", Body: "x"}}, want: map[string]string{hostRel + "/app/f": "x"}},
		{name: "hard link with dotdot", entries: []tarEntry{{Name: "h", Type: tar.TypeLink, Link: "../../../../" + hostRel + "/secret"}}, errHas: `hard link target of "h"`},
		{name: "hard link absolute is relative to dest", dest: "/d", entries: []tarEntry{
			{Name: "etc/passwd", Body: "root"},
			{Name: "h", Type: tar.TypeLink, Link: "/etc/passwd"},
		}, want: map[string]string{"d/h": "root"}},
		{name: "hard link absolute host path", entries: []tarEntry{{Name: "h", Type: tar.TypeLink, Link: hostFile}}, errHas: `hard link "h"`},
		{name: "hard link through a symlink to host", entries: []tarEntry{
			{Name: "lnk", Type: tar.TypeSymlink, Link: host},
			{Name: "h", Type: tar.TypeLink, Link: "lnk/secret"},
		}, errHas: `hard link "h"`},
		{name: "hard link to a symlink to host links the symlink", entries: []tarEntry{
			{Name: "lnk", Type: tar.TypeSymlink, Link: hostFile},
			{Name: "h", Type: tar.TypeLink, Link: "lnk"},
			{Name: "h", Body: "through?"},
		}, want: map[string]string{"h": "through?"}},
		{name: "dir entry over an image file", setup: map[string]string{"x": "file"}, entries: []tarEntry{{Name: "x/", Type: tar.TypeDir}, {Name: "x/y", Body: "y"}}, want: map[string]string{"x/y": "y"}},
		{name: "file over an image dir", setup: map[string]string{"x/old": "o"}, entries: []tarEntry{{Name: "x", Body: "now a file"}}, want: map[string]string{"x": "now a file"}},
		{name: "existing dir and its files kept", setup: map[string]string{"etc/keep": "k"}, entries: []tarEntry{{Name: "etc/", Type: tar.TypeDir}, {Name: "etc/new", Body: "n"}}, want: map[string]string{"etc/keep": "k", "etc/new": "n"}},
		{name: "replacing a dir that was the cached parent", entries: []tarEntry{
			{Name: "p/", Type: tar.TypeDir}, {Name: "p/a", Body: "a"},
			{Name: "p", Type: tar.TypeSymlink, Link: host},
			{Name: "p/secret", Body: "x"},
		}, want: map[string]string{hostRel + "/secret": "x"}},
		{name: "the dot entry", entries: []tarEntry{{Name: "./", Type: tar.TypeDir, Mode: 0o700}, {Name: "./a", Body: "a"}}, want: map[string]string{"a": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(host)
			tree(t, host, map[string]string{"secret": "host secret"})
			rootfs := t.TempDir()
			tree(t, rootfs, tt.setup)
			dest := tt.dest
			if dest == "" {
				dest = "/"
			}
			_, err := ExtractArchive(rootfs, dest, writeTemp(t, makeTar(t, tt.entries)), CopyOptions{})
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("got %v, want an error with %s", err, tt.errHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.want {
				if got := readFile(t, filepath.Join(rootfs, p)); got != want {
					t.Errorf("%s: %q, want %q", p, got, want)
				}
			}
			// The host outside the rootfs is untouched.
			entries, _ := os.ReadDir(host)
			_, st := lstat(t, hostFile)
			if len(entries) != 1 || readFile(t, hostFile) != "host secret" || st.Nlink != 1 {
				t.Fatalf("the host changed: %d entries, nlink %d", len(entries), st.Nlink)
			}
		})
	}
}

func TestExtractArchiveCorrupt(t *testing.T) {
	data := makeTar(t, []tarEntry{{Name: "a", Body: strings.Repeat("a", 3000)}, {Name: "b", Body: "b"}})
	_, err := ExtractArchive(t.TempDir(), "/", writeTemp(t, data[:1024]), CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v", err)
	}
	_, err = ExtractArchive(t.TempDir(), "/", writeTemp(t, []byte(strings.Repeat("not a tar ", 100))), CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Fatalf("got %v", err)
	}
	gz := compress(t, data, "gz")
	_, err = ExtractArchive(t.TempDir(), "/", writeTemp(t, gz[:len(gz)/2]), CopyOptions{})
	if err == nil {
		t.Fatal("a truncated gzip was extracted")
	}
}
