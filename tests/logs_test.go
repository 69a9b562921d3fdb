package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logLines reads a container's log file as root (the user's 0600 file), raw.
func logFileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the container's log file: %v", err)
	}
	return lines(string(b))
}

// TestLogsForeground: a foreground run and start -a keep their output in the
// container's log, as Docker does, in Docker's json-file lines by default.
func TestLogsForeground(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	r := sb.ok("run", "--name", "fg", lcImage, "sh", "-c", "echo out1; echo err1 >&2; printf tail")
	assertEqual(t, r.stdout+"|"+r.stderr, "out1\ntail|err1\n", "the caller's streams")
	r = sb.ok("logs", "fg")
	assertEqual(t, r.stdout+"|"+r.stderr, "out1\ntail|err1\n", "logs of a foreground run")

	// Docker's json-file line: {"log":"…\n","stream":"stdout","time":"RFC3339Nano"}.
	path := lcInspect(sb, "fg").LogPath
	docker := regexp.MustCompile(`^\{"log":"[^"]*","stream":"(stdout|stderr)","time":"[^"]+"\}$`)
	for _, l := range logFileLines(t, path) {
		if !docker.MatchString(l) {
			t.Fatalf("log line %q is not Docker's json-file line", l)
		}
		var e struct {
			Time string `json:"time"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil || time.Since(ts) > 5*time.Minute || time.Since(ts) < 0 {
			t.Fatalf("log line %q: time %q (%v)", l, e.Time, err)
		}
	}
	var entries []string
	for _, e := range lcReadLogFile(t, path) {
		entries = append(entries, e.Stream+":"+e.Line)
	}
	if !strings.Contains(strings.Join(entries, ","), "stdout:out1\n") || !strings.Contains(strings.Join(entries, ","), "stderr:err1\n") ||
		!strings.Contains(strings.Join(entries, ","), "stdout:tail") || len(entries) != 3 {
		t.Fatalf("the log file's entries: %q", entries)
	}
	var in struct {
		HostConfig struct {
			LogConfig struct{ Type string }
		}
	}
	mustJSON(t, sb.ok("inspect", "fg"), &[]any{&in})
	assertEqual(t, in.HostConfig.LogConfig.Type, "json-file", "inspect's .HostConfig.LogConfig.Type")

	// start -a appends to the same log.
	sb.ok("start", "-a", "fg")
	r = sb.ok("logs", "fg")
	assertEqual(t, r.stdout+"|"+r.stderr, "out1\ntailout1\ntail|err1\nerr1\n", "logs after start -a")

	// A terminal (-t): what the terminal showed is logged as stdout.
	out, code := lcOnTerminal(sb, 24, 80, "", "run", "-t", "--name", "tty", lcImage, "sh", "-c", "echo on-terminal; echo err-terminal >&2")
	if code != 0 || !strings.Contains(out, "on-terminal") {
		t.Fatalf("run -t: exit %d, terminal showed %q", code, out)
	}
	r = sb.ok("logs", "tty")
	assertEqual(t, strings.ReplaceAll(r.stdout, "\r", "")+"|"+r.stderr, "on-terminal\nerr-terminal\n|", "logs of a run -t")

	// The foreground copy still stops the container when the caller stops reading.
	res := sb.shell(fmt.Sprintf("%s run --rm %s yes | head -n 2", hutchBin, lcImage))
	if res.code != 0 || res.stdout != "y\ny\n" {
		t.Fatalf("run … yes | head -n 2:\n%s", res)
	}

	// A long line is kept whole (in entries of at most 32 KiB).
	r = sb.ok("run", "--name", "long", lcImage, "sh", "-c", "i=0; while [ $i -lt 5000 ]; do printf 0123456789abcdef; i=$((i+1)); done; echo")
	assertEqual(t, len(sb.ok("logs", "long").stdout), 80001, "the length of a logged 80 kB line")
}

// TestLogsDrivers: k8s-file (Podman's lines), none (no log: logs says so), journald
// refused where there is no journal, config.toml's default, and logs of an old
// container whose log hutch wrote before drivers existed.
func TestLogsDrivers(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	sb.ok("run", "--log-driver", "k8s-file", "--name", "k8s", lcImage, "sh", "-c", "echo a; echo b >&2; printf c")
	k8s := regexp.MustCompile(`^\S+ (stdout|stderr) (F|P) .*$`)
	var got []string
	for _, l := range logFileLines(t, lcInspect(sb, "k8s").LogPath) {
		m := k8s.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q is not a k8s-file line", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.Fields(l)[0]); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, strings.SplitN(l, " ", 2)[1])
	}
	sort.Strings(got) // the two streams are two pipes: their order between them is not kept
	assertEqual(t, strings.Join(got, ","), "stderr F b,stdout F a,stdout P c", "the k8s-file entries")
	r := sb.ok("logs", "k8s")
	assertEqual(t, r.stdout+"|"+r.stderr, "a\nc|b\n", "logs of a k8s-file container")

	// Detached, the monitor writes the same format.
	sb.ok("run", "-d", "--log-driver", "k8s-file", "--name", "k8sd", lcImage, "sh", "-c", "echo detached")
	sb.ok("wait", "k8sd")
	assertEqual(t, sb.ok("logs", "k8sd").stdout, "detached\n", "logs of a detached k8s-file container")
	if l := logFileLines(t, lcInspect(sb, "k8sd").LogPath); len(l) != 1 || !strings.HasSuffix(l[0], " stdout F detached") {
		t.Fatalf("the detached k8s-file log: %q", l)
	}

	// none: the output reaches the terminal, no log is kept, and logs says so.
	r = sb.ok("run", "--log-driver", "none", "--name", "nolog", lcImage, "echo", "shown")
	assertEqual(t, r.stdout, "shown\n", "the output of a none container")
	r = sb.expect(125, "logs", "nolog")
	assertContains(t, r.stderr, "no log is kept", "logs of a none container")
	assertContains(t, r.stderr, "--log-driver none", "logs of a none container")
	if _, err := os.Stat(lcInspect(sb, "nolog").LogPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a none container has a log file: %v", err)
	}
	sb.ok("run", "-d", "--log-driver", "none", "--name", "nolog-d", lcImage, "echo", "lost")
	sb.ok("wait", "nolog-d")
	sb.expect(125, "logs", "nolog-d")
	sb.expect(125, "run", "--rm", "--log-driver", "none", "--log-opt", "max-size=1k", lcImage, "true")

	// journald: this machine has no journal, and hutch says so.
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Fatalf("this test expects a machine without systemd-journald's socket")
	}
	r = sb.expect(125, "run", "--rm", "--log-driver", "journald", lcImage, "true")
	assertContains(t, r.stderr, "there is no journal on this machine", "--log-driver journald")
	assertContains(t, r.stderr, "/run/systemd/journal/socket", "--log-driver journald")
	r = sb.expect(125, "run", "--rm", "--log-driver", "syslog", lcImage, "true")
	assertContains(t, r.stderr, "json-file", "an unknown --log-driver")
	for _, bad := range []string{"max-size=0", "max-size=lots", "max-file=0", "max-file=3", "colour=red", "max-size"} {
		r = sb.expect(125, "run", "--rm", "--log-opt", bad, lcImage, "true")
		assertContains(t, r.stderr, "--log-opt", "--log-opt "+bad)
	}

	// config.toml's [containers] log_driver is the default; a bad value is refused.
	sb.writeConfig("[containers]\nlog_driver = \"k8s-file\"\n")
	sb.ok("run", "--name", "bycfg", lcImage, "echo", "cfg")
	if l := logFileLines(t, lcInspect(sb, "bycfg").LogPath); len(l) != 1 || !strings.HasSuffix(l[0], " stdout F cfg") {
		t.Fatalf("the log of a container made with [containers] log_driver = \"k8s-file\": %q", l)
	}
	sb.ok("run", "--log-driver", "json-file", "--name", "byflag", lcImage, "echo", "flag")
	if l := logFileLines(t, lcInspect(sb, "byflag").LogPath); len(l) != 1 || !strings.HasPrefix(l[0], `{"log":"flag\n"`) {
		t.Fatalf("--log-driver over the config's default: %q", l)
	}
	sb.writeConfig("[containers]\nlog_driver = \"syslog\"\n")
	r = sb.expect(125, "ps", "-a")
	assertContains(t, r.stderr, "log_driver", "a bad [containers] log_driver")
	sb.writeConfig("")

	// A log hutch wrote before log drivers ({"t","s","l"} lines) is still read.
	sb.ok("create", "--name", "old", lcImage, "true")
	old := lcInspect(sb, "old").LogPath
	line := func(s, l string) string {
		b, _ := json.Marshal(map[string]string{"t": time.Now().UTC().Format(time.RFC3339Nano), "s": s, "l": l})
		return string(b) + "\n"
	}
	if err := os.WriteFile(old, []byte(line("stdout", "old-out\n")+line("stderr", "old-err\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(old, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	r = sb.ok("logs", "old")
	assertEqual(t, r.stdout+"|"+r.stderr, "old-out\n|old-err\n", "logs of a log in hutch's old format")
}

// TestLogsRotation: --log-opt max-size and max-file rotate the log, in the foreground
// and under the monitor, and logs reads across the files; logs -f follows across a
// rotation.
func TestLogsRotation(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	script := "i=1; while [ $i -le 300 ]; do echo line-$i; i=$((i+1)); done"
	check := func(name string) {
		t.Helper()
		path := lcInspect(sb, name).LogPath
		for _, p := range []string{path, path + ".1", path + ".2"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v (files: %v)", p, err, globLogs(path))
			}
			if fi.Size() > 2048+200 {
				t.Fatalf("%s is %d bytes, past max-size=2k", p, fi.Size())
			}
		}
		if _, err := os.Stat(path + ".3"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("max-file=3 kept a fourth file: %v", globLogs(path))
		}
		out := lines(sb.ok("logs", name).stdout)
		if len(out) < 40 || len(out) > 150 || out[len(out)-1] != "line-300" {
			t.Fatalf("logs across rotated files: %d lines, last %q", len(out), out[len(out)-1])
		}
		first := 0
		if _, err := fmt.Sscanf(out[0], "line-%d", &first); err != nil {
			t.Fatalf("logs across rotated files: the first line %q is not line-N", out[0])
		}
		for i, l := range out {
			if l != fmt.Sprintf("line-%d", first+i) {
				t.Fatalf("logs across rotated files: line %d is %q, expected line-%d (in order, none missing)", i, l, first+i)
			}
		}
		tail := sb.ok("logs", "--tail", "3", name).stdout
		assertEqual(t, tail, "line-298\nline-299\nline-300\n", "logs --tail across rotated files")
	}
	sb.ok("run", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "--name", "fg", lcImage, "sh", "-c", script)
	check("fg")
	sb.ok("run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "--name", "bg", lcImage, "sh", "-c", script)
	sb.ok("wait", "bg")
	check("bg")

	// max-file=1 (the default) keeps one file, emptied when it is full.
	sb.ok("run", "--log-opt", "max-size=2k", "--name", "one", lcImage, "sh", "-c", script)
	path := lcInspect(sb, "one").LogPath
	if g := globLogs(path); len(g) != 1 {
		t.Fatalf("max-file=1: %v", g)
	}
	out := lines(sb.ok("logs", "one").stdout)
	if len(out) == 0 || len(out) > 60 || out[len(out)-1] != "line-300" {
		t.Fatalf("max-file=1: %d lines: %q", len(out), out)
	}

	// logs -f follows the monitor's log across its rotations. The container writes
	// in batches of 25 lines (about 2 kB: one or two rotations of max-size=1k, fewer
	// than max-file=3 files), each once logs -f has printed the last: a follower loses
	// nothing unless the log turns over more than max-file times between two of its
	// looks, which this pace rules out however slowly it is scheduled.
	const batches, batch = 12, 25
	sb.ok("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--name", "follow", lcImage, "sh", "-c",
		fmt.Sprintf("echo first; i=1; b=1; while [ $b -le %d ]; do while [ ! -f /tmp/go-$b ]; do sleep 0.05; done; "+
			"n=0; while [ $n -lt %d ]; do echo line-$i; i=$((i+1)); n=$((n+1)); done; b=$((b+1)); done", batches, batch))
	lcWaitLog(sb, "follow", "first", 10*time.Second)
	f := lcStart(sb, runOpts{}, "logs", "-f", "follow")
	lcEventually(t, 10*time.Second, "logs -f prints what is there", func() (bool, string) {
		return f.stdout.String() == "first\n", f.stdout.String()
	})
	want := "first\n"
	for b := 1; b <= batches; b++ {
		sb.ok("exec", "follow", "touch", fmt.Sprintf("/tmp/go-%d", b))
		last := fmt.Sprintf("line-%d\n", b*batch)
		lcEventually(t, 30*time.Second, "logs -f prints batch "+strconv.Itoa(b), func() (bool, string) {
			return strings.Contains(f.stdout.String(), last), f.stdout.String()
		})
	}
	for i := 1; i <= batches*batch; i++ {
		want += fmt.Sprintf("line-%d\n", i)
	}
	res := f.wait(t, 30*time.Second)
	if res.code != 0 || res.stdout != want {
		t.Fatalf("logs -f across rotations: %d lines, want first, line-1 … line-%d\n%s", len(lines(res.stdout)), batches*batch, res)
	}
	if g := globLogs(lcInspect(sb, "follow").LogPath); len(g) != 3 {
		t.Fatalf("the followed log was not rotated: %v", g)
	}
}

func globLogs(path string) []string {
	g, _ := filepath.Glob(path + "*")
	return g
}

// TestLogsSeveralAndDetails: logs of several containers (each line after its ID, or
// its name with --names, as Podman), and --details (the attributes --log-opt labels=,
// env= and tag= name, as Docker).
func TestLogsSeveralAndDetails(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	a := lcRunD(sb, "--name", "a", lcImage, "sh", "-c", "echo from-a; echo err-a >&2")
	b := lcRunD(sb, "--name", "b", lcImage, "echo", "from-b")
	sb.ok("wait", "a", "b")
	r := sb.ok("logs", "--names", "a", "b")
	assertEqual(t, r.stdout+"|"+r.stderr, "a from-a\nb from-b\n|a err-a\n", "logs --names a b")
	r = sb.ok("logs", "a", "b")
	assertEqual(t, r.stdout, a[:12]+" from-a\n"+b[:12]+" from-b\n", "logs a b (IDs before the lines)")
	r = sb.ok("logs", "--names", "a")
	assertEqual(t, r.stdout, "a from-a\n", "logs --names of one container")
	r = sb.expect(anyFailure, "logs", "a", "nosuch")
	assertContains(t, r.stderr, "nosuch", "logs of a container that does not exist")

	sb.ok("run", "--name", "d", "--label", "app=web", "--label", "tier=front end", "-e", "REGION=eu",
		"--log-opt", "labels=app,tier,absent", "--log-opt", "env=REGION", "--log-opt", "tag=t1", lcImage, "echo", "detailed")
	r = sb.ok("logs", "--details", "d")
	assertEqual(t, r.stdout, "REGION=eu,app=web,tag=t1,tier=front+end detailed\n", "logs --details")
	r = sb.ok("logs", "--details", "-t", "--names", "d")
	if !regexp.MustCompile(`^d \S+ REGION=eu,app=web,tag=t1,tier=front\+end detailed\n$`).MatchString(r.stdout) {
		t.Fatalf("logs --details -t --names: %q", r.stdout)
	}
	// Without attributes, Docker's --details puts a space before each line.
	assertEqual(t, sb.ok("logs", "--details", "b").stdout, " from-b\n", "logs --details without attributes")
}
