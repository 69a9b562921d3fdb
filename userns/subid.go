// Package userns finds a user's subordinate id ranges, checks the newuidmap/newgidmap
// helpers, and re-executes hutch inside a user namespace where the user is root and the
// subordinate ids are mapped (or, without a range, only the user's own id).
package userns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"hutch.dev/hutch/internal/fsutil"
)

// Range is one subordinate id range from /etc/subuid, /etc/subgid or getsubids.
type Range struct {
	Start uint32 `json:"start"`
	Count uint32 `json:"count"`
}

// ParseSubIDFile returns the ranges in a subuid/subgid file for the user, matched by
// name or by numeric id, in file order.
func ParseSubIDFile(r io.Reader, name string, id int) ([]Range, error) {
	var out []Range
	idStr := strconv.Itoa(id)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != name && f[0] != idStr) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue // a malformed line is skipped, as shadow's own tools do
		}
		out = append(out, Range{Start: uint32(start), Count: uint32(count)})
	}
	return out, sc.Err()
}

// subidSource says where the system wants subordinate ids read from: "files" unless
// /etc/nsswitch.conf names another source (sss, ldap …) on a subid: line.
func subidSource(nsswitch []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(nsswitch))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "subid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "files"
}

// parseGetsubids reads `getsubids USER` output: "0: alice 100000 65536" per range.
func parseGetsubids(out []byte) []Range {
	var rs []Range
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		start, err1 := strconv.ParseUint(f[2], 10, 32)
		count, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 == nil && err2 == nil && count > 0 {
			rs = append(rs, Range{Start: uint32(start), Count: uint32(count)})
		}
	}
	return rs
}

// SubIDs are a user's subordinate ranges and where they came from.
type SubIDs struct {
	UIDs   []Range `json:"uids"`
	GIDs   []Range `json:"gids"`
	Source string  `json:"source"` // "/etc/subuid and /etc/subgid" or "getsubids (nsswitch: sss)"

	// Every user's lines of /etc/subuid and /etc/subgid (nil when the ranges come from
	// getsubids), for checking the user's ranges against the others'.
	uidEntries, gidEntries []Entry
	files                  bool
}

// fromFiles reports whether the ranges were read from the files (also after the
// hand-over to the child, which loses the unexported fields).
func (s *SubIDs) fromFiles() bool { return s.files || strings.HasPrefix(s.Source, "/etc/subuid") }

// LookupSubIDs finds the user's ranges: through getsubids when nsswitch.conf sends
// subid lookups somewhere other than the files (LDAP/SSSD users), else from the files.
func LookupSubIDs(name string, uid, gid int) (*SubIDs, error) {
	ns, _ := fsutil.HostDB.Read("/etc/nsswitch.conf")
	if src := subidSource(ns); src != "files" {
		if path, err := exec.LookPath("getsubids"); err == nil {
			u, err1 := exec.Command(path, name).Output()
			g, err2 := exec.Command(path, "-g", name).Output()
			if err := errors.Join(err1, err2); err == nil || len(u) > 0 {
				return &SubIDs{UIDs: parseGetsubids(u), GIDs: parseGetsubids(g),
					Source: fmt.Sprintf("getsubids (nsswitch.conf subid: %s)", src)}, nil
			}
		}
	}
	s := &SubIDs{Source: "/etc/subuid and /etc/subgid", files: true}
	for _, f := range []struct {
		path    string
		id      int
		dst     *[]Range
		entries *[]Entry
	}{{"/etc/subuid", uid, &s.UIDs, &s.uidEntries}, {"/etc/subgid", gid, &s.GIDs, &s.gidEntries}} {
		data, err := fsutil.HostDB.Read(f.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading subordinate ids: %w", err)
		}
		*f.entries = ParseEntries(data)
		for _, e := range *f.entries {
			if mine(e.Owner, name, f.id) {
				*f.dst = append(*f.dst, e.Range)
			}
		}
	}
	return s, nil
}

// hostRanges reads what checking the user's ranges needs besides the subid files:
// /etc/passwd, /etc/group and /etc/login.defs (each may be missing).
func (s *SubIDs) hostRanges() (uids, gids Ranges, defs LoginDefs) {
	read := func(p string) []byte {
		b, _ := fsutil.HostDB.Read(p)
		return b
	}
	uids = Ranges{Kind: "uid", File: "/etc/subuid", DB: "/etc/passwd", Entries: s.uidEntries, IDs: ParseIDNames(read("/etc/passwd"))}
	gids = Ranges{Kind: "gid", File: "/etc/subgid", DB: "/etc/group", Entries: s.gidEntries, IDs: ParseIDNames(read("/etc/group"))}
	return uids, gids, ParseLoginDefs(read("/etc/login.defs"))
}
