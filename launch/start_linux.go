package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// Process is a container's init as a start drives it (an *nsinit.Process).
type Process interface {
	Pid() int
	Send(*nsinit.Spec) error
	Release() error
	Signal(os.Signal) error
	Kill()
	Wait() (int, error)
	// HandOver executes path in place of this process from the thread that cloned the
	// init (nsinit.Process.HandOver); it returns only on failure.
	HandOver(path string, argv, env []string) error
}

// Options say how a process is started.
type Options struct {
	// Stdio are its standard streams, passed as they are.
	Stdio nsinit.Stdio
	// Cgroup is its cgroup, made by the caller (cgroups.Delegation.Prepare): the init is
	// cloned into it, its set-up is finished once the init runs, and it is removed when
	// the start fails. nil: none.
	Cgroup *cgroups.Limited
	// Network connects its network namespace (slirp4netns and the published ports); nil:
	// nothing to attach (--network none or host; a pod's member will join its pod's).
	// Context, when set, ends an attach under way (a build's interrupt).
	Network *network.AttachOptions
	Context context.Context
	// Slot, when set, says the root file system is mounted after Begin, while the init
	// starts up: Finish hands it to the init's mount namespace through a bind mount at
	// this path, in a directory ShareSlots made shared. Empty: the root is mounted
	// before Begin, and the init's mount namespace, a copy of this one, has it already.
	Slot string
}

// Start is a process being started: cloned, not yet running its command.
type Start struct {
	o    Options
	proc Process
	net  *pendingNet
	sys  *system
}

// Running is a process whose command runs.
type Running struct {
	Process
	// Network is its attached network (nil without one): Close it when the process ends.
	Network *network.Attachment
	// Cgroup is Options.Cgroup, its set-up finished (what was applied).
	Cgroup *cgroups.Limited
	sys    *system
}

// Abort ends a process whose start the caller cannot complete (its state could not be
// recorded): killed, its cgroup removed, its network closed.
func (r *Running) Abort() {
	r.Kill()
	if r.Cgroup != nil {
		r.sys.abort(r.Cgroup)
	}
	if r.Network != nil {
		r.sys.closeNet(r.Network)
	}
}

// attachTimeout bounds how long slirp4netns and the port forwarder may take to come up.
const attachTimeout = 20 * time.Second

// system is what a start asks of the kernel and of the other packages; the unit tests
// replace it.
type system struct {
	launch   func(shape *nsinit.Spec, stdio nsinit.Stdio) (Process, error)
	started  func(l *cgroups.Limited, pid int) error
	abort    func(l *cgroups.Limited)
	attach   func(ctx context.Context, pid int, o network.AttachOptions) (*network.Attachment, error)
	closeNet func(a *network.Attachment)
	bindSlot func(rootfs, slot string) (undo func(), err error)
	// exited waits (a moment at most) for pid to exit, and says whether it did.
	exited func(pid int) bool
	// background runs f while the caller goes on.
	background func(f func())
}

var kernel = &system{
	launch: func(shape *nsinit.Spec, stdio nsinit.Stdio) (Process, error) {
		p, err := nsinit.Launch(shape, stdio, true)
		if err != nil {
			return nil, err
		}
		return p, nil
	},
	started:    (*cgroups.Limited).Started,
	abort:      (*cgroups.Limited).Abort,
	attach:     network.Attach,
	closeNet:   func(a *network.Attachment) { _ = a.Close() },
	bindSlot:   bindSlot,
	exited:     exited,
	background: func(f func()) { go f() },
}

// Begin clones the process's init into its cgroup and new namespaces (only the fields
// of shape that shape the clone are read: NewNetwork, UIDMap/GIDMap, Terminal, Init),
// where it starts up and waits for its spec while the caller goes on. On failure
// nothing is left: the cgroup is removed.
func Begin(shape *nsinit.Spec, o Options) (*Start, error) { return kernel.begin(shape, o) }

func (sys *system) begin(shape *nsinit.Spec, o Options) (*Start, error) {
	if o.Cgroup != nil {
		shape.Cgroup = o.Cgroup.File
		defer func() { shape.Cgroup = nil }()
	}
	p, err := sys.launch(shape, o.Stdio)
	if err != nil {
		if o.Cgroup != nil {
			sys.abort(o.Cgroup)
		}
		return nil, fmt.Errorf("%w%s", err, cgroupHint(o.Cgroup))
	}
	return &Start{o: o, proc: p, sys: sys}, nil
}

// Pid is the init's pid, in this process's pid namespace.
func (s *Start) Pid() int { return s.proc.Pid() }

// Signal sends sig to the init (a build's interrupt kills a step while it starts).
func (s *Start) Signal(sig os.Signal) error { return s.proc.Signal(sig) }

// AttachNetwork starts connecting the network at once, for a caller that has more to do
// before Finish (run creates the container meanwhile): slirp4netns comes up in the
// background (with Options.Network.Handover, on this thread, before it returns).
// Without it, Finish attaches the network once the spec is sent.
func (s *Start) AttachNetwork() {
	if s.net == nil && s.o.Network != nil {
		s.net = s.sys.startNet(s.o.Context, s.proc.Pid(), *s.o.Network, !s.o.Network.Handover)
	}
}

// Finish hands the init its spec (the root through Options.Slot when it was mounted
// after Begin), finishes the cgroup's set-up, waits for the network, and lets the init
// execute the command. It returns once the command runs; on failure nothing of the
// start is left (init killed, cgroup removed, network closed) and the error is the
// init's own (*nsinit.ExecError: 125, 126 or 127, see ExitCode) or hutch's (125).
func (s *Start) Finish(spec *nsinit.Spec) (*Running, error) { return s.FinishRecorded(spec, nil) }

// FinishRecorded is Finish with record called once everything but the command is ready
// (the init holds its spec, its cgroup is set up, the network attached), before the init
// is released: a container's state is recorded as running, its pid known, before its
// command can do anything (fill the disk the record is written to). When record fails,
// the start is undone and its error returned; the caller undoes the record when the
// release fails after it.
func (s *Start) FinishRecorded(spec *nsinit.Spec, record func(*Running) error) (*Running, error) {
	if s.o.Slot != "" {
		undo, err := s.sys.bindSlot(spec.Rootfs, s.o.Slot)
		if err != nil {
			s.Abort()
			return nil, err
		}
		// Once released, the init has made its mounts private and pivoted: the slot is
		// no longer needed.
		defer undo()
		root := spec.Rootfs
		spec.Rootfs = s.o.Slot
		defer func() { spec.Rootfs = root }()
	}
	if err := s.proc.Send(spec); err != nil {
		s.Abort()
		return nil, err
	}
	if s.o.Cgroup != nil {
		if err := s.sys.started(s.o.Cgroup, s.proc.Pid()); err != nil {
			s.Abort()
			return nil, err
		}
	}
	if s.net == nil && s.o.Network != nil {
		s.net = s.sys.startNet(s.o.Context, s.proc.Pid(), *s.o.Network, false)
	}
	att, err := s.net.wait()
	if err != nil {
		err = s.netFailed(err)
		s.dropCgroup()
		return nil, err
	}
	r := &Running{Process: s.proc, Network: att, Cgroup: s.o.Cgroup, sys: s.sys}
	if record != nil {
		if err := record(r); err != nil {
			s.proc.Kill()
			s.dropCgroup()
			s.sys.closePending(s.net)
			return nil, err
		}
	}
	if err := s.proc.Release(); err != nil {
		var ee *nsinit.ExecError
		if !errors.As(err, &ee) {
			s.proc.Kill()
		} // else the init reported why and exited (reaped)
		s.dropCgroup()
		s.sys.closePending(s.net)
		return nil, err
	}
	return r, nil
}

// Abort ends a start that is not to be finished (the caller failed after Begin): the
// init is killed, the cgroup removed and the network closed.
func (s *Start) Abort() {
	s.proc.Kill()
	s.dropCgroup()
	s.sys.closePending(s.net)
}

func (s *Start) dropCgroup() {
	if s.o.Cgroup != nil {
		s.sys.abort(s.o.Cgroup)
	}
}

// netFailed is a network that could not be attached: when the init died meanwhile (its
// own set-up failed, and its network namespace went with it), its failure is the one to
// report; otherwise it is killed and err reported.
func (s *Start) netFailed(err error) error {
	if s.sys.exited(s.proc.Pid()) {
		// Dead, it cannot run the command: Release only reads why it ended.
		var ee *nsinit.ExecError
		if rerr := s.proc.Release(); errors.As(rerr, &ee) {
			return ee
		}
	}
	s.proc.Kill()
	return err
}

// ExitCode is Docker's exit status for a failed start: the init's own (125 set-up, 126
// cannot execute, 127 not found) or 125 for hutch's; 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *nsinit.ExecError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return nsinit.ExitEngine
}

// pendingNet is a network being attached.
type pendingNet struct {
	done chan struct{}
	att  *network.Attachment
	err  error
}

// startNet starts attaching the network namespace of pid, in the background or on this
// thread (the parent-death signal of what it starts belongs to the thread: a monitor's
// network is started by the thread that executes its C half).
func (sys *system) startNet(parent context.Context, pid int, o network.AttachOptions, background bool) *pendingNet {
	if parent == nil {
		parent = context.Background()
	}
	p := &pendingNet{done: make(chan struct{})}
	run := func() {
		defer close(p.done)
		ctx, cancel := context.WithTimeout(parent, attachTimeout)
		defer cancel()
		p.att, p.err = sys.attach(ctx, pid, o)
	}
	if background {
		sys.background(run)
	} else {
		run()
	}
	return p
}

// wait waits for the network; nil without one.
func (p *pendingNet) wait() (*network.Attachment, error) {
	if p == nil {
		return nil, nil
	}
	<-p.done
	return p.att, p.err
}

// closePending closes a network once it came up.
func (sys *system) closePending(p *pendingNet) {
	if att, err := p.wait(); err == nil && att != nil {
		sys.closeNet(att)
	}
}

// cgroupHint explains a failed clone into a cgroup.
func cgroupHint(l *cgroups.Limited) string {
	if l == nil || l.Cgroup == nil {
		return ""
	}
	return fmt.Sprintf(" (cloning into the cgroup %s: hutch must run inside the delegated cgroup, since the kernel moves a process only between cgroups whose common ancestor you may write)", l.Cgroup.Dir)
}

// exited waits up to 100 ms for pid to exit (an init that failed may still be on its way
// out: its namespaces go before it is a zombie).
func exited(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return errors.Is(err, unix.ESRCH)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for deadline := time.Now().Add(100 * time.Millisecond); ; {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if errors.Is(err, unix.EINTR) && time.Now().Before(deadline) {
			continue
		}
		return err == nil && n > 0
	}
}
