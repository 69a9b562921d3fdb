package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// CopyTarget is one side of `hutch cp`.
type CopyTarget struct {
	Container string // "" for the host
	Path      string
}

// ParseCopyArg reads CONTAINER:PATH or a host PATH (a path with a slash before any
// colon, or starting with . or /, is a host path).
func ParseCopyArg(s string) CopyTarget {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return CopyTarget{Path: s}
	}
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], "/") {
		return CopyTarget{Container: s[:i], Path: s[i+1:]}
	}
	return CopyTarget{Path: s}
}

// resolver maps paths of one side to paths this process can open: the host side as is,
// the container side inside its root, with every symlink resolved as if the root were
// "/" so that nothing in the container can point a copy outside it.
type resolver func(p string) (string, error)

func hostSide(p string) (string, error) { return filepath.Abs(p) }

func containerSide(rootfs string) resolver {
	return func(p string) (string, error) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		// The last component itself is not followed (a symlink is copied as a symlink).
		dir, base := path.Split(path.Clean(p))
		d, err := securejoin.SecureJoin(rootfs, dir)
		if err != nil {
			return "", err
		}
		if base == "" {
			return d, nil
		}
		return filepath.Join(d, base), nil
	}
}

// CopyOut copies src in the container (whose root is mounted at rootfs) to dst on the host.
func CopyOut(rootfs, src, dst string) error {
	return copyPath(containerSide(rootfs), src, hostSide, dst)
}

// CopyIn copies src on the host to dst in the container (whose root is mounted at rootfs).
func CopyIn(rootfs, src, dst string) error {
	return copyPath(hostSide, src, containerSide(rootfs), dst)
}

// copyPath follows `docker cp`: a file lands at dst, or in dst when dst is a directory;
// a directory is copied as dst when dst does not exist, into dst/NAME when it does, and
// only its contents when src ends in "/.".
func copyPath(from resolver, src string, to resolver, dst string) error {
	contentsOnly := strings.HasSuffix(src, "/.")
	s, err := from(strings.TrimSuffix(src, "/."))
	if err != nil {
		return err
	}
	sfi, err := os.Lstat(s)
	if err != nil {
		return fmt.Errorf("copying from %s: %w", src, unwrapPath(err))
	}
	d, err := to(dst)
	if err != nil {
		return err
	}
	dfi, derr := os.Stat(d)
	switch {
	case derr == nil && dfi.IsDir():
		if !sfi.IsDir() || !contentsOnly {
			dst = path.Join(dst, filepath.Base(s))
		}
	case derr == nil && sfi.IsDir():
		return fmt.Errorf("cannot copy directory %s onto the file %s", src, dst)
	case derr == nil:
		// A file onto an existing file: it is replaced.
	case errors.Is(derr, os.ErrNotExist):
		if strings.HasSuffix(dst, "/") {
			return fmt.Errorf("destination directory %s does not exist", dst)
		}
		parent, err := to(path.Dir(strings.TrimSuffix(dst, "/")))
		if err != nil {
			return err
		}
		if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
			return fmt.Errorf("the parent of %s does not exist or is not a directory", dst)
		}
	default:
		return fmt.Errorf("copying to %s: %w", dst, unwrapPath(derr))
	}
	return copyTree(s, to, dst)
}

// copyTree copies the tree at the resolved path s to dst (resolved by to, one entry at
// a time, so a symlink already in the destination is resolved safely too).
func copyTree(s string, to resolver, dst string) error {
	fi, err := os.Lstat(s)
	if err != nil {
		return err
	}
	d, err := to(dst)
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		if err := os.Mkdir(d, fi.Mode().Perm()); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		entries, err := os.ReadDir(s)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := copyTree(filepath.Join(s, e.Name()), to, path.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		_ = os.Chmod(d, fi.Mode().Perm())
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(s)
		if err != nil {
			return err
		}
		_ = os.Remove(d)
		if err := os.Symlink(target, d); err != nil {
			return err
		}
		return nil
	case fi.Mode().IsRegular():
		in, err := os.Open(s)
		if err != nil {
			return err
		}
		defer in.Close()
		// O_NOFOLLOW: never write through a symlink that sits at the destination.
		fd, err := unix.Open(d, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(fi.Mode().Perm()))
		if errors.Is(err, unix.ELOOP) {
			_ = os.Remove(d)
			fd, err = unix.Open(d, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(fi.Mode().Perm()))
		}
		if err != nil {
			return &os.PathError{Op: "create", Path: dst, Err: err}
		}
		out := os.NewFile(uintptr(fd), d)
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		_ = out.Chmod(fi.Mode().Perm())
		if err := out.Close(); err != nil {
			return err
		}
	default:
		return nil // devices, sockets and FIFOs are not copied
	}
	return os.Chtimes(d, fi.ModTime(), fi.ModTime())
}
