package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/nsenter"
)

// SignalName is the name hutch is re-executed under to signal a container process from
// inside hutch's user namespace.
const SignalName = "hutch-signal"

// ErrNotRunning is returned for operations that need a running container.
var ErrNotRunning = errors.New("container is not running")

// ParseSignal reads a signal as Docker does: a name (TERM, SIGTERM) or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if sig, ok := realtimeSignal(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q: use a name like TERM, KILL, HUP, RTMIN+3 or a number", s)
}

// realtimeSignal reads SIGRTMIN, SIGRTMIN+N, SIGRTMAX-N and SIGRTMAX as Docker numbers
// them (RTMIN is 34, as the C library sees it; RTMAX 64), e.g. systemd's SIGRTMIN+3.
func realtimeSignal(name string) (unix.Signal, bool) {
	base, op := 34, "+"
	rest, ok := strings.CutPrefix(name, "SIGRTMIN")
	if !ok {
		base, op = 64, "-"
		if rest, ok = strings.CutPrefix(name, "SIGRTMAX"); !ok {
			return 0, false
		}
	}
	n := 0
	if rest != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(rest, op))
		if !strings.HasPrefix(rest, op) || err != nil || v < 0 {
			return 0, false
		}
		n = v
	}
	if op == "-" {
		n = -n
	}
	if sig := base + n; sig >= 34 && sig <= 64 {
		return unix.Signal(sig), true
	}
	return 0, false
}

// Signal sends sig to the container's init. A process running as one of the user's
// subordinate ids can only be signalled from inside hutch's user namespace: when a
// direct kill is not permitted, a helper joins the namespace of the container's owner
// and sends it from there.
func (r *Records) Signal(c *Config, sig unix.Signal) error {
	st, err := r.Current(c.ID)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning {
		return fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name, st.Status)
	}
	c.Emit(events.Kill, "signal", strconv.Itoa(int(sig))) // before the die it may cause
	if err := signalProcess(st, st.Pid, sig); err != nil {
		return fmt.Errorf("signalling container %s: %w", c.Name, err)
	}
	if sig != unix.SIGKILL {
		thawAfterSignal(st)
	}
	return nil
}

// signalProcess sends sig to pid, a process of the container whose state is st: at
// once when this process may, otherwise from inside the user namespace of the
// container's owner (a process running as a subordinate id). A process already gone
// is no error.
func signalProcess(st *State, pid int, sig unix.Signal) error {
	err := unix.Kill(pid, sig)
	if err == nil || errors.Is(err, unix.ESRCH) {
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	cmd := exec.Command("/proc/self/exe", strconv.Itoa(pid), strconv.Itoa(int(sig)))
	cmd.Args[0] = SignalName
	cmd.Env = append(os.Environ(), nsenter.Env(st.MonitorPid, unix.CLONE_NEWUSER, false, false)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("from its user namespace: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// SignalMain is hutch-signal: it signals container processes from inside hutch's user
// namespace.
func SignalMain() {
	res := nsenter.Outcome()
	if res.Err != nil {
		fmt.Fprintln(os.Stderr, "joining the container's user namespace:", res.Err)
		os.Exit(1)
	}
	// hutch-signal PID SIG [PID...]
	sig, _ := strconv.Atoi(os.Args[2])
	code := 0
	for _, a := range append([]string{os.Args[1]}, os.Args[3:]...) {
		pid, _ := strconv.Atoi(a)
		if err := unix.Kill(pid, unix.Signal(sig)); err != nil && !errors.Is(err, unix.ESRCH) {
			fmt.Fprintf(os.Stderr, "kill %d: %v\n", pid, err)
			code = 1
		}
	}
	os.Exit(code)
}

// WaitExit waits until the container is no longer running (or the timeout passes, when
// it is positive) and returns its state.
func (r *Records) WaitExit(id string, timeout time.Duration) (*State, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.Current(id)
		if err != nil {
			return nil, err
		}
		if st.Status != StatusRunning {
			return st, nil
		}
		if timeout > 0 && time.Now().After(deadline) {
			return st, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop sends the container's stop signal and, if it still runs after timeout, SIGKILL;
// it returns once the container has exited. Stopping a stopped container does nothing.
func (r *Records) Stop(c *Config, timeout time.Duration) error {
	return r.StopWith(c, "", timeout)
}

// StopWith is Stop with the signal signal (`stop -s`; "" for the container's stop
// signal) sent first.
func (r *Records) StopWith(c *Config, signal string, timeout time.Duration) error {
	return r.stop(c, signal, timeout, stopMarker)
}

// stop is StopWith with the marker that tells the monitor what the exit is for:
// stopMarker, or healthRestartMarker (a restart that --health-on-failure asks for).
func (r *Records) stop(c *Config, signal string, timeout time.Duration, marker string) (err error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return err
	}
	// Tell the monitor that this exit is wanted: no restart. A container between two
	// runs of its restart policy is not running, but its monitor reads this too.
	_ = os.WriteFile(filepath.Join(r.dir(c.ID), marker), nil, 0o600)
	if st.Status != StatusRunning {
		return nil
	}
	defer func() {
		if err == nil {
			c.Emit(events.Stop)
		}
	}()
	if signal == "" {
		signal = c.StopSignal
	}
	sig, err := ParseSignal(signal)
	if err != nil {
		return err
	}
	if timeout > 0 {
		if err := r.Signal(c, sig); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		if st, err := r.WaitExit(c.ID, timeout); err != nil || st.Status != StatusRunning {
			return err
		}
	}
	if err := r.Signal(c, unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	st, err = r.WaitExit(c.ID, 30*time.Second)
	if err != nil {
		return err
	}
	if st.Status == StatusRunning {
		return fmt.Errorf("container %s did not stop after SIGKILL (pid %d)", c.Name, st.Pid)
	}
	return nil
}
