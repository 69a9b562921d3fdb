package tests

// `hutch exec` and `hutch attach`: a command in all of a running container's
// namespaces, with its environment, user, working directory, standard input, a
// terminal under -t, its own exit status; attaching to a detached container's streams.

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestLifecycleExec: exec joins the container's namespaces (mount, pid, uts, ipc, net,
// user, cgroup), takes -e, -u, -w, -i and -d, and exits as the command did (its code,
// 126, 127); exec into a stopped container is a clear error.
func TestLifecycleExec(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcRunD(sb, "--name", "ex", "--hostname", "ex-host", "--network", "none", "--tmpfs", "/scratch", "-e", "CVAR=from-run",
		lcImage, "sh", "-c", "trap 'exit 0' TERM; echo in-the-container > /scratch/marker; sleep 1001 & echo ready > /tmp/ready; wait")
	lcEventually(t, 10*time.Second, "the container is ready", func() (bool, string) {
		r := sb.run(runOpts{}, "exec", "ex", "cat", "/tmp/ready")
		return r.code == 0 && r.stdout == "ready\n", r.String()
	})

	t.Run("namespaces", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := sb.ok("exec", "ex", "sh", "-c", `for n in mnt pid uts ipc net user cgroup; do
			a=$(readlink /proc/1/ns/$n); b=$(readlink /proc/self/ns/$n)
			if [ -n "$a" ] && [ "$a" = "$b" ]; then echo "same $n"; else echo "differs $n: $a $b"; fi
		done`)
		assertEqual(t, r.stdout, "same mnt\nsame pid\nsame uts\nsame ipc\nsame net\nsame user\nsame cgroup\n", "exec's namespaces against the container's init")
		// The same pid namespace: /proc shows the container's processes, and no others.
		r = sb.ok("exec", "ex", "sh", "-c", `for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done`)
		assertContains(t, r.stdout, "sleep 1001", "the container's processes seen from exec")
		assertContains(t, r.stdout, "echo in-the-container", "the container's init seen from exec")
		assertNotContains(t, r.stdout, "hutch-monitor", "the host's processes seen from exec")
		assertEqual(t, sb.ok("exec", "ex", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline").stdout[:6], "sh -c ", "pid 1 is the container's init")
		// The same hostname and mounts (a tmpfs that exists only in the container).
		assertEqual(t, sb.ok("exec", "ex", "hostname").stdout, "ex-host\n", "hostname")
		assertEqual(t, sb.ok("exec", "ex", "cat", "/scratch/marker").stdout, "in-the-container\n", "the container's tmpfs")
		sb.ok("exec", "ex", "sh", "-c", "echo from-exec > /scratch/back")
		assertEqual(t, sb.ok("exec", "ex", "cat", "/scratch/back").stdout, "from-exec\n", "written by one exec, read by another")
		// --network none: only the loopback interface, and it is up.
		assertEqual(t, strings.Join(lcNetDevs(sb.ok("exec", "ex", "cat", "/proc/net/dev").stdout), ","), "lo", "interfaces under --network none")
		assertContains(t, sb.ok("exec", "ex", "ip", "link", "show", "lo").stdout, "UP", "lo is up")
	})

	t.Run("host-network", func(t *testing.T) {
		sb := lcAt(sb, t)
		lcRunD(sb, "--name", "hostnet", "--network", "host", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		hostDev, err := os.ReadFile("/proc/net/dev")
		if err != nil {
			t.Fatal(err)
		}
		got := lcNetDevs(sb.ok("exec", "hostnet", "cat", "/proc/net/dev").stdout)
		assertEqual(t, strings.Join(got, ","), strings.Join(lcNetDevs(string(hostDev)), ","), "interfaces under --network host")
		sb.ok("rm", "-f", "hostnet")
	})

	t.Run("env-user-workdir", func(t *testing.T) {
		sb := lcAt(sb, t)
		assertEqual(t, sb.ok("exec", "ex", "sh", "-c", `echo "$CVAR $HOSTNAME"`).stdout, "from-run ex-host\n", "the container's environment")
		assertEqual(t, sb.ok("exec", "-e", "CVAR=over", "-e", "NEW=x", "ex", "sh", "-c", `echo "$CVAR $NEW"`).stdout, "over x\n", "exec -e")
		assertEqual(t, sb.ok("exec", "ex", "id", "-u").stdout, "0\n", "exec runs as the container's user (root)")
		assertEqual(t, sb.ok("exec", "-u", "1000", "ex", "sh", "-c", "id -u; id -g; id -un").stdout, "1000\n1000\nalice\n", "exec -u 1000")
		assertEqual(t, sb.ok("exec", "-u", "alice", "ex", "sh", "-c", "id -u; echo $HOME").stdout, "1000\n/home/alice\n", "exec -u alice")
		assertEqual(t, sb.ok("exec", "-u", "1000:1000", "ex", "sh", "-c", "touch /tmp/by-alice && stat -c %u:%g /tmp/by-alice").stdout, "1000:1000\n", "a file made by exec -u 1000:1000")
		r := lcExec(sb, 125, "-u", "nosuchuser", "ex", "true")
		assertOneLineError(t, r, "nosuchuser")
		assertEqual(t, sb.ok("exec", "ex", "pwd").stdout, "/\n", "exec's working directory")
		assertEqual(t, sb.ok("exec", "-w", "/tmp", "ex", "pwd").stdout, "/tmp\n", "exec -w")
		r = lcExec(sb, 125, "-w", "/no/such/dir", "ex", "true")
		assertOneLineError(t, r, "/no/such/dir")
	})

	t.Run("exit-status", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := lcExec(sb, 7, "ex", "sh", "-c", "echo out; echo err >&2; exit 7")
		assertEqual(t, r.stdout, "out\n", "exec's stdout")
		assertEqual(t, r.stderr, "err\n", "exec's stderr")
		r = lcExec(sb, 126, "ex", "/etc/hello")
		assertOneLineError(t, r, "/etc/hello")
		r = lcExec(sb, 127, "ex", "no-such-command")
		assertOneLineError(t, r, "no-such-command")
		lcExec(sb, 137, "ex", "sh", "-c", "kill -KILL $$")
	})

	t.Run("stdin-detach", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := sb.expectWith(runOpts{stdin: strings.NewReader("piped in\n")}, 0, "exec", "-i", "ex", "cat")
		assertEqual(t, r.stdout, "piped in\n", "exec -i")
		r = sb.expectWith(runOpts{stdin: strings.NewReader("piped in\n")}, 0, "exec", "ex", "cat")
		assertEqual(t, r.stdout, "", "exec without -i reads nothing")
		// -d returns while the command waits for a file the test makes afterwards.
		bg := lcStart(sb, runOpts{}, "exec", "-d", "ex", "sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.05; done; echo detached > /tmp/det")
		r = bg.wait(t, 20*time.Second)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("exec -d:\n%s", r)
		}
		sb.ok("exec", "ex", "touch", "/tmp/go")
		lcEventually(t, 10*time.Second, "the detached command runs on and finishes", func() (bool, string) {
			r := sb.run(runOpts{}, "exec", "ex", "cat", "/tmp/det")
			return r.stdout == "detached\n", r.String()
		})
	})

	t.Run("no-tty", func(t *testing.T) {
		sb := lcAt(sb, t)
		assertEqual(t, sb.ok("exec", "ex", "sh", "-c", "test -t 0 || test -t 1 || echo no-terminal").stdout, "no-terminal\n", "exec without -t")
		assertEqual(t, sb.ok("exec", "-t", "ex", "sh", "-c", "test -t 0 && test -t 1 && echo terminal").stdout, "terminal\r\n", "exec -t with a pipe as output (a terminal's line ends)")
	})

	// Stopped: exec is refused with 125, saying the container is not running and how to
	// start it.
	sb.ok("stop", "ex")
	r := lcExec(sb, 125, "ex", "true")
	assertOneLineError(t, r, "not running", "hutch start ex")
	r = lcExec(sb, 125, "no-such-container", "true")
	assertOneLineError(t, r, "no such container")
	sb.ok("rm", "ex")
	lcAssertClean(t, sb, "rm")
}

// lcExec runs `hutch exec ARGS…` and fails the test unless it exits with want.
func lcExec(sb *sandbox, want int, args ...string) result {
	sb.t.Helper()
	return sb.expect(want, append([]string{"exec"}, args...)...)
}

// lcNetDevs lists the interface names of a /proc/net/dev.
func lcNetDevs(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	sort.Strings(out)
	return out
}

// TestLifecycleExecTerminal: exec -t gives the command a terminal of the caller's
// size; -it is an interactive shell whose exit status exec returns.
func TestLifecycleExecTerminal(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcRunD(sb, "--name", "tt", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
	lcWaitStatus(sb, "tt", "running", 10*time.Second)

	out, code := lcOnTerminal(sb, 31, 97, "", "exec", "-t", "tt", "sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo TTY-OK; stty size")
	if code != 0 || !strings.Contains(out, "TTY-OK\n") || !strings.Contains(out, "31 97\n") {
		t.Fatalf("exec -t on a 31x97 terminal (exit %d):\n%s", code, out)
	}
	out, code = lcOnTerminal(sb, 24, 80, "echo hi-$((6*7))\nexit 5\n", "exec", "-it", "tt", "sh")
	if code != 5 || !regexp.MustCompile(`(?m)^hi-42$`).MatchString(out) {
		t.Fatalf("exec -it sh, typing two lines (exit %d, want 5):\n%s", code, out)
	}
	// The terminal is the command's own: it ends with the command, the container runs on.
	assertEqual(t, lcInspect(sb, "tt").State.Status, "running", "the container after exec -it")
	sb.ok("rm", "-f", "tt")
	lcAssertClean(t, sb, "rm -f")
}

// TestLifecycleAttach: attach relays a detached container's output from now on (each
// stream to its own), its input when it was started with -i, and returns its status.
func TestLifecycleAttach(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	lcRunD(sb, "-i", "--name", "at", lcImage, "sh", "-c", `echo before-attach; while read l; do echo "got:$l"; echo "err:$l" >&2; [ "$l" = quit ] && exit 4; done; exit 9`)
	lcWaitLog(sb, "at", "before-attach", 10*time.Second)
	r := sb.expectWith(runOpts{stdin: strings.NewReader("one\nquit\n")}, 4, "attach", "at")
	assertEqual(t, r.stdout, "got:one\ngot:quit\n", "attach: stdout from now on")
	assertEqual(t, r.stderr, "err:one\nerr:quit\n", "attach: stderr")

	// --no-stdin, and output that comes while attached: ticks until the test lets it end.
	lcRunD(sb, "--name", "at2", lcImage, "sh", "-c", `i=0; while [ ! -f /tmp/go ]; do i=$((i+1)); echo tick$i; sleep 0.05; done; echo final; echo final-err >&2; exit 6`)
	bg := lcStart(sb, runOpts{}, "attach", "--no-stdin", "at2")
	lcEventually(t, 15*time.Second, "attach relays the ticks", func() (bool, string) {
		return strings.Contains(bg.stdout.String(), "tick"), bg.stdout.String()
	})
	if !bg.running() {
		t.Fatalf("attach ended while the container runs:\n%s", bg.res)
	}
	sb.ok("exec", "at2", "touch", "/tmp/go")
	r = bg.wait(t, 15*time.Second)
	if r.code != 6 || !strings.HasSuffix(r.stdout, "final\n") || r.stderr != "final-err\n" {
		t.Fatalf("attach --no-stdin: want the output to the end and exit 6:\n%s", r)
	}

	r = sb.expect(125, "attach", "at2")
	assertOneLineError(t, r, "not running", "hutch start")
	sb.ok("rm", "at", "at2")
	lcAssertClean(t, sb, "rm")
}
