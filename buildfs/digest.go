package buildfs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Digest returns a stable "sha256:<hex>" over everything a COPY of srcs depends on: each
// source's relative name, and for it and (walking directories, honouring ign) every entry
// below it: the name relative to the source, the file type, the permission bits with
// setuid/setgid/sticky, the extended attributes COPY carries over, the symlink target and
// the content. Times and host ownership are
// left out: COPY makes files 0:0 unless --chown, which the builder adds to its cache key.
func Digest(srcs []Source, ign *Ignore) (string, error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for _, src := range srcs {
		writeField(h, "source")
		writeField(h, cleanRel(src.Rel))
		err := walkSource(src, ign, func(e entry) error {
			return digestEntry(h, e, buf)
		})
		if err != nil {
			return "", err
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func digestEntry(h hash.Hash, e entry, buf []byte) error {
	writeField(h, e.rel)
	mode := e.info.Mode()
	writeField(h, fmt.Sprintf("%c %o", fileTypeChar(mode), unixPerm(mode)))
	if mode.IsRegular() || mode.IsDir() {
		attrs, err := listXattrs(e.path)
		if err != nil {
			return err
		}
		writeField(h, fmt.Sprintf("xattrs %d", len(attrs)))
		for _, a := range attrs {
			writeField(h, a.name)
			writeField(h, string(a.value))
		}
	}
	switch {
	case mode.IsRegular():
		// Raw syscalls: this runs on every file of the context on every rebuild.
		fd, err := unix.Open(e.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: e.path, Err: err}
		}
		defer unix.Close(fd)
		// The content goes into a sub-hash so that it can be length-prefixed without
		// being buffered: a file changing under us still yields an unambiguous stream.
		sub := sha256.New()
		var n uint64
		for {
			r, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return &os.PathError{Op: "read", Path: e.path, Err: err}
			}
			if r == 0 {
				break
			}
			sub.Write(buf[:r])
			n += uint64(r)
		}
		var tmp [8]byte
		binary.BigEndian.PutUint64(tmp[:], n)
		h.Write(tmp[:])
		h.Write(sub.Sum(nil))
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(e.path)
		if err != nil {
			return err
		}
		writeField(h, target)
	}
	return nil
}

// writeField writes s length-prefixed, so that no two sequences of fields hash alike.
func writeField(h hash.Hash, s string) {
	var tmp [8]byte
	binary.BigEndian.PutUint64(tmp[:], uint64(len(s)))
	h.Write(tmp[:])
	_, _ = io.WriteString(h, s) // a hash takes every write
}

// fileTypeChar is a one-letter name of the file type.
func fileTypeChar(m fs.FileMode) byte {
	switch {
	case m.IsRegular():
		return 'f'
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	}
	return '?'
}

// unixPerm is the permission bits of m with setuid, setgid and sticky in their unix
// places (04000, 02000, 01000).
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}
