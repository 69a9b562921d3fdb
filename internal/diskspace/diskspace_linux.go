// Package diskspace keeps hutch working on a full disk: a small reserve file in the
// store that commands which free space give up first, and errors that name the file
// system that is full and what is left on it.
package diskspace

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// ReserveName is the reserve file, in the store's graph root.
const ReserveName = "hutch-reserve"

// ReserveSize is how much the reserve holds: room for the store's metadata rewrites
// (layers.json, containers.json …) that a removal needs on a full disk.
const ReserveSize = 4 << 20

// lowWater is the free space below which a freeing command gives up the reserve.
const lowWater = 2 * ReserveSize

// EnsureReserve makes the reserve file in dir when it is missing and the file system
// has room for it (with as much again to spare); it reports whether the reserve is there.
func EnsureReserve(dir string) bool {
	p := filepath.Join(dir, ReserveName)
	if fi, err := os.Stat(p); err == nil && fi.Size() >= ReserveSize {
		return true
	}
	if free, _, err := space(dir); err != nil || free < ReserveSize+lowWater {
		return false
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	// Blocks really taken (fallocate; zeros written where it is not supported), so that
	// removing the file gives them back.
	err = unix.Fallocate(int(f.Fd()), 0, 0, ReserveSize)
	if err != nil && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)) {
		_, err = f.Write(make([]byte, ReserveSize))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return false
	}
	return true
}

// ReleaseIfLow gives the reserve in dir back to the file system when it is short of
// space, so that a command that frees space can write the metadata the freeing needs.
// It reports whether it released it.
func ReleaseIfLow(dir string) bool {
	free, _, err := space(dir)
	if err != nil || free >= lowWater {
		return false
	}
	return os.Remove(filepath.Join(dir, ReserveName)) == nil
}

func space(path string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// FS describes the file system holding a path.
type FS struct {
	Path       string // the path asked about
	MountPoint string
	Type       string
	Source     string
	Free, Size uint64
}

func (f FS) String() string {
	where := f.MountPoint
	if f.Type != "" || f.Source != "" {
		where += " (" + strings.TrimSpace(f.Type+" "+f.Source) + ")"
	}
	return fmt.Sprintf("the file system at %s has %s free of %s", where,
		units.BytesSize(float64(f.Free)), units.BytesSize(float64(f.Size)))
}

// Describe finds the file system path is on (its nearest existing ancestor's).
func Describe(path string) (FS, error) {
	out := FS{Path: path}
	dir := path
	var st unix.Stat_t
	for {
		if err := unix.Stat(dir, &st); err == nil {
			break
		}
		if dir == "/" || dir == "." {
			return out, fmt.Errorf("no existing directory above %s", path)
		}
		dir = filepath.Dir(dir)
	}
	free, size, err := space(dir)
	if err != nil {
		return out, err
	}
	out.Free, out.Size = free, size
	out.MountPoint, out.Type, out.Source = mountOf(dir, unix.Major(st.Dev), unix.Minor(st.Dev))
	return out, nil
}

// mountOf finds, in this mount namespace, the deepest mount above dir of the device
// major:minor.
func mountOf(dir string, major, minor uint32) (mp, typ, src string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return dir, "", ""
	}
	defer f.Close()
	dev := strconv.FormatUint(uint64(major), 10) + ":" + strconv.FormatUint(uint64(minor), 10)
	mp = dir
	best := -1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 5 || fields[2] != dev {
			continue
		}
		m := unescape(fields[4])
		if (dir == m || strings.HasPrefix(dir, strings.TrimSuffix(m, "/")+"/")) && len(m) > best {
			best, mp = len(m), m
			if _, rest, ok := strings.Cut(line, " - "); ok {
				if rf := strings.Fields(rest); len(rf) >= 2 {
					typ, src = rf[0], unescape(rf[1])
				}
			}
		}
	}
	return mp, typ, src
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsFull tells whether err says a file system is full (or a disk quota is exhausted).
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded")
}

// FullError is a full file system, named with what is left on it.
type FullError struct {
	Err error
	FS  FS
}

func (e *FullError) Error() string {
	return fmt.Sprintf("%v: the disk is full: %s; free space with `hutch system prune -a`, `hutch container prune` or `hutch rmi`, or move the store elsewhere ([storage] graphroot in config.toml)", e.Err, e.FS)
}

func (e *FullError) Unwrap() error { return e.Err }

// Explain turns an error that says a file system is full into a FullError naming that
// file system (the one of the path the error names, or else of fallback) and its free
// space; other errors, and those explained already, are returned as they are.
func Explain(err error, fallback string) error {
	var fe *FullError
	if !IsFull(err) || errors.As(err, &fe) {
		return err
	}
	path := fallback
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && filepath.IsAbs(pe.Path):
		path = pe.Path
	case errors.As(err, &le) && filepath.IsAbs(le.New):
		path = le.New
	}
	if path == "" {
		return err
	}
	d, derr := Describe(path)
	if derr != nil {
		return err
	}
	return &FullError{Err: err, FS: d}
}
