package nsinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/nsenter"
)

// ExecName is the name hutch is re-executed under to run a command in a running
// container: the nsenter constructor has joined the container's namespaces and forked;
// its parent stays in C as the relay of signals and exit status, and the child, here,
// becomes the command.
// internal/nsenter/nsenter.c (hutch_default_signals) knows this name too.
const ExecName = "hutch-exec"

const envExec = contract.Exec

// ExecSpec is a command to run in a running container.
type ExecSpec struct {
	Args            []string `json:"args"`
	Env             []string `json:"env"`
	Cwd             string   `json:"cwd"`
	User            string   `json:"user"` // USER[:GROUP], resolved in the container
	Terminal        bool     `json:"terminal"`
	Caps            []string `json:"caps"`
	NoNewPrivileges bool     `json:"noNewPrivileges"`
	Detach          bool     `json:"detach"`
	// SessionKeyring is the container's session keyring (Spec.SessionKeyring), which
	// the command joins.
	SessionKeyring string `json:"sessionKeyring,omitempty"`
	// Seccomp is the container's filter (Spec.Seccomp).
	Seccomp      []byte `json:"seccomp,omitempty"`
	SeccompFlags uint32 `json:"seccompFlags,omitempty"`
	// Cgroup, when set, is the container's cgroup directory: the command starts in it
	// (CLONE_INTO_CGROUP), under the container's limits.
	Cgroup *os.File `json:"-"`
}

// ExecProcess is a started `exec`: the relay process, outside the container's pid
// namespace, whose child is the command.
type ExecProcess struct {
	cmd    *exec.Cmd
	status *os.File
}

// StartExec starts spec in the namespaces (flags, CLONE_NEW*) of the container whose
// init is pid.
func StartExec(pid, flags int, spec *ExecSpec, stdio Stdio) (*ExecProcess, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{ExecName},
		Env:        append([]string{envExec + "=" + string(b)}, nsenter.Env(pid, flags, true, spec.Detach)...),
		Stdin:      stdio.Stdin,
		Stdout:     stdio.Stdout,
		Stderr:     stdio.Stderr,
		ExtraFiles: []*os.File{statusW},
	}
	if spec.Cgroup != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(spec.Cgroup.Fd())}
	}
	if err := cmd.Start(); err != nil {
		statusR.Close()
		statusW.Close()
		return nil, fmt.Errorf("starting exec: %w", err)
	}
	statusW.Close()
	return &ExecProcess{cmd: cmd, status: statusR}, nil
}

// Started waits until the command runs (nil) or could not be started (*ExecError).
func (p *ExecProcess) Started() error { return readStatus(p.status, p.cmd) }

// Signal sends sig to the relay, which passes it to the command.
func (p *ExecProcess) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// CommandPid is the command's pid (the relay's child, in this pid namespace), 0 if it
// is not known (gone already).
func (p *ExecProcess) CommandPid() int {
	pid := p.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// Wait returns the command's exit status (128+N for signal N).
func (p *ExecProcess) Wait() (int, error) { return exitStatus(p.cmd.Wait()) }

// ExecMain is hutch-exec: a command started in a running container.
func ExecMain() {
	runtime.LockOSThread()
	res := nsenter.Outcome()
	status := os.NewFile(fdSpec, "status") // fd 3: the only extra file an exec gets
	fail := func(code int, err error) {
		b, _ := json.Marshal(failure{Code: code, Msg: err.Error()})
		_, _ = status.Write(b) // a parent gone cannot be told
		os.Exit(code)
	}
	if res.Err != nil {
		fail(ExitEngine, fmt.Errorf("joining the container's namespaces: %w", res.Err))
	}
	var spec ExecSpec
	if err := json.Unmarshal([]byte(os.Getenv(envExec)), &spec); err != nil {
		fail(ExitEngine, fmt.Errorf("reading the exec spec: %w", err))
	}
	os.Unsetenv(envExec)
	switch res.Role {
	case nsenter.RoleChild:
		unix.CloseOnExec(fdSpec)
		code, err := execChild(&spec)
		fail(code, err)
	default:
		fail(ExitEngine, errors.New("hutch-exec started without joining a container"))
	}
}

// execChild becomes the command, inside the container; it returns only on failure.
func execChild(spec *ExecSpec) (int, error) {
	// No container process may hold the user's terminal as its controlling terminal
	// (docs/security.md, "Terminals"): the command leads a session of its own, whose
	// terminal is its own pty with -t and none without. And until it executes the
	// command, this process (which may hold the user's files) is not dumpable, so that
	// no process already in the container can ptrace it or open its /proc files.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return ExitEngine, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return ExitEngine, fmt.Errorf("setsid: %w", err)
	}
	if spec.Terminal {
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return ExitEngine, fmt.Errorf("setting the controlling terminal: %w", err)
		}
	}
	// The container's session keyring, joined as the container's root (as its init
	// joined it: the owner, who may find it by name), not the user's.
	if unix.Getuid() != 0 || unix.Getgid() != 0 {
		if err := syscall.Setresgid(0, 0, 0); err != nil {
			return ExitEngine, fmt.Errorf("becoming the container's root: %w", err)
		}
		if err := syscall.Setresuid(0, 0, 0); err != nil {
			return ExitEngine, fmt.Errorf("becoming the container's root: %w", err)
		}
	}
	if err := joinSessionKeyring(spec.SessionKeyring, false); err != nil {
		return ExitEngine, err
	}
	u, err := LookupUser("/", spec.User)
	switch {
	case errors.Is(err, ErrUnknownUser):
		return ExitEngine, fmt.Errorf("-u %q: no such user or group in the container's /etc/passwd and /etc/group: use a name from there or numeric ids (-u 1000:1000)", spec.User)
	case errors.Is(err, ErrIDRange):
		return ExitEngine, fmt.Errorf("-u %q: id out of range", spec.User)
	case err != nil:
		return ExitEngine, fmt.Errorf("-u %q: %w", spec.User, err)
	}
	env := spec.Env
	if !hasKey(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	if spec.Cwd != "" {
		if err := unix.Chdir(spec.Cwd); err != nil {
			return ExitEngine, fmt.Errorf("working directory %s: %w", spec.Cwd, err)
		}
	}
	path, code, err := lookPath(spec.Args[0], env)
	if err != nil {
		return code, err
	}
	is := &Spec{Caps: spec.Caps, NoNewPrivileges: spec.NoNewPrivileges, User: u.User,
		Seccomp: spec.Seccomp, SeccompFlags: spec.SeccompFlags}
	// From here on the container's seccomp filter may be in force (loadSeccomp):
	// whatever it blocks (keyctl, to join a new session keyring) must come before.
	if err := loadSeccomp(is, false); err != nil {
		return ExitEngine, err
	}
	if err := setupIdentity(is); err != nil {
		return ExitEngine, err
	}
	if err := closeExtraFiles(); err != nil {
		return ExitEngine, err
	}
	if err := loadSeccomp(is, true); err != nil {
		return ExitEngine, err
	}
	err = unix.Exec(path, spec.Args, env)
	return execCode(err), fmt.Errorf("exec %s: %w", spec.Args[0], err)
}

func hasKey(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}
