package buildfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/inroot"
)

// ExtractArchive extracts the tar archive at path (plain or gz/bz2/xz/zst) into the
// directory dest inside rootfs (created), as Docker's ADD: entry names are relative to
// dest (a leading "/" is dropped); existing files are replaced, existing directories
// kept; ownership from the archive is kept unless o.Chown; mode bits, mtimes and
// extended attributes are kept (o.Chmod does not apply); directories the archive does not
// list are created 0755, owned by o.Chown (0:0 without).
// Entries with a `..` component and hard links pointing outside dest are refused with an
// error naming the entry; every path is resolved inside rootfs, so that a symlink made by
// an earlier entry or present in the image leads nowhere outside it. Character and block
// devices are skipped and their names returned (an unprivileged user cannot create them).
func ExtractArchive(rootfs, dest, archivePath string, o CopyOptions) (skipped []string, err error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dr, comp, done, err := decompressor(f)
	if err != nil {
		return nil, fmt.Errorf("ADD %s: not a readable %s archive: %w", archivePath, comp, err)
	}
	defer done()
	r, err := openRoot(rootfs, o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	destRel := cleanRel(dest)
	top, err := r.mkdirAll(destRel, o.owner())
	if err != nil {
		return nil, err
	}
	top.Close()
	// What the archive unpacks is bounded by the free space of the root's file system:
	// a decompression bomb or a sparse file of a terabyte is refused at its header.
	budget, err := fsutil.NewBudget(rootfs)
	if err != nil {
		return nil, err
	}
	x := &extractor{r: r, o: o, dest: destRel, archive: archivePath, buf: make([]byte, 256<<10)}
	defer x.closeParent()
	tr := tar.NewReader(dr)
	entries := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if entries == 0 {
				if comp == uncompressed {
					return nil, fmt.Errorf("ADD %s: not a tar archive: %w", archivePath, err)
				}
				return nil, fmt.Errorf("ADD %s: not a tar archive inside the %s compression: %w", archivePath, comp, err)
			}
			return nil, fmt.Errorf("ADD %s: the archive is truncated or corrupt after %d entries: %w", archivePath, entries, err)
		}
		entries++
		if err := fsutil.CheckEntryShape(hdr.Name); err != nil {
			return nil, fmt.Errorf("ADD %s: %w", archivePath, err)
		}
		size := int64(0)
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeGNUSparse {
			size = hdr.Size
		}
		if !budget.Take(size+512, 1) {
			return nil, budget.Error("ADD "+archivePath, hdr.Name, size)
		}
		sk, err := x.entry(hdr, tr)
		if err != nil {
			return nil, err
		}
		if sk != "" {
			skipped = append(skipped, sk)
		}
	}
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		c := &copier{r: r}
		if err := c.setTimes(d.rel, d.mtime); err != nil {
			return nil, err
		}
	}
	return skipped, nil
}

type extractor struct {
	r       *root
	o       CopyOptions
	dest    string // root-relative
	archive string
	buf     []byte
	// The last parent directory opened, reused while entries stay in it.
	parentRel string
	parent    *os.File
	dirTimes  []dirTime
}

func (x *extractor) closeParent() {
	if x.parent != nil {
		x.parent.Close()
		x.parent = nil
	}
}

// entryName checks and cleans an archive name: relative to the archive root.
func (x *extractor) entryName(raw, what string) (string, error) {
	name := strings.TrimLeft(raw, "/")
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("ADD %s: %s %q has a `..` component, which could write outside the destination %s: refusing to extract the archive", x.archive, what, raw, x.r.Show(x.dest))
		}
	}
	return cleanRel(name), nil
}

func (x *extractor) openParent(rel string) (*os.File, error) {
	if x.parent != nil && x.parentRel == rel {
		return x.parent, nil
	}
	x.closeParent()
	f, err := x.r.mkdirAll(rel, x.o.owner())
	if err != nil {
		return nil, err
	}
	x.parent, x.parentRel = f, rel
	return f, nil
}

func (x *extractor) owner(hdr *tar.Header) IDPair {
	if x.o.Chown != nil {
		return *x.o.Chown
	}
	return IDPair{UID: hdr.Uid, GID: hdr.Gid}
}

// entry extracts one entry; it returns the entry's name when it was skipped.
func (x *extractor) entry(hdr *tar.Header, body io.Reader) (string, error) {
	name, err := x.entryName(hdr.Name, "entry")
	if err != nil {
		return "", err
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return "", nil
	case tar.TypeChar, tar.TypeBlock:
		return name, nil
	}
	if name == "." {
		return "", nil // the destination itself: left as it is
	}
	rel := path.Join(x.dest, name)
	parentRel, base := path.Split(rel)
	parentRel = cleanRel(parentRel)
	pf, err := x.openParent(parentRel)
	if err != nil {
		return "", fmt.Errorf("ADD %s: entry %q: %w", x.archive, hdr.Name, err)
	}
	pfd := int(pf.Fd())
	st, exists, err := inroot.Lstat(pfd, base)
	if err != nil {
		return "", &os.PathError{Op: "lstat", Path: x.r.Show(rel), Err: err}
	}
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if exists && !(isDir && hdr.Typeflag == tar.TypeDir) {
		if err := inroot.RemoveAll(pfd, base); err != nil {
			return "", &os.PathError{Op: "remove", Path: x.r.Show(rel), Err: err}
		}
		if isDir || st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// A cached parent handle may be below what was removed or replaced.
			defer x.closeParent()
		}
	}
	at := entryAt{pfd: pfd, base: base, rel: rel, hdr: hdr}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return "", x.dir(at, isDir)
	case tar.TypeReg, tar.TypeGNUSparse:
		return "", x.file(at, body)
	case tar.TypeSymlink:
		return "", x.symlink(at)
	case tar.TypeLink:
		return "", x.hardLink(at)
	case tar.TypeFifo:
		return "", x.fifo(at)
	default:
		return "", fmt.Errorf("ADD %s: entry %q has the unsupported tar type %q", x.archive, hdr.Name, string(hdr.Typeflag))
	}
}

// entryAt is where an entry goes: base in the directory open as pfd, rel in the root.
type entryAt struct {
	pfd       int
	base, rel string
	hdr       *tar.Header
}

// dir makes a directory entry (or takes the existing one) with its metadata; its times
// are set once everything in it is extracted.
func (x *extractor) dir(at entryAt, exists bool) error {
	var d *os.File
	var err error
	if exists {
		d, err = inroot.OpenDir(at.pfd, at.base)
	} else {
		d, err = inroot.MkdirOpen(at.pfd, at.base)
	}
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: x.r.Show(at.rel), Err: err}
	}
	defer d.Close()
	if err := x.meta(d, at.rel, at.hdr, at.hdr.FileInfo().Mode()); err != nil {
		return err
	}
	if err := setXattrs(int(d.Fd()), xattrsFromPAX(at.hdr.PAXRecords), x.r.Show(at.rel)); err != nil {
		return err
	}
	x.dirTimes = append(x.dirTimes, dirTime{at.rel, at.hdr.ModTime})
	return nil
}

// file writes a regular file's content and metadata.
func (x *extractor) file(at entryAt, body io.Reader) error {
	out, err := inroot.Create(at.pfd, at.base)
	if err != nil {
		return &os.PathError{Op: "create", Path: x.r.Show(at.rel), Err: err}
	}
	_, err = io.CopyBuffer(out, body, x.buf)
	if err == nil {
		err = x.meta(out, at.rel, at.hdr, at.hdr.FileInfo().Mode())
	}
	if err == nil {
		err = setXattrs(int(out.Fd()), xattrsFromPAX(at.hdr.PAXRecords), x.r.Show(at.rel))
	}
	if err == nil {
		err = x.times(out, at.rel, at.hdr.ModTime)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("ADD %s: the archive is truncated or corrupt in the entry %q: %w", x.archive, at.hdr.Name, err)
	}
	if err != nil {
		return fmt.Errorf("ADD %s: extracting %q to %s: %w", x.archive, at.hdr.Name, x.r.Show(at.rel), err)
	}
	return nil
}

// symlink makes a symbolic link as it is (its target is data, never followed).
func (x *extractor) symlink(at entryAt) error {
	if err := unix.Symlinkat(at.hdr.Linkname, at.pfd, at.base); err != nil {
		return &os.PathError{Op: "symlink", Path: x.r.Show(at.rel), Err: err}
	}
	if err := x.r.chown(at.pfd, at.base, at.rel, x.owner(at.hdr)); err != nil {
		return fmt.Errorf("ADD %s: entry %q: %w", x.archive, at.hdr.Name, err)
	}
	if err := inroot.SetTimesAt(at.pfd, at.base, at.hdr.ModTime); err != nil {
		return &os.PathError{Op: "set times of", Path: x.r.Show(at.rel), Err: err}
	}
	return nil
}

// hardLink links to an entry extracted before (resolved inside the destination); the
// target's metadata is the link's.
func (x *extractor) hardLink(at entryAt) error {
	hdr := at.hdr
	target, err := x.entryName(hdr.Linkname, "hard link target of "+fmt.Sprintf("%q", hdr.Name)+":")
	if err != nil {
		return err
	}
	if target == "." {
		return fmt.Errorf("ADD %s: hard link %q points to the destination directory itself", x.archive, hdr.Name)
	}
	tpRel, tbase := path.Split(path.Join(x.dest, target))
	tp, err := x.r.Open(tpRel)
	if err != nil {
		return fmt.Errorf("ADD %s: hard link %q: its target %q: %w", x.archive, hdr.Name, hdr.Linkname, err)
	}
	err = unix.Linkat(int(tp.Fd()), tbase, at.pfd, at.base, 0)
	tp.Close()
	if err != nil {
		return fmt.Errorf("ADD %s: hard link %q to %q: %w", x.archive, hdr.Name, hdr.Linkname, &os.PathError{Op: "link", Path: x.r.Show(at.rel), Err: err})
	}
	return nil
}

// fifo makes a named pipe with its metadata (opened without blocking, for them).
func (x *extractor) fifo(at entryAt) error {
	f, err := inroot.Mkfifo(at.pfd, at.base)
	if err != nil {
		return &os.PathError{Op: "mkfifo", Path: x.r.Show(at.rel), Err: err}
	}
	defer f.Close()
	if err := x.meta(f, at.rel, at.hdr, at.hdr.FileInfo().Mode()); err != nil {
		return err
	}
	return x.times(f, at.rel, at.hdr.ModTime)
}

// meta sets the owner and mode of the entry open as f (chown first: it clears setuid
// bits).
func (x *extractor) meta(f *os.File, rel string, hdr *tar.Header, mode fs.FileMode) error {
	if err := x.r.fchown(f, rel, x.owner(hdr)); err != nil {
		return fmt.Errorf("ADD %s: entry %q: %w", x.archive, hdr.Name, err)
	}
	return x.r.fchmod(f, rel, unixPerm(mode))
}

func (x *extractor) times(f *os.File, rel string, mtime time.Time) error {
	if err := inroot.SetTimes(f, mtime); err != nil {
		return &os.PathError{Op: "set times of", Path: x.r.Show(rel), Err: err}
	}
	return nil
}
