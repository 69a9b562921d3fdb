package buildfs

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Extended attributes travel with COPY and ADD (Docker does the same), except
// security.selinux, the host's label (see droppedXattrs). Setting one fails quietly only
// where no build could do better: a file system without extended attributes (ENOTSUP),
// or a namespace a user namespace may not write (EPERM on trusted.* and the like);
// user.* and security.capability must be set or the copy fails.

// listXattrs returns the extended attributes of path (not following a symlink), sorted
// by name, without those dropped; nil when the file system has none.
func listXattrs(path string) ([]xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		if err == nil || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the extended attributes of %s: %w", path, err)
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("listing the extended attributes of %s: %w", path, err)
	}
	var out []xattr
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" || droppedXattrs[name] {
			continue
		}
		vsize, err := unix.Lgetxattr(path, name, nil)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading the extended attribute %s of %s: %w", name, path, err)
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(path, name, val)
		if err != nil {
			return nil, fmt.Errorf("reading the extended attribute %s of %s: %w", name, path, err)
		}
		out = append(out, xattr{name, val[:vsize]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

type xattr struct {
	name  string
	value []byte
}

// xattrsFromPAX returns the extended attributes a tar header carries, sorted.
func xattrsFromPAX(records map[string]string) []xattr {
	var out []xattr
	for k, v := range records {
		if name, ok := strings.CutPrefix(k, xattrPrefix); ok && !droppedXattrs[name] {
			out = append(out, xattr{name, []byte(v)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// setXattrs sets attrs on the open file fd (what names it in errors). Call it after
// chown: chown clears security.capability.
func setXattrs(fd int, attrs []xattr, what string) error {
	for _, a := range attrs {
		err := unix.Fsetxattr(fd, a.name, a.value, 0)
		if err == nil {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			continue
		}
		mustSet := strings.HasPrefix(a.name, "user.") || a.name == "security.capability"
		if !mustSet && errors.Is(err, unix.EPERM) {
			continue
		}
		return fmt.Errorf("setting the extended attribute %s on %s: %w", a.name, what, err)
	}
	return nil
}
