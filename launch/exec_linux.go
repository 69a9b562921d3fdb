package launch

import (
	"errors"

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
