package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/tests/hostile"
)

func guardWith(bytes int64) *layerGuard {
	return &layerGuard{budget: fsutil.FixedBudget("/store", bytes, 1<<40)}
}

func layerBytes(t *testing.T, gz bool, entries ...hostile.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := io.Writer(&buf)
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	if err := hostile.WriteTar(w, entries); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// read passes a blob through the guard as the copy would, and returns what came out.
func read(g *layerGuard, blob []byte) ([]byte, error) {
	rc := g.watch(io.NopCloser(bytes.NewReader(blob)), digest.FromBytes(blob))
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestGuardPassesLayersUnchanged(t *testing.T) {
	for _, gz := range []bool{false, true} {
		blob := layerBytes(t, gz, hostile.Dir("etc/"), hostile.File("etc/hello", "hello\n"))
		out, err := read(guardWith(1<<20), blob)
		if err != nil || !bytes.Equal(out, blob) {
			t.Fatalf("gzip %v: %v, %d of %d bytes", gz, err, len(out), len(blob))
		}
	}
	// A config blob (not a tar) passes too.
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	if out, err := read(guardWith(1<<20), cfg); err != nil || !bytes.Equal(out, cfg) {
		t.Fatalf("config: %v %q", err, out)
	}
}

func TestGuardRefusesBombs(t *testing.T) {
	for _, c := range []struct {
		name  string
		gz    bool
		entry hostile.Entry
	}{
		{"gzip bomb", true, hostile.Entry{Name: "etc/zeros", Type: tar.TypeReg, Mode: 0o644, Zero: 64 << 20}},
		{"sparse", false, hostile.Entry{Name: "etc/sparse", Type: tar.TypeReg, Mode: 0o644, Sparse: 1 << 40}},
	} {
		blob := layerBytes(t, c.gz, hostile.Dir("etc/"), c.entry)
		g := guardWith(1 << 20)
		_, err := read(g, blob)
		if err == nil || !strings.Contains(err.Error(), `entry "`+c.entry.Name+`" expands to`) {
			t.Fatalf("%s: err = %v", c.name, err)
		}
		if got := g.explain(errors.New("writing blob: " + err.Error())); got.Error() != err.Error() {
			t.Errorf("%s: explain gave %q, want the guard's refusal", c.name, got)
		}
	}
}

func TestGuardRefusesDeepAndTrailing(t *testing.T) {
	deep := []hostile.Entry{}
	p := ""
	for i := 0; i <= fsutil.MaxEntryDepth+1; i++ {
		p += "d/"
		deep = append(deep, hostile.Dir(p))
	}
	_, err := read(guardWith(1<<30), layerBytes(t, true, deep...))
	if err == nil || !strings.Contains(err.Error(), "directories deep") {
		t.Fatalf("deep: %v", err)
	}
	// A tar followed by 2 MiB of zeros, compressed.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := hostile.WriteTar(zw, []hostile.Entry{hostile.File("a", "a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	_, err = read(guardWith(1<<30), buf.Bytes())
	if err == nil || !strings.Contains(err.Error(), "after the end of its tar") {
		t.Fatalf("trailing: %v", err)
	}
}

// TestGuardRefusesEscapes: what would be written out of the layer, through its own
// symlinks, or linked from out of it, is refused naming the entry; what Docker keeps
// inside the layer (absolute names, `..` that stays inside, symlinks anywhere) passes.
func TestGuardRefusesEscapes(t *testing.T) {
	for _, c := range []struct {
		entries []hostile.Entry
		want    string
	}{
		{[]hostile.Entry{hostile.File("../../x", "")}, `entry "../../x" climbs out of the layer`},
		{[]hostile.Entry{hostile.File("a/../../x", "")}, `entry "a/../../x" climbs out`},
		{[]hostile.Entry{hostile.Symlink("d", "/etc"), hostile.File("d/passwd", "")}, `entry "d/passwd" is written through the symlink "d"`},
		{[]hostile.Entry{hostile.Symlink("d", "/"), hostile.File("d/.wh.etc", "")}, `entry "d/.wh.etc" is written through the symlink "d"`},
		{[]hostile.Entry{hostile.Hardlink("h", "/home/alice/secret")}, `hard link "h" points to the absolute path "/home/alice/secret"`},
		{[]hostile.Entry{hostile.Hardlink("h", "../../secret")}, `hard link "h" points to "../../secret", out of the layer`},
		{[]hostile.Entry{hostile.Symlink("s", "/home"), hostile.Hardlink("h", "s/alice/secret")}, `through the symlink "s"`},
		{[]hostile.Entry{hostile.Symlink("etc/passwd", "/etc/shadow"), hostile.File("etc/passwd", "")}, `entry "etc/passwd" appears twice`},
		{[]hostile.Entry{hostile.Dir("sub/"), hostile.File("sub/.wh...", "")}, `entry "sub/.wh..." is a whiteout of ".."`},
		{[]hostile.Entry{hostile.File(".wh..", "")}, `is a whiteout of "."`},
	} {
		_, err := read(guardWith(1<<30), layerBytes(t, false, c.entries...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.entries, err, c.want)
		}
	}
	ok := layerBytes(t, true, hostile.File("/abs/file", "x"), hostile.File("a/../b", "x"), hostile.Symlink("up", "../../../.."),
		hostile.Symlink("etc-link", "/etc"), hostile.Hardlink("c", "b"), hostile.Dir("lib/"), hostile.File("lib/x", ""),
		hostile.File("lib/.wh.old", ""), hostile.File("lib/.wh..wh..opq", ""))
	if _, err := read(guardWith(1<<30), ok); err != nil {
		t.Fatalf("a layer Docker keeps inside: %v", err)
	}
}
