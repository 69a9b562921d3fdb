package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/nsenter"
)

// Hold keeps a running container's processes still while its file system is read
// (`commit`, as Docker pauses): its cgroup is frozen when it has one (with the pause
// and unpause events, as Docker's commit emits them), or else every process of it
// is sent SIGSTOP. release lets it run again (a container that was paused already
// stays paused). A container that is not running needs no holding: release does
// nothing.
func (r *Records) Hold(c *Config) (release func(), err error) {
	nothing := func() {}
	st, err := r.Current(c.ID)
	if err != nil {
		return nothing, err
	}
	if st.Status != StatusRunning {
		return nothing, nil
	}
	if st.Cgroup != "" {
		cg := cgroups.At(st.Cgroup)
		if cg.Frozen() {
			return nothing, nil
		}
		if err := cg.Freeze(); err != nil {
			return nothing, fmt.Errorf("pausing container %s (cgroup.freeze): %w; commit it with --pause=false, or stop it first (`hutch stop %s`)", c.Name, err, c.Name)
		}
		c.Emit(events.Pause)
		return func() {
			if cg.Thaw() == nil {
				c.Emit(events.Unpause)
			}
		}, nil
	}
	ps, err := r.Top(c)
	if err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nothing, nil
		}
		return nothing, err
	}
	pids := make([]int, 0, len(ps))
	for _, p := range ps {
		pids = append(pids, p.PID)
	}
	if err := signalPids(st, pids, unix.SIGSTOP); err != nil {
		_ = signalPids(st, pids, unix.SIGCONT)
		return nothing, fmt.Errorf("pausing container %s (SIGSTOP, as it has no cgroup of its own): %w; commit it with --pause=false, or stop it first (`hutch stop %s`)", c.Name, err, c.Name)
	}
	return func() { _ = signalPids(st, pids, unix.SIGCONT) }, nil
}

// signalPids sends sig to processes of the container st: directly where the user may,
// and through hutch-signal, in the user namespace of the container's owner, to those
// running as subordinate ids. A process already gone is no error.
func signalPids(st *State, pids []int, sig unix.Signal) error {
	var denied []string
	for _, pid := range pids {
		err := unix.Kill(pid, sig)
		switch {
		case err == nil || errors.Is(err, unix.ESRCH):
		case errors.Is(err, unix.EPERM):
			denied = append(denied, strconv.Itoa(pid))
		default:
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	cmd := exec.Command("/proc/self/exe", append([]string{denied[0], strconv.Itoa(int(sig))}, denied[1:]...)...)
	cmd.Args[0] = SignalName
	cmd.Env = append(os.Environ(), nsenter.Env(st.MonitorPid, unix.CLONE_NEWUSER, false, false)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("signalling from the container's user namespace: %s", strings.TrimSpace(string(out)))
	}
	return nil
}
