package inroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Root is a directory tree in which every path is resolved as if the tree were "/".
type Root struct {
	dir      string   // host path, for messages
	f        *os.File // O_PATH handle on the root
	fallback bool     // resolve with pathrs-lite: openat2 is not available
}

var forceFallback atomic.Bool

// UseFallback makes the Roots opened from now on resolve with pathrs-lite, as on a
// kernel without openat2, until the returned function is called: for tests that prove
// both resolvers.
func UseFallback() (restore func()) {
	old := forceFallback.Swap(true)
	return func() { forceFallback.Store(old) }
}

// OpenRoot opens the directory dir (a path resolved as usual, by the caller's trust) as
// the root of a tree.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open root file system", Path: dir, Err: err}
	}
	return &Root{dir: dir, f: os.NewFile(uintptr(fd), dir), fallback: forceFallback.Load()}, nil
}

// RootFrom makes the directory f names the root of a tree (its handle duplicated: f
// stays the caller's). dir names it in messages. A handle opened in another mount
// namespace resolves paths through that namespace's mounts, wherever it is used.
func RootFrom(f *os.File, dir string) (*Root, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, &os.PathError{Op: "duplicate the root's handle", Path: dir, Err: err}
	}
	h := os.NewFile(uintptr(fd), dir)
	if ok, err := IsDir(h); err != nil || !ok {
		h.Close()
		if err == nil {
			err = unix.ENOTDIR
		}
		return nil, &os.PathError{Op: "open root file system", Path: dir, Err: err}
	}
	return &Root{dir: dir, f: h, fallback: forceFallback.Load()}, nil
}

// Close releases the root's handle; descriptors it returned stay open.
func (r *Root) Close() error { return r.f.Close() }

// Dir is the root's host path, as given to OpenRoot.
func (r *Root) Dir() string { return r.dir }

// Show names a root-relative path for messages: the path in the tree and where it is on
// the host, e.g. "/etc/passwd (/home/u/…/merged/etc/passwd)".
func (r *Root) Show(rel string) string {
	rel = Rel(rel)
	if rel == "." {
		return "/ (" + r.dir + ")"
	}
	return "/" + rel + " (" + path.Join(r.dir, rel) + ")"
}

// maxRetries bounds the retries of a resolution that a concurrent rename interrupted
// (EAGAIN): a process in the tree renaming without pause cannot keep hutch spinning.
const maxRetries = 128

// OpenFile resolves rel inside the root, following every symlink on the way — the last
// component too — inside it, and opens the result with flags (O_CLOEXEC is added;
// O_PATH for a handle that only names it). O_CREAT and O_NOFOLLOW are refused: create
// and open single entries with the *at primitives on the parent's descriptor.
func (r *Root) OpenFile(rel string, flags int) (*os.File, error) {
	rel = Rel(rel)
	if flags&(unix.O_CREAT|unix.O_NOFOLLOW) != 0 {
		return nil, fmt.Errorf("inroot: OpenFile(%s) with O_CREAT or O_NOFOLLOW: use the *at primitives on the parent", r.Show(rel))
	}
	if !r.fallback {
		how := &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		fd, err := unix.Openat2(int(r.f.Fd()), rel, how)
		for i := 0; i < maxRetries && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)); i++ {
			fd, err = unix.Openat2(int(r.f.Fd()), rel, how)
		}
		if err == nil {
			return os.NewFile(uintptr(fd), path.Join(r.dir, rel)), nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return nil, &os.PathError{Op: "open", Path: r.Show(rel), Err: err}
		}
		r.fallback = true
	}
	h, err := pathrs.OpenatInRoot(r.f, rel)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.Show(rel), err)
	}
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 {
			if ok, err := IsDir(h); err != nil || !ok {
				h.Close()
				if err == nil {
					err = unix.ENOTDIR
				}
				return nil, &os.PathError{Op: "open", Path: r.Show(rel), Err: err}
			}
		}
		return h, nil
	}
	// Reopened through the handle (pathrs-lite checks the procfs path it uses).
	f, err := pathrs.Reopen(h, flags|unix.O_CLOEXEC)
	h.Close()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.Show(rel), err)
	}
	return f, nil
}

// Open is OpenFile(rel, O_PATH): a handle naming what rel leads to inside the root.
func (r *Root) Open(rel string) (*os.File, error) { return r.OpenFile(rel, unix.O_PATH) }

// IsDir reports whether the handle is a directory.
func IsDir(f *os.File) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// maxLinks is how many symlinks one path may lead through (the kernel's MAXSYMLINKS).
const maxLinks = 40

// MkdirAll returns an O_PATH handle on the directory rel inside the root, creating the
// missing components with mode 0755 (exactly: not masked by the umask). made, when not
// nil, is called with a descriptor on each directory it creates, before its mode is set
// (buildfs sets the owner there). Existing symlinks on the way are followed inside the
// root, dangling ones too: their target is created, inside the root.
func (r *Root) MkdirAll(rel string, made func(dir *os.File, rel string) error) (*os.File, error) {
	return r.mkdirAll(Rel(rel), made, 0)
}

func (r *Root) mkdirAll(rel string, made func(*os.File, string) error, depth int) (*os.File, error) {
	if depth > maxLinks {
		return nil, &os.PathError{Op: "mkdir", Path: r.Show(rel), Err: unix.ELOOP}
	}
	f, err := r.Open(rel)
	if err == nil {
		ok, err := IsDir(f)
		if err != nil || !ok {
			f.Close()
			if err == nil {
				err = unix.ENOTDIR
			}
			return nil, &os.PathError{Op: "mkdir", Path: r.Show(rel), Err: err}
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || rel == "." {
		return nil, err
	}
	parentRel, name := path.Split(rel)
	parentRel = Rel(parentRel)
	parent, err := r.mkdirAll(parentRel, made, depth)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	d, err := MkdirOpen(int(parent.Fd()), name)
	if errors.Is(err, unix.EEXIST) {
		target, lerr := Readlink(int(parent.Fd()), name)
		if errors.Is(lerr, unix.EINVAL) {
			// Not a symlink: made by someone else meanwhile.
			return r.mkdirAll(rel, made, depth+1)
		}
		if lerr != nil {
			return nil, &os.PathError{Op: "mkdir", Path: r.Show(rel), Err: err}
		}
		// A dangling symlink: create what it points to, inside the root.
		if _, err := r.mkdirAll(linkTarget(parentRel, target), made, depth+1); err != nil {
			return nil, err
		}
		return r.Open(rel)
	}
	if err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: r.Show(rel), Err: err}
	}
	defer d.Close()
	if made != nil {
		if err := made(d, rel); err != nil {
			return nil, err
		}
	}
	if err := d.Chmod(0o755); err != nil {
		return nil, &os.PathError{Op: "chmod", Path: r.Show(rel), Err: err}
	}
	return r.Open(rel)
}

// linkTarget is where a symlink in the directory dirRel with the given target leads,
// as a root-relative path: an absolute target from the root, a relative one from the
// link's directory (lexically, as Docker's cp computes it).
func linkTarget(dirRel, target string) string {
	if strings.HasPrefix(target, "/") {
		return Rel(target)
	}
	return Rel(path.Join(dirRel, target))
}

// Leaf is where a path that is written to ends up: the directory holding it and the
// name in that directory, after symlinks at the last component were followed.
type Leaf struct {
	Dir  *os.File     // O_PATH handle on the directory holding Name
	Name string       // "." when the path is the root itself
	Rel  string       // the root-relative path of the final entry
	Stat *unix.Stat_t // what is there (never a symlink), nil when nothing is
}

// Close releases the directory handle.
func (l *Leaf) Close() error { return l.Dir.Close() }

// FollowLeaf resolves the parent of rel inside the root and, while the last component
// is a symlink, follows it as Docker's cp follows a destination that is a symlink: the
// link's target (an absolute one taken from the root, a relative one from the link's
// directory) replaces the path, at most 40 times. The parent must be a directory.
// Nothing outside the root is looked at, whatever the links say.
func (r *Root) FollowLeaf(rel string) (*Leaf, error) {
	rel = Rel(rel)
	for depth := 0; ; depth++ {
		if depth > maxLinks {
			return nil, &os.PathError{Op: "resolve", Path: r.Show(rel), Err: unix.ELOOP}
		}
		if rel == "." {
			d, err := r.OpenFile(".", unix.O_PATH|unix.O_DIRECTORY)
			if err != nil {
				return nil, err
			}
			var st unix.Stat_t
			if err := unix.Fstat(int(d.Fd()), &st); err != nil {
				d.Close()
				return nil, &os.PathError{Op: "stat", Path: r.Show(rel), Err: err}
			}
			return &Leaf{Dir: d, Name: ".", Rel: ".", Stat: &st}, nil
		}
		parentRel, name := path.Split(rel)
		parentRel = Rel(parentRel)
		d, err := r.OpenFile(parentRel, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, err
		}
		st, exists, err := Lstat(int(d.Fd()), name)
		if err != nil {
			d.Close()
			return nil, &os.PathError{Op: "lstat", Path: r.Show(rel), Err: err}
		}
		if !exists {
			return &Leaf{Dir: d, Name: name, Rel: rel}, nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return &Leaf{Dir: d, Name: name, Rel: rel, Stat: &st}, nil
		}
		target, err := Readlink(int(d.Fd()), name)
		d.Close()
		if err != nil {
			return nil, &os.PathError{Op: "readlink", Path: r.Show(rel), Err: err}
		}
		rel = linkTarget(parentRel, target)
	}
}
