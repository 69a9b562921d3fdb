package tests

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// byteEcho is a container command that, on its terminal in raw mode, prints each byte
// it is given as "byte: XX" (hex), and exits 7 on q: what the detach keys pass on, and
// what they keep, is seen byte by byte.
const byteEcho = `stty raw -echo; echo ready; while :; do b=$(dd bs=1 count=1 2>/dev/null | od -An -tx1); echo "byte:$b"; [ "$b" = " 71" ] && exit 7; done`

// typeOn writes what the user types on the test's terminal.
func typeOn(t *testing.T, p *ptyRun, s string) {
	t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

// detachOK waits for hutch to end after the detach keys: status 0, the note said, and
// the container still running.
func detachOK(t *testing.T, sb *sandbox, p *ptyRun, ref, what string) result {
	t.Helper()
	r := p.finish()
	if r.code != 0 || !strings.Contains(r.stdout, "Detached from") {
		t.Fatalf("%s: want exit 0 and the note after the detach keys:\n%s", what, r)
	}
	assertEqual(t, lcInspect(sb, ref).State.Status, "running", what+": the container after the detach")
	return r
}

// TestDetachKeysRunAttach: `run -it` left with ctrl-p ctrl-q runs on (its output going
// on into its log), `attach` comes back to it (input and output live) and leaves it
// again; a lone ctrl-p followed by another key passes both on; --detach-keys chooses
// another sequence, config.toml's detach_keys the default, and "" turns detaching off.
func TestDetachKeysRunAttach(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	p := sb.startOnPTY(24, 80, "run", "-it", "--name", "dk", lcImage, "sh", "-c", byteEcho)
	p.waitOutput("ready\n", 30*time.Second)
	typeOn(t, p, "\x10z")
	p.waitOutput("byte: 7a\n", 10*time.Second)
	if !strings.Contains(p.stdout.String(), "byte: 10\n") {
		t.Fatalf("a lone ctrl-p followed by z: both should reach the container:\n%s", p.stdout.String())
	}
	typeOn(t, p, "a")
	p.waitOutput("byte: 61\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	r := detachOK(t, sb, p, "dk", "run -it, ctrl-p ctrl-q")
	if strings.Contains(r.stdout, "byte: 11") {
		t.Fatalf("the detach keys reached the container:\n%s", r)
	}
	assertContains(t, sb.ok("ps").stdout, "Up ", "ps after the detach")

	// Its output goes on into the log while no one is attached.
	sb.ok("exec", "dk", "sh", "-c", "echo logged-while-detached > /proc/1/fd/1")
	lcWaitLog(sb, "dk", "logged-while-detached", 10*time.Second)

	// attach: typed bytes reach it and its answers come back at once; ctrl-p ctrl-q
	// leaves it again.
	p = sb.startOnPTY(24, 80, "attach", "dk")
	typeOn(t, p, "b")
	p.waitOutput("byte: 62\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	detachOK(t, sb, p, "dk", "attach, ctrl-p ctrl-q")

	// Another sequence: ctrl-a then x; a false start of it passes on.
	p = sb.startOnPTY(24, 80, "attach", "--detach-keys", "ctrl-a,x", "dk")
	typeOn(t, p, "\x01y")
	p.waitOutput("byte: 79\n", 10*time.Second)
	typeOn(t, p, "\x10\x11c")
	p.waitOutput("byte: 63\n", 10*time.Second) // typed together: each byte is read in order
	typeOn(t, p, "\x01x")
	r = detachOK(t, sb, p, "dk", "attach --detach-keys ctrl-a,x")
	for _, want := range []string{"byte: 01\n", "byte: 10\n", "byte: 11\n"} {
		assertContains(t, r.stdout, want, "with --detach-keys ctrl-a,x, what is not the sequence reaches the container")
	}

	// config.toml's default.
	sb.writeConfig("[engine]\ndetach_keys = \"ctrl-e\"\n")
	p = sb.startOnPTY(24, 80, "attach", "dk")
	typeOn(t, p, "d")
	p.waitOutput("byte: 64\n", 10*time.Second)
	typeOn(t, p, "\x05")
	detachOK(t, sb, p, "dk", "attach with detach_keys = \"ctrl-e\" in config.toml")

	// "" turns detaching off: ctrl-p ctrl-q reach the container; q ends it, and attach
	// ends with its status.
	p = sb.startOnPTY(24, 80, "attach", "--detach-keys", "", "dk")
	// (A first key, and its answer, say that attach holds the terminal raw: before
	// that, the terminal itself would take ctrl-q as its flow control.)
	typeOn(t, p, "e")
	p.waitOutput("byte: 65\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	p.waitOutput("byte: 11\n", 10*time.Second)
	typeOn(t, p, "q")
	r = p.finish()
	if r.code != 7 || !strings.Contains(r.stdout, "byte: 10\n") {
		t.Fatalf("attach --detach-keys \"\": want ctrl-p passed on and the container's status 7:\n%s", r)
	}
	lcWaitStatus(sb, "dk", "exited", 10*time.Second)

	// A bad sequence is refused, naming it, on the command line and in config.toml.
	r = sb.expect(125, "run", "-it", "--detach-keys", "ctrl-1", lcImage, "true")
	assertContains(t, r.stderr, `"ctrl-1"`, "a bad --detach-keys")
	sb.writeConfig("[engine]\ndetach_keys = \"ctrl-p,,\"\n")
	r = sb.expect(125, "ps")
	assertContains(t, r.stderr, "detach_keys", "a bad detach_keys in config.toml")
	sb.writeConfig("")

	// Each detach was an event.
	r = sb.ok("events", "--stream=false", "--filter", "event=detach", "--filter", "container=dk", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	assertEqual(t, strings.Count(r.stdout, "detach dk\n"), 4, "detach events of dk (run -it, attach three times)\n"+r.String())

	sb.ok("rm", "dk")
	lcAssertClean(t, sb, "rm")
}

// TestDetachKeysRunDisabled: with --detach-keys "" `run -it` passes ctrl-p ctrl-q on,
// and ends with the container's status, as a run that ends by itself does.
func TestDetachKeysRunDisabled(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	p := sb.startOnPTY(24, 80, "run", "--rm", "-it", "--detach-keys", "", lcImage, "sh", "-c", byteEcho)
	p.waitOutput("ready\n", 30*time.Second)
	typeOn(t, p, "\x10\x11")
	p.waitOutput("byte: 11\n", 10*time.Second)
	typeOn(t, p, "q")
	r := p.finish()
	if r.code != 7 || !strings.Contains(r.stdout, "byte: 10\n") {
		t.Fatalf("run -it --detach-keys \"\": want ctrl-p ctrl-q passed on and status 7:\n%s", r)
	}

	// The same run with detaching possible ends with the container's status too, and a
	// --rm container is gone when run returns.
	p = sb.startOnPTY(24, 80, "run", "--rm", "-it", "--name", "ends", lcImage, "sh", "-c", byteEcho)
	p.waitOutput("ready\n", 30*time.Second)
	typeOn(t, p, "q")
	r = p.finish()
	assertEqual(t, r.code, 7, "run -it --rm: the container's status\n"+r.String())
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-a", "-q").stdout), "", "containers after run -it --rm ended")
	lcAssertClean(t, sb, "run --rm -it")
}

// TestDetachKeysRemove: a --rm container left with the detach keys is removed when it
// ends later (here: stopped); its terminal has the caller's size from the start, and
// follows the size of the terminal attached to it, in `run -it` and in `attach`.
func TestDetachKeysRemove(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	p := sb.startOnPTY(24, 80, "run", "--rm", "-it", "--name", "gone", lcImage, "sh", "-c",
		`trap 'echo resized=$(stty size)' WINCH; echo start=$(stty size); echo ready; while :; do sleep 0.05; done`)
	p.waitOutput("ready\n", 30*time.Second)
	assertContains(t, p.stdout.String(), "start=24 80\n", "the terminal's size at the start of run -it")
	setWinsize(t, p.master, 50, 132)
	p.waitOutput("resized=50 132\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	detachOK(t, sb, p, "gone", "run --rm -it, ctrl-p ctrl-q")

	p = sb.startOnPTY(30, 90, "attach", "gone")
	p.waitOutput("resized=30 90\n", 10*time.Second)
	setWinsize(t, p.master, 40, 100)
	p.waitOutput("resized=40 100\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	detachOK(t, sb, p, "gone", "attach, ctrl-p ctrl-q")

	sb.ok("stop", "-t", "1", "gone")
	lcEventually(t, 15*time.Second, "the --rm container removed after its stop", func() (bool, string) {
		r := sb.ok("ps", "-a", "-q")
		return strings.TrimSpace(r.stdout) == "", r.String()
	})
	lcAssertClean(t, sb, "stop of a detached --rm container")
}

// TestDetachKeysStartExec: `start -ai` and `exec -it` are left with the detach keys;
// the exec'd command runs on, its output still read (it never blocks on its terminal).
func TestDetachKeysStartExec(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sb.ok("create", "-it", "--name", "sa", lcImage, "sh", "-c", byteEcho)
	p := sb.startOnPTY(24, 80, "start", "-ai", "sa")
	p.waitOutput("ready\n", 30*time.Second)
	typeOn(t, p, "s")
	p.waitOutput("byte: 73\n", 10*time.Second)
	typeOn(t, p, "\x10\x11")
	detachOK(t, sb, p, "sa", "start -ai, ctrl-p ctrl-q")

	// exec -it: the command writes far more than a terminal holds once /tmp/go is there
	// (after the detach), then marks that it got through.
	p = sb.startOnPTY(24, 80, "exec", "-it", "sa", "sh", "-c",
		`echo exec-ready; while [ ! -f /tmp/go ]; do sleep 0.05; done; i=0; while [ $i -lt 3000 ]; do echo "line $i of the detached exec"; i=$((i+1)); done; touch /tmp/through; exec sleep 777`)
	p.waitOutput("exec-ready\n", 30*time.Second)
	typeOn(t, p, "\x10\x11")
	r := p.finish()
	if r.code != 0 || !strings.Contains(r.stdout, "Detached from") {
		t.Fatalf("exec -it, ctrl-p ctrl-q: want exit 0 and the note:\n%s", r)
	}
	sb.ok("exec", "sa", "touch", "/tmp/go")
	lcEventually(t, 30*time.Second, "the detached exec's output drained", func() (bool, string) {
		r := sb.run(runOpts{}, "exec", "sa", "test", "-f", "/tmp/through")
		return r.code == 0, r.String()
	})
	assertContains(t, sb.ok("top", "sa").stdout, "sleep 777", "the detached exec's command runs on")

	// attach to it again, and end it with q: attach returns its status.
	p = sb.startOnPTY(24, 80, "attach", "sa")
	typeOn(t, p, "q")
	r = p.finish()
	assertEqual(t, r.code, 7, "attach, then q\n"+r.String())
	sb.ok("rm", "sa")
	lcAssertClean(t, sb, "rm")
}

// TestDetachKeysOnlyStdio: a `run -it` container (under its monitor, attached through
// a socket) and an `exec -it` command inherit their terminal as fds 0, 1 and 2 and
// nothing else: none of the attach sockets, the terminal's master or the caller's files.
func TestDetachKeysOnlyStdio(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	lcCleanupContainers(t, sb)
	img := "localhost/probe:1"
	fdLine := regexp.MustCompile(`(?m)^fds (\d+): (.*)$`)
	check := func(what, out string) {
		t.Helper()
		var fds []string
		for _, m := range fdLine.FindAllStringSubmatch(out, -1) {
			fds = append(fds, m[1])
			if !strings.HasPrefix(m[2], "/dev/pts/") && m[2] != "/dev/console" {
				t.Errorf("%s: fd %s is %s, not the container's terminal", what, m[1], m[2])
			}
		}
		if strings.Join(fds, ",") != "0,1,2" {
			t.Errorf("%s: the process has fds %v open, want 0, 1 and 2 only:\n%s", what, fds, out)
		}
	}
	p := sb.startOnPTY(24, 80, "run", "--rm", "-it", "--network", "none", img, "probe", "fds")
	r := p.finish()
	assertEqual(t, r.code, 0, "run -it probe fds\n"+r.String())
	check("run -it", r.stdout)

	sb.ok("run", "-dit", "--name", "held", "--network", "none", img, "sleep", "1000")
	p = sb.startOnPTY(24, 80, "exec", "-it", "held", "probe", "fds")
	r = p.finish()
	assertEqual(t, r.code, 0, "exec -it probe fds\n"+r.String())
	check("exec -it", r.stdout)
	sb.ok("rm", "-f", "held")
}
