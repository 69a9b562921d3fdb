package inroot

import (
	"errors"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The primitives below work on one entry, name, in a directory open as dirfd (an O_PATH
// descriptor will do). None follows a symlink at name; none walks a path (name is a
// single component). They return the kernel's errno: the caller names the entry.

// Lstat is fstatat(AT_SYMLINK_NOFOLLOW); exists is false when nothing is there.
func Lstat(dirfd int, name string) (st unix.Stat_t, exists bool, err error) {
	err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	return st, err == nil, err
}

// Readlink reads the symlink name (EINVAL when it is not one).
func Readlink(dirfd int, name string) (string, error) {
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

// MkdirOpen creates the directory name (mode 0700 until the caller sets its own) and
// returns a descriptor on it, for its contents, owner, mode and times. EEXIST when
// something is there; ENOTDIR when a symlink took its place before it was opened.
func MkdirOpen(dirfd int, name string) (*os.File, error) {
	if err := unix.Mkdirat(dirfd, name, 0o700); err != nil {
		return nil, err
	}
	return OpenDir(dirfd, name)
}

// OpenDir opens the existing directory name for reading its entries and setting its
// metadata; ENOTDIR when it is a symlink (not followed) or not a directory.
func OpenDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Create creates the regular file name, which must not exist (O_EXCL: a symlink planted
// there is not followed), mode 0600 until the caller sets its own.
func Create(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// OpenRead opens the entry name for reading without following a symlink, without
// blocking on a fifo and without taking a terminal, and returns what it is now (which
// the caller checks: it may differ from what an earlier Lstat saw).
func OpenRead(dirfd int, name string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, st, err
	}
	return os.NewFile(uintptr(fd), name), st, nil
}

// Mkfifo creates the fifo name (mode 0600 until the caller sets its own) and returns a
// descriptor on it, opened without blocking, for its metadata.
func Mkfifo(dirfd int, name string) (*os.File, error) {
	if err := unix.Mknodat(dirfd, name, unix.S_IFIFO|0o600, 0); err != nil {
		return nil, err
	}
	f, st, err := OpenRead(dirfd, name)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		f.Close()
		return nil, unix.EEXIST // replaced meanwhile
	}
	return f, nil
}

// RemoveAll removes name, recursively when it is a directory, never following a
// symlink; nothing there is no error.
func RemoveAll(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	d, err := OpenDir(dirfd, name)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		if err := RemoveAll(int(d.Fd()), n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

func timespecs(mtime time.Time) [2]unix.Timespec {
	ts := unix.NsecToTimespec(mtime.UnixNano())
	return [2]unix.Timespec{ts, ts}
}

// SetTimes sets the access and modification times of the open file f to mtime
// (futimens: utimensat with no path, so f must not be an O_PATH descriptor).
func SetTimes(f *os.File, mtime time.Time) error {
	ts := timespecs(mtime)
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// SetTimesAt sets the times of name itself (a symlink is not followed): for symlinks,
// which cannot be opened.
func SetTimesAt(dirfd int, name string, mtime time.Time) error {
	ts := timespecs(mtime)
	return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
}

// Mtime is the modification time in a stat result.
func Mtime(st *unix.Stat_t) time.Time { return time.Unix(st.Mtim.Unix()) }

// Kind names a file type (st_mode) in messages.
func Kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "special file"
}
