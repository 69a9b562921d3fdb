package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/ioutils"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/detachkeys"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/nsinit"
)

// IO is the caller's side of a foreground container.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	// NoSigProxy: the signals hutch gets are not passed on to a foreground container
	// (--sig-proxy=false); they are caught all the same, so that the container runs on
	// until it ends (SIGKILL ends hutch, and the container with it).
	NoSigProxy bool
	// DetachKeys, when set, leave the container running (its terminal, with -i): see
	// internal/detachkeys.
	DetachKeys []byte
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
	fg, err := newForeground(stdio, c.TTY, c.Interactive, c.LogDriver() != LogNone)
	if err != nil {
		return nsinit.ExitEngine, err
	}
	defer fg.close()
	return m.runAttached(c, fg, nil, false)
}

// Run creates a container from the checked request r and its image, and runs it in the
// foreground, as RunAttached does. Its
// init is launched first, before the container is even created, so that the init's
// start-up overlaps creating and mounting it, and slirp4netns comes up meanwhile; the
// root file system reaches the init's mount namespace through a shared mount
// (SlotDir). The Config is returned when the container was created (to be removed if
// the command never ran).
func (m *Manager) Run(r *Request, img *cstorage.Image, stdio IO) (*Config, int, error) {
	logged := r.LogConfig == nil || r.LogConfig.Type != LogNone
	fg, err := newForeground(stdio, r.TTY, r.Interactive, logged)
	if err != nil {
		return nil, nsinit.ExitEngine, err
	}
	defer fg.close()
	if r.AutoRemove {
		// Everything a --rm run writes from here on (the volatile container record, the
		// store's mount counts) is gone when it ends: no disk flush is worth its time.
		ioutils.SetDefaultOptions(ioutils.AtomicFileWriterOptions{NoSync: true})
	}
	id, err := newID()
	if err != nil {
		return nil, nsinit.ExitEngine, err
	}
	c, err := m.newConfig(r, img, id)
	if err != nil {
		return nil, nsinit.ExitEngine, err
	}
	var begun *launch.Start
	// (An image mount is made before the init is cloned, which binds it from its copy of
	// this mount namespace: that container starts the ordinary way.)
	if c.Userns == "" && !c.HasImageMounts() && m.SlotDir != "" && launch.ShareSlots(m.SlotDir) == nil {
		how := starting{stdio: fg.child, log: fg.stdio.Stderr, limitsSaid: true}
		shape, err := m.initShape(c)
		if err == nil {
			begun, err = m.begin(c, shape, how, filepath.Join(m.SlotDir, c.ID))
		}
		if err != nil {
			begun = nil // started the ordinary way below, which says what fails
		} else {
			begun.AttachNetwork()
		}
	}
	err = m.record(c)
	if err == nil {
		if err = writeCIDFile(r.CIDFile, c.ID); err != nil {
			_ = m.Remove(c, true)
		}
	}
	if err != nil {
		if begun != nil {
			begun.Abort()
		}
		return nil, nsinit.ExitEngine, err
	}
	code, err := m.runAttached(c, fg, begun, true)
	return c, code, err
}

// runAttached runs a created container in the foreground; begun, when not nil, is its
// init, launched already and waiting for its spec; fresh: Run created it just now
// (starting's limitsSaid and created).
func (m *Manager) runAttached(c *Config, fg *foreground, begun *launch.Start, fresh bool) (code int, retErr error) {
	ran := false // the command ran: its status is the one to report
	defer func() {
		if !c.AutoRemove {
			m.unmount(c.ID)
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
	// The output is copied to the caller and into the log from the start.
	lf, err := m.Records.OpenLog(c)
	if err != nil {
		// The run goes on (its init may be waiting already); only the log is missing.
		fmt.Fprintf(fg.stdio.Stderr, "Warning: the container's output is not logged: %v\n", diskspace.Explain(err, m.Store.GraphRoot()))
		lf = nil
	}
	fg.logTo(lf)
	r, st, err := m.start(c, starting{stdio: fg.child, begun: begun, log: fg.stdio.Stderr, limitsSaid: fresh, created: fresh})
	if err != nil {
		return launch.ExitCode(err), err
	}
	closeNet := func() {
		if r.Network != nil {
			_ = r.Network.Close()
			r.Network = nil
		}
	}
	defer closeNet()
	fg.started()
	c.Emit(events.Attach)
	c.Emit(events.Start)
	if !c.AutoRemove { // a --rm container's records go right after
		defer func() {
			st.Status, st.ExitCode, st.FinishedAt = StatusExited, code, time.Now().UTC()
			m.saveEnd(c.ID, st)
		}()
	}
	endHealth := m.Records.healthLoop(c, m.Seccomp)
	code, err = fg.run(r.Signal, r.Wait)
	endHealth()
	ran = err == nil
	c.died(st, code) // the OOM kill read before the cgroup goes
	closeNet()       // its ports are free once the container is recorded as exited
	return code, err
}

// foreground connects a container process to the caller: a new terminal, sized like
// the caller's, with -t; otherwise pipes copied to the caller's streams and into the
// container's log (the caller's own streams with --log-driver none), stdin only with -i.
type foreground struct {
	stdio       IO
	interactive bool
	child       nsinit.Stdio
	master      *os.File
	sigs        chan os.Signal
	// outR and errR are the pipes' read ends (nil: the caller's streams are the
	// container's); outW and errW our copies of their write ends, until started.
	outR, errR, outW, errW *os.File
	log                    *LogFile
	copied                 sync.WaitGroup
}

func newForeground(stdio IO, tty, interactive, logged bool) (*foreground, error) {
	f := &foreground{stdio: stdio, interactive: interactive, sigs: make(chan os.Signal, 16)}
	if tty {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		resize(stdio.Stdout, master)
		f.master, f.child = master, nsinit.Stdio{Stdin: slave, Stdout: slave, Stderr: slave}
		signal.Notify(f.sigs, syscall.SIGWINCH)
	} else if logged {
		var err error
		if f.outR, f.outW, err = os.Pipe(); err != nil {
			return nil, err
		}
		if f.errR, f.errW, err = os.Pipe(); err != nil {
			f.outR.Close()
			f.outW.Close()
			return nil, err
		}
		f.child = nsinit.Stdio{Stdout: f.outW, Stderr: f.errW}
		if interactive {
			f.child.Stdin = stdio.Stdin
		}
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

// logTo starts copying the container's output to the caller and into its log l (nil:
// none is kept); a terminal's output is copied by run.
func (f *foreground) logTo(l *LogFile) {
	f.log = l
	if f.outR == nil {
		return
	}
	f.copied.Add(2)
	go f.copyOut(f.outR, f.stdio.Stdout, "stdout")
	go f.copyOut(f.errR, f.stdio.Stderr, "stderr")
}

// copyOut copies one of the container's streams to the caller's and into the log. When
// the caller's stream is gone (a closed pipe), the container's pipe is closed too, so
// that its writes fail as they would have on the caller's own stream.
func (f *foreground) copyOut(from, to *os.File, stream string) {
	defer f.copied.Done()
	defer from.Close()
	buf := make([]byte, logChunk)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			_, werr := to.Write(buf[:n])
			if f.log != nil {
				f.log.Write(stream, buf[:n])
			}
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// started drops our copy of the terminal (or of the pipes) once the process holds it,
// so that its output ends when the process does.
func (f *foreground) started() {
	if f.master != nil {
		f.child.Stdin.Close()
	}
	f.closeWriteEnds()
}

func (f *foreground) closeWriteEnds() {
	if f.outW != nil {
		f.outW.Close()
		f.errW.Close()
		f.outW, f.errW = nil, nil
	}
}

// errDetached is run's answer when the user typed the detach keys (IO.DetachKeys, with
// a terminal and -i): the process runs on.
var errDetached = errors.New("detached")

// run forwards signals (and terminal resizes), copies the terminal, and returns wait's
// exit status once the output has drained; errDetached when the user detached (the
// caller keeps the terminal going: drainTerminal).
func (f *foreground) run(send func(os.Signal) error, wait func() (int, error)) (int, error) {
	go func() {
		for s := range f.sigs {
			if s == syscall.SIGWINCH {
				resize(f.stdio.Stdout, f.master)
				continue
			}
			if f.stdio.NoSigProxy {
				continue
			}
			_ = send(s)
		}
	}()
	done, restore := func() {}, func() {}
	var detach chan struct{}
	if f.master != nil {
		var log io.Writer
		if f.log != nil {
			log = f.log.StreamWriter("stdout")
		}
		if f.interactive && len(f.stdio.DetachKeys) > 0 {
			detach = make(chan struct{})
		}
		done, restore = attachTerminal(f.master, f.stdio, f.interactive, log, detach)
	}
	if detach == nil {
		code, err := wait()
		done()
		f.copied.Wait() // the output drained, to the caller and into the log
		return code, err
	}
	type waited struct {
		code int
		err  error
	}
	ended := make(chan waited, 1)
	go func() {
		code, err := wait()
		ended <- waited{code, err}
	}()
	select {
	case w := <-ended:
		done()
		return w.code, w.err
	case <-detach:
		restore()
		return 0, errDetached
	}
}

func (f *foreground) close() {
	signal.Stop(f.sigs)
	if f.master != nil {
		f.master.Close()
		f.child.Stdin.Close()
	}
	// A start that failed: the pipes end with the process, if it ever held them.
	f.closeWriteEnds()
	if f.log != nil {
		drained := make(chan struct{})
		go func() { f.copied.Wait(); close(drained) }()
		select {
		case <-drained:
			f.log.Close()
		case <-time.After(2 * time.Second):
			// A process of the failed start still holds the pipes: the copies go on
			// into the open log until this process ends.
		}
	}
}

// attachTerminal connects the caller to a container's terminal: raw mode on the
// caller's terminal, input copied in (with -i; through the escape proxy when detach is
// not nil: it is closed when the user types the detach keys), output copied out. The
// first function returned waits for the output to drain and restores the caller's
// terminal; the second only restores it.
func attachTerminal(master *os.File, stdio IO, interactive bool, log io.Writer, detach chan struct{}) (func(), func()) {
	restore := func() {}
	if interactive && term.IsTerminal(int(stdio.Stdin.Fd())) {
		if old, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(stdio.Stdin.Fd()), old) }
		}
	}
	if interactive && detach == nil {
		go func() { _, _ = io.Copy(master, stdio.Stdin) }()
	} else if interactive {
		go func() {
			_, err := io.Copy(master, detachkeys.NewProxy(stdio.Stdin, stdio.DetachKeys))
			if errors.Is(err, detachkeys.ErrDetach) {
				close(detach)
			}
		}()
	}
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		var to io.Writer = stdio.Stdout
		if log != nil {
			to = io.MultiWriter(stdio.Stdout, log)
		}
		_, _ = io.Copy(to, master) // ends with EIO when the last slave closes
	}()
	return func() {
		copied.Wait()
		restore()
	}, restore
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
