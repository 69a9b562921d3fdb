package userns

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"hutch.dev/hutch/internal/diag"
)

// Entry is one valid line of /etc/subuid or /etc/subgid: an owner (a name or a
// numeric id, as written) and its range.
type Entry struct {
	Owner string
	Range
}

// ParseEntries reads every valid line of a subuid/subgid file, in file order
// (malformed lines are skipped, as shadow's own tools skip them).
func ParseEntries(data []byte) []Entry {
	var out []Entry
	for _, line := range lines(data) {
		owner, rest, ok1 := strings.Cut(line, ":")
		first, second, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || owner == "" || strings.Contains(second, ":") {
			continue
		}
		start, err1 := strconv.ParseUint(first, 10, 32)
		count, err2 := strconv.ParseUint(second, 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32 {
			continue
		}
		out = append(out, Entry{Owner: owner, Range: Range{Start: uint32(start), Count: uint32(count)}})
	}
	return out
}

// lines returns the trimmed lines of data that are neither empty nor comments.
func lines(data []byte) []string {
	var out []string
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out = append(out, string(line))
	}
	return out
}

// IDName is one entry of /etc/passwd or /etc/group: a name and its numeric id.
type IDName struct {
	Name string
	ID   uint32
}

// ParseIDNames reads the names and ids of /etc/passwd or /etc/group.
func ParseIDNames(data []byte) []IDName {
	var out []IDName
	for _, line := range lines(data) {
		name, rest, ok1 := strings.Cut(line, ":")
		_, rest, ok2 := strings.Cut(rest, ":")
		idText, _, _ := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			continue
		}
		if id, err := strconv.ParseUint(idText, 10, 32); err == nil {
			out = append(out, IDName{Name: name, ID: uint32(id)})
		}
	}
	return out
}

// Ranges is what the host says about one kind of subordinate id (uid or gid), for
// checking one user's ranges against everyone else's.
type Ranges struct {
	Kind    string   // "uid" or "gid"
	File    string   // "/etc/subuid" or "/etc/subgid"
	DB      string   // "/etc/passwd" or "/etc/group"
	Entries []Entry  // every line of File
	IDs     []IDName // every user (group) of DB
}

func (r Range) end() uint64 { return uint64(r.Start) + uint64(r.Count) }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Start, r.end()-1) }

func (r Range) overlaps(o Range) bool {
	return uint64(r.Start) < o.end() && uint64(o.Start) < r.end()
}

func (r Range) contains(id uint32) bool { return id >= r.Start && uint64(id) < r.end() }

// mine reports whether an entry's owner is the user (by name or numeric id).
func mine(owner, name string, id int) bool {
	return owner == name || owner == strconv.Itoa(id)
}

// ownerName names an entry's owner for messages: a numeric owner by its name in ids.
func ownerName(owner string, ids []IDName) string {
	if n, err := strconv.ParseUint(owner, 10, 32); err == nil {
		for _, u := range ids {
			if uint64(u.ID) == n {
				return u.Name + " (" + owner + ")"
			}
		}
	}
	return owner
}

// Conflicts lists what is wrong with the user's own ranges (own): each overlap with
// another owner's range in the file, and each real user (group) id of the database that
// a range contains — the user's own id included. Each is a phrase for a warning.
func (rs Ranges) Conflicts(name string, id int, own []Range) []string {
	var out []string
	idStr := strconv.Itoa(id)
	for _, r := range own {
		seen := map[string]bool{}
		for _, e := range rs.Entries {
			if e.Owner == name || e.Owner == idStr || !r.overlaps(e.Range) {
				continue
			}
			msg := fmt.Sprintf("your subordinate %s range %s overlaps %s's %s", rs.Kind, r, ownerName(e.Owner, rs.IDs), e.Range)
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
		}
		if r.contains(uint32(id)) {
			out = append(out, fmt.Sprintf("your subordinate %s range %s contains your own %s %d", rs.Kind, r, rs.Kind, id))
		}
		for _, u := range rs.IDs {
			if int(u.ID) != id && r.contains(u.ID) {
				out = append(out, fmt.Sprintf("your subordinate %s range %s contains the %s %d of %s (%s)", rs.Kind, r, rs.Kind, u.ID, u.Name, rs.DB))
			}
		}
	}
	return out
}

// Free returns the lowest start at or above min such that [start, start+count)
// overlaps none of the taken ranges and contains none of the ids; ok is false when
// no such range is below 2^32.
func Free(min, count uint32, taken []Range, ids []uint32) (uint32, bool) {
	spans := append([]Range{}, taken...)
	for _, id := range ids {
		spans = append(spans, Range{Start: id, Count: 1})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start < spans[j].Start })
	start := uint64(min)
	for _, s := range spans {
		if s.end() <= start {
			continue
		}
		if uint64(s.Start) >= start+uint64(count) {
			break // the gap before s is wide enough
		}
		start = s.end()
	}
	if start+uint64(count) > 1<<32 {
		return 0, false
	}
	return uint32(start), true
}

// FreeRange is a range of count ids free in both files (and holding no id of a real
// user or group), at or above min, for `usermod --add-subuids R --add-subgids R`.
func FreeRange(min, count uint32, uids, gids Ranges) (Range, bool) {
	var taken []Range
	var ids []uint32
	for _, rs := range []Ranges{uids, gids} {
		for _, e := range rs.Entries {
			taken = append(taken, e.Range)
		}
		for _, u := range rs.IDs {
			ids = append(ids, u.ID)
		}
	}
	start, ok := Free(min, count, taken, ids)
	return Range{Start: start, Count: count}, ok
}

// LoginDefs are the subordinate id settings of /etc/login.defs that useradd follows.
type LoginDefs struct {
	SubUIDMin, SubUIDCount uint32
}

// ParseLoginDefs reads SUB_UID_MIN and SUB_UID_COUNT (defaults 100000 and 65536, as
// shadow's).
func ParseLoginDefs(data []byte) LoginDefs {
	d := LoginDefs{SubUIDMin: 100000, SubUIDCount: MinRange}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			continue
		}
		switch f[0] {
		case "SUB_UID_MIN":
			d.SubUIDMin = uint32(n)
		case "SUB_UID_COUNT":
			if n >= MinRange {
				d.SubUIDCount = uint32(n)
			}
		}
	}
	return d
}

// RangeWarnings are the warnings about a user's ranges that conflict with other users'
// (ids "subuid-conflict", "subgid-conflict"), each with the admin's fix: a free range.
func RangeWarnings(name string, uid, gid int, ownUIDs, ownGIDs []Range, uids, gids Ranges, defs LoginDefs) []diag.Warning {
	var ws []diag.Warning
	for _, c := range []struct {
		rs   Ranges
		id   int
		own  []Range
		flag string
	}{{uids, uid, ownUIDs, "subuids"}, {gids, gid, ownGIDs, "subgids"}} {
		problems := c.rs.Conflicts(name, c.id, c.own)
		if len(problems) == 0 {
			continue
		}
		var fix string
		if free, ok := FreeRange(defs.SubUIDMin, defs.SubUIDCount, uids, gids); ok {
			var del []string
			for _, r := range c.own {
				del = append(del, "--del-"+c.flag+" "+r.String())
			}
			fix = fmt.Sprintf("ask an admin to give you a range of your own: `usermod %s --add-%s %s %s`", strings.Join(del, " "), c.flag, free, name)
		} else {
			fix = "ask an admin to give you a range of your own in " + c.rs.File + " (no free range of " + strconv.Itoa(int(defs.SubUIDCount)) + " ids is left)"
		}
		ws = append(ws, diag.Warning{ID: "sub" + c.rs.Kind + "-conflict", Text: c.rs.File + ": " + strings.Join(problems, "; ") + ": " +
			"a process in your containers and one of that user's (in their containers, or on the host) can then run as the same host " + c.rs.Kind +
			", so each can signal, trace and write as the other; " + fix})
	}
	return ws
}

// NoRangeAdvice is the admin's command that gives a user without a range a free one.
func NoRangeAdvice(name string, uids, gids Ranges, defs LoginDefs) string {
	free, ok := FreeRange(defs.SubUIDMin, defs.SubUIDCount, uids, gids)
	if !ok {
		return "ask an admin to give you subordinate uid and gid ranges of " + strconv.Itoa(int(defs.SubUIDCount)) + " ids in /etc/subuid and /etc/subgid (no free range is left above " + strconv.Itoa(int(defs.SubUIDMin)) + ")"
	}
	return fmt.Sprintf("ask an admin to run `usermod --add-subuids %s --add-subgids %s %s` (a range free in /etc/subuid and /etc/subgid)", free, free, name)
}
