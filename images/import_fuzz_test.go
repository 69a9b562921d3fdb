package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
	"testing"
)

// FuzzImportTar runs import's tar check on any stream (plain or compressed): no panic,
// and what it lets through is a plain tar whose every entry stays inside the root: no
// absolute path, no `..`, no link out, no entry written through a symlink of the
// archive, no device node — checked again on the output.
//
//	go test -run '^$' -fuzz FuzzImportTar -fuzztime 10m ./images/
func FuzzImportTar(f *testing.F) {
	for _, es := range [][]entry{
		{dirE("etc/"), fileE("etc/hello", "hi\n"), symE("bin/sh", "busybox"), linkE("etc/again", "etc/hello")},
		{fileE("/abs", "x")},
		{fileE("a/../../b", "x")},
		{symE("l", "../../x"), fileE("l/f", "x")},
		{linkE("h", "/etc/passwd")},
		{devE("dev/null", tar.TypeChar), fileE("ok", "x")},
		{symE("d", "sub"), dirE("d/x/")},
	} {
		f.Add(makeTar(f, es...))
	}
	f.Add([]byte("not a tar at all"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		skipped, err := sanitizeTar(bytes.NewReader(data), &out, nil)
		if err != nil {
			return
		}
		for _, s := range skipped {
			if s == "" {
				t.Fatal("an empty name among the skipped entries")
			}
		}
		tr := tar.NewReader(&out)
		symlinks := map[string]bool{}
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the checked tar does not read back: %v", err)
			}
			if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
				t.Fatalf("a device node went through: %q", hdr.Name)
			}
			name, err := CheckEntry(hdr, symlinks)
			if err != nil {
				t.Fatalf("an entry that went through fails the check again: %v", err)
			}
			if strings.HasPrefix(hdr.Name, "/") || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("an entry outside the root went through: %q", hdr.Name)
			}
			if hdr.Typeflag == tar.TypeSymlink {
				symlinks[name] = true
			}
		}
	})
}

// FuzzCheckEntry runs the per-entry check on any name and link: no panic; an accepted
// entry's cleaned name stays inside the root.
func FuzzCheckEntry(f *testing.F) {
	for _, s := range [][3]string{{"etc/hello", "", "0"}, {"l", "../x", "2"}, {"h", "a/b", "1"}, {"./a/./b/", "", "5"}, {"a/..", "", "0"}} {
		f.Add(s[0], s[1], s[2][0])
	}
	f.Fuzz(func(t *testing.T, name, link string, typ byte) {
		hdr := &tar.Header{Name: name, Linkname: link, Typeflag: typ}
		clean, err := CheckEntry(hdr, map[string]bool{"sym": true})
		if err != nil {
			return
		}
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			t.Fatalf("CheckEntry(%q) = %q, outside the root", name, clean)
		}
		if strings.HasPrefix(clean, "sym/") {
			t.Fatalf("CheckEntry(%q) goes through the symlink sym", name)
		}
	})
}
