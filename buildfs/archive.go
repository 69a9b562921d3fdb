package buildfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type compression int

const (
	uncompressed compression = iota
	gzipped
	bzipped
	xzed
	zstded
)

func (c compression) String() string {
	return [...]string{"tar", "gzip", "bzip2", "xz", "zstd"}[c]
}

// detectCompression looks at the first bytes of an archive.
func detectCompression(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return gzipped
	case bytes.HasPrefix(head, []byte("BZh")):
		return bzipped
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return xzed
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstded
	}
	return uncompressed
}

// decompressor returns the plain stream of r and a function that releases it.
func decompressor(r io.Reader) (io.Reader, compression, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, 0, nil, err
	}
	c := detectCompression(head)
	nop := func() {}
	switch c {
	case gzipped:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, nil, err
		}
		return zr, c, func() { zr.Close() }, nil
	case bzipped:
		return bzip2.NewReader(br), c, nop, nil
	case xzed:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, c, nil, err
		}
		return xr, c, nop, nil
	case zstded:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, nil, err
		}
		return zr, c, zr.Close, nil
	}
	return br, c, nop, nil
}

// IsArchive reports whether path is a tar archive Docker's ADD would extract: a plain,
// gzip, bzip2, xz or zstd compressed tar. The compression is detected by its magic bytes,
// then a valid tar header must follow. Anything else (a lone .gz file, a text file) is
// copied as it is.
func IsArchive(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	r, _, done, err := decompressor(f)
	if err != nil {
		return false, nil // bad compressed header: not an archive we extract
	}
	defer done()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}
