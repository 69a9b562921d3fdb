package buildfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

type layerEntry struct {
	hdr  tar.Header
	body string
}

func layer(t *testing.T, entries []layerEntry, format tar.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Format = format
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func normalize(t *testing.T, in []byte, epoch *time.Time) ([]byte, string) {
	t.Helper()
	var out bytes.Buffer
	d, size, err := NormalizeTar(bytes.NewReader(in), &out, epoch)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	if d.String() != "sha256:"+hex.EncodeToString(sum[:]) || size != int64(out.Len()) {
		t.Fatalf("digest %s size %d do not describe the output (%d bytes)", d, size, out.Len())
	}
	return out.Bytes(), d.String()
}

func readLayer(t *testing.T, data []byte) []layerEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []layerEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, layerEntry{*h, string(b)})
	}
}

// Two builders, on two hosts, at two times: the same files give the same bytes.
func TestNormalizeTarReproducible(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	mk := func(variant int, format tar.Format) []byte {
		later := epoch.Add(time.Duration(variant+1) * time.Hour).Add(time.Duration(variant*12345) * time.Nanosecond)
		return layer(t, []layerEntry{
			{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: later, Uname: []string{"root", "builder"}[variant], AccessTime: later, ChangeTime: later}, ""},
			{tar.Header{Name: "etc/conf", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: later, Gname: []string{"root", "wheel"}[variant],
				PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v", "SCHILY.xattr.security.selinux": []string{"system_u:object_r:a_t", "unconfined_u:object_r:b_t"}[variant]}}, "data"},
			{tar.Header{Name: "etc/old", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: time.Unix(1000, 0)}, "old"},
			{tar.Header{Name: "etc/link", Typeflag: tar.TypeSymlink, Linkname: "conf", Mode: 0o777, ModTime: later}, ""},
		}, format)
	}
	out0, d0 := normalize(t, mk(0, tar.FormatPAX), &epoch)
	out1, d1 := normalize(t, mk(1, tar.FormatUnknown), &epoch)
	if d0 != d1 || !bytes.Equal(out0, out1) {
		t.Fatalf("different outputs: %s %s", d0, d1)
	}
	// Normalizing is idempotent.
	if _, d2 := normalize(t, out0, &epoch); d2 != d0 {
		t.Fatal("normalizing twice changed the layer")
	}
	got := readLayer(t, out0)
	var names []string
	for _, e := range got {
		names = append(names, e.hdr.Name)
		if e.hdr.Uname != "" || e.hdr.Gname != "" || !e.hdr.AccessTime.IsZero() || !e.hdr.ChangeTime.IsZero() {
			t.Errorf("%s keeps host details: %+v", e.hdr.Name, e.hdr)
		}
		if e.hdr.ModTime.After(epoch) {
			t.Errorf("%s: mtime %v after the epoch", e.hdr.Name, e.hdr.ModTime)
		}
	}
	if !reflect.DeepEqual(names, []string{"etc/", "etc/conf", "etc/old", "etc/link"}) {
		t.Fatalf("order changed: %v", names)
	}
	if !got[2].hdr.ModTime.Equal(time.Unix(1000, 0)) {
		t.Fatalf("an mtime before the epoch changed: %v", got[2].hdr.ModTime)
	}
	if got[1].body != "data" || got[1].hdr.PAXRecords["SCHILY.xattr.user.k"] != "v" {
		t.Fatalf("content or xattr lost: %+v", got[1].hdr.PAXRecords)
	}
	if _, ok := got[1].hdr.PAXRecords["SCHILY.xattr.security.selinux"]; ok {
		t.Fatal("security.selinux kept")
	}
	if strings.Contains(string(out0), "atime") || strings.Contains(string(out0), "ctime") || strings.Contains(string(out0), "builder") {
		t.Fatal("the output still has atime/ctime records or a user name")
	}
}

func TestNormalizeTarNoEpoch(t *testing.T) {
	mt := time.Unix(2000000000, 999999999)
	in := layer(t, []layerEntry{{tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, "x"}}, tar.FormatPAX)
	out, _ := normalize(t, in, nil)
	got := readLayer(t, out)
	if !got[0].hdr.ModTime.Equal(time.Unix(2000000000, 0)) {
		t.Fatalf("mtime %v, want whole seconds, not clamped", got[0].hdr.ModTime)
	}
}

func TestNormalizeTarKinds(t *testing.T) {
	long := strings.Repeat("d/", 80) + "file"
	in := layer(t, []layerEntry{
		{tar.Header{Name: long, Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 100000, Gid: 3000000}, "long"},
		{tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: long}, ""},
		{tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, ""},
		{tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600}, ""},
		{tar.Header{Name: "etc/.wh.passwd", Typeflag: tar.TypeReg}, ""},
		{tar.Header{Name: "big-id", Typeflag: tar.TypeReg, Uid: 1 << 30, Gid: 1 << 30}, ""},
	}, tar.FormatPAX)
	out, _ := normalize(t, in, nil)
	got := readLayer(t, out)
	if len(got) != 6 || got[0].hdr.Name != long || got[0].body != "long" || got[0].hdr.Mode != 0o4755 || got[0].hdr.Uid != 100000 || got[0].hdr.Gid != 3000000 {
		t.Fatalf("first entry %+v", got[0].hdr)
	}
	if got[1].hdr.Typeflag != tar.TypeLink || got[1].hdr.Linkname != long {
		t.Fatal("hard link")
	}
	if got[2].hdr.Devmajor != 1 || got[2].hdr.Devminor != 3 {
		t.Fatal("device numbers")
	}
	if got[5].hdr.Uid != 1<<30 {
		t.Fatal("big uid")
	}
}

func TestNormalizeTarCorrupt(t *testing.T) {
	in := layer(t, []layerEntry{{tar.Header{Name: "f", Typeflag: tar.TypeReg}, strings.Repeat("x", 5000)}}, tar.FormatPAX)
	if _, _, err := NormalizeTar(bytes.NewReader(in[:2048]), io.Discard, nil); err == nil {
		t.Fatal("a truncated layer was accepted")
	}
	if _, _, err := NormalizeTar(strings.NewReader(strings.Repeat("garbage!", 100)), io.Discard, nil); err == nil {
		t.Fatal("garbage was accepted")
	}
}

func TestNormalizeTarInputFormats(t *testing.T) {
	mt := time.Unix(1600000000, 0)
	entries := []layerEntry{
		{tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt, Uname: "u"}, ""},
		{tar.Header{Name: "a/b", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt, Gname: "g"}, "bbb"},
	}
	typeBits := []layerEntry{entries[0], entries[1]}
	typeBits[0].hdr.Mode |= 0o40000 // c_ISDIR, as some writers put it
	typeBits[1].hdr.Mode |= 0o100000
	_, withBits := normalize(t, layer(t, typeBits, tar.FormatPAX), nil)
	var digests []string
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		_, d := normalize(t, layer(t, entries, f), nil)
		digests = append(digests, d)
	}
	if digests[0] != digests[1] || digests[1] != digests[2] || withBits != digests[0] {
		t.Fatalf("input format shows through: %v", digests)
	}
}
