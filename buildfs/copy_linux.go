package buildfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"hutch.dev/hutch/internal/inroot"
)

// CopyInto copies srcs to dest inside rootfs with Docker's COPY semantics: a directory
// source copies its contents; several sources or a dest ending in "/" make dest a
// directory (created); a single file to a dest that is an existing directory goes into
// it; missing parents are created 0755, owned by o.Chown (0:0 without). dest is an
// absolute container path. Every path in rootfs is resolved inside it. Symlinks are
// copied as symlinks; regular files keep their mode (unless o.Chmod) and mtime; hard
// links become copies; device nodes, fifos and sockets are refused.
func CopyInto(rootfs, dest string, srcs []Source, o CopyOptions) error {
	if len(srcs) == 0 {
		return errors.New("COPY: no source to copy")
	}
	r, err := openRoot(rootfs, o)
	if err != nil {
		return err
	}
	defer r.Close()
	c := &copier{r: r, o: o, buf: make([]byte, 256<<10)}
	destRel := cleanRel(dest)
	dirDest := len(srcs) > 1 || strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "."
	if !dirDest && !srcs[0].Info.IsDir() {
		// A single file: into dest if that is an existing directory, else as dest.
		if f, err := r.Open(destRel); err == nil {
			isDir, _ := inroot.IsDir(f)
			f.Close()
			dirDest = isDir
		}
		if !dirDest {
			if destRel == "." {
				return fmt.Errorf("COPY: cannot write the file %s as the root directory", srcs[0].Rel)
			}
			parentRel, name := path.Split(destRel)
			parent, err := r.mkdirAll(parentRel, o.owner())
			if err != nil {
				return err
			}
			defer parent.Close()
			return c.copyTree(srcs[0], parent, cleanRel(parentRel), name)
		}
	}
	for _, src := range srcs {
		if src.Info.IsDir() {
			if err := c.copyTree(src, nil, destRel, ""); err != nil {
				return err
			}
			continue
		}
		dir, err := r.mkdirAll(destRel, o.owner())
		if err != nil {
			return err
		}
		err = c.copyTree(src, dir, destRel, path.Base(cleanRel(src.Rel)))
		dir.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

type copier struct {
	r   *root
	o   CopyOptions
	buf []byte
}

type dirTime struct {
	rel   string
	mtime time.Time
}

// copyTree copies src. A directory source: its contents go into the directory destRel
// (created when missing; parent and name are unused). Anything else: written as name in
// the directory parent (whose root-relative path is destRel).
func (c *copier) copyTree(src Source, parent *os.File, destRel, name string) error {
	if !src.Info.IsDir() {
		return c.copyEntry(entry{rel: ".", path: src.Path, info: src.Info}, int(parent.Fd()), path.Join(destRel, name), name)
	}
	top, created, err := c.ensureDir(destRel, src.Info, src.Path)
	if err != nil {
		return err
	}
	// Open handles of the directories on the current walk path, by source-relative name.
	dirs := map[string]*os.File{".": top}
	defer func() {
		for _, f := range dirs {
			f.Close()
		}
	}()
	var times []dirTime
	if created {
		times = append(times, dirTime{destRel, src.Info.ModTime()})
	}
	err = walkSource(src, c.o.Ignore, func(e entry) error {
		if e.rel == "." {
			return nil
		}
		pdir, name := path.Split(e.rel)
		pdir = cleanRel(pdir)
		pf := dirs[pdir]
		if pf == nil {
			return fmt.Errorf("COPY: internal error: directory %s not open while copying %s", pdir, e.path)
		}
		target := path.Join(destRel, e.rel)
		if e.info.IsDir() {
			f, created, err := c.subDir(int(pf.Fd()), name, target, e.info, e.path)
			if err != nil {
				return err
			}
			// The walk is depth-first: handles of finished siblings can be closed.
			for k, v := range dirs {
				if k != "." && !isPrefixDir(pdir, k) {
					v.Close()
					delete(dirs, k)
				}
			}
			dirs[e.rel] = f
			if created {
				times = append(times, dirTime{target, e.info.ModTime()})
			}
			return nil
		}
		return c.copyEntry(e, int(pf.Fd()), target, name)
	})
	if err != nil {
		return err
	}
	// Directory times last, deepest first, once nothing more is written in them.
	for i := len(times) - 1; i >= 0; i-- {
		if err := c.setTimes(times[i].rel, times[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// isPrefixDir reports whether dir is anc or below it ("." is above everything).
func isPrefixDir(dir, anc string) bool {
	return anc == "." || dir == anc || strings.HasPrefix(dir, anc+"/")
}

// ensureDir opens the directory rel in the root, creating it (and its parents) when
// missing; a created one gets the source directory's mode and the copy's owner.
func (c *copier) ensureDir(rel string, info fs.FileInfo, src string) (*os.File, bool, error) {
	if f, err := c.r.Open(rel); err == nil {
		ok, err := inroot.IsDir(f)
		if err == nil && ok {
			return f, false, nil
		}
		f.Close()
		if err == nil {
			err = fmt.Errorf("COPY: %s exists and is not a directory: cannot copy the directory contents into it", c.r.Show(rel))
		}
		return nil, false, err
	}
	parentRel, name := path.Split(rel)
	parent, err := c.r.mkdirAll(parentRel, c.o.owner())
	if err != nil {
		return nil, false, err
	}
	defer parent.Close()
	if name == "" { // the root itself always exists
		return nil, false, fmt.Errorf("COPY: cannot open %s", c.r.Show(rel))
	}
	return c.subDir(int(parent.Fd()), name, rel, info, src)
}

// subDir returns a handle on the directory name in pfd (root-relative path rel),
// creating it with the mode and extended attributes of the source directory (info, at
// the host path src) and the copy's owner when missing. An existing symlink is
// followed inside the root when it leads to a directory (an image's /bin -> usr/bin);
// anything else there is an error.
func (c *copier) subDir(pfd int, name, rel string, info fs.FileInfo, src string) (*os.File, bool, error) {
	st, exists, err := inroot.Lstat(pfd, name)
	if err != nil {
		return nil, false, &os.PathError{Op: "lstat", Path: c.r.Show(rel), Err: err}
	}
	if exists {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			fd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, false, &os.PathError{Op: "open", Path: c.r.Show(rel), Err: err}
			}
			return os.NewFile(uintptr(fd), rel), false, nil
		case unix.S_IFLNK:
			// Followed inside the root; a dangling one gets its target created.
			if f, err := c.r.mkdirAll(rel, c.o.owner()); err == nil {
				return f, false, nil
			}
		}
		return nil, false, fmt.Errorf("COPY: cannot copy the directory %s over %s, which is not a directory", info.Name(), c.r.Show(rel))
	}
	f, err := inroot.MkdirOpen(pfd, name)
	if err != nil {
		return nil, false, &os.PathError{Op: "mkdir", Path: c.r.Show(rel), Err: err}
	}
	if err := c.setMeta(f, rel, info.Mode()); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := c.copyXattrs(src, int(f.Fd()), rel); err != nil {
		f.Close()
		return nil, false, err
	}
	return f, true, nil
}

// copyXattrs copies the extended attributes of the host file src to the open fd.
func (c *copier) copyXattrs(src string, fd int, rel string) error {
	if src == "" {
		return nil
	}
	attrs, err := listXattrs(src)
	if err != nil || len(attrs) == 0 {
		return err
	}
	return setXattrs(fd, attrs, c.r.Show(rel))
}

// setMeta sets owner and mode of the open file f (chown first: it clears setuid bits).
func (c *copier) setMeta(f *os.File, rel string, mode fs.FileMode) error {
	if err := c.r.fchown(f, rel, c.o.owner()); err != nil {
		return err
	}
	return c.r.fchmod(f, rel, c.o.modeFor(mode))
}

// replaceable removes a non-directory at name so that a new file can be made there.
func (c *copier) replaceable(pfd int, name, rel, what string) error {
	st, exists, err := inroot.Lstat(pfd, name)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: c.r.Show(rel), Err: err}
	}
	if !exists {
		return nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("COPY: cannot replace the directory %s with the %s %s", c.r.Show(rel), fileKind(st.Mode), what)
	}
	if err := unix.Unlinkat(pfd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: c.r.Show(rel), Err: err}
	}
	return nil
}

func fileKind(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	}
	return "file"
}

// copyEntry writes the non-directory e as name in pfd (root-relative path rel).
func (c *copier) copyEntry(e entry, pfd int, rel, name string) error {
	mode := e.info.Mode()
	switch {
	case mode.IsRegular():
		if err := c.replaceable(pfd, name, rel, "file "+e.path); err != nil {
			return err
		}
		in, err := os.OpenFile(e.path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := inroot.Create(pfd, name)
		if err != nil {
			return &os.PathError{Op: "create", Path: c.r.Show(rel), Err: err}
		}
		defer out.Close()
		if _, err := io.CopyBuffer(out, in, c.buf); err != nil {
			return fmt.Errorf("copying %s to %s: %w", e.path, c.r.Show(rel), err)
		}
		if err := c.setMeta(out, rel, mode); err != nil {
			return err
		}
		if err := c.copyXattrs(e.path, int(out.Fd()), rel); err != nil {
			return err
		}
		if err := inroot.SetTimes(out, e.info.ModTime()); err != nil {
			return &os.PathError{Op: "set times of", Path: c.r.Show(rel), Err: err}
		}
		return nil
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(e.path)
		if err != nil {
			return err
		}
		if err := c.replaceable(pfd, name, rel, "symlink "+e.path); err != nil {
			return err
		}
		if err := unix.Symlinkat(target, pfd, name); err != nil {
			return &os.PathError{Op: "symlink", Path: c.r.Show(rel), Err: err}
		}
		if err := c.r.chown(pfd, name, rel, c.o.owner()); err != nil {
			return err
		}
		return c.setTimesAt(pfd, name, rel, e.info.ModTime())
	case mode.IsDir():
		return fmt.Errorf("COPY: internal error: directory %s copied as a file", e.path)
	}
	return fmt.Errorf("COPY: %s is a %s: only regular files, directories and symlinks can be copied (remove it from the context or add it to .dockerignore)", e.path, specialKind(mode))
}

func specialKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (fifo)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// setTimesAt sets the times of name in pfd itself (a symlink is not followed).
func (c *copier) setTimesAt(pfd int, name, rel string, mtime time.Time) error {
	if err := inroot.SetTimesAt(pfd, name, mtime); err != nil {
		return &os.PathError{Op: "set times of", Path: c.r.Show(rel), Err: err}
	}
	return nil
}

// setTimes sets the times of the entry rel (resolved inside the root up to its parent;
// the entry itself is not followed).
func (c *copier) setTimes(rel string, mtime time.Time) error {
	parentRel, name := path.Split(cleanRel(rel))
	if name == "" || cleanRel(rel) == "." {
		return nil
	}
	parent, err := c.r.Open(parentRel)
	if err != nil {
		return err
	}
	defer parent.Close()
	return c.setTimesAt(int(parent.Fd()), name, rel, mtime)
}

// WriteFile writes data (a COPY heredoc) as name in the directory dest when dest ends in
// "/" or is an existing directory, else as dest; mode 0644 (or o.Chmod), owner o.Chown
// (0:0 without), parents created like CopyInto.
func WriteFile(rootfs, dest, name string, data []byte, o CopyOptions) error {
	r, err := openRoot(rootfs, o)
	if err != nil {
		return err
	}
	defer r.Close()
	destRel := cleanRel(dest)
	dirDest := strings.HasSuffix(dest, "/") || destRel == "."
	if !dirDest {
		if f, err := r.Open(destRel); err == nil {
			dirDest, _ = inroot.IsDir(f)
			f.Close()
		}
	}
	var parentRel string
	if dirDest {
		if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			return fmt.Errorf("COPY: invalid heredoc file name %q", name)
		}
		parentRel = destRel
	} else {
		parentRel, name = path.Split(destRel)
	}
	parent, err := r.mkdirAll(parentRel, o.owner())
	if err != nil {
		return err
	}
	defer parent.Close()
	c := &copier{r: r, o: o}
	pfd := int(parent.Fd())
	rel := path.Join(cleanRel(parentRel), name)
	if err := c.replaceable(pfd, name, rel, "heredoc file"); err != nil {
		return err
	}
	out, err := inroot.Create(pfd, name)
	if err != nil {
		return &os.PathError{Op: "create", Path: r.Show(rel), Err: err}
	}
	if _, err := out.Write(data); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", r.Show(rel), err)
	}
	if err := c.setMeta(out, rel, 0o644); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", r.Show(rel), err)
	}
	return nil
}
