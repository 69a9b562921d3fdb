package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// ExecOptions is `hutch exec`.
type ExecOptions struct {
	Cmd         []string
	Env         []string
	User        string
	Workdir     string
	Interactive bool
	TTY         bool
	Detach      bool
	Privileged  bool
	// Seccomp caches compiled filters: the command runs under the container's.
	Seccomp *security.Cache
}

// Exec runs a command in a running container, in all of its namespaces, with its
// capabilities and environment; it needs no user namespace of its own (the command joins
// the container's). It returns the command's exit status, or an *nsinit.ExecError with
// 126/127 when it cannot run.
func (r *Records) Exec(c *Config, o ExecOptions, stdio IO) (int, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nsinit.ExitEngine, err
	}
	if st.Status != StatusRunning {
		return nsinit.ExitEngine, fmt.Errorf("%w: %s is %s; start it first (`hutch start %s`)", ErrNotRunning, c.Name, st.Status, c.Name)
	}
	spec, flags, err := execSpec(c, o)
	if err != nil {
		return nsinit.ExitEngine, err
	}
	if o.Detach || !o.TTY || !o.Interactive {
		stdio.DetachKeys = nil // detaching needs a terminal and input (Docker's rule)
	}
	fg, err := newForeground(stdio, o.TTY, o.Interactive, false) // an exec's output is not the container's log, as in Docker
	if err != nil {
		return nsinit.ExitEngine, err
	}
	defer fg.close()
	child := fg.child
	if o.Detach {
		devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nsinit.ExitEngine, err
		}
		defer devnull.Close()
		child = nsinit.Stdio{Stdin: devnull, Stdout: devnull, Stderr: devnull}
	}
	if Paused(st) {
		return nsinit.ExitEngine, fmt.Errorf("container %s is paused: unpause it first (`hutch unpause %s`); a command started in its frozen cgroup would not run", c.Name, c.Name)
	}
	execID, command := newExecID(), strings.Join(o.Cmd, " ")
	c.Emit(events.ExecCreate+": "+command, "execID", execID)
	p, err := launch.Exec(st.Pid, flags, spec, child, st.Cgroup, func() {
		fmt.Fprintf(os.Stderr, "Warning: the command runs outside the cgroup of container %s (its limits, stats and pause do not cover it): this hutch runs outside the delegated cgroup %s, and the kernel moves a process only between cgroups whose common ancestor you may write\n", c.Name, filepath.Dir(st.Cgroup))
	})
	if err != nil {
		return launch.ExitCode(err), err
	}
	fg.started()
	c.Emit(events.ExecStart+": "+command, "execID", execID)
	code, err := fg.run(p.Signal, p.Wait)
	if errors.Is(err, errDetached) {
		// The command runs on: its terminal goes to a keeper of its own, as its
		// relay goes on waiting for it.
		if err := drainTerminal(fg.master); err != nil {
			return nsinit.ExitEngine, err
		}
		detachedExecNote(stdio.Stderr, c, o.Cmd)
		return 0, nil
	}
	if err == nil && !o.Detach {
		c.Emit(events.ExecDie, "execID", execID, "exitCode", strconv.Itoa(code))
	}
	return code, err
}

// execSpec is the process an exec (or a healthcheck's probe) starts in the running
// container c, and the namespaces it joins: the container's environment, user,
// capabilities, seccomp filter and session keyring, with o's changes.
func execSpec(c *Config, o ExecOptions) (*nsinit.ExecSpec, int, error) {
	var err error
	// The init's namespaces, but for those it shares with hutch (--pid host …):
	// joining one of the host's is not the user namespace's right, and not needed.
	// A network joined from another container (--network container:) is joined too.
	flags := unix.CLONE_NEWUSER | unix.CLONE_NEWNS
	for _, ns := range []struct {
		mode string
		flag int
	}{{c.PidMode, unix.CLONE_NEWPID}, {c.UTSMode, unix.CLONE_NEWUTS}, {c.IpcMode, unix.CLONE_NEWIPC}, {c.CgroupnsMode, unix.CLONE_NEWCGROUP}} {
		if ns.mode != nsinit.NSHost {
			flags |= ns.flag
		}
	}
	if c.Network.Mode != NetworkHost {
		flags |= unix.CLONE_NEWNET
	}
	spec := &nsinit.ExecSpec{
		Args: o.Cmd, Env: MergeEnv(c.Env, o.Env), Cwd: c.Cwd, User: c.User, Terminal: o.TTY,
		Caps: c.Caps, NoNewPrivileges: c.NoNewPrivileges(), Detach: o.Detach,
		SessionKeyring: nsinit.SessionKeyring(c.ID),
	}
	// The container's filter, as compiled for its capabilities (also with --privileged,
	// as in Docker: exec's privileges are capabilities).
	if spec.Seccomp, spec.SeccompFlags, err = seccompProgram(o.Seccomp, c); err != nil {
		return nil, 0, err
	}
	if o.User != "" {
		spec.User = o.User
	}
	if o.Workdir != "" {
		spec.Cwd = o.Workdir
	}
	if o.Privileged {
		spec.Caps = nsinit.AllCaps()
	}
	if spec.User == "" {
		spec.User = "0:0"
	}
	return spec, flags, nil
}

// Attach connects to a running container: its output from now on, its standard
// input when it was started with -i, signals forwarded. A terminal container under a
// monitor is attached to through the monitor (attach_linux.go): its output as it comes,
// the window size followed, and stdio.DetachKeys leave it running (then 0 is returned);
// other containers' output is followed from the log. It returns the container's exit
// status when it ends.
func (r *Records) Attach(c *Config, withStdin bool, stdio IO) (int, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nsinit.ExitEngine, err
	}
	if st.Status != StatusRunning {
		return nsinit.ExitEngine, fmt.Errorf("%w: %s is %s; start it with `hutch start -a %s`", ErrNotRunning, c.Name, st.Status, c.Name)
	}
	c.Emit(events.Attach)
	if c.TTY {
		if code, ok, err := r.attachLive(c, withStdin, stdio); ok {
			return code, err
		}
	}
	var fifo *os.File
	if withStdin && c.Interactive {
		fifo, err = os.OpenFile(filepath.Join(r.dir(c.ID), "stdin"), os.O_WRONLY, 0)
		if err != nil {
			return nsinit.ExitEngine, fmt.Errorf("attaching standard input: %w", err)
		}
		defer fifo.Close()
		if c.TTY && term.IsTerminal(int(stdio.Stdin.Fd())) {
			if old, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
				defer func() { _ = term.Restore(int(stdio.Stdin.Fd()), old) }()
			}
		}
	}
	if !c.TTY {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = r.Signal(c, s.(syscall.Signal))
			}
		}()
	}
	// Input goes in only once the output is followed from the end of the log: the
	// container's answer to it is never skipped as "before the attach".
	following := func() {}
	if fifo != nil {
		following = func() { go func() { _, _ = io.Copy(fifo, stdio.Stdin) }() }
	}
	if err := r.Logs(c, LogOptions{Follow: true, Tail: 0, following: following}, stdio.Stdout, stdio.Stderr); err != nil {
		return nsinit.ExitEngine, err
	}
	st, err = r.WaitExit(c.ID, 0)
	if err != nil {
		return nsinit.ExitEngine, err
	}
	return st.ExitCode, nil
}
