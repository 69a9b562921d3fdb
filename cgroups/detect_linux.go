// Package cgroups is hutch's side of the host's cgroups. It finds out (reading only)
// what the layout lets this user do: v1, hybrid or v2, where cgroup2 is mounted, which
// cgroup the user is in, whether that cgroup is delegated to the user, and which
// controllers it offers. In the delegated subtree it then makes and removes containers'
// cgroups, writes their limits (Docker's flags turned into cgroup v2 files), freezes and
// thaws them, and reads their statistics.
package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Layout is what Detect found.
type Layout struct {
	Mode        string   `json:"mode"`              // "v2", "hybrid", "v1" or "none"
	V2Mount     string   `json:"v2Mount,omitempty"` // where cgroup2 is mounted
	V1          []string `json:"v1Controllers,omitempty"`
	Own         string   `json:"ownCgroup,omitempty"` // path of our cgroup under V2Mount
	Delegated   bool     `json:"delegated"`           // Own (or its parent) belongs to the user
	Controllers []string `json:"controllers"`         // offered to Own's children
	Limits      string   `json:"limits"`              // "available" or why not
}

// Detect reads /proc/self/mountinfo and /proc/self/cgroup; it writes nothing.
func Detect() Layout {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Layout{Mode: "none", Limits: "cannot read /proc/self/mountinfo: " + err.Error()}
	}
	defer mi.Close()
	return detect(mi, func() ([]byte, error) { return os.ReadFile("/proc/self/cgroup") })
}

// detect is Detect on a mountinfo text; procCgroup reads /proc/self/cgroup (only when
// cgroup2 is mounted). The cgroup2 directory named by the mountinfo is read as it is.
func detect(mountinfo io.Reader, procCgroup func() ([]byte, error)) Layout {
	var l Layout
	l.V2Mount, l.V1 = parseMountinfo(mountinfo)
	switch {
	case l.V2Mount != "" && len(l.V1) == 0:
		l.Mode = "v2"
	case l.V2Mount != "":
		l.Mode = "hybrid"
	case len(l.V1) > 0:
		l.Mode = "v1"
	default:
		l.Mode = "none"
	}
	if l.V2Mount == "" {
		l.Limits = "unavailable: no cgroup2 file system is mounted (cgroup v1 only); unprivileged users cannot set limits through cgroup v1: ask an admin to boot with systemd.unified_cgroup_hierarchy=1"
		return l
	}
	if b, err := procCgroup(); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				l.Own = p
			}
		}
	}
	dir := filepath.Join(l.V2Mount, l.Own)
	l.Delegated = ownedByMe(dir) && ownedByMe(filepath.Join(dir, "cgroup.procs"))
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil {
		l.Controllers = strings.Fields(string(b))
	}
	if l.Controllers == nil {
		l.Controllers = []string{}
	}
	var missing []string
	for _, c := range []string{"memory", "pids", "cpu", "io"} {
		if !contains(l.Controllers, c) {
			missing = append(missing, c)
		}
	}
	fix := "ask an admin to delegate them: a drop-in /etc/systemd/system/user@.service.d/delegate.conf with `[Service]` and `Delegate=cpu cpuset io memory pids`"
	switch {
	case len(missing) > 0 && l.Mode == "hybrid":
		l.Limits = fmt.Sprintf("unavailable: the host's cgroups are hybrid: the v1 hierarchies hold the resource controllers and cgroup2 at %s offers only [%s], not %s; "+
			"ask an admin to boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only) and to delegate the controllers (`Delegate=cpu cpuset io memory pids` for user@.service)",
			l.V2Mount, strings.Join(l.Controllers, " "), strings.Join(missing, ", "))
	case !l.Delegated:
		l.Limits = fmt.Sprintf("unavailable: your cgroup %s is not delegated to you (it belongs to another user); log in through a systemd session (`ssh`, `machinectl shell`), or %s", dir, fix)
	case len(missing) > 0:
		l.Limits = fmt.Sprintf("unavailable: your cgroup %s offers the controllers [%s] but not %s; %s",
			dir, strings.Join(l.Controllers, " "), strings.Join(missing, ", "), fix)
	default:
		l.Limits = "available"
	}
	return l
}

// parseMountinfo returns where cgroup2 is first mounted and the options of the cgroup
// (v1) mounts that name controllers, in the order of a /proc/PID/mountinfo text.
func parseMountinfo(r io.Reader) (v2Mount string, v1 []string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+4 {
			continue
		}
		fstype, mnt := f[sep+1], f[4]
		switch fstype {
		case "cgroup2":
			if v2Mount == "" {
				v2Mount = unescape(mnt)
			}
		case "cgroup":
			for _, o := range strings.Split(f[sep+3], ",") {
				switch o {
				case "rw", "ro", "relatime", "nosuid", "nodev", "noexec":
				default:
					v1 = append(v1, o)
				}
			}
		}
	}
	return v2Mount, v1
}

func ownedByMe(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
