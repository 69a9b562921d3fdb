package tests

// `hutch stop`: the stop signal (the image's, or --stop-signal), then SIGKILL after
// the timeout (-t, or --stop-timeout), also for a container whose process runs as a
// subordinate uid; stopping what is not running is no error.

import (
	"strings"
	"testing"
	"time"
)

// TestLifecycleStop runs its cases in parallel, each with its own container in one
// sandbox.
func TestLifecycleStop(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcImport(t, sb, lcStopImage)

	// stopCase starts a container, waits until its command has set up its traps (it
	// prints "ready"), stops it and checks the status and how long stop took.
	type stopCase struct {
		name     string
		run      []string // run -d flags, image and command
		stop     []string // stop flags
		code     int      // the recorded exit code
		min, max time.Duration
	}
	ready := "echo ready; sleep 1000 & wait"
	cases := []stopCase{
		// A shell's trap answers SIGTERM at once.
		{"term-trap", []string{lcImage, "sh", "-c", "trap 'exit 3' TERM; " + ready}, nil, 3, 0, 5 * time.Second},
		// busybox sleep as pid 1 ignores SIGTERM: SIGKILL after -t.
		{"sleep-pid1", []string{lcImage, "sleep", "1000"}, []string{"-t", "1"}, 137, time.Second, 8 * time.Second},
		// The same with the container's process as a subordinate uid (1000 inside).
		{"sleep-uid1000", []string{"-u", "1000", lcImage, "sleep", "1000"}, []string{"-t", "1"}, 137, time.Second, 8 * time.Second},
		{"trap-uid1000", []string{"-u", "1000", lcImage, "sh", "-c", "trap 'exit 3' TERM; " + ready}, nil, 3, 0, 5 * time.Second},
		// The image's STOPSIGNAL (SIGUSR1), which the command traps; TERM is ignored.
		{"image-signal", []string{lcStopImage, "sh", "-c", "trap 'exit 10' USR1; trap '' TERM; " + ready}, nil, 10, 0, 5 * time.Second},
		// --stop-signal overrides the image's.
		{"stop-signal", []string{"--stop-signal", "HUP", lcStopImage, "sh", "-c", "trap 'exit 11' HUP; trap 'exit 12' USR1; " + ready}, nil, 11, 0, 5 * time.Second},
		// --stop-timeout is the default -t of that container.
		{"stop-timeout", []string{"--stop-timeout", "1", lcImage, "sleep", "1000"}, nil, 137, time.Second, 8 * time.Second},
		// -t 0: SIGKILL at once, the trap never runs.
		{"t0", []string{lcImage, "sh", "-c", "trap 'exit 3' TERM; " + ready}, []string{"-t", "0"}, 137, 0, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sb := lcAt(sb, t)
			id := lcRunD(sb, append([]string{"--name", c.name}, c.run...)...)
			// The script ends with ready: the traps are set once it printed "ready". (A
			// signal that comes before them finds pid 1 with no handler, and the kernel
			// drops it: stop then waits out its timeout.)
			if strings.HasSuffix(c.run[len(c.run)-1], ready) {
				lcWaitLog(sb, id, "ready", 10*time.Second)
			} else {
				lcWaitStatus(sb, id, "running", 10*time.Second)
			}
			mon := lcMonitorOf(sb, id)
			began := time.Now()
			r := sb.ok(append(append([]string{"stop"}, c.stop...), c.name)...)
			el := time.Since(began)
			assertEqual(t, r.stdout, c.name+"\n", "stop prints the name")
			if el < c.min || el > c.max {
				t.Fatalf("stop took %s, want between %s and %s", el, c.min, c.max)
			}
			in := lcInspect(sb, id)
			if in.State.Status != "exited" || in.State.ExitCode != c.code {
				t.Fatalf("after stop: %+v, want exited with %d", in.State, c.code)
			}
			assertContains(t, sb.ok("ps", "-a", "--filter", "name="+c.name, "--format", "{{.Status}}").stdout, "Exited (", "ps after stop")
			lcEventually(t, 10*time.Second, "the monitor ends", func() (bool, string) {
				return !lcAlive(mon.pid), lcProcList(lcProcs(sb))
			})
			// A second stop is no error.
			assertEqual(t, sb.ok("stop", c.name).stdout, c.name+"\n", "stop of a stopped container")
		})
	}
	t.Run("not-running", func(t *testing.T) {
		t.Parallel()
		sb := lcAt(sb, t)
		sb.ok("create", "--name", "never", lcImage, "true")
		assertEqual(t, sb.ok("stop", "never").stdout, "never\n", "stop of a created container")
		assertEqual(t, lcInspect(sb, "never").State.Status, "created", "a created container after stop")
		r := sb.expect(1, "stop", "never", "no-such-container")
		assertEqual(t, r.stdout, "never\n", "stop of two, one unknown: stdout")
		assertOneLineError(t, r, "no-such-container")
	})
	t.Run("several", func(t *testing.T) {
		t.Parallel()
		sb := lcAt(sb, t)
		for _, n := range []string{"sev-a", "sev-b"} {
			lcRunD(sb, "--name", n, lcImage, "sh", "-c", "trap 'exit 0' TERM; "+ready)
			lcWaitLog(sb, n, "ready", 10*time.Second)
		}
		assertEqual(t, sb.ok("stop", "sev-a", "sev-b").stdout, "sev-a\nsev-b\n", "stop of two containers")
		assertEqual(t, strings.TrimSpace(sb.ok("ps", "-q", "--filter", "name=sev-").stdout), "", "ps after stopping both")
	})
	t.Cleanup(func() {
		if !t.Failed() {
			sb.ok("container", "prune", "-f")
			lcAssertClean(t, sb, "stopping everything and prune")
		}
	})
}
