package nsinit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// InitName is the name hutch is re-executed under to become a container's init.
// internal/nsenter/nsenter.c (hutch_default_signals) knows this name too.
const InitName = "hutch-init"

// pdeathsigArg asks the init to set its parent-death signal itself (initCmd).
const pdeathsigArg = "--pdeathsig"

// File descriptors the parent passes to the init.
const (
	fdSpec   = 3 // the spec (one JSON line), then "go" when the init may run the command
	fdStatus = 4 // failures before exec, as JSON; closed on exec (success)
)

// failure is what the init reports when it cannot run the command.
type failure struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// InitMain is hutch-init: a container's init (every role: engine/roles_linux.go).
func InitMain() {
	// Capabilities and no_new_privs are per thread: everything from here to exec
	// happens on this one.
	runtime.LockOSThread()
	if len(os.Args) > 1 && os.Args[1] == pdeathsigArg {
		// (its parent, on the thread that cloned it, lives as long as hutch does:
		// nsinit's startJoined)
		_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	}
	status := os.NewFile(fdStatus, "status")
	fail := func(code int, err error) {
		b, _ := json.Marshal(failure{Code: code, Msg: err.Error()})
		_, _ = status.Write(b) // a parent gone cannot be told
		os.Exit(code)
	}
	unix.CloseOnExec(fdSpec)
	unix.CloseOnExec(fdStatus)
	in := bufio.NewReader(os.NewFile(fdSpec, "spec"))
	line, err := in.ReadBytes('\n')
	if err != nil {
		fail(ExitEngine, fmt.Errorf("reading the container spec: %w", err))
	}
	var spec Spec
	if err := json.Unmarshal(line, &spec); err != nil {
		fail(ExitEngine, fmt.Errorf("reading the container spec: %w", err))
	}
	if err := setupContainer(&spec); err != nil {
		fail(ExitEngine, err)
	}
	// Wait until the parent has done its part (it closes or writes "go").
	if _, err := in.ReadString(10); err != nil && !errors.Is(err, io.EOF) {
		fail(ExitEngine, fmt.Errorf("waiting for the parent: %w", err))
	}
	fail(execCommand(&spec, fail))
}

// setupContainer is the container's side of its set-up, before the parent releases it:
// a session keyring of its own, the root file system, the hostname, the loopback.
func setupContainer(spec *Spec) error {
	if err := joinSessionKeyring(spec.SessionKeyring, true); err != nil {
		return err
	}
	if spec.NewNetwork && spec.NetNS == "" {
		// As Docker does: in a network namespace of its own, any user of the container
		// may bind low ports (they are not the host's). /proc is still the host's view
		// here, but its net/ entries are this namespace's.
		_ = os.WriteFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", []byte("0"), 0)
	}
	if err := setSysctls(spec); err != nil {
		return err
	}
	if err := setupRootfs(spec); err != nil {
		return err
	}
	if spec.Hostname != "" && spec.UTSNS == "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if spec.Domainname != "" && spec.UTSNS == "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("setdomainname: %w", err)
		}
	}
	if spec.NewNetwork && spec.NetNS == "" {
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("bringing up lo: %w", err)
		}
	}
	return nil
}

// execCommand becomes the container's command (or, with --init, the reaper that
// starts it): found in the container's PATH, in its working directory, confined (the
// seccomp filter, the capabilities and ids, fds 0-2 only), then executed. It returns
// only on failure, with the status to report.
func execCommand(spec *Spec, fail func(int, error)) (int, error) {
	path, code, err := lookPath(spec.Args[0], spec.Env)
	if err != nil {
		return code, err
	}
	if spec.Cwd != "" {
		if err := os.MkdirAll(spec.Cwd, 0o755); err != nil {
			return ExitEngine, fmt.Errorf("working directory %s: %w", spec.Cwd, err)
		}
		if err := unix.Chdir(spec.Cwd); err != nil {
			return ExitEngine, fmt.Errorf("working directory %s: %w", spec.Cwd, err)
		}
	}
	// The kernel clears the parent-death signal when the ids change (setresuid to a
	// non-root user): keep it, or a container whose hutch is killed runs on, orphaned,
	// with its mounts.
	var pdeath int
	_ = unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&pdeath)), 0, 0, 0)
	if err := setRlimits(spec); err != nil {
		return ExitEngine, err
	}
	// From here on the container's seccomp filter may be in force (loadSeccomp):
	// whatever it blocks (keyctl, to join a new session keyring) must come before.
	if err := loadSeccomp(spec, false); err != nil {
		return ExitEngine, err
	}
	if err := setupIdentity(spec); err != nil {
		return ExitEngine, err
	}
	if pdeath != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(pdeath), 0, 0, 0); err != nil {
			return ExitEngine, fmt.Errorf("keeping the parent-death signal: %w", err)
		}
	}
	if err := closeExtraFiles(); err != nil {
		return ExitEngine, err
	}
	if err := loadSeccomp(spec, true); err != nil {
		return ExitEngine, err
	}
	if spec.Init {
		// The reaper stays in the container as pid 1 for its whole life, with the
		// command's ids and capabilities: not dumpable, no process in the container can
		// ptrace it or open its /proc files (its fds, its executable: the host's hutch).
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return ExitEngine, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
		}
		os.Exit(reap(path, spec, func(err error) { fail(execCode(err), fmt.Errorf("%s: %w", spec.Args[0], err)) }))
	}
	err = unix.Exec(path, spec.Args, spec.Env)
	return execCode(err), fmt.Errorf("exec %s: %w", spec.Args[0], err)
}

func execCode(err error) int {
	if errors.Is(err, unix.ENOENT) {
		return ExitNotFound
	}
	return ExitCannot
}

// closeExtraFiles marks every file descriptor above 2 close-on-exec: the command gets
// its standard streams and nothing else. Go opens its own files close-on-exec, but a
// descriptor hutch inherited from whoever started it (a shell's `exec 9<file`, a
// leaked pipe) would otherwise pass through every exec into the container — a host
// file the container could read or write. One system call.
func closeExtraFiles() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		if err != nil {
			return fmt.Errorf("marking inherited files close-on-exec: %w", err)
		}
		return nil
	}
	// Before Linux 5.11: one fcntl per open descriptor.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing open files: %w", err)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// lookPath finds the command in the container's PATH, after pivot_root.
func lookPath(name string, env []string) (string, int, error) {
	if name == "" {
		return "", ExitNotFound, errors.New("no command given: the image has no Cmd or Entrypoint; name one after the image (hutch run IMAGE COMMAND)")
	}
	if strings.Contains(name, "/") {
		fi, err := os.Stat(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", ExitNotFound, fmt.Errorf("%s: no such file or directory", name)
			}
			return "", ExitCannot, err
		}
		if fi.IsDir() {
			return "", ExitCannot, fmt.Errorf("%s: is a directory", name)
		}
		return name, 0, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	denied := ""
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			denied = p
			continue
		}
		return p, 0, nil
	}
	if denied != "" {
		return "", ExitCannot, fmt.Errorf("%s: permission denied", denied)
	}
	return "", ExitNotFound, fmt.Errorf("%s: executable file not found in $PATH", name)
}

// setupIdentity drops capabilities, switches to the container user and sets
// no_new_privs, in the order the kernel needs: the bounding set while still privileged,
// then the ids, then the process's own sets (kept only for uid 0, as Docker does).
func setupIdentity(spec *Spec) error {
	keep, err := parseCaps(spec.Caps)
	if err != nil {
		return err
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	if err := c.Load(); err != nil {
		return err
	}
	c.Clear(capability.BOUNDING)
	c.Set(capability.BOUNDING, keep...)
	if err := c.Apply(capability.BOUNDING); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	gids := make([]int, 0, len(spec.User.AdditionalGids))
	for _, g := range spec.User.AdditionalGids {
		gids = append(gids, int(g))
	}
	if !spec.KeepGroups {
		if err := unix.Setgroups(gids); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if err := syscall.Setresgid(int(spec.User.GID), int(spec.User.GID), int(spec.User.GID)); err != nil {
		return fmt.Errorf("setting gid %d: %w", spec.User.GID, err)
	}
	if err := syscall.Setresuid(int(spec.User.UID), int(spec.User.UID), int(spec.User.UID)); err != nil {
		return fmt.Errorf("setting uid %d: %w", spec.User.UID, err)
	}
	if spec.User.UID == 0 {
		c.Clear(capability.CAPS)
		c.Set(capability.PERMITTED|capability.EFFECTIVE, keep...)
		if err := c.Apply(capability.CAPS); err != nil {
			return fmt.Errorf("setting capabilities: %w", err)
		}
	}
	if err := capability.ResetAmbient(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	if spec.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	return nil
}

// parseCaps maps names (CAP_CHOWN or chown, any case) to capabilities this kernel knows.
func parseCaps(names []string) ([]capability.Cap, error) {
	last, _ := capability.LastCap()
	byName := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		byName["CAP_"+strings.ToUpper(c.String())] = c
	}
	var out []capability.Cap
	for _, n := range names {
		c, ok := byName[CanonicalCap(n)]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		if c <= last {
			out = append(out, c)
		}
	}
	return out, nil
}

// CanonicalCap writes a capability name as CAP_NAME.
func CanonicalCap(n string) string {
	n = strings.ToUpper(n)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	return n
}

// AllCaps lists every capability the running kernel has, as CAP_ names.
func AllCaps() []string {
	last, _ := capability.LastCap()
	var out []string
	for _, c := range capability.ListKnown() {
		if c <= last {
			out = append(out, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	return out
}

// reap is --init: pid 1 starts the command, forwards every signal it can catch to it,
// reaps orphans, and exits with the command's status (128+N if killed by signal N).
func reap(path string, spec *Spec, fail func(error)) int {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	attr := &os.ProcAttr{Env: spec.Env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}}
	if spec.Terminal {
		attr.Sys = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	child, err := os.StartProcess(path, spec.Args, attr)
	if err != nil {
		fail(err)
	}
	os.NewFile(fdStatus, "status").Close()
	for { //nolint:staticcheck // S1000: a range over sigs would need an unreachable return after it (sigs is never closed)
		select {
		case s := <-sigs:
			if s == unix.SIGCHLD {
				for {
					var ws unix.WaitStatus
					pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
					if err != nil || pid <= 0 {
						break
					}
					if pid == child.Pid {
						if ws.Signaled() {
							return 128 + int(ws.Signal())
						}
						return ws.ExitStatus()
					}
				}
				continue
			}
			if s == unix.SIGURG { // the Go runtime's own preemption signal
				continue
			}
			_ = child.Signal(s)
		}
	}
}

// loopbackUp sets IFF_UP on lo in the new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
