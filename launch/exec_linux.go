package launch

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/nsinit"
)

// Exec starts spec in the namespaces (flags, CLONE_NEW*) of the running container whose
// init is pid — `hutch exec`, and the way a healthcheck's probe will run — and returns
// once the command runs, or with why it could not (*nsinit.ExecError: 126 or 127; see
// ExitCode). The command starts in the container's cgroup (cgroupDir; "": it has none),
// under its limits, when this process may move a process there: the kernel allows that
// only between cgroups whose common ancestor the user may write, so an exec from outside
// the delegated cgroup runs outside the container's, after outside says so.
func Exec(pid, flags int, spec *nsinit.ExecSpec, stdio nsinit.Stdio, cgroupDir string, outside func()) (*nsinit.ExecProcess, error) {
	// From inside the container's own user namespace (a healthcheck's probe, started by
	// the container's monitor in hutch's namespace, which a container without keep-id
	// shares), that namespace is not to be joined: setns refuses the one a process is in.
	if flags&unix.CLONE_NEWUSER != 0 && sameUserNS(pid) {
		flags &^= unix.CLONE_NEWUSER
	}
	p, err := startExec(pid, flags, spec, stdio, cgroupDir, outside)
	if err != nil {
		return nil, err
	}
	if err := p.Started(); err != nil {
		return nil, err
	}
	return p, nil
}

func startExec(pid, flags int, spec *nsinit.ExecSpec, stdio nsinit.Stdio, cgroupDir string, outside func()) (*nsinit.ExecProcess, error) {
	if cgroupDir == "" {
		return nsinit.StartExec(pid, flags, spec, stdio)
	}
	f, err := cgroups.At(cgroupDir).Open()
	if err == nil {
		spec.Cgroup = f
		p, err := nsinit.StartExec(pid, flags, spec, stdio)
		f.Close()
		spec.Cgroup = nil
		if err == nil || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return p, err
		}
	}
	if outside != nil {
		outside()
	}
	return nsinit.StartExec(pid, flags, spec, stdio)
}

// sameUserNS tells whether pid is in this process's user namespace.
func sameUserNS(pid int) bool {
	var a, b unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &a) != nil || unix.Stat(fmt.Sprintf("/proc/%d/ns/user", pid), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
