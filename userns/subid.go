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
}

// LookupSubIDs finds the user's ranges: through getsubids when nsswitch.conf sends
// subid lookups somewhere other than the files (LDAP/SSSD users), else from the files.
func LookupSubIDs(name string, uid, gid int) (*SubIDs, error) {
	ns, _ := os.ReadFile("/etc/nsswitch.conf")
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
	s := &SubIDs{Source: "/etc/subuid and /etc/subgid"}
	for _, f := range []struct {
		path string
		id   int
		dst  *[]Range
	}{{"/etc/subuid", uid, &s.UIDs}, {"/etc/subgid", gid, &s.GIDs}} {
		fh, err := os.Open(f.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading subordinate ids: %w", err)
		}
		rs, err := ParseSubIDFile(fh, name, f.id)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.path, err)
		}
		*f.dst = rs
	}
	return s, nil
}
