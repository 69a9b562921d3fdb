package buildfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// root is an image root file system: every path is resolved in it by the kernel as if
// it were "/", so that no symlink or `..` leads out of it.
type root struct {
	dir  string   // host path, for messages
	f    *os.File // O_PATH handle
	noOA bool     // openat2 is not available: use pathrs-lite's resolver
	// ignoreUnmapped: a chown to an id outside the user namespace leaves the file
	// owned by the builder (CopyOptions.IgnoreChownErrors).
	ignoreUnmapped bool
}

// withoutOpenat2 makes every root use pathrs-lite's resolver, as on kernels before 5.6
// or under a seccomp filter that refuses openat2 (for tests).
var withoutOpenat2 bool

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open root file system", Path: dir, Err: err}
	}
	return &root{dir: dir, f: os.NewFile(uintptr(fd), dir), noOA: withoutOpenat2}, nil
}

func (r *root) Close() error { return r.f.Close() }

// show names a root-relative path for messages: the container path and the host path.
func (r *root) show(rel string) string {
	rel = cleanRel(rel)
	if rel == "." {
		return "/ (" + r.dir + ")"
	}
	return "/" + rel + " (" + path.Join(r.dir, rel) + ")"
}

// open resolves rel inside the root (following every symlink, also the last one,
// inside it) and returns an O_PATH handle.
func (r *root) open(rel string) (*os.File, error) {
	rel = cleanRel(rel)
	if !r.noOA {
		fd, err := unix.Openat2(int(r.f.Fd()), rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		for errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			fd, err = unix.Openat2(int(r.f.Fd()), rel, &unix.OpenHow{
				Flags:   unix.O_PATH | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
			})
		}
		if err == nil {
			return os.NewFile(uintptr(fd), path.Join(r.dir, rel)), nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return nil, &os.PathError{Op: "open", Path: r.show(rel), Err: err}
		}
		r.noOA = true
	}
	f, err := pathrs.OpenatInRoot(r.f, rel)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.show(rel), err)
	}
	return f, nil
}

// isDir reports whether the handle is a directory.
func isDirHandle(f *os.File) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// mkdirAll returns an O_PATH handle on the directory rel inside the root, creating the
// missing components with mode 0755 owned by owner. Existing symlinks on the way are
// followed inside the root, dangling ones too (their target is created).
func (r *root) mkdirAll(rel string, owner IDPair) (*os.File, error) {
	return r.mkdirAllDepth(cleanRel(rel), owner, 0)
}

func (r *root) mkdirAllDepth(rel string, owner IDPair, depth int) (*os.File, error) {
	if depth > 40 {
		return nil, &os.PathError{Op: "mkdir", Path: r.show(rel), Err: unix.ELOOP}
	}
	f, err := r.open(rel)
	if err == nil {
		ok, err := isDirHandle(f)
		if err != nil || !ok {
			f.Close()
			if err == nil {
				err = &os.PathError{Op: "mkdir", Path: r.show(rel), Err: unix.ENOTDIR}
			}
			return nil, err
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || rel == "." {
		return nil, err
	}
	parentRel, name := path.Split(rel)
	parent, err := r.mkdirAllDepth(cleanRel(parentRel), owner, depth)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	pfd := int(parent.Fd())
	err = unix.Mkdirat(pfd, name, 0o755)
	if errors.Is(err, unix.EEXIST) {
		// A dangling symlink: create what it points to, inside the root.
		target, lerr := readlinkat(pfd, name)
		if lerr != nil {
			return nil, &os.PathError{Op: "mkdir", Path: r.show(rel), Err: err}
		}
		var next string
		if strings.HasPrefix(target, "/") {
			next = cleanRel(target)
		} else {
			next = cleanRel(path.Join(parentRel, target))
		}
		if _, err := r.mkdirAllDepth(next, owner, depth+1); err != nil {
			return nil, err
		}
		return r.open(rel)
	}
	if err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: r.show(rel), Err: err}
	}
	if err := r.chown(pfd, name, rel, owner); err != nil {
		return nil, err
	}
	// mkdir applied the umask.
	if err := unix.Fchmodat(pfd, name, 0o755, 0); err != nil {
		return nil, &os.PathError{Op: "chmod", Path: r.show(rel), Err: err}
	}
	return r.open(rel)
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// chown sets the owner of name in pfd (never following a symlink).
func (r *root) chown(pfd int, name, rel string, id IDPair) error {
	err := unix.Fchownat(pfd, name, id.UID, id.GID, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil || (r.ignoreUnmapped && errors.Is(err, unix.EINVAL)) {
		return nil
	}
	return chownError(r.show(rel), id, err)
}

func chownError(what string, id IDPair, err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown %s to %d:%d: %w (the id is not mapped in the build's user namespace: give the user a large enough range in /etc/subuid and /etc/subgid, e.g. `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`)", what, id.UID, id.GID, err)
	}
	return fmt.Errorf("chown %s to %d:%d: %w", what, id.UID, id.GID, err)
}

// lstatAt is fstatat(AT_SYMLINK_NOFOLLOW); ok is false when nothing is there.
func lstatAt(dirfd int, name string) (unix.Stat_t, bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	return st, err == nil, err
}

// removeAllAt removes name in dirfd, recursively if it is a directory, never following
// a symlink.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		if err := removeAllAt(fd, n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}
