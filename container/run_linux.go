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
	"sync"
	"syscall"
	"time"

	"go.podman.io/storage/pkg/ioutils"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/nsinit"
)

// IO is the caller's side of a foreground container.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// forwarded are the signals a foreground container gets from hutch (--sig-proxy).
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGCONT, syscall.SIGPIPE, syscall.SIGALRM}

// RunAttached starts a created container in the foreground: its output goes to the
// caller's, stdin too with -i, a real terminal with -t (sized, resized on SIGWINCH);
// signals are forwarded. It returns the container's exit status; a failure before the
// command ran is an *nsinit.ExecError carrying 125, 126 or 127. The container's mount is
// gone when it returns, and so is the container itself with --rm.
func (m *Manager) RunAttached(c *Config, stdio IO) (int, error) {
	fg, err := newForeground(stdio, c.Options.TTY, c.Options.Interactive)
	if err != nil {
		_, _ = m.Store.Unmount(c.ID, true)
		return nsinit.ExitEngine, err
	}
	defer fg.close()
	return m.runAttached(c, fg, nil, nil)
}

// Run creates a container from o and runs it in the foreground, as RunAttached does. Its
// init is launched first, before the container is even created, so that the init's
// start-up overlaps creating and mounting it; the root file system reaches the init's
// mount namespace through a shared mount (SlotDir). The Config is returned when the
// container was created (to be removed if the command never ran).
func (m *Manager) Run(o Options, stdio IO) (*Config, int, error) {
	fg, err := newForeground(stdio, o.TTY, o.Interactive)
	if err != nil {
		return nil, nsinit.ExitEngine, err
	}
	defer fg.close()
	if o.AutoRemove {
		// Everything a --rm run writes from here on (the volatile container record, the
		// store's mount counts) is gone when it ends: no disk flush is worth its time.
		ioutils.SetDefaultOptions(ioutils.AtomicFileWriterOptions{NoSync: true})
	}
	var early *nsinit.Process
	var net *pendingNet
	if o.Userns == "" && m.SlotDir != "" && m.sharedSlots() == nil {
		spec := &nsinit.Spec{NewNetwork: newNetns(o), Terminal: o.TTY, Init: o.Init}
		if err := m.earlyCgroup(o, spec); err != nil {
			return nil, nsinit.ExitEngine, err
		}
		early, _ = nsinit.Launch(spec, fg.child, true)
		if early == nil {
			m.dropEarlyCgroup()
		}
		if early != nil && o.Network == NetworkSlirp && (o.NetworkOptions == nil || o.NetworkOptions.Mode == o.Network) {
			// slirp4netns comes up while the container is created; its ports are
			// published once Create has checked them.
			net = m.attachNetwork(o, "p"+strconv.Itoa(early.Pid()), early.Pid(), nil, false, fg.stdio.Stderr)
		}
	}
	c, err := m.Create(o)
	if err != nil {
		if early != nil {
			early.Kill()
		}
		m.dropEarlyCgroup()
		net.close()
		return nil, nsinit.ExitEngine, err
	}
	code, err := m.runAttached(c, fg, early, net)
	return c, code, err
}

// sharedSlots makes SlotDir a shared mount in this mount namespace, so that a bind
// mount made in it later appears in the mount namespace of an init cloned before. The
// kept namespace outlives the command: SlotDir is bound onto itself once, by the first
// run (or again when the runtime directory was wiped).
func (m *Manager) sharedSlots() error {
	if err := os.MkdirAll(m.SlotDir, 0o700); err != nil {
		return err
	}
	if !isMountPoint(m.SlotDir) {
		if err := unix.Mount(m.SlotDir, m.SlotDir, "", unix.MS_BIND, ""); err != nil {
			return &os.PathError{Op: "bind mount", Path: m.SlotDir, Err: err}
		}
	}
	if err := unix.Mount("", m.SlotDir, "", unix.MS_SHARED, ""); err != nil {
		return &os.PathError{Op: "make shared", Path: m.SlotDir, Err: err}
	}
	return nil
}

// runAttached runs a created container in the foreground; early, when not nil, is its
// init, launched already and waiting for its spec.
func (m *Manager) runAttached(c *Config, fg *foreground, early *nsinit.Process, net *pendingNet) (code int, retErr error) {
	ran := false // the command ran: its status is the one to report
	defer func() { net.close() }()
	defer func() {
		if !c.Options.AutoRemove {
			_, _ = m.Store.Unmount(c.ID, true)
			return
		}
		err := m.Remove(c, true) // unmounts too
		switch {
		case err == nil:
		case ran && retErr == nil:
			// The command's status stands; the failed removal is said on its own.
			fmt.Fprintf(fg.stdio.Stderr, "Error: the container exited with status %d, but removing it (--rm) failed: %v; `hutch rm %s` or `hutch system check --repair` finishes it\n",
				code, diskspace.Explain(err, m.Store.GraphRoot()), c.Name)
		case retErr == nil:
			retErr = err
		}
	}()
	p, err := m.prepare(c, gidMapped(5))
	if err != nil {
		if early != nil {
			early.Kill()
		}
		return nsinit.ExitEngine, err
	}
	attachedEarly := net != nil // then its ports are published below
	rootfs := p.spec.Rootfs
	var proc *nsinit.Process
	if early != nil {
		slot := filepath.Join(m.SlotDir, c.ID)
		if err := os.Mkdir(slot, 0o700); err != nil {
			early.Kill()
			return nsinit.ExitEngine, err
		}
		defer os.Remove(slot)
		if err := unix.Mount(rootfs, slot, "", unix.MS_BIND, ""); err != nil {
			early.Kill()
			return nsinit.ExitEngine, &os.PathError{Op: "bind mount", Path: slot, Err: err}
		}
		defer unix.Unmount(slot, unix.MNT_DETACH)
		p.spec.Rootfs = slot
		if err := early.Send(p.spec); err != nil {
			return nsinit.ExitEngine, err
		}
		proc = early
	} else if proc, err = nsinit.Start(p.spec, fg.child, true); err != nil {
		p.dropCgroup()
		return nsinit.ExitEngine, fmt.Errorf("%w%s", err, cgroupHint(p))
	}
	if err := p.launched(proc.Pid()); err != nil {
		proc.Kill()
		p.dropCgroup()
		return nsinit.ExitEngine, err
	}
	if !attachedEarly {
		net = m.attachNetwork(c.Options, c.ID, proc.Pid(), c.Options.Ports, false, fg.stdio.Stderr)
	}
	att, err := net.wait()
	if err == nil && attachedEarly {
		err = m.publish(att, c)
	}
	if err != nil {
		code, err := netFailed(proc, err)
		p.dropCgroup()
		return code, err
	}
	fg.started()
	if err := proc.Release(); err != nil {
		p.dropCgroup()
		var ee *nsinit.ExecError
		if errors.As(err, &ee) {
			return ee.Code, ee
		}
		proc.Kill()
		return nsinit.ExitEngine, err
	}
	// This process owns the container while it runs: `ps` shows it, `stop` and `kill`
	// reach it.
	st := &State{Status: StatusRunning, Pid: proc.Pid(), MonitorPid: os.Getpid(), StartedAt: time.Now().UTC(), Rootfs: rootfs}
	p.record(st)
	if att != nil {
		st.Ports = att.Ports
	}
	_ = m.Records.SaveState(c.ID, st)
	c.Emit(events.Attach)
	c.Emit(events.Start)
	if !c.Options.AutoRemove { // a --rm container's records go right after
		defer func() {
			noteExit(st)
			st.Status, st.ExitCode, st.FinishedAt = StatusExited, code, time.Now().UTC()
			_ = m.Records.SaveState(c.ID, st)
		}()
	}
	code, err = fg.run(proc.Signal, proc.Wait)
	ran = err == nil
	c.died(st, code)
	net.close() // its ports are free once the container is recorded as exited
	return code, err
}

// foreground connects a container process to the caller: a new terminal, sized like
// the caller's, with -t; otherwise the caller's own streams (stdin only with -i).
type foreground struct {
	stdio       IO
	interactive bool
	child       nsinit.Stdio
	master      *os.File
	sigs        chan os.Signal
}

func newForeground(stdio IO, tty, interactive bool) (*foreground, error) {
	f := &foreground{stdio: stdio, interactive: interactive, sigs: make(chan os.Signal, 16)}
	if tty {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		resize(stdio.Stdout, master)
		f.master, f.child = master, nsinit.Stdio{Stdin: slave, Stdout: slave, Stderr: slave}
		signal.Notify(f.sigs, syscall.SIGWINCH)
	} else {
		f.child = nsinit.Stdio{Stdout: stdio.Stdout, Stderr: stdio.Stderr}
		if interactive {
			f.child.Stdin = stdio.Stdin
		}
	}
	// Caught from now on, so that none is lost while the process starts.
	signal.Notify(f.sigs, forwarded...)
	return f, nil
}

// started drops our copy of the terminal once the process holds it, so that its
// output ends when the process does.
func (f *foreground) started() {
	if f.master != nil {
		f.child.Stdin.Close()
	}
}

// run forwards signals (and terminal resizes), copies the terminal, and returns wait's
// exit status once the output has drained.
func (f *foreground) run(send func(os.Signal) error, wait func() (int, error)) (int, error) {
	go func() {
		for s := range f.sigs {
			if s == syscall.SIGWINCH {
				resize(f.stdio.Stdout, f.master)
				continue
			}
			_ = send(s)
		}
	}()
	done := func() {}
	if f.master != nil {
		done = attachTerminal(f.master, f.stdio, f.interactive)
	}
	code, err := wait()
	done()
	return code, err
}

func (f *foreground) close() {
	signal.Stop(f.sigs)
	if f.master != nil {
		f.master.Close()
		f.child.Stdin.Close()
	}
}

// attachTerminal connects the caller to a container's terminal: raw mode on the
// caller's terminal, input copied in (with -i), output copied out. The returned function
// waits for the output to drain and restores the caller's terminal.
func attachTerminal(master *os.File, stdio IO, interactive bool) func() {
	restore := func() {}
	if interactive && term.IsTerminal(int(stdio.Stdin.Fd())) {
		if old, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(stdio.Stdin.Fd()), old) }
		}
	}
	if interactive {
		go func() { _, _ = io.Copy(master, stdio.Stdin) }()
	}
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		_, _ = io.Copy(stdio.Stdout, master) // ends with EIO when the last slave closes
	}()
	return func() {
		copied.Wait()
		restore()
	}
}

// openPTY opens a new pseudo-terminal pair; the slave becomes the container's terminal.
func openPTY() (*os.File, *os.File, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("naming the terminal: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// resize copies the caller's terminal size (if it has one) to the container's.
func resize(from, to *os.File) {
	if from == nil || to == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(to.Fd()), unix.TIOCSWINSZ, ws)
}

// gidMapped reports whether gid exists in this user namespace.
func gidMapped(gid uint32) bool {
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, _ := strconv.ParseUint(f[0], 10, 32)
		size, _ := strconv.ParseUint(f[2], 10, 32)
		if uint64(gid) >= start && uint64(gid) < start+size {
			return true
		}
	}
	return false
}
