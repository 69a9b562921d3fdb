package hostile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
)

// epoch keeps every generated archive byte-for-byte reproducible.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Entry is one member of a generated tar. Zero > 0 gives a regular file a body of that
// many zero bytes, streamed (a bomb needs no memory to write); Sparse > 0 makes it a
// PAX sparse file (GNU 1.0) of that logical size holding one data byte at its end.
type Entry struct {
	Name     string
	Type     byte
	Body     []byte
	Link     string
	Mode     int64
	Zero     int64
	Sparse   int64
	Devmajor int64
	Devminor int64
}

// File, Dir, Symlink, Hardlink and Device make entries.
func File(name, body string) Entry {
	return Entry{Name: name, Type: tar.TypeReg, Body: []byte(body), Mode: 0o644}
}
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Link: target, Mode: 0o644}
}
func Device(name string, typ byte, major, minor int64) Entry {
	return Entry{Name: name, Type: typ, Mode: 0o666, Devmajor: major, Devminor: minor}
}

// WriteTar writes entries as a tar stream (PAX headers, fixed times).
func WriteTar(w io.Writer, entries []Entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := writeEntry(tw, w, e); err != nil {
			return fmt.Errorf("tar entry %s: %w", e.Name, err)
		}
	}
	return tw.Close()
}

// EntryWriter streams entries one by one into a tar (for cases of 100 000 entries).
type EntryWriter struct {
	w  io.Writer
	tw *tar.Writer
}

// NewEntryWriter starts a tar stream on w.
func NewEntryWriter(w io.Writer) *EntryWriter { return &EntryWriter{w: w, tw: tar.NewWriter(w)} }

// Add writes one entry.
func (ew *EntryWriter) Add(e Entry) error { return writeEntry(ew.tw, ew.w, e) }

// Close ends the tar stream (not w).
func (ew *EntryWriter) Close() error { return ew.tw.Close() }

func writeEntry(tw *tar.Writer, raw io.Writer, e Entry) error {
	if e.Sparse > 0 {
		// archive/tar reads sparse files but does not write them: the PAX header and
		// the sparse map are written by hand, in the GNU 1.0 format it reads.
		if err := tw.Flush(); err != nil {
			return err
		}
		return writeSparse(raw, e)
	}
	h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, ModTime: epoch,
		Devmajor: e.Devmajor, Devminor: e.Devminor, Format: tar.FormatPAX}
	if e.Type == tar.TypeReg {
		h.Size = int64(len(e.Body)) + e.Zero
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if len(e.Body) > 0 {
		if _, err := tw.Write(e.Body); err != nil {
			return err
		}
	}
	if e.Zero > 0 {
		if _, err := io.CopyN(tw, zeros{}, e.Zero); err != nil {
			return err
		}
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeSparse writes a PAX extended header declaring a GNU 1.0 sparse file of logical
// size e.Sparse, then the file's header and its data: the sparse map (one region: the
// last byte) in a 512-byte block, and that byte.
func writeSparse(w io.Writer, e Entry) error {
	records := map[string]string{
		"GNU.sparse.major":    "1",
		"GNU.sparse.minor":    "0",
		"GNU.sparse.name":     e.Name,
		"GNU.sparse.realsize": strconv.FormatInt(e.Sparse, 10),
		"path":                e.Name,
	}
	var pax bytes.Buffer
	for _, k := range []string{"GNU.sparse.major", "GNU.sparse.minor", "GNU.sparse.name", "GNU.sparse.realsize", "path"} {
		pax.WriteString(paxRecord(k, records[k]))
	}
	mapBlock := make([]byte, 512)
	copy(mapBlock, fmt.Sprintf("1\n%d\n1\n", e.Sparse-1))
	data := append(mapBlock, 'x')
	if err := writeHeader(w, "PaxHeaders/"+shortName(e.Name), 'x', int64(pax.Len()), 0o644); err != nil {
		return err
	}
	if err := writePadded(w, pax.Bytes()); err != nil {
		return err
	}
	if err := writeHeader(w, "GNUSparseFile.0/"+shortName(e.Name), tar.TypeReg, int64(len(data)), e.Mode); err != nil {
		return err
	}
	return writePadded(w, data)
}

func paxRecord(k, v string) string {
	rec := " " + k + "=" + v + "\n"
	n := len(rec)
	for {
		s := strconv.Itoa(n) + rec
		if len(s) == n {
			return s
		}
		n = len(s)
	}
}

func shortName(name string) string {
	if len(name) > 80 {
		return name[len(name)-80:]
	}
	return name
}

// writeHeader writes one ustar header block.
func writeHeader(w io.Writer, name string, typ byte, size, mode int64) error {
	var b [512]byte
	copy(b[0:100], name)
	copy(b[100:108], fmt.Sprintf("%07o\x00", mode))
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", epoch.Unix()))
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	_, err := w.Write(b[:])
	return err
}

func writePadded(w io.Writer, data []byte) error {
	if _, err := w.Write(data); err != nil {
		return err
	}
	if pad := (512 - len(data)%512) % 512; pad > 0 {
		_, err := w.Write(make([]byte, pad))
		return err
	}
	return nil
}

// Blob is a layer as written into an archive: its bytes' digest and size (compressed
// when it is), and the digest of the uncompressed tar (the image's diff ID).
type Blob struct {
	Path   string // the file holding it
	Digest string // sha256 hex of the file
	Size   int64
	DiffID string // sha256 hex of the uncompressed tar
	Gzip   bool
}

// hashWriter counts and hashes what goes through it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	hw.n += int64(len(p))
	return len(p), nil
}

func (hw *hashWriter) hex() string { return hex.EncodeToString(hw.h.Sum(nil)) }

// gzipWriter compresses at the fastest level (the bombs are long runs of zeros).
func gzipWriter(w io.Writer) *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw
}
