// Package idmap reads a user namespace's id maps (/proc/PID/uid_map and gid_map): the
// one reader of that format in hutch.
package idmap

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Range maps Size ids from Inside (in the namespace) to Outside (in its parent).
type Range struct {
	Inside, Outside, Size uint32
}

// Map is a namespace's ranges, as the kernel lists them.
type Map []Range

// The maps of this process's user namespace.
const (
	SelfUID = "/proc/self/uid_map"
	SelfGID = "/proc/self/gid_map"
)

// Read reads a uid_map or gid_map file.
func Read(path string) (Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(string(b))
}

// Parse reads the kernel's format: one "INSIDE OUTSIDE SIZE" line per range.
func Parse(text string) (Map, error) {
	var m Map
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var r [3]uint32
		if len(f) != 3 {
			return nil, fmt.Errorf("id map line %d %q: expected INSIDE OUTSIDE SIZE", i+1, line)
		}
		for j, s := range f {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("id map line %d %q: %w", i+1, line, err)
			}
			r[j] = uint32(n)
		}
		m = append(m, Range{Inside: r[0], Outside: r[1], Size: r[2]})
	}
	return m, nil
}

// Contains reports whether id (inside the namespace) is mapped.
func (m Map) Contains(id uint32) bool {
	for _, r := range m {
		if uint64(id) >= uint64(r.Inside) && uint64(id) < uint64(r.Inside)+uint64(r.Size) {
			return true
		}
	}
	return false
}

// Len is one past the highest id mapped inside the namespace (0 for an empty map): the
// number of ids it maps when, as in hutch's namespace, the ranges start at 0 and leave
// no gap.
func (m Map) Len() int {
	n := uint64(0)
	for _, r := range m {
		if end := uint64(r.Inside) + uint64(r.Size); end > n {
			n = end
		}
	}
	return int(min(n, uint64(^uint32(0))))
}

// SelfGIDMapped reports whether gid exists in this process's user namespace (false when
// the map cannot be read).
func SelfGIDMapped(gid uint32) bool {
	m, err := Read(SelfGID)
	return err == nil && m.Contains(gid)
}
