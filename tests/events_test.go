package tests

// `hutch events`: what hutch's commands and the containers' monitors did, followed live
// and read back, in Docker's shape, as the test user.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// evEvent is one event of `hutch events --format json`: Docker's fields.
type evEvent struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	From   string `json:"from"`
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// short is the event as the tests compare it: type, action, the actor's name (a
// volume's is its ID, as in Docker), and the exit code or signal when it has one.
func (e evEvent) short() string {
	name := e.Actor.Attributes["name"]
	if e.Type == "volume" {
		name = e.Actor.ID
	}
	s := e.Type + " " + e.Action + " " + name
	if v, ok := e.Actor.Attributes["exitCode"]; ok {
		s += " exitCode=" + v
	}
	if v, ok := e.Actor.Attributes["signal"]; ok {
		s += " signal=" + v
	}
	return s
}

// evFollower is a `hutch events --format json` running in the background.
type evFollower struct {
	t      *testing.T
	pid    int
	lines  chan string
	events []evEvent
	stderr *syncBuffer
}

// evFollow starts `hutch events --format json ARGS…` and returns once it follows the
// log (it says so at debug level): everything that happens from then on reaches it.
func evFollow(t *testing.T, sb *sandbox, args ...string) *evFollower {
	t.Helper()
	cmd := sb.command(runOpts{}, append([]string{"--log-level", "debug", "events", "--format", "json"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW := io.Pipe()
	f := &evFollower{t: t, lines: make(chan string, 1000), stderr: &syncBuffer{}}
	cmd.Stderr = errW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-f.pid, syscall.SIGKILL)
		_ = cmd.Wait()
		errW.Close()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			_, _ = f.stderr.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "following the event log") && ready != nil {
				close(ready)
				ready = nil
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(cmdTimeout):
		t.Fatalf("hutch events did not start following:\n%s", f.stderr.String())
	}
	return f
}

// until reads events until one makes done true, and returns all read so far.
func (f *evFollower) until(what string, done func(evEvent) bool) []evEvent {
	f.t.Helper()
	timeout := time.After(cmdTimeout)
	for {
		select {
		case line, ok := <-f.lines:
			if !ok {
				f.t.Fatalf("hutch events ended before %s; events so far:\n%s\nstderr:\n%s", what, evList(f.events), f.stderr.String())
			}
			var e evEvent
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				f.t.Fatalf("hutch events printed a line that is not an event (%v): %q", err, line)
			}
			f.events = append(f.events, e)
			if done(e) {
				return f.events
			}
		case <-timeout:
			f.t.Fatalf("no %s after %s; events so far:\n%s", what, cmdTimeout, evList(f.events))
		}
	}
}

func evList(es []evEvent) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("  " + e.short() + "\n")
	}
	return b.String()
}

// evShorts is what the tests compare.
func evShorts(es []evEvent) string {
	var out []string
	for _, e := range es {
		out = append(out, e.short())
	}
	return strings.Join(out, "\n")
}

// evHistory is `hutch events --stream=false ARGS… --format json`, parsed.
func evHistory(sb *sandbox, args ...string) []evEvent {
	sb.t.Helper()
	r := sb.ok(append([]string{"events", "--stream=false", "--format", "json"}, args...)...)
	var out []evEvent
	for _, line := range lines(r.stdout) {
		var e evEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			sb.t.Fatalf("not an event (%v): %q\n%s", err, line, r)
		}
		out = append(out, e)
	}
	return out
}

// TestEvents: a follower started first sees exactly what a sequence of commands did, in
// order, in Docker's JSON: a detached container's life (run -d, exec, stop, start,
// attach, kill, rename, rm, with its monitor's die), an image tagged and untagged, a volume, a build, a
// foreground run --rm. Then the same history is read back with --since/--until and
// filters.
func TestEvents(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	dir := lcOwnedDir(t, sb, "ev")
	ready := filepath.Join(dir, "ready")
	// The container says when its TERM trap is set, so that stop's signal is heard.
	script := "trap 'exit 0' TERM; echo up > /w/ready; sleep 1000 & wait"
	waitReady := func() {
		t.Helper()
		lcEventually(t, 30*time.Second, "the container is up", func() (bool, string) {
			_, err := os.Stat(ready)
			return err == nil, fmt.Sprint(err)
		})
		if err := os.Remove(ready); err != nil {
			t.Fatal(err)
		}
	}
	ctx := bdCtx(t, sb, "evctx", map[string]string{"Dockerfile": "FROM " + lcImage + "\nLABEL built=yes\n"})
	begin := time.Now()

	f := evFollow(t, sb)
	id := lcRunD(sb, "--name", "ev", "--network", "none", "--label", "tier=front", "-v", dir+":/w", lcImage, "sh", "-c", script)
	waitReady()
	sb.ok("exec", "ev", "true")
	sb.ok("stop", "ev")
	sb.ok("start", "ev")
	waitReady()
	att := sb.startRun(runOpts{}, "attach", "--no-stdin", "ev")
	f.until("attach", func(e evEvent) bool { return e.Action == "attach" })
	sb.ok("kill", "ev")
	assertEqual(t, att.wait().code, 137, "attach's status after kill")
	assertEqual(t, sb.ok("wait", "ev").stdout, "137\n", "wait after kill")
	sb.ok("rename", "ev", "ev2")
	sb.ok("rm", "ev2")
	sb.ok("tag", lcImage, lcImage+":v2")
	sb.ok("rmi", lcImage+":v2")
	sb.ok("volume", "create", "evvol")
	sb.ok("volume", "rm", "evvol")
	built := bdLastID(t, sb.ok("build", "--pull=never", "-t", "evbuilt", ctx))
	sb.ok("run", "--rm", "--network", "none", lcImage, "true")
	sb.ok("volume", "create", "evend")
	got := f.until("the last volume's create", func(e evEvent) bool { return e.Actor.ID == "evend" })

	// The foreground container has no name: it is called by its short ID.
	fg := ""
	for _, e := range got {
		if e.Type == "container" && e.Actor.ID != id && fg == "" {
			fg = e.Actor.Attributes["name"]
		}
	}
	want := strings.Join([]string{
		"container create ev",
		"container start ev",
		"container exec_create: true ev",
		"container exec_start: true ev",
		"container exec_die ev exitCode=0",
		"container kill ev signal=15",
		"container die ev exitCode=0",
		"container stop ev",
		"container start ev",
		"container attach ev",
		"container kill ev signal=9",
		"container die ev exitCode=137",
		"container rename ev2",
		"container destroy ev2",
		"image tag localhost/lc:v2",
		"image untag localhost/lc:v2",
		"volume create evvol",
		"volume destroy evvol",
		"image build localhost/evbuilt:latest",
		"container create " + fg,
		"container attach " + fg,
		"container start " + fg,
		"container die " + fg + " exitCode=0",
		"container destroy " + fg,
		"volume create evend",
	}, "\n")
	assertEqual(t, evShorts(got), want, "the events a follower saw")

	// Docker's shape, field by field.
	imageID := strings.TrimSpace(sb.ok("inspect", "--format", "{{.Id}}", lcImage).stdout)
	for _, e := range got {
		what := "event " + e.short()
		if e.Scope != "local" || e.TimeNano/1e9 != e.Time || e.TimeNano < begin.UnixNano() || e.TimeNano > time.Now().UnixNano() {
			t.Errorf("%s: scope %q, time %d, timeNano %d (test began at %d)", what, e.Scope, e.Time, e.TimeNano, begin.UnixNano())
		}
		switch e.Type {
		case "container":
			if e.Status != e.Action || e.ID != e.Actor.ID || e.From != "localhost/lc:latest" || e.Actor.Attributes["image"] != "localhost/lc:latest" {
				t.Errorf("%s: status %q, id %q, from %q, image %q", what, e.Status, e.ID, e.From, e.Actor.Attributes["image"])
			}
			if strings.HasPrefix(e.Actor.Attributes["name"], "ev") && (e.Actor.ID != id || e.Actor.Attributes["tier"] != "front") {
				t.Errorf("%s: ID %s (want %s), label tier=%q", what, e.Actor.ID, id, e.Actor.Attributes["tier"])
			}
			if e.Action == "rename" && e.Actor.Attributes["oldName"] != "ev" {
				t.Errorf("%s: oldName %q", what, e.Actor.Attributes["oldName"])
			}
			if strings.HasPrefix(e.Action, "exec_") && len(e.Actor.Attributes["execID"]) != 64 {
				t.Errorf("%s: execID %q", what, e.Actor.Attributes["execID"])
			}
		case "image":
			wantID := "sha256:" + strings.TrimPrefix(imageID, "sha256:")
			if e.Action == "build" {
				wantID = "sha256:" + strings.TrimPrefix(built, "sha256:")
			}
			if e.Actor.ID != wantID || e.ID != e.Actor.ID || e.Status != e.Action {
				t.Errorf("%s: ID %q (want %q), id %q, status %q", what, e.Actor.ID, wantID, e.ID, e.Status)
			}
		case "volume":
			if e.Actor.Attributes["driver"] != "local" || e.Status != "" || e.ID != "" {
				t.Errorf("%s: driver %q, status %q, id %q", what, e.Actor.Attributes["driver"], e.Status, e.ID)
			}
		}
	}

	t.Run("since-until", func(t *testing.T) {
		sb := lcAt(sb, t)
		at := func(action, name string) string {
			for _, e := range got {
				if e.Action == action && e.Actor.Attributes["name"] == name {
					return time.Unix(0, e.TimeNano).UTC().Format(time.RFC3339Nano)
				}
			}
			t.Fatalf("no %s %s", action, name)
			return ""
		}
		// Both ends are inclusive, to the nanosecond.
		h := evHistory(sb, "--since", at("stop", "ev"), "--until", at("untag", "localhost/lc:v2"))
		assertEqual(t, evShorts(h), strings.Join([]string{
			"container stop ev", "container start ev", "container attach ev", "container kill ev signal=9", "container die ev exitCode=137",
			"container rename ev2", "container destroy ev2", "image tag localhost/lc:v2", "image untag localhost/lc:v2"}, "\n"), "--since STOP --until UNTAG")
		// An --until in the past prints the history and exits, even with streaming on.
		r := sb.ok("events", "--since", at("build", "localhost/evbuilt:latest"), "--until", at("create", fg),
			"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
		assertEqual(t, r.stdout, "image build localhost/evbuilt:latest\ncontainer create "+fg+"\n", "--since BUILD --until CREATE, streaming")
		// Unix times and durations, as Docker takes them; the import of the image came
		// before the test's events.
		h = evHistory(sb, "--since", strconv.FormatInt(begin.Unix(), 10))
		assertEqual(t, evShorts(h[len(h)-len(got):]), want, "--since UNIX-TIME")
		h = evHistory(sb, "--since", "10m", "--until", "0s")
		if len(h) < len(got)+1 || h[0].Action != "import" || evShorts(h[len(h)-len(got):]) != want {
			t.Errorf("--since 10m --until 0s:\n%s", evList(h))
		}
		assertEqual(t, len(evHistory(sb, "--until", strconv.FormatInt(begin.Add(-time.Hour).Unix(), 10))), 0, "events until an hour before the test")
		// Docker's default line: the time, type, action, ID and the attributes sorted.
		r = sb.ok("events", "--stream=false", "--filter", "event=kill", "--filter", "container=ev")
		ls := lines(r.stdout)
		if len(ls) != 2 || !strings.HasSuffix(ls[0], " container kill "+id+" (image=localhost/lc:latest, name=ev, signal=15, tier=front)") {
			t.Errorf("default format:\n%s", r.stdout)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000000000Z07:00", strings.Fields(ls[0])[0]); err != nil {
			t.Errorf("default format's time: %v", err)
		}
		r = sb.expect(125, "events", "--since", "yesterday-ish")
		assertOneLineError(t, r, "--since", "yesterday-ish")
		r = sb.expect(125, "events", "--since", "1m", "--until", "2m")
		assertOneLineError(t, r, "--since", "after")
	})

	t.Run("filters", func(t *testing.T) {
		sb := lcAt(sb, t)
		check := func(want string, filters ...string) {
			t.Helper()
			args := []string{"--since", begin.Format(time.RFC3339Nano)}
			for _, f := range filters {
				args = append(args, "--filter", f)
			}
			assertEqual(t, evShorts(evHistory(sb, args...)), want, "--filter "+strings.Join(filters, " --filter "))
		}
		check("image tag localhost/lc:v2\nimage untag localhost/lc:v2\nimage build localhost/evbuilt:latest", "type=image")
		check("container die ev exitCode=0\ncontainer die ev exitCode=137", "container=ev", "event=die")
		check("container rename ev2\ncontainer destroy ev2", "container=ev2")
		check("container create ev\ncontainer start ev\ncontainer start ev", "container="+id[:12], "event=create", "event=start")
		check("container die ev exitCode=0\ncontainer die ev exitCode=137\ncontainer die "+fg+" exitCode=0", "event=die")
		check("container create ev\ncontainer kill ev signal=15\ncontainer kill ev signal=9\nvolume create evvol\ncontainer create "+fg+"\nvolume create evend",
			"event=kill", "event=create", "type=volume", "type=container") // ORed within a key, ANDed across
		check("container exec_start: true ev", "event=exec_start")
		check("volume create evvol\nvolume destroy evvol", "volume=evvol")
		check("container stop ev", "label=tier=front", "event=stop")
		check("", "label=tier=back")
		check("container create "+fg+"\ncontainer attach "+fg+"\ncontainer start "+fg+"\ncontainer die "+fg+" exitCode=0\ncontainer destroy "+fg,
			"image="+lcImage, "container="+fg)
		check("image tag localhost/lc:v2\nimage untag localhost/lc:v2", "image="+lcImage, "type=image")
		r := sb.expect(125, "events", "--filter", "status=running")
		assertOneLineError(t, r, "status", "container, event, image, label, type, volume")
		// system events is the same command.
		assertEqual(t, sb.ok("system", "events", "--stream=false", "--since", begin.Format(time.RFC3339Nano), "--filter", "event=rename",
			"--format", "{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}").stdout, "ev ev2\n", "system events --filter event=rename")
	})
}

// TestEventsMonitor: the monitor of a detached container records its deaths, whoever
// caused them: a command that exits with its own code, a process killed from outside
// hutch, a restart policy (die, restart, start … die). Each die comes before `wait`
// returns.
func TestEventsMonitor(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	begin := time.Now().Format(time.RFC3339Nano)
	dies := func(name string) string {
		t.Helper()
		var out []string
		for _, e := range evHistory(sb, "--since", begin, "--filter", "container="+name) {
			out = append(out, e.Action+" "+e.Actor.Attributes["exitCode"])
		}
		return strings.Join(out, ", ")
	}

	lcRunD(sb, "--name", "seven", "--network", "none", lcImage, "sh", "-c", "exit 7")
	assertEqual(t, sb.ok("wait", "seven").stdout, "7\n", "wait seven")
	assertEqual(t, dies("seven"), "create , start , die 7", "the events of a container that exited 7")

	lcRunD(sb, "--name", "victim", "--network", "none", lcImage, "sleep", "1000")
	pid := lcInspect(sb, "victim").State.Pid
	if pid <= 0 {
		t.Fatalf("victim's pid is %d", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // from outside hutch
		t.Fatal(err)
	}
	assertEqual(t, sb.ok("wait", "victim").stdout, "137\n", "wait victim")
	assertEqual(t, dies("victim"), "create , start , die 137", "the events of a container killed outside hutch")

	f := evFollow(t, sb, "--filter", "container=again")
	lcRunD(sb, "--name", "again", "--network", "none", "--restart", "on-failure:2", lcImage, "sh", "-c", "exit 5")
	n := 0
	got := f.until("the third die", func(e evEvent) bool {
		if e.Action == "die" {
			n++
		}
		return n == 3
	})
	assertEqual(t, evShorts(got), strings.Join([]string{
		"container create again", "container start again", "container die again exitCode=5",
		"container restart again", "container start again", "container die again exitCode=5",
		"container restart again", "container start again", "container die again exitCode=5"}, "\n"), "a restart policy's events")
	sb.ok("rm", "-f", "seven", "victim", "again")
}

// TestEventsImages: the image events of load, push, rmi, pull, save and import, each
// named as Docker names them (the image's ID, the reference for pull and push).
func TestEventsImages(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	sb := newSandbox(t, userWithRange)
	begin := time.Now().Format(time.RFC3339Nano)
	sb.ok("load", "-i", fix.layered.path)
	dest := reg.host + "/ev/layered:1"
	sb.pushed(fix.layered.name, dest)
	sb.ok("rmi", fix.layered.name)
	sb.ok("pull", "--tls-verify=false", dest)
	sb.ok("save", "-o", sb.path("work", "saved.tar"), dest)
	imported := strings.TrimPrefix(strings.TrimSpace(sb.ok("import", lcRootfs(t), "evimp").stdout), "sha256:")
	r := sb.ok("events", "--stream=false", "--since", begin, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
	base, layered := "sha256:"+fix.base.id, "sha256:"+fix.layered.id
	assertEqual(t, r.stdout, strings.Join([]string{
		"image load " + base + " " + base,
		"image load " + layered + " " + fix.layered.name,
		"image push " + dest + " " + dest,
		"image untag " + layered + " " + fix.layered.name,
		"image delete " + layered + " " + layered,
		"image delete " + base + " " + base, // its unnamed parent goes with it, as with Docker
		"image pull " + dest + " " + dest,
		"image save " + layered + " " + dest,
		"image import sha256:" + imported + " localhost/evimp:latest",
	}, "\n")+"\n", "the image events")
	// image= matches an image's own events by ID or name, and not another image's.
	r = sb.ok("events", "--stream=false", "--since", begin, "--filter", "image="+dest, "--format", "{{.Action}}")
	assertEqual(t, r.stdout, "push\npull\nsave\n", "--filter image="+dest)
	r = sb.ok("events", "--stream=false", "--since", begin, "--filter", "image="+fix.layered.id, "--format", "{{.Action}}")
	assertEqual(t, r.stdout, "load\nuntag\ndelete\nsave\n", "--filter image=ID")
}

// TestEventsPause: pause and unpause, on a container in a delegated cgroup; rm -f of a
// running container stops it first (kill, die, stop), then destroys it.
func TestEventsPause(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	deleg := cgDelegate(t, sb)
	begin := time.Now().Format(time.RFC3339Nano)
	cgOKIn(sb, deleg, "run", "-d", "--name", "pz", "--network", "none", lcImage, "sleep", "1000")
	sb.ok("pause", "pz")
	sb.ok("unpause", "pz")
	sb.ok("rm", "-f", "pz")
	assertEqual(t, evShorts(evHistory(sb, "--since", begin)), strings.Join([]string{
		"container create pz", "container start pz", "container pause pz", "container unpause pz",
		"container kill pz signal=9", "container die pz exitCode=137", "container stop pz", "container destroy pz"}, "\n"), "pause, unpause, rm -f")
}
