package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"hutch.dev/hutch/internal/fsutil"
)

// UntrustedError says why a path hutch would keep the user's data in, or read settings
// from, is not the user's alone: it, a directory above it or a symbolic link on the way
// belongs to another user, or others may write to a directory on the way (so they can
// replace what is below it).
type UntrustedError struct {
	Path    string // the path that was checked
	Culprit string // the directory, file or link at fault: Path or one on its way
	Problem string // what is wrong with Culprit, with the fix when the user can apply it
	// Foreign is set when Culprit belongs to another user: the fix is to choose
	// another place, which only the caller can name.
	Foreign bool
}

func (e *UntrustedError) Error() string { return e.Problem }

// trust checks paths for one uid, remembering the directories already judged.
type trust struct {
	uid    int
	seen   map[string]*UntrustedError
	groups map[uint32]bool // gid → only uid can be in it (read lazily)
	rec    *Stamps         // records every path looked at (nil: none)
}

func newTrust(uid int) *trust {
	return &trust{uid: uid, seen: map[string]*UntrustedError{}, groups: map[uint32]bool{}}
}

// recording is newTrust with every path it looks at recorded in rec.
func recording(uid int, rec *Stamps) *trust {
	t := newTrust(uid)
	t.rec = rec
	return t
}

// CheckPrivate says why path (absolute) cannot be trusted to be uid's alone, or nil.
// Path itself, when it exists, must belong to uid and be writable by nobody else; every
// directory and symbolic link on the way to it (followed, up to /) must belong to uid or
// root, and a directory there must not be writable by others unless it has the sticky
// bit (as /tmp). A group-writable directory is fine when uid alone is in its group (a
// private user group). A part of path that does not exist yet is fine: hutch creates it,
// 0700, in a directory that passed.
func CheckPrivate(path string, uid int) error {
	if err := newTrust(uid).check(path); err != nil {
		return err
	}
	return nil
}

func (t *trust) check(path string) *UntrustedError {
	_, err := t.walk(path, true, 0)
	return err
}

// walk checks path component by component from / and returns its real path (links
// resolved). last says whether path's final component is the object itself (it must
// be the user's own) rather than a directory on the way.
func (t *trust) walk(path string, last bool, depth int) (string, *UntrustedError) {
	if depth > 40 {
		return "", &UntrustedError{Path: path, Culprit: path, Problem: path + ": too many levels of symbolic links"}
	}
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		return "", &UntrustedError{Path: path, Culprit: path, Problem: path + " is not an absolute path"}
	}
	cur := "/"
	var root syscall.Stat_t
	if err := t.rec.lstat("/", &root); err == nil {
		if err := t.judgeDir(path, "/", &root); err != nil {
			return "", err
		}
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "/" {
		parts = nil
	}
	for i, part := range parts {
		isLast := last && i == len(parts)-1
		next := filepath.Join(cur, part)
		var st syscall.Stat_t
		if err := t.rec.lstat(next, &st); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return filepath.Join(append([]string{cur}, parts[i:]...)...), nil
			}
			return "", &UntrustedError{Path: path, Culprit: next, Problem: fmt.Sprintf("cannot check %s: %v", next, err)}
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			if int(st.Uid) != t.uid && st.Uid != 0 {
				return "", &UntrustedError{Path: path, Culprit: next, Foreign: true,
					Problem: fmt.Sprintf("%s is a symbolic link that belongs to %s, who can point it elsewhere at any time", next, who(st.Uid))}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", &UntrustedError{Path: path, Culprit: next, Problem: fmt.Sprintf("cannot read the symbolic link %s: %v", next, err)}
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			real, uerr := t.walk(target, isLast, depth+1)
			if uerr != nil {
				uerr.Path = path
				return "", uerr
			}
			cur = real
			continue
		}
		if isLast {
			if err := t.judge(path, next, &st, true); err != nil {
				return "", err
			}
		} else if err := t.judgeDir(path, next, &st); err != nil {
			return "", err
		}
		cur = next
	}
	return cur, nil
}

// judgeDir checks a directory on the way, once per command.
func (t *trust) judgeDir(path, dir string, st *syscall.Stat_t) *UntrustedError {
	e, ok := t.seen[dir]
	if !ok {
		e = t.judge(path, dir, st, false)
		t.seen[dir] = e
	}
	if e == nil {
		return nil
	}
	c := *e
	c.Path = path
	return &c
}

func (t *trust) judge(path, p string, st *syscall.Stat_t, own bool) *UntrustedError {
	mode := st.Mode & 0o7777
	if int(st.Uid) != t.uid && !(st.Uid == 0 && !own) {
		return &UntrustedError{Path: path, Culprit: p, Foreign: true,
			Problem: fmt.Sprintf("%s belongs to %s, who can remove or replace what hutch keeps there", p, who(st.Uid))}
	}
	isDir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
	groupW, otherW, sticky := mode&0o020 != 0, mode&0o002 != 0, mode&syscall.S_ISVTX != 0
	if groupW && !otherW && t.privateGroup(st.Gid) {
		groupW = false
	}
	if !groupW && !otherW {
		return nil
	}
	if !own && isDir && sticky {
		return nil // others may add entries but not replace ours (/tmp)
	}
	whom := "everyone"
	if !otherW {
		whom = "its group " + groupName(st.Gid)
	}
	if own {
		return &UntrustedError{Path: path, Culprit: p,
			Problem: fmt.Sprintf("%s is writable by %s (mode %04o), who could replace what hutch keeps there: run `chmod go-w %s`", p, whom, mode, p)}
	}
	fix := fmt.Sprintf("run `chmod go-w %s`", p)
	if st.Uid == 0 && t.uid != 0 {
		fix = fmt.Sprintf("ask an admin to run `chmod +t %s` (or `chmod go-w %s`)", p, p)
	}
	return &UntrustedError{Path: path, Culprit: p,
		Problem: fmt.Sprintf("%s is writable by %s (mode %04o) without the sticky bit, so others can replace what hutch keeps below it: %s", p, whom, mode, fix)}
}

// privateGroup reports whether only the user can be in group gid: it is the user's
// primary group, no one else has it as theirs, and /etc/group lists no other member (a
// private user group, as Debian's useradd makes them). gid 0 counts too: root's group.
func (t *trust) privateGroup(gid uint32) bool {
	if v, ok := t.groups[gid]; ok {
		return v
	}
	v := gid == 0 || soleMember(gid, t.uid, "/etc/passwd", "/etc/group")
	if gid != 0 && t.rec != nil {
		// The verdict depends on who is in the group: on these files.
		for _, f := range []string{"/etc/passwd", "/etc/group"} {
			var st syscall.Stat_t
			if t.rec.lstat(f, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
				t.rec.spoil(f + " is a symbolic link (its stamp would not show a change of what it names)")
			}
		}
	}
	t.groups[gid] = v
	return v
}

func soleMember(gid uint32, uid int, passwdFile, groupFile string) bool {
	passwd, err := fsutil.HostDB.Read(passwdFile)
	if err != nil {
		return false
	}
	name, ownPrimary := "", false
	for _, f := range colonLines(passwd, 4) {
		u, _ := strconv.Atoi(f[2])
		g, _ := strconv.ParseUint(f[3], 10, 32)
		if u == uid {
			name = f[0]
			ownPrimary = uint32(g) == gid
		} else if uint32(g) == gid {
			return false // another user's primary group
		}
	}
	if !ownPrimary {
		return false
	}
	group, err := fsutil.HostDB.Read(groupFile)
	if err != nil {
		return false
	}
	for _, f := range colonLines(group, 4) {
		if g, err := strconv.ParseUint(f[2], 10, 32); err != nil || uint32(g) != gid {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" && m != name {
				return false
			}
		}
	}
	return true
}

// colonLines splits a passwd-style file into lines of at least n colon-separated fields.
func colonLines(data []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Split(line, ":"); len(f) >= n {
			out = append(out, f)
		}
	}
	return out
}

// who names a uid for messages: "bob (uid 1003)".
func who(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name + " (gid " + id + ")"
	}
	return "gid " + id
}
