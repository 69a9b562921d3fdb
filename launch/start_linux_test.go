package launch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// The start sequence against a fake kernel: every step is recorded in one log, and each
// can be made to fail, so that the tests see the order of the steps, what is undone at
// each failure point, and the exit status the failure maps to.

type fake struct {
	log []string
	// Failures to inject.
	launchErr, sendErr, startedErr, attachErr, releaseErr, slotErr error
	// deadAfterNet: the init exited (its set-up failed) while the network was attached.
	deadAfterNet bool
	sent         *nsinit.Spec
	sentRootfs   string
}

func (f *fake) add(s string) { f.log = append(f.log, s) }

type fakeProc struct{ f *fake }

func (p fakeProc) Pid() int { return 4242 }
func (p fakeProc) Send(s *nsinit.Spec) error {
	p.f.add("send")
	p.f.sent, p.f.sentRootfs = s, s.Rootfs
	return p.f.sendErr
}
func (p fakeProc) Release() error {
	p.f.add("release")
	return p.f.releaseErr
}
func (p fakeProc) Signal(os.Signal) error { p.f.add("signal"); return nil }
func (p fakeProc) Kill()                  { p.f.add("kill") }
func (p fakeProc) Wait() (int, error)     { return 0, nil }
func (p fakeProc) HandOver(string, []string, []string) error {
	p.f.add("handover")
	return nil
}

func (f *fake) system() *system {
	return &system{
		launch: func(shape *nsinit.Spec, stdio nsinit.Stdio) (Process, error) {
			f.add("launch")
			if f.launchErr != nil {
				return nil, f.launchErr
			}
			return fakeProc{f}, nil
		},
		started: func(l *cgroups.Limited, pid int) error {
			f.add("cgroup started")
			return f.startedErr
		},
		abort: func(l *cgroups.Limited) { f.add("cgroup removed") },
		attach: func(ctx context.Context, pid int, o network.AttachOptions) (*network.Attachment, error) {
			f.add("attach")
			if f.attachErr != nil {
				return nil, f.attachErr
			}
			return &network.Attachment{}, nil
		},
		closeNet: func(*network.Attachment) { f.add("network closed") },
		bindSlot: func(rootfs, slot string) (func(), error) {
			f.add("slot bound")
			if f.slotErr != nil {
				return nil, f.slotErr
			}
			return func() { f.add("slot undone") }, nil
		},
		exited: func(int) bool { return f.deadAfterNet },
		// What runs in the background runs at once: the log shows it where it starts.
		background: func(run func()) { run() },
	}
}

var slirp = &network.AttachOptions{Config: network.Config{Mode: network.ModeSlirp}}

func run(t *testing.T, f *fake, o Options, early bool) (*Running, error) {
	t.Helper()
	sys := f.system()
	spec := &nsinit.Spec{Rootfs: "/store/ctr/merged", Args: []string{"true"}}
	s, err := sys.begin(spec, o)
	if err != nil {
		return nil, err
	}
	if early {
		s.AttachNetwork()
	}
	r, err := s.Finish(spec)
	if spec.Rootfs != "/store/ctr/merged" {
		t.Errorf("Finish left the spec's root at %s", spec.Rootfs)
	}
	return r, err
}

func wantLog(t *testing.T, f *fake, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(f.log, want) {
		t.Errorf("steps:\n  %s\nwant:\n  %s", strings.Join(f.log, ", "), strings.Join(want, ", "))
	}
}

func TestStartSteps(t *testing.T) {
	f := &fake{}
	r, err := run(t, f, Options{Cgroup: &cgroups.Limited{}, Network: slirp}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Network == nil || r.Cgroup == nil {
		t.Errorf("Running %+v: the network or the cgroup is missing", r)
	}
	// The network is attached once the init has its spec (it sets up its root meanwhile).
	wantLog(t, f, "launch", "send", "cgroup started", "attach", "release")

	// Run's order: the network comes up while the container is created; the root is
	// handed over through the slot, which goes once the init runs.
	f = &fake{}
	if _, err := run(t, f, Options{Cgroup: &cgroups.Limited{}, Network: slirp, Slot: "/run/slots/abc"}, true); err != nil {
		t.Fatal(err)
	}
	wantLog(t, f, "launch", "attach", "slot bound", "send", "cgroup started", "release", "slot undone")
	if f.sentRootfs != "/run/slots/abc" {
		t.Errorf("the init was sent the root %s, want the slot", f.sentRootfs)
	}

	// Nothing to attach, no cgroup: the init alone.
	f = &fake{}
	if _, err := run(t, f, Options{}, false); err != nil {
		t.Fatal(err)
	}
	wantLog(t, f, "launch", "send", "release")
}

// Every failure point: what is undone, and the status it maps to.
func TestStartFailures(t *testing.T) {
	boom := errors.New("boom")
	notFound := &nsinit.ExecError{Code: nsinit.ExitNotFound, Msg: "nosuch: executable file not found in $PATH"}
	cannot := &nsinit.ExecError{Code: nsinit.ExitCannot, Msg: "/etc: is a directory"}
	for _, c := range []struct {
		name  string
		f     *fake
		o     Options
		early bool
		code  int
		err   error
		log   []string
	}{
		{name: "the clone fails", f: &fake{launchErr: boom}, o: Options{Cgroup: &cgroups.Limited{Cgroup: cgroups.At("/sys/fs/cgroup/u/hutch-x")}},
			code: 125, err: boom, log: []string{"launch", "cgroup removed"}},
		{name: "the slot cannot be bound", f: &fake{slotErr: boom}, o: Options{Cgroup: &cgroups.Limited{}, Network: slirp, Slot: "/s/x"}, early: true,
			code: 125, err: boom, log: []string{"launch", "attach", "slot bound", "kill", "cgroup removed", "network closed"}},
		{name: "the spec cannot be sent", f: &fake{sendErr: boom}, o: Options{Cgroup: &cgroups.Limited{}, Slot: "/s/x"},
			code: 125, err: boom, log: []string{"launch", "slot bound", "send", "kill", "cgroup removed", "slot undone"}},
		{name: "the cgroup's set-up fails", f: &fake{startedErr: boom}, o: Options{Cgroup: &cgroups.Limited{}, Network: slirp},
			code: 125, err: boom, log: []string{"launch", "send", "cgroup started", "kill", "cgroup removed"}},
		{name: "the network fails, the init lives", f: &fake{attachErr: boom}, o: Options{Cgroup: &cgroups.Limited{}, Network: slirp},
			code: 125, err: boom, log: []string{"launch", "send", "cgroup started", "attach", "kill", "cgroup removed"}},
		// The init failed on its own (its network namespace went with it): its failure is
		// the one reported.
		{name: "the network fails, the init died", f: &fake{attachErr: boom, deadAfterNet: true, releaseErr: notFound}, o: Options{Network: slirp},
			code: 127, err: notFound, log: []string{"launch", "send", "attach", "release"}},
		{name: "the network fails early", f: &fake{attachErr: boom}, o: Options{Network: slirp}, early: true,
			code: 125, err: boom, log: []string{"launch", "attach", "send", "kill"}},
		{name: "the command is not found", f: &fake{releaseErr: notFound}, o: Options{Cgroup: &cgroups.Limited{}, Network: slirp},
			code: 127, err: notFound, log: []string{"launch", "send", "cgroup started", "attach", "release", "cgroup removed", "network closed"}},
		{name: "the command cannot run", f: &fake{releaseErr: cannot}, o: Options{},
			code: 126, err: cannot, log: []string{"launch", "send", "release"}},
		{name: "the release fails", f: &fake{releaseErr: boom}, o: Options{Cgroup: &cgroups.Limited{}, Network: slirp},
			code: 125, err: boom, log: []string{"launch", "send", "cgroup started", "attach", "release", "kill", "cgroup removed", "network closed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := run(t, c.f, c.o, c.early)
			if r != nil || !errors.Is(err, c.err) {
				t.Fatalf("Finish = %v, %v; want the error %v", r, err, c.err)
			}
			if got := ExitCode(err); got != c.code {
				t.Errorf("ExitCode = %d, want %d", got, c.code)
			}
			wantLog(t, c.f, c.log...)
		})
	}
}

// A clone into a cgroup that fails says why the kernel refuses it.
func TestBeginCgroupHint(t *testing.T) {
	f := &fake{launchErr: errors.New("starting the container: permission denied")}
	_, err := f.system().begin(&nsinit.Spec{}, Options{Cgroup: &cgroups.Limited{Cgroup: cgroups.At("/sys/fs/cgroup/u/hutch-x")}})
	if err == nil || !strings.Contains(err.Error(), "cloning into the cgroup /sys/fs/cgroup/u/hutch-x: hutch must run inside the delegated cgroup") {
		t.Fatalf("err = %v", err)
	}
}

// A caller that fails between Begin and Finish (run: the container cannot be created)
// leaves nothing either.
func TestStartAbort(t *testing.T) {
	f := &fake{}
	s, err := f.system().begin(&nsinit.Spec{}, Options{Cgroup: &cgroups.Limited{}, Network: slirp})
	if err != nil {
		t.Fatal(err)
	}
	s.AttachNetwork()
	s.Abort()
	wantLog(t, f, "launch", "attach", "kill", "cgroup removed", "network closed")
}

func TestExitCode(t *testing.T) {
	for err, want := range map[error]int{
		nil:                          0,
		errors.New("x"):              125,
		&nsinit.ExecError{Code: 126}: 126,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// exited sees a child exit (it stays a zombie until reaped) and waits no longer than a
// moment for one that lives on.
func TestExited(t *testing.T) {
	quick := exec.Command("true")
	if err := quick.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = quick.Wait() }()
	if !exited(quick.Process.Pid) {
		t.Error("an exited child: exited = false")
	}
	slow := exec.Command("sleep", "60")
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Process.Kill(); _ = slow.Wait() }()
	if exited(slow.Process.Pid) {
		t.Error("a living child: exited = true")
	}
}
