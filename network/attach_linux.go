package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/fsutil"

	"golang.org/x/sys/unix"
)

// AttachOptions say how to connect a network namespace.
type AttachOptions struct {
	Config
	// Ports are published on the host (HostPort 0: a free port is chosen).
	Ports []PortMapping
	// Slirp is the slirp4netns binary ("" = found on $PATH).
	Slirp string
	// StateDir holds the port forwarder's socket and slirp4netns's output; it is
	// created, and removed by Close. "" = a new temporary directory.
	StateDir string
	// Handover is for a caller about to execute another program (the container
	// monitor's C half): what keeps slirp4netns and the port forwarder (the helper
	// process `hutch-port`) alive is then the descriptor Handover returns, which must
	// survive that exec and close when the container ends; nothing waits for them here.
	Handover bool
	// Log hears, in a line, when slirp4netns ends before Close (not with Handover).
	Log io.Writer
}

// Attachment is a network namespace connected by slirp4netns, with its published ports.
type Attachment struct {
	// Ports are the published ports, each with its host port chosen.
	Ports []PortMapping
	// SlirpPid and HelperPid (0: none) are the processes that serve the network.
	SlirpPid, HelperPid int

	dir      string
	slirp    *exec.Cmd
	helper   *exec.Cmd
	exitW    *os.File // closing it ends slirp4netns and the helper
	exitR    *os.File // their end
	netns    *os.File
	closing  chan struct{}
	slirpEnd chan struct{} // closed once slirp4netns is reaped, when waiting
	waiting  bool          // a goroutine waits for slirp4netns (not with Handover)
}

const slirpLog = "slirp4netns.log"

// Attach connects the network namespace of process pid (a container's init, created
// with its own network namespace and still waiting to run its command) through
// slirp4netns, and publishes the ports. It returns once the interface is configured
// (10.0.2.100/24, default route via 10.0.2.2, DNS forwarder at 10.0.2.3) and every
// port listens on the host. On error nothing is left running.
func Attach(ctx context.Context, pid int, o AttachOptions) (_ *Attachment, retErr error) {
	bin := o.Slirp
	if bin == "" {
		var err error
		if bin, err = FindSlirp(""); err != nil {
			return nil, err
		}
	}
	a := &Attachment{closing: make(chan struct{}), slirpEnd: make(chan struct{})}
	defer func() {
		if retErr != nil {
			a.Close()
		}
	}()
	if o.StateDir != "" {
		if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
			return nil, err
		}
		a.dir = o.StateDir
	} else {
		d, err := os.MkdirTemp("", "hutch-net-")
		if err != nil {
			return nil, err
		}
		a.dir = d
	}
	nsPath := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	netns, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening the container's network namespace: %w", err)
	}
	a.netns = netns
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	a.exitR, a.exitW = exitR, exitW
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	logf, err := os.OpenFile(filepath.Join(a.dir, slirpLog), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		readyW.Close()
		return nil, err
	}
	a.slirp = &exec.Cmd{
		Path: bin, Args: slirpArgs(o.Config, nsPath), Stdout: logf, Stderr: logf,
		ExtraFiles: []*os.File{readyW, exitR},
		// Its own session: a ^C meant for the container does not reach it; it dies with
		// the process that started it. Its own mount namespace, every mount private
		// (Go remounts / so when it unshares CLONE_NEWNS): its sandbox (pivot_root, then
		// unmounting the old root) must not propagate to hutch's shared mounts, through
		// which a container's root reaches its init.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGKILL, Unshareflags: unix.CLONE_NEWNS},
	}
	err = a.slirp.Start()
	readyW.Close()
	logf.Close()
	if err != nil {
		a.slirp = nil
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	a.SlirpPid = a.slirp.Process.Pid
	if !o.Handover {
		a.watchSlirp(pid, o.Log)
	}
	// The ports are chosen while slirp4netns configures the interface.
	ports, err := chooseFree(o.Ports)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, readyR); err != nil {
		return nil, a.slirpFailed(bin, err)
	}
	if len(ports) == 0 {
		return a, nil
	}
	if err := a.startHelper(ctx, ports); err != nil {
		return nil, err
	}
	a.Ports = ports
	return a, nil
}

// slirpArgs is slirp4netns's command line for network c in the namespace at nsPath:
// it configures tap0 itself, reports on fd 3 when ready, ends when fd 4 closes, and
// runs sandboxed under its own seccomp filter.
func slirpArgs(c Config, nsPath string) []string {
	mtu := c.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	args := []string{"slirp4netns", "--configure", "--mtu=" + strconv.Itoa(mtu),
		"--ready-fd=3", "--exit-fd=4", "--enable-sandbox", "--enable-seccomp"}
	if !c.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	if c.CIDR != "" {
		args = append(args, "--cidr="+c.CIDR)
	}
	if c.EnableIPv6 {
		args = append(args, "--enable-ipv6")
	}
	if c.MACAddress != "" {
		args = append(args, "--macaddress="+c.MACAddress)
	}
	return append(args, "--netns-type=path", nsPath, "tap0")
}

// watchSlirp reaps slirp4netns when it ends and, when that is before Close while the
// container (the init pid) keeps its network, says so on log.
func (a *Attachment) watchSlirp(pid int, log io.Writer) {
	a.waiting = true
	go func() {
		_ = a.slirp.Wait()
		close(a.slirpEnd)
		select {
		case <-a.closing:
		default:
			// Not worth a word when the container is gone or going.
			if log != nil && keepsNetwork(pid) {
				fmt.Fprintf(log, "hutch: slirp4netns (pid %d) ended unexpectedly (%s): the container has no network any more\n", a.SlirpPid, a.slirp.ProcessState)
			}
		}
	}()
}

// waitReady waits for slirp4netns to write on its ready descriptor; end of file means
// it exited first.
func waitReady(ctx context.Context, r *os.File) error {
	done := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := r.Read(b)
		if errors.Is(err, io.EOF) {
			err = errors.New("it exited before the network was configured")
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("it did not configure the network in time: %w", ctx.Err())
	}
}

// slirpFailed explains why slirp4netns did not come up: its own words, and the fix when
// /dev/net/tun is the cause.
func (a *Attachment) slirpFailed(bin string, err error) error {
	if a.slirp != nil && a.slirp.Process != nil {
		_ = a.slirp.Process.Kill()
	}
	if terr := CheckTun(); terr != nil {
		return terr
	}
	out, _ := os.ReadFile(filepath.Join(a.dir, slirpLog))
	msg := strings.TrimSpace(string(out))
	if i := strings.LastIndex(msg, "\n"); len(msg) > 600 && i > 0 {
		msg = msg[len(msg)-600:]
	}
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%w: %s: %w%s", ErrUnavailable, bin, err, msg)
}

// Handover returns what the caller keeps across its exec: the descriptor whose closing
// ends slirp4netns and the port helper (it must lose close-on-exec now and gain it in
// the program executed, so that it closes when that program ends or executes again),
// and the processes to watch.
func (a *Attachment) Handover() (exitFD *os.File, slirpPid, helperPid int) {
	return a.exitW, a.SlirpPid, a.HelperPid
}

// Close stops publishing the ports (they are free when it returns), ends slirp4netns
// and removes the state directory.
func (a *Attachment) Close() error {
	select {
	case <-a.closing:
		return nil
	default:
		close(a.closing)
	}
	if a.exitW != nil {
		a.exitW.Close()
		a.exitR.Close()
	}
	// slirp4netns ends on its own now; it is not waited for: closing its tap device
	// takes the kernel tens of milliseconds (an RCU grace period), and it holds nothing
	// anyone else needs. The waiting goroutine reaps it.
	if a.helper != nil && a.helper.Process != nil {
		reap(a.helper)
	}
	if a.netns != nil {
		a.netns.Close()
	}
	if a.dir != "" {
		_ = os.RemoveAll(a.dir)
	}
	return nil
}

// HelperName is the name hutch is re-executed under to forward ports for a detached
// container.
const HelperName = "hutch-port"

type helperSpec struct {
	Dir   string        `json:"dir"`
	Ports []PortMapping `json:"ports"`
}

type helperReport struct {
	Error string `json:"error,omitempty"`
}

const envHelperSpec = contract.PortSpec

// startHelper starts `hutch-port` with the network namespace, the exit descriptor and a
// report pipe, and waits until it publishes the ports (or says why it cannot).
//
// The forwarder is never this process: rootlesskit's child half enters the container's
// network namespace for each connection on a thread of its own and, as it cannot enter
// the host's again (its user namespace is not ours), lets that thread die — which would
// deliver the parent-death signal to any child that thread had started (the container's
// init, slirp4netns).
func (a *Attachment) startHelper(ctx context.Context, ports []PortMapping) error {
	spec, _ := json.Marshal(helperSpec{Dir: a.dir, Ports: ports})
	repR, repW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer repR.Close()
	env := append(os.Environ(), envHelperSpec+"="+string(spec))
	a.helper = &exec.Cmd{
		Path: "/proc/self/exe", Args: []string{HelperName}, Env: env,
		ExtraFiles:  []*os.File{a.netns, a.exitR, repW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGTERM},
	}
	err = a.helper.Start()
	repW.Close()
	if err != nil {
		a.helper = nil
		return fmt.Errorf("starting the port forwarder: %w", err)
	}
	a.HelperPid = a.helper.Process.Pid
	done := make(chan error, 1)
	go func() {
		var rep helperReport
		err := json.NewDecoder(repR).Decode(&rep)
		switch {
		case errors.Is(err, io.EOF):
			err = errors.New("the port forwarder exited before publishing the ports")
		case err == nil && rep.Error != "":
			err = errors.New(rep.Error)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the port forwarder did not publish the ports in time: %w", ctx.Err())
	}
}

// reap waits for c, killing it after a grace period.
func reap(c *exec.Cmd) {
	t := time.AfterFunc(2*time.Second, func() { _ = c.Process.Kill() })
	_ = c.Wait()
	t.Stop()
}

// keepsNetwork reports whether the container's init still runs in its network namespace
// a moment after slirp4netns ended: an init that is exiting drops its namespaces before it
// becomes a zombie, and slirp4netns may see the namespace go first.
func keepsNetwork(pid int) bool {
	for i := 0; i < 10; i++ {
		if !fsutil.ProcessAlive(pid) {
			return false
		}
		if _, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
