package tests

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunIO: stdout and stderr stay apart, stdin reaches the container only with -i
// (binary-safe, large), and large output arrives whole.
func TestRunIO(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)

	r := sb.ok("run", "--rm", imgRun, "sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2")
	assertEqual(t, r.stdout, "out1\nout2\n", "stdout")
	assertEqual(t, r.stderr, "err1\nerr2\n", "stderr")

	// Without -i the container's stdin is empty, whatever hutch's is.
	r = sb.expectWith(runOpts{stdin: strings.NewReader("not for the container\n")}, 0, "run", "--rm", imgRun, "cat")
	assertEqual(t, r.stdout, "", "cat without -i")
	// With -i it is hutch's stdin, byte for byte.
	payload := make([]byte, 3<<20+17)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(payload)
	sum := md5.Sum(payload)
	r = sb.expectWith(runOpts{stdin: bytes.NewReader(payload)}, 0, "run", "--rm", "-i", imgRun, "md5sum")
	assertEqual(t, strings.Fields(r.stdout + " ")[0], hex.EncodeToString(sum[:]), "md5sum of 3 MiB sent with -i")
	r = sb.expectWith(runOpts{stdin: bytes.NewReader(payload)}, 0, "run", "--rm", "-i", imgRun, "cat")
	if r.stdout != string(payload) {
		t.Fatalf("cat with -i returned %d bytes, not the %d sent", len(r.stdout), len(payload))
	}
	r = sb.expectWith(runOpts{stdin: strings.NewReader("first\nsecond\n")}, 5, "run", "--rm", "-i", imgRun, "sh", "-c", "read a; read b; echo \"$b $a\"; exit 5")
	assertEqual(t, r.stdout, "second first\n", "reading lines with -i")

	// Large output, whole and in order.
	r = sb.ok("run", "--rm", imgRun, "seq", "1", "200000")
	ls := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(ls) != 200000 || ls[0] != "1" || ls[199999] != "200000" {
		t.Fatalf("seq 1 200000: got %d lines (%q … %q)", len(ls), ls[0], ls[len(ls)-1])
	}
	// create + start -a -i passes stdin too.
	sb.ok("create", "--name", "cat", imgRun, "cat")
	r = sb.expectWith(runOpts{stdin: strings.NewReader("through start\n")}, 0, "start", "-a", "-i", "cat")
	assertEqual(t, r.stdout, "through start\n", "start -a -i")
	sb.ok("rm", "cat")
	assertNothingLeft(t, sb, nil, "the I/O runs")
}

// TestRunTTY: -t gives the container a real terminal of the caller's size, resized on
// SIGWINCH; -it passes typed input.
func TestRunTTY(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)

	p := sb.startOnPTY(37, 101, "run", "--rm", "-t", imgRun, "sh", "-c",
		`echo size=$(stty size); t=$(tty); echo tty=$t; test -c "$t" && echo ttynode=ok; test -t 0 && test -t 1 && test -t 2 && echo stdio=tty; echo term=$TERM; echo to-stderr >&2; exit 4`)
	r := p.finish()
	assertEqual(t, r.code, 4, "exit status with -t\n"+r.String())
	m := parseKV(r.stdout)
	assertEqual(t, m["size"], "37 101", "stty size in the container (the caller's terminal is 37x101)\n"+r.String())
	// Docker shows /dev/pts/0; hutch's terminal is a pty of the caller's devpts, bound to
	// /dev/console in the container.
	if m["tty"] != "/dev/pts/0" && m["tty"] != "/dev/console" {
		t.Fatalf("tty in the container: %q, want /dev/pts/0 or /dev/console\n%s", m["tty"], r)
	}
	assertEqual(t, m["ttynode"], "ok", "the terminal's device node exists in the container")
	assertEqual(t, m["stdio"], "tty", "stdin and stdout are terminals")
	assertEqual(t, m["term"], "xterm", "TERM with -t")
	assertContains(t, r.stdout, "to-stderr\n", "stderr goes to the terminal with -t")

	// The same with --init (the command is not pid 1) and with --userns=keep-id (a user
	// namespace of the container's own).
	for _, flag := range []string{"--init", "--userns=keep-id"} {
		p = sb.startOnPTY(29, 91, "run", "--rm", "-t", flag, imgRun, "sh", "-c", `echo size=$(stty size); test -t 0 && echo stdin=tty`)
		r = p.finish()
		assertEqual(t, r.code, 0, "exit status with -t "+flag+"\n"+r.String())
		m = parseKV(r.stdout)
		assertEqual(t, m["size"], "29 91", "stty size with -t "+flag+"\n"+r.String())
		assertEqual(t, m["stdin"], "tty", "stdin with -t "+flag)
	}

	// Without -t, on the same kind of terminal, the container gets no terminal of its own.
	p = sb.startOnPTY(37, 101, "run", "--rm", imgRun, "sh", "-c", `echo ptys=$(ls /dev/pts | tr '\n' ' '); echo term=${TERM-unset}`)
	r = p.finish()
	assertEqual(t, r.code, 0, "run without -t\n"+r.String())
	m = parseKV(r.stdout)
	assertEqual(t, strings.TrimSpace(m["ptys"]), "ptmx", "/dev/pts without -t")
	assertEqual(t, m["term"], "unset", "TERM without -t")

	// A resize of the caller's terminal reaches the container (SIGWINCH, then the new size).
	p = sb.startOnPTY(24, 80, "run", "--rm", "-t", imgRun, "sh", "-c",
		`trap 'echo resized=$(stty size); exit 0' WINCH; echo start=$(stty size); echo ready; while :; do sleep 0.05; done`)
	p.waitOutput("ready\n", 30*time.Second)
	setWinsize(t, p.master, 50, 132)
	r = p.finish()
	assertEqual(t, r.code, 0, "exit status after the resize\n"+r.String())
	m = parseKV(r.stdout)
	assertEqual(t, m["start"], "24 80", "size at start")
	assertEqual(t, m["resized"], "50 132", "size after the caller's terminal became 50x132\n"+r.String())

	// -it: what is typed reaches the command.
	p = sb.startOnPTY(24, 80, "run", "--rm", "-i", "-t", imgRun, "sh", "-c", `echo ready; read line; echo "got:$line"`)
	p.waitOutput("ready\n", 30*time.Second)
	if _, err := p.master.Write([]byte("typed words\r")); err != nil {
		t.Fatal(err)
	}
	r = p.finish()
	assertEqual(t, r.code, 0, "exit status of -it\n"+r.String())
	assertContains(t, r.stdout, "got:typed words\n", "input typed on the terminal with -it")

	// -it: Ctrl-C typed on the terminal interrupts the command (its terminal's
	// foreground process group), with and without --init.
	for _, extra := range [][]string{nil, {"--init"}} {
		args := append(append([]string{"run", "--rm", "-i", "-t"}, extra...), imgRun, "sh", "-c",
			`trap 'echo got-INT; exit 3' INT; echo ready; while :; do sleep 0.05; done`)
		p = sb.startOnPTY(24, 80, args...)
		p.waitOutput("ready\n", 30*time.Second)
		if _, err := p.master.Write([]byte{3}); err != nil {
			t.Fatal(err)
		}
		r = p.finish()
		if r.code != 3 || !strings.Contains(r.stdout, "got-INT\n") {
			t.Fatalf("Ctrl-C on the terminal of %s: want the trap's output and exit 3:\n%s", shellJoin(args), r)
		}
	}
	assertNothingLeft(t, sb, nil, "the terminal runs")
}

// TestRunSignals: SIGTERM, SIGINT and SIGHUP sent to hutch reach the container's command
// (a trap prints and exits with its own status), with and without --init.
func TestRunSignals(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	const script = `trap 'echo got-TERM; exit 7' TERM; trap 'echo got-INT; exit 8' INT; trap 'echo got-HUP; exit 9' HUP
echo ready; while :; do sleep 0.05; done`
	for _, c := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{{syscall.SIGTERM, "TERM", 7}, {syscall.SIGINT, "INT", 8}, {syscall.SIGHUP, "HUP", 9}} {
		for _, init := range []bool{false, true} {
			args := []string{"run", "--rm"}
			what := "SIG" + c.name + " to hutch"
			if init {
				args = append(args, "--init")
				what += " with --init"
			}
			b := sb.startRun(runOpts{}, append(args, imgRun, "sh", "-c", script)...)
			b.waitOutput("ready\n", 30*time.Second)
			b.signal(c.sig)
			r := b.wait()
			if r.code != c.code || r.stdout != "ready\ngot-"+c.name+"\n" {
				t.Fatalf("%s: want the trap's output and exit %d:\n%s", what, c.code, r)
			}
		}
	}
	// With --init a command without a handler dies of the forwarded signal: 128+15.
	b := sb.startRun(runOpts{}, "run", "--rm", "--init", imgRun, "sh", "-c", "echo ready; exec sleep 1000")
	b.waitOutput("ready\n", 30*time.Second)
	// The shell has become sleep (exec) once the container runs a `sleep 1000`.
	lcEventually(t, 10*time.Second, "the shell became sleep", func() (bool, string) {
		for _, p := range lcProcs(sb) {
			if p.inContainer && p.args == "sleep 1000" {
				return true, ""
			}
		}
		return false, lcProcList(lcProcs(sb))
	})
	b.signal(syscall.SIGTERM)
	r := b.wait()
	assertEqual(t, r.code, 128+15, "exit status of a command killed by a forwarded SIGTERM\n"+r.String())
	assertNothingLeft(t, sb, nil, "the signalled runs")
}
