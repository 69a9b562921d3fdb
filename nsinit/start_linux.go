package nsinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stdio are the container's standard streams. Files are passed straight through (no
// copying); a terminal's slave is passed as all three.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Process is a started container init.
type Process struct {
	cmd    *exec.Cmd
	spec   *os.File // write end of the spec pipe: "go" releases the init
	status *os.File // read end of the status pipe
	// joined is the thread it was cloned from in other containers' namespaces (nil:
	// the caller's).
	joined *joinedThread
}

// ExecError is a failure of the init before the command ran: its exit status follows
// Docker (125 set-up, 126 cannot execute, 127 not found).
type ExecError struct {
	Code int
	Msg  string
}

func (e *ExecError) Error() string { return e.Msg }

// Start clones the init into new mount, pid, uts, ipc and cgroup namespaces (and a
// network namespace when spec.NewNetwork), sends it the spec and lets it build the root
// file system. The command does not run until Release.
func Start(spec *Spec, stdio Stdio, dieWithParent bool) (*Process, error) {
	p, err := Launch(spec, stdio, dieWithParent)
	if err != nil {
		return nil, err
	}
	if err := p.Send(spec); err != nil {
		return nil, err
	}
	return p, nil
}

// Launch clones the init without its spec: only the fields that shape the clone
// (NewNetwork, UIDMap/GIDMap, Terminal, Init, Cgroup) are read now. The init starts up and waits
// for Send, so a caller can overlap that start-up with its own work (creating and
// mounting the container) — Go takes a few milliseconds to start.
func Launch(spec *Spec, stdio Stdio, dieWithParent bool) (*Process, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	cmd := initCmd(spec, stdio, dieWithParent, specR, statusW)
	joined, err := startJoined(cmd, spec)
	if err != nil {
		specR.Close()
		specW.Close()
		statusR.Close()
		statusW.Close()
		return nil, fmt.Errorf("starting the container: %w", err)
	}
	specR.Close()
	statusW.Close()
	return &Process{cmd: cmd, spec: specW, status: statusR, joined: joined}, nil
}

// initCmd is how the init is cloned for spec: the namespaces, a session of its own, the
// user namespace's maps (keep-id), the controlling terminal, the parent-death signal,
// the cgroup; specR and statusW become its fds 3 and 4.
func initCmd(spec *Spec, stdio Stdio, dieWithParent bool, specR, statusW *os.File) *exec.Cmd {
	flags := uintptr(unix.CLONE_NEWNS)
	for _, ns := range []struct {
		mode string
		flag uintptr
	}{{spec.PidNS, unix.CLONE_NEWPID}, {spec.UTSNS, unix.CLONE_NEWUTS}, {spec.IPCNS, unix.CLONE_NEWIPC}, {spec.CgroupNS, unix.CLONE_NEWCGROUP}} {
		if ns.mode == "" {
			flags |= ns.flag
		}
	}
	if spec.NewNetwork && spec.NetNS == "" {
		flags |= unix.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{InitName},
		Env:        []string{},
		Stdin:      stdio.Stdin,
		Stdout:     stdio.Stdout,
		Stderr:     stdio.Stderr,
		ExtraFiles: []*os.File{specR, statusW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			// A session of its own: the caller's terminal (the container's standard
			// streams without -t) is never its controlling terminal, so that TIOCSTI
			// cannot type into the user's shell (docs/security.md, "Terminals").
			Setsid: true,
		},
	}
	if len(spec.UIDMap) > 0 {
		// A user namespace of the container's own: the parent writes its maps, and the
		// init becomes its root before it executes hutch again, so that it keeps the
		// capabilities it needs to build the container.
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		for _, m := range spec.UIDMap {
			cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
		for _, m := range spec.GIDMap {
			cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	// The terminal becomes the controlling terminal of the command's session. With
	// --init that is the reaper's child, which makes a session of its own: the init must
	// not hold the terminal then, as a terminal can be the controlling terminal of one
	// session only (TIOCSCTTY fails with EPERM).
	if spec.Terminal && !spec.Init {
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	}
	if dieWithParent && len(joins(spec)) > 0 && strings.HasPrefix(spec.PidNS, "/") {
		// In another container's pid namespace the init is not its pid 1, and its
		// parent is outside it (getppid is 0): Go's check after setting the signal
		// would take the parent for dead and kill the child. The init sets it itself.
		cmd.Args = append(cmd.Args, pdeathsigArg)
	} else if dieWithParent {
		cmd.SysProcAttr.Pdeathsig = unix.SIGKILL
	}
	if spec.Cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(spec.Cgroup.Fd())
	}
	return cmd
}

// Send gives a launched init its spec, which must agree with the one it was launched
// with on the namespaces; on failure the init is killed.
func (p *Process) Send(spec *Spec) error {
	b, err := json.Marshal(spec)
	if err == nil {
		_, err = p.spec.Write(append(b, '\n'))
	}
	if err != nil {
		p.Kill()
		return fmt.Errorf("sending the spec to the container: %w", err)
	}
	return nil
}

// Pid is the init's pid (in the caller's pid namespace).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Release lets the init run the command and waits until it did (the status pipe closes
// on exec) or failed before it (an *ExecError).
func (p *Process) Release() error {
	_, err := p.spec.Write([]byte("go\n"))
	p.spec.Close()
	if err != nil && !errors.Is(err, syscall.EPIPE) {
		return err
	}
	return readStatus(p.status, p.cmd)
}

// readStatus reads the status pipe until the command runs (the pipe closes empty on
// exec: nil) or the init or exec helper reports why it could not (*ExecError, after
// reaping cmd).
func readStatus(status *os.File, cmd *exec.Cmd) error {
	b, _ := io.ReadAll(status)
	status.Close()
	if len(b) == 0 {
		return nil
	}
	_ = cmd.Wait()
	var f failure
	if err := json.Unmarshal(b, &f); err != nil {
		return &ExecError{Code: ExitEngine, Msg: string(b)}
	}
	return &ExecError{Code: f.Code, Msg: f.Msg}
}

// exitStatus turns cmd.Wait's result into an exit status, 128+N for signal N.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return ExitEngine, err
}

// HandOver executes path in place of this process from the thread the init was cloned
// from, so that the init's parent-death signal, which belongs to that thread, stays
// armed: the caller's own thread, which it locked before Launch; or, for an init cloned
// into other containers' namespaces, the thread that joined them (the new program then
// runs in those namespaces too). It returns only on failure.
func (p *Process) HandOver(path string, argv, env []string) error {
	if p.joined != nil {
		return p.joined.Exec(path, argv, env)
	}
	return unix.Exec(path, argv, env)
}

// Signal sends sig to the init.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the init (and with it the whole pid namespace) and reaps it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.spec.Close()
	p.status.Close()
}

// Wait waits for the container's command and returns its exit status, 128+N when a
// signal N killed it.
func (p *Process) Wait() (int, error) { return exitStatus(p.cmd.Wait()) }
