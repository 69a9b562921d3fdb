package tests

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The terminal attacks of docs/security.md ("Terminals"): a process in a container types a
// command into the user's host shell with ioctl(TIOCSTI) on the terminal hutch was
// started from. The kernel allows that only on the caller's controlling terminal (with
// dev.tty.legacy_tiocsti=1, as on this machine), so hutch must never let a container
// process have the user's terminal as its controlling terminal.

const legacyTIOCSTI = "/proc/sys/dev/tty/legacy_tiocsti"

// requireLegacyTIOCSTI makes sure the kernel lets an unprivileged process use TIOCSTI
// on its controlling terminal, as on the machines where the attack works: the tests
// would prove nothing otherwise. As root, it turns the setting on for the test (and
// back off after) if it is off; a kernel without the setting (before 6.2) always allows it.
func requireLegacyTIOCSTI(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(legacyTIOCSTI)
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("%s does not exist: this kernel always allows TIOCSTI", legacyTIOCSTI)
		return
	}
	if err != nil {
		t.Fatalf("reading %s: %v", legacyTIOCSTI, err)
	}
	if v := strings.TrimSpace(string(b)); v != "1" {
		t.Logf("%s is %s: setting it to 1 for this test (the attack needs it; hosts where it is 1 are the ones at risk)", legacyTIOCSTI, v)
		if err := os.WriteFile(legacyTIOCSTI, []byte("1"), 0); err != nil {
			t.Fatalf("dev.tty.legacy_tiocsti is %s and cannot be set to 1 (%v): the terminal tests need it to be 1 to show anything; run `sysctl -w dev.tty.legacy_tiocsti=1` as root", v, err)
		}
		t.Cleanup(func() {
			if err := os.WriteFile(legacyTIOCSTI, []byte(v), 0); err != nil {
				t.Errorf("restoring %s to %s: %v", legacyTIOCSTI, v, err)
			}
		})
	}
}

// hostShell is an interactive bash of the test user on a real terminal: util-linux's
// `script` gives it a new pseudo-terminal as its controlling terminal, as a login gives
// a user's shell. The test types lines into it (script copies its standard input to the
// terminal) and reads the terminal's output.
type hostShell struct {
	t     *testing.T
	sb    *sandbox
	b     *bgRun
	input *os.File
	seq   int
}

func startHostShell(t *testing.T, sb *sandbox) *hostShell {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	o := runOpts{bin: "/usr/bin/script", stdin: r,
		env: map[string]string{"TERM": "dumb", "PS1": "host$ ", "HISTFILE": "/dev/null"}}
	b := sb.startRun(o, "-qfec", "bash --norc --noprofile -i", "/dev/null")
	r.Close()
	t.Cleanup(func() { w.Close() })
	return &hostShell{t: t, sb: sb, b: b, input: w}
}

// do types line into the shell and waits (up to 3 minutes) until it has run; it returns
// what the terminal showed meanwhile. Whatever a container pushed into the terminal's
// input queue while line ran is read by the shell before anything typed after it.
func (h *hostShell) do(line string) string {
	h.t.Helper()
	h.seq++
	done := fmt.Sprintf("@@DONE-%d-", h.seq)
	from := len(h.b.stdout.String())
	// The echo of the typed line shows `"@@DONE-N"-$?`; only its output has "@@DONE-N-".
	if _, err := fmt.Fprintf(h.input, "%s; echo \"@@DONE-%d\"-$?\n", line, h.seq); err != nil {
		h.t.Fatalf("typing into the host shell: %v", err)
	}
	h.b.waitOutput(done, 3*time.Minute)
	out := h.b.stdout.String()[from:]
	return out[:strings.Index(out, done)]
}

// exit ends the shell, after it has run everything queued in its terminal, and returns
// the whole session as the terminal showed it.
func (h *hostShell) exit() string {
	h.t.Helper()
	if _, err := fmt.Fprintf(h.input, "exit\n"); err != nil {
		h.t.Fatalf("typing into the host shell: %v", err)
	}
	h.input.Close()
	res := h.b.wait()
	if res.code != 0 {
		h.t.Errorf("the host shell ended with status %d:\n%s", res.code, h.b.stdout.String())
	}
	return h.b.stdout.String()
}

// tiocstiReport is what `probe tiocsti` (or ptrace-tiocsti) printed: target → result.
func tiocstiReport(out, prefix string) map[string]string {
	rep := map[string]string{}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` ([^:\r\n]+): ([^\r\n]*)`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		rep[m[1]] = strings.TrimSpace(m[2])
	}
	return rep
}

// randomWord names this run's marker files, so that no earlier run's file counts.
func randomWord(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTerminalInjection: under a real terminal, with an interactive host shell, no
// process hutch starts in a container — `run` (plain, -i, --init), `exec` (plain, -i,
// -t, -d), a background container process that ptrace-attaches to an exec'd one, a
// build's RUN step — can type a command into that shell: the marker file the typed
// command would create never appears, and each attempt fails (EPERM: not the caller's
// controlling terminal; ENXIO: no controlling terminal; ENOTTY: not a terminal). A control
// run of the same probe straight in the shell does type the command: the test can see
// the attack work.
func TestTerminalInjection(t *testing.T) {
	requireLegacyTIOCSTI(t)
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	lcCleanupContainers(t, sb)
	if _, err := fix.probeArchive(); err != nil {
		t.Fatal(err)
	}
	probeBin := filepath.Join(fix.dir, "probe") // built by probeArchive, 0755
	word := randomWord(t)
	marker := func(name string) string { return sb.path("tmp", "PWNED-"+word+"-"+name) }
	touch := func(name string) string { return "touch " + marker(name) }
	q := func(s string) string { return shellJoin([]string{s}) }
	hutch := hutchBin
	img := "localhost/probe:1"
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": "FROM " + img + "\nRUN [\"probe\", \"tiocsti\", " + fmt.Sprintf("%q", touch("build")) + "]\n"})
	sb.ok("run", "-d", "--name", "victim", "--network", "none", img, "sleep", "1000")
	sb.ok("run", "-d", "--name", "tracer", "--network", "none", img, "probe", "ptrace-tiocsti", "sleep", touch("ptrace"))

	sh := startHostShell(t, sb)
	type attempt struct {
		name, line string
		ownTTY     bool // the process has a terminal of its own (-t): typing into it is harmless
	}
	attempts := []attempt{
		{name: "run", line: hutch + " run --rm --network none " + img + " probe tiocsti " + q(touch("run"))},
		{name: "run-i", line: hutch + " run --rm -i --network none " + img + " probe tiocsti " + q(touch("run-i"))},
		{name: "run-init", line: hutch + " run --rm --init --network none " + img + " probe tiocsti " + q(touch("run-init"))},
		{name: "exec", line: hutch + " exec victim probe tiocsti " + q(touch("exec"))},
		{name: "exec-i", line: hutch + " exec -i victim probe tiocsti " + q(touch("exec-i"))},
		{name: "exec-t", line: hutch + " exec -t victim probe tiocsti " + q(touch("exec-t")), ownTTY: true},
		// Detached: the report comes back through a FIFO, once the probe has tried.
		{name: "exec-d", line: hutch + " exec victim busybox mkfifo /tmp/report && " +
			hutch + " exec -d victim probe tiocsti --report /tmp/report " + q(touch("exec-d")) + " && " +
			hutch + " exec victim cat /tmp/report"},
		{name: "build", line: hutch + " build --network none -t injected " + q(ctx)},
	}
	// The control: the probe run by the shell itself, on its own terminal, does type.
	control := sh.do(probeBin + " tiocsti " + q(touch("control")))
	outs := map[string]string{}
	for _, a := range attempts {
		outs[a.name] = sh.do(a.line)
	}
	// The background attacker: it waits for a `sleep` to appear in its container, attaches
	// to it and makes it use TIOCSTI on its fds, then kills it (so this exec ends).
	outs["ptrace"] = sh.do(hutch + " exec tracer sleep 1000")
	session := sh.exit()

	if rep := tiocstiReport(control, "tiocsti"); rep["/dev/tty"] != "injected" {
		t.Fatalf("control: the probe, run straight in the host shell, could not type into its own terminal (%v): the test cannot show anything on this host:\n%s", rep, session)
	}
	if _, err := os.Stat(marker("control")); err != nil {
		t.Fatalf("control: the command the probe typed into the host shell did not run (%v): the test cannot show anything on this host:\n%s", err, session)
	}
	for _, a := range attempts {
		rep := tiocstiReport(outs[a.name], "tiocsti")
		if len(rep) != 5 {
			t.Errorf("%s: the probe's report is incomplete (%v); the terminal showed:\n%s", a.name, rep, outs[a.name])
		}
		if _, err := os.Stat(marker(a.name)); err == nil {
			t.Errorf("%s: a container process typed a command into the user's shell, which ran it (%s exists); the probe reported %v", a.name, marker(a.name), rep)
		}
		if a.ownTTY {
			continue
		}
		if rep["ctty"] != "none" {
			t.Errorf("%s: the container process has a controlling terminal (%s), the user's; want none", a.name, rep["ctty"])
		}
		for _, target := range []string{"fd0", "fd1", "fd2", "/dev/tty"} {
			switch rep[target] {
			case "EPERM", "ENOTTY", "ENXIO", "EIO":
			default:
				t.Errorf("%s: TIOCSTI on %s: %q, want EPERM, ENOTTY, ENXIO or EIO", a.name, target, rep[target])
			}
		}
	}
	sb.ok("wait", "tracer")
	logs := sb.ok("logs", "tracer").stdout
	rep := tiocstiReport(logs, "ptrace")
	if _, err := os.Stat(marker("ptrace")); err == nil {
		t.Errorf("ptrace: a background container process made an exec'd one type a command into the user's shell, which ran it; the probe reported:\n%s", logs)
	}
	if rep["target"] == "" || rep["attach"] == "" {
		t.Errorf("ptrace: the probe never found its target; its log:\n%s\nthe terminal showed:\n%s", logs, outs["ptrace"])
	}
	if rep["ctty"] != "none" {
		t.Errorf("ptrace: the exec'd process has a controlling terminal (%s), the user's; want none", rep["ctty"])
	}
	for _, target := range []string{"fd0", "fd1", "fd2"} {
		if rep["attach"] == "ok" && rep[target] == "injected" {
			t.Errorf("ptrace: the exec'd process could be made to type into its %s", target)
		}
	}
	if t.Failed() {
		t.Logf("the tracer's log:\n%s\nthe whole host-shell session:\n%s", logs, session)
	}
}

// TestContainerInheritsOnlyStdio: a container process has file descriptors 0, 1 and 2
// and nothing else, whatever the shell that started hutch had open: a host file held
// open by the user's shell (here fd 7, read, and fd 9, append) must not reach `run`,
// `run --init`, `run -d` (nor its restart), `exec` or a build's RUN step.
func TestContainerInheritsOnlyStdio(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	lcCleanupContainers(t, sb)
	img := "localhost/probe:1"
	held := sb.path("tmp", "held-by-the-shell")
	sb.writeUserFile(held, "")
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": "FROM " + img + "\nRUN [\"probe\", \"fds\"]\n"})
	sb.ok("run", "-d", "--name", "held", "--network", "none", img, "sleep", "1000")
	h := shellJoin([]string{hutchBin})
	script := "exec 7</etc/hostname 9>>" + shellJoin([]string{held}) + "\n" +
		"echo @@run; " + h + " run --rm --network none " + img + " probe fds\n" +
		"echo @@run-init; " + h + " run --rm --init --network none " + img + " probe fds\n" +
		"echo @@run-d; id=$(" + h + " run -d --network none " + img + " probe fds) && " + h + " wait \"$id\" >/dev/null && " + h + " logs \"$id\"\n" +
		// Restarted once by its monitor (the first run fails): both runs report.
		"echo @@run-restart; id=$(" + h + " run -d --restart on-failure:1 --network none " + img + " sh -c 'probe fds; [ -e /once ] || { touch /once; exit 1; }') && " +
		"until [ \"$(" + h + " wait \"$id\")\" = 0 ]; do :; done && " + h + " logs \"$id\"\n" +
		"echo @@exec; " + h + " exec held probe fds\n" +
		"echo @@build; " + h + " build --network none -t fds " + shellJoin([]string{ctx}) + "\n" +
		"echo @@end\n"
	r := sb.shell(script)
	if r.code != 0 {
		t.Fatalf("the shell failed:\n%s", r)
	}
	sections := regexp.MustCompile(`(?m)^@@([a-z-]+)$`).FindAllStringSubmatchIndex(r.stdout, -1)
	if len(sections) != 7 {
		t.Fatalf("want 7 sections in the output, got %d:\n%s", len(sections), r)
	}
	fdLine := regexp.MustCompile(`(?m)^fds (\d+): (.*)$`)
	for i := 0; i+1 < len(sections); i++ {
		name := r.stdout[sections[i][2]:sections[i][3]]
		body := r.stdout[sections[i][1]:sections[i+1][0]]
		var fds []string
		for _, m := range fdLine.FindAllStringSubmatch(body, -1) {
			fds = append(fds, m[1])
			if strings.Contains(m[2], "hostname") || strings.Contains(m[2], "held-by-the-shell") {
				t.Errorf("%s: the container process has the shell's file open as fd %s (%s)", name, m[1], m[2])
			}
		}
		want := "0,1,2"
		if name == "run-restart" {
			want = "0,1,2,0,1,2"
		}
		if strings.Join(fds, ",") != want {
			t.Errorf("%s: the container process has fds %v open, want 0, 1 and 2 only:\n%s", name, fds, body)
		}
	}
}
