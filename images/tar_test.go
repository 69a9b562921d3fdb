package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// entry is one member of a test archive.
type entry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
}

func dirE(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func fileE(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}
func symE(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, linkname: target, mode: 0o777}
}
func linkE(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, linkname: target, mode: 0o644}
}
func devE(name string, typ byte) entry {
	return entry{name: name, typ: typ, mode: 0o666}
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, Size: int64(len(e.body))}
		if e.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarNames lists the members of a plain tar stream with their contents.
func tarNames(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("sanitized output is not a valid tar: %v", err)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = string(body) + h.Linkname
	}
}

func TestCheckEntry(t *testing.T) {
	ok := []struct {
		e    entry
		want string
	}{
		{fileE("etc/passwd", ""), "etc/passwd"},
		{fileE("./etc/passwd", ""), "etc/passwd"},
		{dirE("./"), "."},
		{dirE("usr//lib/"), "usr/lib"},
		{symE("bin/sh", "busybox"), "bin/sh"},
		{symE("bin/sh", "/bin/busybox"), "bin/sh"},      // absolute symlinks resolve in the root
		{symE("usr/lib/x", "../../etc/x"), "usr/lib/x"}, // climbs to the root, not above
		{symE("a/b/c/d", "../../../z"), "a/b/c/d"},      // exactly to the root
		{symE("a/l", "./.././b"), "a/l"},                // dot components
		{linkE("bin/ln", "bin/busybox"), "bin/ln"},      // hard link inside
	}
	for i, tc := range ok {
		h := &tar.Header{Name: tc.e.name, Typeflag: tc.e.typ, Linkname: tc.e.linkname}
		got, err := CheckEntry(h, map[string]bool{})
		if err != nil {
			t.Errorf("%d %q -> %q: %v", i, tc.e.name, tc.e.linkname, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q: name %q, want %q", tc.e.name, got, tc.want)
		}
	}

	bad := []struct {
		e    entry
		want string
	}{
		{fileE("/etc/passwd", ""), `entry "/etc/passwd" has an absolute path`},
		{fileE("../etc/passwd", ""), "has a `..` component"},
		{fileE("a/../../b", ""), "has a `..` component"},
		{fileE("a/..", ""), "has a `..` component"},
		{symE("x", ".."), `symlink "x" points to "..", outside the root file system`},
		{symE("bin/sh", "../../etc/shadow"), `symlink "bin/sh" points to "../../etc/shadow"`},
		{symE("a/b/l", "../../../z"), "outside the root file system"},
		{symE("a/l", "b/../../.."), "outside the root file system"},
		{linkE("bin/ln", "/etc/shadow"), `hard link "bin/ln" points to "/etc/shadow"`},
		{linkE("bin/ln", "../etc/shadow"), "hard link"},
		{linkE("bin/ln", "./bin/../bin/busybox"), "hard link"},
	}
	for _, tc := range bad {
		h := &tar.Header{Name: tc.e.name, Typeflag: tc.e.typ, Linkname: tc.e.linkname}
		got, err := CheckEntry(h, map[string]bool{})
		if err == nil {
			t.Errorf("%q -> %q accepted as %q", tc.e.name, tc.e.linkname, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q -> %q: error %q does not contain %q", tc.e.name, tc.e.linkname, err, tc.want)
		}
	}
}

func TestCheckEntryThroughSymlink(t *testing.T) {
	links := map[string]bool{"etc": true, "usr/lib64": true}
	for _, name := range []string{"etc/passwd", "./etc/cron.d/x", "usr/lib64/libc.so"} {
		_, err := CheckEntry(&tar.Header{Name: name, Typeflag: tar.TypeReg}, links)
		if err == nil || !strings.Contains(err.Error(), "is written through the symlink") {
			t.Errorf("%q through a symlink: %v", name, err)
		}
	}
	// The symlink itself, a sibling with a common prefix, and an unrelated path are fine.
	for _, name := range []string{"etc", "etcetera/x", "usr/lib/x", "usr/lib64"} {
		if _, err := CheckEntry(&tar.Header{Name: name, Typeflag: tar.TypeReg}, links); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestSanitizeTarKeepsGoodEntries(t *testing.T) {
	in := makeTar(t,
		dirE("./"), dirE("bin/"), fileE("bin/busybox", "BUSYBOX"), symE("bin/sh", "busybox"),
		linkE("bin/ls", "bin/busybox"), symE("bin/abs", "/bin/busybox"), dirE("etc/"), fileE("etc/hostname", "h\n"))
	var out bytes.Buffer
	skipped, err := sanitizeTar(bytes.NewReader(in), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped %v", skipped)
	}
	got := tarNames(t, out.Bytes())
	want := map[string]string{"./": "", "bin/": "", "bin/busybox": "BUSYBOX", "bin/sh": "busybox", "bin/ls": "bin/busybox",
		"bin/abs": "/bin/busybox", "etc/": "", "etc/hostname": "h\n"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("output = %v\nwant     %v", got, want)
	}
}

func TestSanitizeTarSkipsDevices(t *testing.T) {
	in := makeTar(t, dirE("dev/"), devE("dev/null", tar.TypeChar), devE("dev/sda", tar.TypeBlock),
		devE("dev/console", tar.TypeChar), entry{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600}, fileE("ok", "x"))
	var out bytes.Buffer
	skipped, err := sanitizeTar(bytes.NewReader(in), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(skipped, []string{"dev/console", "dev/null", "dev/sda"}) {
		t.Errorf("skipped = %v, want the three device nodes, sorted", skipped)
	}
	got := tarNames(t, out.Bytes())
	for _, n := range []string{"dev/null", "dev/sda", "dev/console"} {
		if _, ok := got[n]; ok {
			t.Errorf("device %s was kept", n)
		}
	}
	if _, ok := got["dev/fifo"]; !ok {
		t.Error("the fifo was dropped")
	}
	if got["ok"] != "x" {
		t.Errorf("ok = %q", got["ok"])
	}
}

func TestSanitizeTarRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"absolute path", []entry{fileE("/etc/passwd", "x")}, `entry "/etc/passwd" has an absolute path`},
		{"dot-dot", []entry{dirE("a/"), fileE("a/../../x", "x")}, "`..` component"},
		{"escaping symlink", []entry{dirE("a/"), symE("a/l", "../../etc")}, `symlink "a/l" points to "../../etc", outside the root file system`},
		{"symlink then file", []entry{symE("etc", "/tmp/elsewhere"), fileE("etc/passwd", "x")}, `entry "etc/passwd" is written through the symlink "etc"`},
		{"symlink then deeper dir", []entry{dirE("usr/"), symE("usr/lib", "lib64"), dirE("usr/lib/x/"), fileE("usr/lib/x/y", "")}, `entry "usr/lib/x/" is written through the symlink "usr/lib"`},
		{"escaping hard link", []entry{fileE("a", "x"), linkE("b", "../a")}, `hard link "b" points to "../a"`},
		{"absolute hard link", []entry{linkE("b", "/etc/shadow")}, `hard link "b" points to "/etc/shadow"`},
		{"hard link through a symlink", []entry{symE("l", "/etc"), linkE("h", "./l/shadow")}, `hard link "h" points to "./l/shadow", through the symlink "l"`},
	} {
		var out bytes.Buffer
		_, err := sanitizeTar(bytes.NewReader(makeTar(t, tc.entries...)), &out, nil)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
}

func TestSanitizeTarTruncated(t *testing.T) {
	full := makeTar(t, fileE("a", strings.Repeat("A", 2000)), fileE("b", strings.Repeat("B", 2000)), fileE("c", "C"))
	// Cut in the middle of b's content.
	cut := full[:512+2048+512+1000]
	var out bytes.Buffer
	_, err := sanitizeTar(bytes.NewReader(cut), &out, nil)
	if err == nil {
		t.Fatal("a truncated archive was accepted")
	}
	if !strings.Contains(err.Error(), "truncated or corrupt") {
		t.Errorf("err = %v", err)
	}
	// Cut inside the second header.
	_, err = sanitizeTar(bytes.NewReader(full[:512+2048+100]), &out, nil)
	if err == nil || !strings.Contains(err.Error(), "truncated or corrupt after 1 entries") {
		t.Errorf("cut in a header: %v", err)
	}
}

func TestSanitizeTarEmptyAndJunk(t *testing.T) {
	var out bytes.Buffer
	// An archive with no entry (just the end blocks).
	_, err := sanitizeTar(bytes.NewReader(makeTar(t)), &out, nil)
	if err == nil || err.Error() != "the archive is empty" {
		t.Errorf("empty archive: %v", err)
	}
	// No bytes at all.
	if _, err := sanitizeTar(bytes.NewReader(nil), &out, nil); err == nil {
		t.Error("an empty stream was accepted")
	}
	// Junk.
	junk := bytes.Repeat([]byte("this is not a tar file\n"), 100)
	_, err = sanitizeTar(bytes.NewReader(junk), &out, nil)
	if err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Errorf("junk: %v", err)
	}
}

func TestSanitizeTarCompressed(t *testing.T) {
	in := gz(t, makeTar(t, dirE("bin/"), fileE("bin/x", "hello"), devE("dev/null", tar.TypeChar)))
	var out bytes.Buffer
	skipped, err := sanitizeTar(bytes.NewReader(in), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(skipped, []string{"dev/null"}) {
		t.Errorf("skipped = %v", skipped)
	}
	if got := tarNames(t, out.Bytes()); got["bin/x"] != "hello" || len(got) != 2 {
		t.Errorf("output = %v (want it decompressed, as a plain tar)", got)
	}
	// A bad entry inside a compressed archive is still refused.
	_, err = sanitizeTar(bytes.NewReader(gz(t, makeTar(t, fileE("/abs", "")))), &out, nil)
	if err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("compressed bad entry: %v", err)
	}
}
