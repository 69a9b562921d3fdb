package tests

// System tests of the verbs of several containers (issue 14): start of several,
// --all and --filter of start, stop, restart, kill, pause, unpause and rm; stop -s and
// --timeout; rm -t, -i and --depend; the exit status of a partial failure (1, the
// others done, as Docker's).

import (
	"strings"
	"testing"
	"time"
)

func TestManyContainers(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	deleg := cgDelegate(t, sb)
	for _, n := range []string{"ma", "mb"} {
		sb.ok(append([]string{"create", "--name", n, "--network", "none", "--label", "set=" + n, lcImage}, lcSleeper...)...)
	}
	status := func(n string) string { return lcInspect(sb, n).State.Status }
	states := func() string { return status("ma") + " " + status("mb") }

	// start of several: each name printed, all started.
	r := cgOKIn(sb, deleg, "start", "ma", "mb")
	assertEqual(t, r.stdout, "ma\nmb\n", "start ma mb")
	assertEqual(t, states(), "running running", "after start ma mb")
	// One missing among several: its error on a line of its own, the others done, 1.
	r = sb.expect(1, "start", "ma", "no-such-container", "mb")
	assertEqual(t, r.stdout, "ma\nmb\n", "start with a missing one: stdout")
	assertOneLineError(t, r, "no-such-container")

	// pause --all, unpause --all: the running, then the paused ones.
	r = sb.ok("pause", "--all")
	assertEqual(t, len(lines(r.stdout)), 2, "pause --all: two IDs")
	assertEqual(t, states(), "paused paused", "after pause --all")
	sb.ok("unpause", "-a")
	assertEqual(t, states(), "running running", "after unpause -a")

	// kill -a: every running one, SIGKILL.
	sb.ok("kill", "-a")
	lcEventually(t, 10*time.Second, "both killed", func() (bool, string) { return states() == "exited exited", states() })
	assertEqual(t, lcInspect(sb, "ma").State.ExitCode, 137, "kill -a: SIGKILL")

	// start --all (-a is --attach, as Docker's); restart --filter; stop --filter.
	r = cgOKIn(sb, deleg, "start", "--all")
	assertEqual(t, len(lines(r.stdout)), 2, "start --all: two IDs")
	assertEqual(t, states(), "running running", "after start --all")
	lcWaitLog(sb, "ma", "ready\nready", 20*time.Second)
	lcWaitLog(sb, "mb", "ready\nready", 20*time.Second)
	r = sb.ok("stop", "--filter", "label=set=mb", "--timeout", "20")
	assertEqual(t, states(), "running exited", "stop --filter label=set=mb")
	assertEqual(t, lcInspect(sb, "mb").State.ExitCode, 0, "stop --timeout 20: the shell's TERM trap ended it")
	// stop -s: that signal instead of the stop signal (the trap would exit 0).
	sb.ok("stop", "-s", "KILL", "--time", "20", "ma")
	assertEqual(t, lcInspect(sb, "ma").State.ExitCode, 137, "stop -s KILL")
	assertOneLineError(t, sb.expect(125, "stop", "-s", "NOSUCHSIG", "ma"), "NOSUCHSIG")
	cgOKIn(sb, deleg, "restart", "--filter", "name=^ma$")
	assertEqual(t, states(), "running exited", "restart --filter name=^ma$")
	// Names and --all together, or neither: refused.
	assertOneLineError(t, sb.expect(125, "stop", "--all", "ma"), "not both")
	assertOneLineError(t, sb.expect(125, "kill"), "--all")

	// rm: -i ignores a missing one; without it, 1, the others removed.
	r = sb.ok("rm", "-i", "no-such-container")
	assertEqual(t, r.stdout+r.stderr, "", "rm -i of a missing container")
	// --all without -f: a running one is refused (nothing removed); -f -t: the stop
	// signal first, SIGKILL only after the time.
	assertOneLineError(t, sb.expect(125, "rm", "--all"), "is running")
	assertEqual(t, states(), "running exited", "after a refused rm --all")
	lcWaitLog(sb, "ma", "ready\nready\nready", 20*time.Second)
	begin := time.Now().Format(time.RFC3339Nano)
	sb.ok("rm", "-f", "-t", "20", "ma")
	var dies []string
	for _, e := range evHistory(sb, "--since", begin, "--filter", "event=die") {
		dies = append(dies, e.short())
	}
	assertEqual(t, strings.Join(dies, "\n"), "container die ma exitCode=0", "rm -f -t 20: the TERM trap ended it")
	sb.ok("create", "--name", "mc", "--network", "none", lcImage)
	r = sb.expect(1, "rm", "--depend", "mb", "no-such-container")
	assertEqual(t, r.stdout, "mb\n", "rm --depend mb and a missing one: mb removed")
	assertOneLineError(t, r, "no-such-container")
	r = sb.ok("rm", "--filter", "status=created")
	assertEqual(t, len(lines(r.stdout)), 1, "rm --filter status=created")
	assertEqual(t, sb.ok("ps", "-aq").stdout, "", "containers left")
	lcAssertClean(t, sb, "the verbs of several containers")
}
