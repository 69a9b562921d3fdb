package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/detachkeys"
	"hutch.dev/hutch/nsinit"
)

// A terminal container started under a monitor (`run -it`, `run -dit`, `start -ai`)
// can be attached to and detached from: its monitor's C half (cmonitor/monitor.c)
// listens on attachSocket, a SOCK_SEQPACKET socket in the container's record directory
// (the user's alone). A client is sent the terminal's master first, on which it writes
// its input and sets the window size; then every read of the terminal, as it comes; at
// the end the container's exit status. Leaving is closing the connection: the
// container runs on, its output going on into its log.
const attachSocket = "attach"

// Attach messages, monitor to client: the first byte says what the rest is.
const (
	msgMaster = 'm' // the terminal's master (SCM_RIGHTS)
	msgOutput = 'o' // the terminal's output
	msgExit   = 'x' // the container's exit status, in decimal
)

// attachEndpoint opens dir (a container's record directory) and a new SOCK_SEQPACKET
// socket, and names the attach socket through /proc/self/fd: a record directory's path
// may be longer than a socket address can hold. The caller closes d once it has bound
// or connected fd.
func attachEndpoint(dir string) (d *os.File, fd int, addr *unix.SockaddrUnix, err error) {
	d, err = os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, -1, nil, err
	}
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		d.Close()
		return nil, -1, nil, fmt.Errorf("the attach socket: %w", err)
	}
	return d, fd, &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), attachSocket)}, nil
}

// listenAttach makes the attach socket in dir (a container's record directory), in
// place of one a previous run left.
func listenAttach(dir string) (*os.File, error) {
	d, fd, addr, err := attachEndpoint(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	_ = unix.Unlinkat(int(d.Fd()), attachSocket, 0)
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the attach socket %s: %w", filepath.Join(dir, attachSocket), err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listening on the attach socket %s: %w", filepath.Join(dir, attachSocket), err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, attachSocket)), nil
}

// dialAttach connects to the attach socket in dir; an error when there is none
// listening (a container started by a hutch without them, or in the foreground).
func dialAttach(dir string) (*os.File, error) {
	d, fd, addr, err := attachEndpoint(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := unix.Connect(fd, addr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, attachSocket)), nil
}

// takeAttachClient is the client a monitor was started with (fd 4, named by
// contract.CmClient), and the terminal size it asked for; nil without one. The
// variables go from the environment: a restarted container's monitor has no client.
func takeAttachClient() *attachFromStart {
	v, ok := os.LookupEnv(contract.CmClient)
	size := os.Getenv(contract.CmWinsize)
	os.Unsetenv(contract.CmClient)
	os.Unsetenv(contract.CmWinsize)
	fd, err := strconv.Atoi(v)
	if !ok || err != nil || fd < 3 {
		return nil
	}
	unix.CloseOnExec(fd) // nothing the monitor starts may hold it
	client := &attachFromStart{conn: os.NewFile(uintptr(fd), "attach client")}
	if r, c, ok := strings.Cut(size, ":"); ok {
		rows, err1 := strconv.Atoi(r)
		cols, err2 := strconv.Atoi(c)
		if err1 == nil && err2 == nil && rows > 0 && cols > 0 && rows < 1<<16 && cols < 1<<16 {
			client.size = &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}
		}
	}
	return client
}

// attached is how an attach session ended.
type attached struct {
	detached bool // the user typed the detach keys
	exited   bool // the monitor said the container exited, with code
	code     int
}

// attachSession is the user's side of one connection to a terminal container's
// monitor: the caller's terminal raw, its input (with -i) written to the container's
// terminal through the escape proxy (keys; nil: no detaching), the terminal's output
// copied out as it comes, the size followed on SIGWINCH, other signals passed to the
// container (send; nil: none).
func attachSession(conn *os.File, stdio IO, interactive bool, send func(os.Signal)) (attached, error) {
	defer conn.Close()
	master, err := recvMaster(conn)
	if err != nil {
		return attached{}, err
	}
	defer master.Close()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGWINCH)
	if send != nil {
		// Caught, and passed on but with --sig-proxy=false (as a foreground run).
		signal.Notify(sigs, forwarded...)
	}
	defer signal.Stop(sigs)
	resize(stdio.Stdout, master)
	if interactive && term.IsTerminal(int(stdio.Stdin.Fd())) {
		if old, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
			defer func() { _ = term.Restore(int(stdio.Stdin.Fd()), old) }()
		}
	}
	detach := make(chan struct{})
	if interactive {
		go func() {
			p := detachkeys.NewProxy(stdio.Stdin, stdio.DetachKeys)
			buf := make([]byte, 4096)
			for {
				n, err := p.Read(buf)
				if n > 0 {
					if _, werr := master.Write(buf[:n]); werr != nil {
						return
					}
				}
				if errors.Is(err, detachkeys.ErrDetach) {
					close(detach)
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	done := make(chan attached, 1)
	go func() { done <- readAttach(conn, stdio.Stdout) }()
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGWINCH {
				resize(stdio.Stdout, master)
			} else if !stdio.NoSigProxy {
				send(s)
			}
		case <-detach:
			// The monitor sees the hang-up and goes on without this client; the reader
			// ends before the connection is closed.
			_ = unix.Shutdown(int(conn.Fd()), unix.SHUT_RDWR)
			<-done
			return attached{detached: true}, nil
		case a := <-done:
			return a, nil
		}
	}
}

// recvMaster reads the monitor's first message: the container's terminal.
func recvMaster(conn *os.File) (*os.File, error) {
	b, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), b, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("attaching: reading from the container's monitor: %w", err)
		}
		if n != 1 || b[0] != msgMaster {
			return nil, errors.New("attaching: the container's monitor did not hand over its terminal (it ended)")
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				return os.NewFile(uintptr(fds[0]), "container terminal"), nil
			}
		}
		return nil, errors.New("attaching: the container's monitor sent no terminal")
	}
}

// readAttach copies the terminal's output to out until the monitor says the container
// exited, or hangs up.
func readAttach(conn *os.File, out io.Writer) attached {
	buf := make([]byte, 64<<10)
	for {
		n, _, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return attached{}
		}
		switch buf[0] {
		case msgOutput:
			_, _ = out.Write(buf[1:n])
		case msgExit:
			code, err := strconv.Atoi(string(buf[1:n]))
			return attached{exited: err == nil, code: code}
		}
	}
}

// socketPair is a connected pair of SOCK_SEQPACKET sockets: the client's end and the
// monitor's.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("a socket pair to attach with: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach (monitor's end)"), nil
}

// Detachable tells whether an attached session of c can be left with the detach keys:
// keys are set, and (Docker's rule) it has a terminal, with standard input attached;
// and it can run under a monitor (checkDetachedJoins: a container that joins another's
// namespaces runs in the foreground, and cannot be left).
func Detachable(c *Config, interactive bool, keys []byte) bool {
	return c.TTY && interactive && len(keys) > 0 && checkDetachedJoins(c) == nil
}

// RunDetachable starts a created terminal container under its monitor, as `run -d`
// does, with the caller attached from the start (before its first output): `run -it`
// and `start -ai`. The session ends when the container does (its exit status is
// returned once the monitor has recorded it, and removed the container with --rm) or
// when the user types stdio.DetachKeys: then the container runs on, and 0 is returned.
func (m *Manager) RunDetachable(c *Config, stdio IO) (int, error) {
	mine, theirs, err := socketPair()
	if err != nil {
		return nsinit.ExitEngine, err
	}
	defer mine.Close()
	client := &attachFromStart{conn: theirs}
	if ws, err := unix.IoctlGetWinsize(int(stdio.Stdout.Fd()), unix.TIOCGWINSZ); err == nil && ws.Row > 0 && ws.Col > 0 {
		client.size = ws
	}
	p, err := m.startMonitor(c, client)
	theirs.Close()
	if err != nil {
		if p != nil {
			_, _ = p.Wait() // it removes a --rm container before it ends
		}
		return nsinit.ExitEngine, err
	}
	c.Emit(events.Attach)
	a, err := attachSession(mine, stdio, true, func(s os.Signal) { _ = m.Records.Signal(c, s.(syscall.Signal)) })
	if err != nil {
		_ = p.Release()
		return nsinit.ExitEngine, err
	}
	if a.detached {
		_ = p.Release() // it outlives us; init adopts it
		detachedNote(stdio.Stderr, c)
		return 0, nil
	}
	// The exit is recorded (and a --rm container removed) when the monitor ends, unless
	// it may restart the container: then the first run's status is the answer, as
	// Docker's.
	if policy, _ := ParseRestart(c.Restart); policy == "no" && c.HealthOnFailure != "restart" && a.exited {
		_, _ = p.Wait()
	} else {
		_ = p.Release()
	}
	if a.exited {
		return a.code, nil
	}
	st, err := m.Records.WaitExit(c.ID, 0)
	if err != nil {
		return nsinit.ExitEngine, fmt.Errorf("the container's monitor hung up without its exit status: %w", err)
	}
	return st.ExitCode, nil
}

// attachLive attaches to a running terminal container through its monitor's socket;
// ok is false when it has none (a container run in the foreground, or by an older
// hutch): the caller follows the log instead.
func (r *Records) attachLive(c *Config, withStdin bool, stdio IO) (code int, ok bool, err error) {
	conn, err := dialAttach(r.dir(c.ID))
	if err != nil {
		return 0, false, nil
	}
	interactive := withStdin && c.Interactive
	if !interactive {
		stdio.DetachKeys = nil
	}
	a, err := attachSession(conn, stdio, interactive, nil)
	if err != nil {
		// The monitor hung up before handing its terminal over: the container ended
		// as attach came (its status is the answer), or the monitor failed.
		if st, werr := r.WaitExit(c.ID, 0); werr == nil {
			return st.ExitCode, true, nil
		}
		return nsinit.ExitEngine, true, err
	}
	if a.detached {
		detachedNote(stdio.Stderr, c)
		return 0, true, nil
	}
	if a.exited {
		// Returned once the exit is recorded (a `rm` right after must see it), or
		// the container removed (--rm).
		_, _ = r.WaitExit(c.ID, 0)
		return a.code, true, nil
	}
	st, err := r.WaitExit(c.ID, 0)
	if err != nil {
		return nsinit.ExitEngine, true, err
	}
	return st.ExitCode, true, nil
}

// detachedNote is said (and the detach event emitted, as Docker's) when the user leaves
// a container running.
func detachedNote(w io.Writer, c *Config) {
	c.Emit(events.Detach)
	fmt.Fprintf(w, "\nDetached from %s: it keeps running (`hutch attach %s` to come back)\n", c.Name, c.Name)
}

// drainTerminal hands a terminal's master to a small process of its own (the hutch
// binary, whose constructor in cmonitor/drain.c reads it until the terminal's last
// user closes it): the process of an `exec -it` that was detached from runs on, its
// terminal open and its output read (and dropped, as Docker's).
func drainTerminal(master *os.File) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"hutch-drain"},
		Env:         []string{contract.Drain + "=3"},
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		ExtraFiles:  []*os.File{master},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("keeping the detached command's terminal: %w", err)
	}
	return cmd.Process.Release()
}

// detachedExecNote is said when the user leaves an exec'd command running.
func detachedExecNote(w io.Writer, c *Config, cmd []string) {
	fmt.Fprintf(w, "\nDetached from %q in %s: it keeps running\n", strings.Join(cmd, " "), c.Name)
}
