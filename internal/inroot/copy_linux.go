package inroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"

	"golang.org/x/sys/unix"
)

// Copy copies trees from one directory descriptor to another, both sides by descriptor
// only: a source entry is opened relative to its directory's descriptor without
// following a symlink, a destination entry is created relative to its directory's
// descriptor without following one (an existing non-directory is removed first, never
// written through), and the copy's mode and times are set on its own descriptor. So a
// process that swaps a directory for a symlink on either side while the copy runs
// cannot make it read or write anything but the trees it was given.
//
// What is copied: regular files (content — holes stay holes —, permission bits and
// modification time), directories (made with the source's mode; an existing one is
// merged into and keeps its own mode and times), symlinks (as they are: their target is
// never followed, nor checked — it is data) and fifos. Hard links between copied files
// stay hard links in the copy. Sockets and device nodes, which an unprivileged user
// cannot make, are left out and listed in Skipped. Owners are not copied: what the copy
// makes belongs to whoever runs it.
//
// An entry that changes while it is copied (a file that became a fifo or a symlink, a
// directory that became a file) stops the copy with an error naming it.
type Copy struct {
	// SrcName and DstName name an entry in messages, from its path relative to the
	// directory given to Entry or Contents (nil: the relative path itself).
	SrcName, DstName func(rel string) string
	// KeepSpecialBits keeps the setuid, setgid and sticky bits; without it only the
	// permission bits (0777) are copied.
	KeepSpecialBits bool
	// Skipped lists, after the copy, the entries left out (sockets, device nodes).
	Skipped []Skipped

	buf     []byte
	links   map[fileID]linkRef // the first copy of each source file with several links
	dirs    map[fileID]*os.File
	created map[fileID]bool // directories the copy made: a source there is the copy itself
}

// Skipped is a source entry Copy left out, and what it is.
type Skipped struct {
	Rel, Kind string
}

type fileID struct{ dev, ino uint64 }

type linkRef struct {
	dir  fileID // key into Copy.dirs: a descriptor on the directory holding it
	name string
}

// maxLinkDirs bounds the directory descriptors kept to recreate hard links; past it,
// further hard-linked files are copied as separate files.
const maxLinkDirs = 512

// Close releases what the copy kept to recreate hard links.
func (c *Copy) Close() {
	for _, f := range c.dirs {
		f.Close()
	}
	c.dirs, c.links = nil, nil
}

func (c *Copy) srcName(rel string) string {
	if c.SrcName == nil {
		return rel
	}
	return c.SrcName(rel)
}

func (c *Copy) dstName(rel string) string {
	if c.DstName == nil {
		return rel
	}
	return c.DstName(rel)
}

// Entry copies the entry srcName of the directory src as dstName in the directory dst
// (dst may be an O_PATH descriptor; src must be one that can be read when srcName is
// a directory's "."). A directory is copied with everything in it; when dstName is an
// existing directory, the source's entries are merged into it.
func (c *Copy) Entry(src *os.File, srcName string, dst *os.File, dstName string) error {
	if c.buf == nil {
		c.buf = make([]byte, 256<<10)
	}
	return c.entry(int(src.Fd()), srcName, srcName, int(dst.Fd()), dstName, dstName, true)
}

// Contents copies the entries of the directory src into the directory dst, merging
// them with what dst holds.
func (c *Copy) Contents(src, dst *os.File) error {
	if c.buf == nil {
		c.buf = make([]byte, 256<<10)
	}
	return c.contents(src, ".", dst, ".")
}

func (c *Copy) mode(st *unix.Stat_t) uint32 {
	if c.KeepSpecialBits {
		return st.Mode & 0o7777
	}
	return st.Mode & 0o777
}

// changed is the error for an entry that is not what it was a moment before.
func (c *Copy) changed(srel string, now uint32) error {
	return fmt.Errorf("%s changed while it was being copied (it is now a %s): copy it again once nothing changes it", c.srcName(srel), Kind(now))
}

// entry copies sname in sdir (source path srel, for messages) as dname in ddir
// (destination path drel). An entry that is gone (removed since its directory was
// listed) is no error unless it must exist.
func (c *Copy) entry(sdir int, sname, srel string, ddir int, dname, drel string, mustExist bool) error {
	st, exists, err := Lstat(sdir, sname)
	if err == nil && !exists {
		if !mustExist {
			return nil
		}
		err = unix.ENOENT
	}
	if err != nil {
		return &os.PathError{Op: "lstat", Path: c.srcName(srel), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.dir(sdir, sname, srel, ddir, dname, drel)
	case unix.S_IFREG:
		return c.file(sdir, sname, srel, ddir, dname, drel)
	case unix.S_IFLNK:
		target, err := Readlink(sdir, sname)
		if errors.Is(err, unix.EINVAL) {
			return c.changed(srel, c.nowKind(sdir, sname))
		}
		if err != nil {
			return &os.PathError{Op: "readlink", Path: c.srcName(srel), Err: err}
		}
		if err := c.clear(ddir, dname, drel, unix.S_IFLNK, srel); err != nil {
			return err
		}
		if err := unix.Symlinkat(target, ddir, dname); err != nil {
			return &os.PathError{Op: "symlink", Path: c.dstName(drel), Err: err}
		}
		if err := SetTimesAt(ddir, dname, Mtime(&st)); err != nil {
			return &os.PathError{Op: "set times of", Path: c.dstName(drel), Err: err}
		}
		return nil
	case unix.S_IFIFO:
		if err := c.clear(ddir, dname, drel, unix.S_IFIFO, srel); err != nil {
			return err
		}
		f, err := Mkfifo(ddir, dname)
		if err != nil {
			return &os.PathError{Op: "mkfifo", Path: c.dstName(drel), Err: err}
		}
		defer f.Close()
		return c.meta(f, &st, drel)
	}
	c.Skipped = append(c.Skipped, Skipped{Rel: srel, Kind: Kind(st.Mode)})
	return nil
}

// nowKind is what sname is now (for the message about an entry that changed).
func (c *Copy) nowKind(sdir int, sname string) uint32 {
	st, _, _ := Lstat(sdir, sname)
	return st.Mode
}

// meta sets the mode and times of the copy open as f, from the source's st.
func (c *Copy) meta(f *os.File, st *unix.Stat_t, drel string) error {
	if err := unix.Fchmod(int(f.Fd()), c.mode(st)); err != nil {
		return &os.PathError{Op: "chmod", Path: c.dstName(drel), Err: err}
	}
	if err := SetTimes(f, Mtime(st)); err != nil {
		return &os.PathError{Op: "set times of", Path: c.dstName(drel), Err: err}
	}
	return nil
}

// clear makes room for a non-directory at dname: nothing there is fine, a directory is
// an error, anything else (a file, a symlink — not followed) is removed.
func (c *Copy) clear(ddir int, dname, drel string, kind uint32, srel string) error {
	st, exists, err := Lstat(ddir, dname)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: c.dstName(drel), Err: err}
	}
	if !exists {
		return nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("cannot replace the directory %s with the %s %s", c.dstName(drel), Kind(kind), c.srcName(srel))
	}
	if err := unix.Unlinkat(ddir, dname, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: c.dstName(drel), Err: err}
	}
	return nil
}

func (c *Copy) file(sdir int, sname, srel string, ddir int, dname, drel string) error {
	in, st, err := OpenRead(sdir, sname)
	if errors.Is(err, unix.ELOOP) {
		return c.changed(srel, unix.S_IFLNK)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: c.srcName(srel), Err: err}
	}
	defer in.Close()
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return c.changed(srel, st.Mode)
	}
	if err := c.clear(ddir, dname, drel, unix.S_IFREG, srel); err != nil {
		return err
	}
	id := fileID{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 {
		if ref, ok := c.links[id]; ok {
			if err := unix.Linkat(int(c.dirs[ref.dir].Fd()), ref.name, ddir, dname, 0); err == nil {
				return nil
			}
			// The first copy is gone or elsewhere: this one is copied on its own.
		}
	}
	out, err := Create(ddir, dname)
	if err != nil {
		return &os.PathError{Op: "create", Path: c.dstName(drel), Err: err}
	}
	defer out.Close()
	if err := copyData(out, in, st.Size, c.buf); err != nil {
		return fmt.Errorf("copying %s to %s: %w", c.srcName(srel), c.dstName(drel), err)
	}
	if err := c.meta(out, &st, drel); err != nil {
		return err
	}
	if st.Nlink > 1 {
		c.remember(id, ddir, dname)
	}
	return nil
}

// remember records the copy dname in ddir of the multiply linked source file id.
func (c *Copy) remember(id fileID, ddir int, dname string) {
	var dst unix.Stat_t
	if unix.Fstat(ddir, &dst) != nil {
		return
	}
	dirID := fileID{uint64(dst.Dev), dst.Ino}
	if c.dirs[dirID] == nil {
		if len(c.dirs) >= maxLinkDirs {
			return
		}
		fd, err := unix.Openat(ddir, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		if c.dirs == nil {
			c.dirs, c.links = map[fileID]*os.File{}, map[fileID]linkRef{}
		}
		c.dirs[dirID] = os.NewFile(uintptr(fd), dname)
	}
	c.links[id] = linkRef{dir: dirID, name: dname}
}

// copyData copies size bytes of in to out, leaving holes where in has holes (so a
// sparse file of a terabyte does not become a terabyte of zeros), and stops early
// when in shrinks meanwhile.
func copyData(out, in *os.File, size int64, buf []byte) error {
	var off int64
	for off < size {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		hole := size
		if err != nil {
			data = off // no SEEK_DATA here: copy everything
		} else if h, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE); err == nil && h < size {
			hole = h
		}
		if data >= size {
			break
		}
		n, err := io.CopyBuffer(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data), buf)
		if err != nil {
			return err
		}
		if n < hole-data {
			break // the file shrank meanwhile
		}
		off = hole
	}
	return out.Truncate(size)
}

func (c *Copy) dir(sdir int, sname, srel string, ddir int, dname, drel string) error {
	in, err := OpenDir(sdir, sname)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return c.changed(srel, c.nowKind(sdir, sname))
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: c.srcName(srel), Err: err}
	}
	defer in.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(in.Fd()), &st); err != nil {
		return &os.PathError{Op: "stat", Path: c.srcName(srel), Err: err}
	}
	if c.created[fileID{uint64(st.Dev), st.Ino}] {
		return fmt.Errorf("cannot copy %s into itself (the destination %s is inside it)", c.srcName(srel), c.dstName(drel))
	}
	out, made, err := c.destDir(ddir, dname, drel, srel)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := c.contents(in, srel, out, drel); err != nil {
		return err
	}
	if !made {
		return nil
	}
	// Mode and times last: a read-only directory can still be filled, and its time is
	// not changed by what was made in it.
	return c.meta(out, &st, drel)
}

// destDir opens the directory dname in ddir, making it when nothing is there; made
// tells which. Anything else there — a symlink too: it is not followed — is an error.
func (c *Copy) destDir(ddir int, dname, drel, srel string) (out *os.File, made bool, err error) {
	out, err = MkdirOpen(ddir, dname)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(out.Fd()), &st); err == nil {
			if c.created == nil {
				c.created = map[fileID]bool{}
			}
			c.created[fileID{uint64(st.Dev), st.Ino}] = true
		}
		return out, true, nil
	}
	if !errors.Is(err, unix.EEXIST) {
		return nil, false, &os.PathError{Op: "mkdir", Path: c.dstName(drel), Err: err}
	}
	out, err = OpenDir(ddir, dname)
	if err == nil {
		return out, false, nil
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		st, _, _ := Lstat(ddir, dname)
		return nil, false, fmt.Errorf("cannot copy the directory %s over %s, which is a %s (a symlink there is not followed): remove it first", c.srcName(srel), c.dstName(drel), Kind(st.Mode))
	}
	return nil, false, &os.PathError{Op: "open", Path: c.dstName(drel), Err: err}
}

// contents copies the entries of the directory in (source path srel) into the
// directory out (destination path drel), in name order.
func (c *Copy) contents(in *os.File, srel string, out *os.File, drel string) error {
	names, err := readNames(in)
	if err != nil {
		return &os.PathError{Op: "read directory", Path: c.srcName(srel), Err: err}
	}
	for _, n := range names {
		if err := c.entry(int(in.Fd()), n, path.Join(srel, n), int(out.Fd()), n, path.Join(drel, n), false); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists the directory open as d, sorted; d must be readable (not O_PATH).
func readNames(d *os.File) ([]string, error) {
	// A fresh descriptor: d's own offset may already be at the end.
	fd, err := unix.Openat(int(d.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.Name())
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}
