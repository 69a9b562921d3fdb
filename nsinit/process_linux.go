package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

var rlimitResources = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// CurrentRlimit is this process's limit r.Name (what a container inherits).
func CurrentRlimit(name string) (unix.Rlimit, error) {
	var cur unix.Rlimit
	res, ok := rlimitResources[name]
	if !ok {
		return cur, fmt.Errorf("unknown limit %q", name)
	}
	err := unix.Getrlimit(res, &cur)
	return cur, err
}

// CheckRlimit says whether this process may set r: an unprivileged user can lower a
// hard limit, never raise it.
func CheckRlimit(r Rlimit) error {
	cur, err := CurrentRlimit(r.Name)
	if err != nil {
		return err
	}
	if r.Hard > cur.Max {
		return fmt.Errorf("--ulimit %s=%s:%s: the hard limit is above yours (%s), and an unprivileged user can only lower a hard limit: ask at most %s=%s:%s (`ulimit -H%s` shows it), or have the administrator raise it (limits.conf)",
			r.Name, FormatLimit(r.Soft), FormatLimit(r.Hard), FormatLimit(cur.Max), r.Name, FormatLimit(min(r.Soft, cur.Max)), FormatLimit(cur.Max), ulimitLetter(r.Name))
	}
	return nil
}

func ulimitLetter(name string) string {
	switch name {
	case "nofile":
		return "n"
	case "nproc":
		return "u"
	case "core":
		return "c"
	case "stack":
		return "s"
	case "memlock":
		return "l"
	}
	return "a"
}

// setRlimits sets spec's limits on the init (the command inherits them).
func setRlimits(spec *Spec) error {
	for _, r := range spec.Rlimits {
		res, ok := rlimitResources[r.Name]
		if !ok {
			return fmt.Errorf("--ulimit: unknown limit %q", r.Name)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return fmt.Errorf("--ulimit %s=%s:%s: %w", r.Name, FormatLimit(r.Soft), FormatLimit(r.Hard), err)
		}
	}
	return nil
}

// setSysctls writes spec's sysctls through this process's /proc (still the parent's
// mount: its /proc/sys shows the namespaces of the writer, the container's).
func setSysctls(spec *Spec) error {
	for k, v := range spec.Sysctls {
		if err := CheckSysctl(k, spec.NewNetwork && spec.NetNS == "", spec.IPCNS == ""); err != nil {
			return err
		}
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("--sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}
