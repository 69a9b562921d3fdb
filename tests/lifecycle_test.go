package tests

// The container lifecycle without a daemon: detached containers under their monitor,
// create and start, ps, names and IDs, inspect, rm and prune, wait, kill, restart, top.
// Exec and attach are in lifecycle_exec_test.go, stop in lifecycle_stop_test.go, what
// depends on the storage driver (cp, logs, restart policies, faults) in
// lifecycle_drivers_test.go, the parallel cycles in lifecycle_stress_test.go.

import (
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

// TestLifecycleDetached: `run -d` prints the ID and returns while the container runs
// on, also when the shell that started it is gone; create+start does the same. Each
// running container has one monitor, `hutch-monitor ID`, that holds its mounts, writes
// its log, records its exit and cleans up; --rm removes the container when it ends.
func TestLifecycleDetached(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)

		began := time.Now()
		a := lcRunD(sb, "--name", "a", lcImage, "sh", "-c", "trap 'exit 0' TERM; echo a-out; echo a-err >&2; sleep 1000 & wait")
		if el := time.Since(began); el > 20*time.Second {
			t.Fatalf("run -d took %s to return", el)
		}

		r := sb.ok("create", "--name", "b", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		b := strings.TrimSpace(r.stdout)
		if !lcHexID.MatchString(b) {
			t.Fatalf("create should print the 64-hex ID:\n%s", r)
		}
		if st := lcInspect(sb, "b").State; st.Status != "created" || st.Running || st.Pid != 0 {
			t.Fatalf("a created container: %+v", st)
		}
		r = sb.ok("start", "b")
		assertEqual(t, r.stdout, "b\n", "start prints the name it was given")

		// Started from a shell that exits at once: nothing of the shell is needed.
		sh := sb.shell(fmt.Sprintf("%s run -d --name c %s sleep 1000 >c.id 2>c.err </dev/null &", hutchBin, lcImage))
		if sh.code != 0 {
			t.Fatalf("the shell failed:\n%s", sh)
		}
		var c string
		lcEventually(t, 20*time.Second, "run -d started from a shell writes the ID", func() (bool, string) {
			b, _ := os.ReadFile(sb.path("work", "c.id"))
			e, _ := os.ReadFile(sb.path("work", "c.err"))
			c = strings.TrimSpace(string(b))
			return lcHexID.MatchString(c) && strings.HasSuffix(string(b), "\n"), "c.id: " + string(b) + "\nc.err: " + string(e)
		})
		if e, _ := os.ReadFile(sb.path("work", "c.err")); len(e) > 0 {
			t.Fatalf("run -d from a shell printed on stderr: %s", e)
		}

		ids := map[string]string{"a": a, "b": b, "c": c}
		// The containers run on after the commands that started them are gone: still the
		// same process a moment later, and no `hutch run` or `hutch start` left.
		pids := map[string]int{}
		for name, id := range ids {
			in := lcWaitStatus(sb, id, "running", 10*time.Second)
			if !in.State.Running || in.State.Pid <= 0 || !lcAlive(in.State.Pid) {
				t.Fatalf("container %s: %+v (pid alive: %v)", name, in.State, lcAlive(in.State.Pid))
			}
			pids[name] = in.State.Pid
		}
		time.Sleep(300 * time.Millisecond)
		for name, id := range ids {
			if in := lcInspect(sb, id); in.State.Pid != pids[name] || !lcAlive(pids[name]) {
				t.Fatalf("container %s did not keep running: %+v", name, in.State)
			}
		}
		out := sb.ok("ps", "--format", "{{.Names}} {{.Status}}").stdout
		for name := range ids {
			if !regexp.MustCompile(`(?m)^` + name + ` Up `).MatchString(out) {
				t.Fatalf("ps should show %s as Up:\n%s", name, out)
			}
		}

		// One long-lived process per container: its monitor, `hutch-monitor ID`, the
		// parent of the container's init, with the container's root mounted in its
		// mount namespace (not on the host). fuse-overlayfs adds its mount program, the
		// default network a slirp4netns per container, a child of its monitor.
		for _, id := range ids {
			lcMonitorOf(sb, id)
		}
		mons := lcMonitors(sb)
		for name, id := range ids {
			rec := lcRecord(sb, id)
			m := mons[id]
			assertEqual(t, m.args, "hutch-monitor "+id, "the monitor's command line")
			assertEqual(t, m.pid, rec.State.MonitorPid, "the recorded monitor of "+name)
			if pp := lcPPid(pids[name]); pp != m.pid {
				t.Fatalf("container %s: its init %d has parent %d, not the monitor %d", name, pids[name], pp, m.pid)
			}
			// vfs keeps a plain directory: nothing to mount.
			if sb.driver != "vfs" && (rec.State.Rootfs == "" || !lcHasMount(m.pid, rec.State.Rootfs)) {
				t.Fatalf("the monitor of %s does not hold the container's root %q mounted", name, rec.State.Rootfs)
			}
			if lcHasMount(os.Getpid(), rec.State.Rootfs) {
				t.Fatalf("the root of %s is mounted on the host: %s", name, rec.State.Rootfs)
			}
		}
		var ps []lcProc
		lcEventually(t, 10*time.Second, "one monitor per running container, and nothing else outside the containers", func() (bool, string) {
			ps = lcProcs(sb)
			monitors, mountPrograms, slirps := 0, 0, 0
			for _, p := range ps {
				switch {
				case p.inContainer:
				case p.isMonitor():
					monitors++
				case strings.HasPrefix(p.args, "slirp4netns "):
					slirps++
				case sb.driver == "fuse-overlayfs" && strings.Contains(p.args, "fuse-overlayfs"):
					mountPrograms++
				default:
					return false, "neither a monitor nor a container's process: " + p.String() + "\nall:\n" + lcProcList(ps)
				}
			}
			return monitors == len(ids) && mountPrograms <= len(ids) && slirps == len(ids),
				fmt.Sprintf("%d monitors, %d mount programs, %d slirp4netns:\n%s", monitors, mountPrograms, slirps, lcProcList(ps))
		})

		// The monitor writes the output to the log file, each line with its stream.
		lcWaitLog(sb, "a", "a-out", 10*time.Second)
		ina := lcInspect(sb, "a")
		var streams []string
		for _, e := range lcReadLogFile(t, ina.LogPath) {
			streams = append(streams, e.Stream+":"+e.Line)
		}
		sort.Strings(streams)
		assertEqual(t, strings.Join(streams, ","), "stderr:a-err\n,stdout:a-out\n", "the log file's entries")

		// It records the exit and its time, unmounts and ends. (Its output, there now,
		// comes after its trap: the stop signal is heard.)
		lcWaitLog(sb, "a", "a-out", 10*time.Second)
		sb.ok("stop", "a")
		ina = lcInspect(sb, "a")
		if ina.State.Status != "exited" || ina.State.Running || ina.State.ExitCode != 0 || ina.State.Pid != 0 {
			t.Fatalf("after stop: %+v", ina.State)
		}
		started, finished := lcParseTime(t, ina.State.StartedAt, "StartedAt"), lcParseTime(t, ina.State.FinishedAt, "FinishedAt")
		if finished.Before(started) || time.Since(finished) > time.Minute {
			t.Fatalf("FinishedAt %s should be after StartedAt %s and recent", finished, started)
		}
		rootA := lcRecord(sb, a).State.Rootfs
		monA := mons[a].pid
		lcEventually(t, 10*time.Second, "the monitor of a ends and its mount goes", func() (bool, string) {
			mon := lcAlive(monA)
			var left []string
			for _, m := range lcMounts(sb) {
				if strings.Contains(m, rootA) {
					left = append(left, m)
				}
			}
			return !mon && len(left) == 0 && !lcAlive(pids["a"]), lcProcList(lcProcs(sb)) + strings.Join(left, "\n")
		})

		// --rm: the container is gone once it ended, records and all.
		d := lcRunD(sb, "--rm", lcImage, "sh", "-c", "echo bye")
		lcEventually(t, 15*time.Second, "the --rm container is removed after it ends", func() (bool, string) {
			r := sb.ok("ps", "-a", "-q", "--no-trunc")
			return !strings.Contains(r.stdout, d), r.stdout
		})
		if _, err := os.Stat(filepath.Join(sb.graphRoot(), "hutch-containers", d)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the --rm container's record is still there (%v)", err)
		}
		sb.expect(125, "inspect", "--type", "container", d)

		sb.ok("rm", "-f", "a", "b", "c")
		lcAssertClean(t, sb, "rm -f of every container")
	})
}

// lcPPid is the parent of pid.
func lcPPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// TestLifecycleCreateStart: create records a container without running it; start runs
// it in the background, start -a in the foreground with its streams and status, -i with
// standard input; a running container is not started twice; an exited one runs again.
func TestLifecycleCreateStart(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	r := sb.ok("create", "--name", "fg", lcImage, "sh", "-c", "echo to-out; echo to-err >&2; exit 4")
	id := strings.TrimSpace(r.stdout)
	if !lcHexID.MatchString(id) {
		t.Fatalf("create should print the 64-hex ID:\n%s", r)
	}
	in := lcInspect(sb, "fg")
	if in.State.Status != "created" || in.State.Running || in.State.Pid != 0 || in.State.ExitCode != 0 {
		t.Fatalf("created container: %+v", in.State)
	}
	assertEqual(t, in.State.StartedAt, "0001-01-01T00:00:00Z", "StartedAt of a created container")
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout), "fg Created", "ps -a")
	assertEqual(t, sb.ok("ps", "-q").stdout, "", "ps (running only)")
	if len(lcProcs(sb)) != 0 {
		t.Fatalf("a created container runs nothing:\n%s", lcProcList(lcProcs(sb)))
	}

	r = sb.expect(4, "start", "-a", "fg")
	assertEqual(t, r.stdout, "to-out\n", "start -a: stdout")
	assertEqual(t, r.stderr, "to-err\n", "start -a: stderr")
	assertContains(t, sb.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout, "fg Exited (4)", "ps -a after start -a")
	assertEqual(t, lcInspect(sb, "fg").State.ExitCode, 4, "ExitCode after start -a")

	// -i feeds standard input; without it the container reads nothing.
	sb.ok("create", "--name", "in", lcImage, "sh", "-c", "read x; echo got-$x")
	r = sb.expectWith(runOpts{stdin: strings.NewReader("hello\n")}, 0, "start", "-a", "-i", "in")
	assertEqual(t, r.stdout, "got-hello\n", "start -a -i")
	r = sb.expectWith(runOpts{stdin: strings.NewReader("hello\n")}, 0, "start", "-a", "in")
	assertEqual(t, r.stdout, "got-\n", "start -a without -i reads nothing")

	// start in the background; again while it runs: the same process, no second one.
	sb.ok(append([]string{"create", "--name", "bg", lcImage}, lcSleeper...)...)
	assertEqual(t, sb.ok("start", "bg").stdout, "bg\n", "start prints the name")
	first := lcWaitStatus(sb, "bg", "running", 10*time.Second)
	assertEqual(t, sb.ok("start", "bg").stdout, "bg\n", "start of a running container")
	if again := lcInspect(sb, "bg"); again.State.Pid != first.State.Pid || again.State.StartedAt != first.State.StartedAt {
		t.Fatalf("start of a running container started it again: %+v then %+v", first.State, again.State)
	}
	lcWaitMonitorCount(sb, 1)

	// An exited container starts again: a new process, a new start time.
	lcWaitLog(sb, "bg", "ready", 10*time.Second)
	sb.ok("stop", "bg")
	sb.ok("start", "bg")
	second := lcWaitStatus(sb, "bg", "running", 10*time.Second)
	if second.State.Pid == first.State.Pid || !lcParseTime(t, second.State.StartedAt, "StartedAt").After(lcParseTime(t, first.State.StartedAt, "StartedAt")) {
		t.Fatalf("start of an exited container: %+v then %+v", first.State, second.State)
	}
	sb.ok("rm", "-f", "fg", "in", "bg")
	lcAssertClean(t, sb, "rm -f")
}

// TestLifecyclePs: Docker's columns and status words, -a, -q, -l, -n, --no-trunc,
// --format (template, table, json) and the filters.
func TestLifecyclePs(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcImport(t, sb, lcStopImage)

	ex := lcRunD(sb, "--name", "ps-exited", lcImage, "sh", "-c", "exit 3")
	lcWaitStatus(sb, ex, "exited", 10*time.Second)
	run := lcRunD(sb, "--name", "ps-running", "-l", "app=web", "-l", "tier=front", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
	cr := strings.TrimSpace(sb.ok("create", "--name", "ps-created", "-l", "app=db", lcStopImage, "true").stdout)

	// The default table: the running container only, Docker's columns.
	r := sb.ok("ps")
	rows := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(rows) != 2 {
		t.Fatalf("ps should print a header and one row:\n%s", r)
	}
	assertEqual(t, strings.Join(lcColumns(rows[0]), "|"), "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES", "ps header")
	cols := lcColumns(rows[1])
	if len(cols) != 6 || cols[0] != run[:12] || cols[1] != "localhost/lc:latest" || !strings.HasPrefix(cols[2], `"sh -c trap 'exit 0`) ||
		!strings.HasSuffix(cols[2], `…"`) || !strings.HasPrefix(cols[4], "Up ") || cols[5] != "ps-running" {
		t.Fatalf("ps row (ID, image, quoted truncated command, created, status, names):\n%s\n%q", r, cols)
	}

	// Status words for all three, newest first.
	r = sb.ok("ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.State}}")
	got := lines(r.stdout)
	if len(got) != 3 || got[0] != "ps-created|Created|created" ||
		!regexp.MustCompile(`^ps-running\|Up .+\|running$`).MatchString(got[1]) ||
		!regexp.MustCompile(`^ps-exited\|Exited \(3\) .+ ago\|exited$`).MatchString(got[2]) {
		t.Fatalf("ps -a: want Created, Up …, Exited (3) … ago, newest first:\n%s", r)
	}

	ids := func(args ...string) string {
		return strings.Join(lines(sb.ok(append([]string{"ps"}, args...)...).stdout), ",")
	}
	assertEqual(t, ids("-q"), run[:12], "ps -q")
	assertEqual(t, ids("-aq"), strings.Join([]string{cr[:12], run[:12], ex[:12]}, ","), "ps -aq")
	assertEqual(t, ids("-aq", "--no-trunc"), strings.Join([]string{cr, run, ex}, ","), "ps -aq --no-trunc")
	assertEqual(t, ids("-l", "-q"), cr[:12], "ps -l (the latest, whatever its state)")
	assertEqual(t, ids("-n", "2", "-q"), cr[:12]+","+run[:12], "ps -n 2")
	r = sb.ok("ps", "--no-trunc")
	assertContains(t, r.stdout, run, "ps --no-trunc: the full ID")
	assertContains(t, r.stdout, `"sh -c trap 'exit 0' TERM; sleep 1000 & wait"`, "ps --no-trunc: the full command")

	r = sb.ok("ps", "-a", "--format", "table {{.ID}}\t{{.Names}}")
	assertEqual(t, strings.Join(lcColumns(lines(r.stdout)[0]), "|"), "CONTAINER ID|NAMES", "ps --format table: header")
	assertEqual(t, len(lines(r.stdout)), 4, "ps --format table: rows")

	js := lcPS(sb, "-a")
	if len(js) != 3 || js[0].ID != cr || js[1].ID != run || js[2].ID != ex || js[1].Name != "ps-running" ||
		js[1].State.Status != "running" || js[2].State.Status != "exited" || js[2].State.ExitCode != 3 || js[0].State.Status != "created" {
		t.Fatalf("ps -a --format json: %+v", js)
	}

	names := func(filters ...string) string {
		args := []string{"ps", "-a", "--format", "{{.Names}}"}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		return strings.Join(lines(sb.ok(args...).stdout), ",")
	}
	for _, c := range []struct {
		filters []string
		want    string
	}{
		{[]string{"status=exited"}, "ps-exited"},
		{[]string{"status=created"}, "ps-created"},
		{[]string{"status=running"}, "ps-running"},
		{[]string{"status=exited", "status=created"}, "ps-created,ps-exited"},
		{[]string{"name=ps-run"}, "ps-running"},
		{[]string{"name=ps-"}, "ps-created,ps-running,ps-exited"},
		{[]string{"name=nothing-like-it"}, ""},
		{[]string{"label=app=web"}, "ps-running"},
		{[]string{"label=app"}, "ps-created,ps-running"},
		{[]string{"label=tier=back"}, ""},
		{[]string{"ancestor=" + lcImage}, "ps-running,ps-exited"},
		{[]string{"ancestor=localhost/lc:latest"}, "ps-running,ps-exited"},
		{[]string{"ancestor=" + lcStopImage}, "ps-created"},
		{[]string{"ancestor=" + strings.TrimPrefix(lcInspect(sb, run).Image, "sha256:")[:12]}, "ps-running,ps-exited"},
		{[]string{"status=running", "label=app"}, "ps-running"},
		{[]string{"id=" + ex[:8]}, "ps-exited"},
	} {
		assertEqual(t, names(c.filters...), c.want, "ps --filter "+strings.Join(c.filters, " --filter "))
	}
	// Without -a, a status filter looks at every container, any other only at running ones.
	assertEqual(t, strings.Join(lines(sb.ok("ps", "--filter", "status=exited", "--format", "{{.Names}}").stdout), ","), "ps-exited", "ps --filter status=exited (no -a)")
	assertEqual(t, strings.Join(lines(sb.ok("ps", "--filter", "name=ps-", "--format", "{{.Names}}").stdout), ","), "ps-running", "ps --filter name=ps- (no -a)")
	assertEqual(t, strings.Join(lines(sb.ok("ps", "--filter", "label=app", "--format", "{{.Names}}").stdout), ","), "ps-running", "ps --filter label=app (no -a)")
	r = sb.expect(125, "ps", "--filter", "status=bogus")
	assertOneLineError(t, r, "status=bogus")
	r = sb.expect(125, "ps", "--filter", "colour=red")
	assertOneLineError(t, r, "colour=red")
	sb.ok("rm", "-f", ex, run, cr)
	lcAssertClean(t, sb, "rm -f")
}

// TestLifecycleNamesAndIDs: names are unique (a clash names the holder, also for
// rename), IDs are 64 hex, unique prefixes are accepted and ambiguous ones refused.
func TestLifecycleNamesAndIDs(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	held := lcRunReady(sb, append([]string{"--name", "held", lcImage}, lcSleeper...)...)
	for _, cmd := range [][]string{{"run", "-d"}, {"run", "--rm"}, {"create"}} {
		r := sb.expect(125, append(cmd, "--name", "held", lcImage, "true")...)
		assertOneLineError(t, r, `"held"`, held[:12])
	}
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-aq", "--no-trunc").stdout), held, "ps -a after the refused clashes")
	assertEqual(t, lcInspect(sb, "held").State.Status, "running", "the holder of the name")

	// Full ID, unique prefixes (3 characters at least), the name: the same container.
	other := strings.TrimSpace(sb.ok("create", "--name", "other", lcImage, "true").stdout)
	prefix := lcUniquePrefix(held, []string{other})
	for _, ref := range []string{held, held[:12], prefix, "held"} {
		assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.Id}}", ref).stdout), held, "inspect "+ref)
	}
	assertEqual(t, sb.ok("exec", prefix, "echo", "by-prefix").stdout, "by-prefix\n", "exec by prefix")

	// Ambiguous prefixes: make containers until two IDs share their first 3 digits.
	seen := map[string]string{held[:3]: held, other[:3]: other}
	var amb [2]string
	for tries := 0; amb[0] == "" && tries < 10; tries++ {
		r := sb.shell(fmt.Sprintf("for i in $(seq 40); do %s create %s true || exit 1; done", hutchBin, lcImage))
		if r.code != 0 {
			t.Fatalf("creating containers:\n%s", r)
		}
		for _, id := range lines(r.stdout) {
			if prev, ok := seen[id[:3]]; ok && amb[0] == "" {
				amb = [2]string{prev, id}
			}
			seen[id[:3]] = id
		}
	}
	if amb[0] == "" {
		t.Fatal("400 containers and no two IDs share 3 digits: the IDs are not random")
	}
	p := amb[0][:3]
	r := sb.expect(125, "inspect", "--type", "container", p)
	assertOneLineError(t, r, "ambiguous", p)
	r = sb.expect(1, "rm", p)
	assertContains(t, r.stderr, "ambiguous", "rm by an ambiguous prefix")
	all := sb.ok("ps", "-aq", "--no-trunc").stdout
	assertContains(t, all, amb[0], "ps -a after rm by an ambiguous prefix")
	assertContains(t, all, amb[1], "ps -a after rm by an ambiguous prefix")
	for _, id := range amb {
		long := lcUniquePrefix(id, lines(all))
		assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.Id}}", long).stdout), id, "inspect by the longer prefix "+long)
	}
	for _, id := range lines(all) {
		if !lcHexID.MatchString(id) {
			t.Fatalf("container ID %q is not 64 hex digits", id)
		}
	}

	// Rename: to a free name; not to a taken one (the holder is named, nothing changes).
	sb.ok("rename", "held", "renamed")
	assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.Name}}", held).stdout), "/renamed", "the new name")
	sb.expect(125, "inspect", "--type", "container", "held")
	r = sb.expect(125, "rename", "other", "renamed")
	assertOneLineError(t, r, `"renamed"`, held[:12])
	assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.Id}}", "renamed").stdout), held, "renamed after a refused rename")
	assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{.Id}}", "other").stdout), other, "other after a refused rename")
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "--format", "{{.Names}}").stdout), "renamed", "ps after rename")
	sb.expect(125, "rename", "other", "bad/name")
	// The freed name can be used again; the running container answers to its new one.
	sb.ok("create", "--name", "held", lcImage, "true")
	sb.ok("stop", "renamed")
	assertEqual(t, lcInspect(sb, "renamed").State.Status, "exited", "stopped by its new name")

	r = sb.expect(1, "stop", "no-such-container")
	assertContains(t, r.stderr, "no such container", "stop of an unknown container")
	sb.ok("container", "prune", "-f")
	lcAssertClean(t, sb, "container prune")
}

// lcUniquePrefix is the shortest prefix (3 digits at least) of id that no other ID has.
func lcUniquePrefix(id string, others []string) string {
	for n := 3; n < len(id); n++ {
		unique := true
		for _, o := range others {
			if o != id && strings.HasPrefix(o, id[:n]) {
				unique = false
			}
		}
		if unique {
			return id[:n]
		}
	}
	return id
}

// TestLifecycleInspectPort: Docker's shape (State, Config, HostConfig, Mounts) for a
// running and a stopped container; `port` prints nothing while no port is published.
func TestLifecycleInspectPort(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	host := lcOwnedDir(t, sb, "bind")
	id := lcRunD(sb, "--name", "insp", "-l", "k=v", "--restart", "on-failure:3", "-v", host+":/data:ro", "-v", "named:/vol",
		"--hostname", "insp-host", "-e", "E1=one", lcImage, "sh", "-c", "trap 'exit 5' TERM; echo trapped; sleep 1000 & wait")
	in := lcWaitStatus(sb, "insp", "running", 10*time.Second)
	// The stop below is only heard once the shell has set its trap (pid 1 ignores a
	// signal it has no handler for): wait for that, or a loaded machine races it.
	lcWaitLog(sb, "insp", "trapped", 10*time.Second)
	assertEqual(t, in.ID, id, "Id")
	assertEqual(t, in.Name, "/insp", "Name")
	if !strings.HasPrefix(in.Image, "sha256:") || in.Created == "" {
		t.Fatalf("Image %q, Created %q", in.Image, in.Created)
	}
	st := in.State
	if !st.Running || st.Pid <= 0 || !lcAlive(st.Pid) || st.ExitCode != 0 || st.FinishedAt != "0001-01-01T00:00:00Z" {
		t.Fatalf("State of a running container: %+v", st)
	}
	if started := lcParseTime(t, st.StartedAt, "StartedAt"); time.Since(started) > time.Minute || time.Until(started) > time.Second {
		t.Fatalf("StartedAt %s is not now", started)
	}
	assertEqual(t, in.Path, "sh", "Path")
	assertEqual(t, strings.Join(in.Args, " "), "-c trap 'exit 5' TERM; echo trapped; sleep 1000 & wait", "Args")
	cfg := in.Config
	assertEqual(t, cfg.Hostname, "insp-host", "Config.Hostname")
	assertEqual(t, cfg.Image, "localhost/lc:latest", "Config.Image")
	assertEqual(t, cfg.Labels["k"], "v", "Config.Labels")
	assertEqual(t, strings.Join(cfg.Cmd, " "), "sh -c trap 'exit 5' TERM; echo trapped; sleep 1000 & wait", "Config.Cmd")
	assertContains(t, strings.Join(cfg.Env, "\n"), "E1=one", "Config.Env")
	hc := in.HostConfig
	assertEqual(t, hc.RestartPolicy.Name, "on-failure", "HostConfig.RestartPolicy.Name")
	assertEqual(t, hc.RestartPolicy.MaximumRetryCount, 3, "HostConfig.RestartPolicy.MaximumRetryCount")
	assertEqual(t, strings.Join(hc.Binds, ","), host+":/data:ro", "HostConfig.Binds")
	assertEqual(t, hc.NetworkMode, "slirp4netns", "HostConfig.NetworkMode")
	if len(in.Mounts) != 2 {
		t.Fatalf("Mounts: %+v", in.Mounts)
	}
	for _, m := range in.Mounts {
		switch m.Destination {
		case "/data":
			if m.Type != "bind" || m.Source != host || m.RW {
				t.Fatalf("the bind mount: %+v", m)
			}
		case "/vol":
			if m.Type != "volume" || m.Name != "named" || !m.RW || !strings.HasSuffix(m.Source, "/named/_data") {
				t.Fatalf("the volume: %+v", m)
			}
		default:
			t.Fatalf("unexpected mount %+v", m)
		}
	}
	if fi, err := os.Stat(in.LogPath); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("LogPath %s: %v", in.LogPath, err)
	}
	assertEqual(t, sb.ok("inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.RestartCount}}", "insp").stdout, "running true 0\n", "inspect --format")
	assertEqual(t, sb.ok("inspect", "--format", "{{.Id}}", id[:12]).stdout, id+"\n", "inspect by short ID")

	r := sb.ok("port", "insp")
	assertEqual(t, r.stdout+r.stderr, "", "port: no published ports")
	r = sb.expect(125, "port", "no-such-container")
	assertOneLineError(t, r, "no-such-container")

	sb.ok("stop", "insp")
	st = lcInspect(sb, "insp").State
	if st.Status != "exited" || st.Running || st.Pid != 0 || st.ExitCode != 5 {
		t.Fatalf("State after stop: %+v", st)
	}
	if f, s := lcParseTime(t, st.FinishedAt, "FinishedAt"), lcParseTime(t, st.StartedAt, "StartedAt"); f.Before(s) {
		t.Fatalf("FinishedAt %s before StartedAt %s", f, s)
	}
	// An image of the same name is not taken for the container.
	r = sb.expect(125, "inspect", "--type", "container", lcImage)
	assertOneLineError(t, r, lcImage)
	sb.ok("rm", "insp")
	lcAssertClean(t, sb, "rm")
}

// TestLifecycleRemovePrune: rm refuses a running container unless -f; -v removes the
// anonymous volumes; container prune removes the stopped and created ones only.
func TestLifecycleRemovePrune(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sleeper := []string{"sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"}

	run := lcRunD(sb, append([]string{"--name", "rm-run", lcImage}, sleeper...)...)
	r := sb.expect(125, "rm", "rm-run")
	assertOneLineError(t, r, "rm-run", "is running", "rm -f")
	assertEqual(t, lcInspect(sb, "rm-run").State.Status, "running", "after a refused rm")
	mon := lcMonitorOf(sb, run)
	assertEqual(t, sb.ok("rm", "-f", "rm-run").stdout, "rm-run\n", "rm -f prints the name")
	sb.expect(125, "inspect", "--type", "container", "rm-run")
	lcEventually(t, 10*time.Second, "rm -f ends the monitor", func() (bool, string) {
		return !lcAlive(mon.pid), lcProcList(lcProcs(sb))
	})

	// Anonymous volumes: kept by rm, removed by rm -v.
	for _, n := range []string{"keep", "drop"} {
		id := lcRunD(sb, "--name", n, "-v", "/anon", lcImage, "sh", "-c", "echo "+n+" > /anon/f")
		lcWaitStatus(sb, id, "exited", 10*time.Second)
	}
	vols := lines(sb.ok("volume", "ls", "-q").stdout)
	if len(vols) != 2 {
		t.Fatalf("want two anonymous volumes, got %q", vols)
	}
	volOf := func(name string) string {
		for _, m := range lcInspect(sb, name).Mounts {
			if m.Destination == "/anon" {
				return m.Name
			}
		}
		t.Fatalf("%s has no volume at /anon", name)
		return ""
	}
	keep, drop := volOf("keep"), volOf("drop")
	sb.ok("rm", "keep")
	sb.ok("rm", "-v", "drop")
	assertEqual(t, strings.Join(lines(sb.ok("volume", "ls", "-q").stdout), ","), keep, "volumes after rm and rm -v")
	assertNotContains(t, sb.ok("volume", "ls", "-q").stdout, drop, "rm -v")

	r = sb.expect(1, "rm", "no-such-container")
	assertContains(t, r.stderr, "no such container", "rm of an unknown container")
	sb.ok("rm", "-f", "no-such-container")

	// prune: asks first (no answer is no), then removes what does not run.
	pr := lcRunD(sb, append([]string{"--name", "p-run", lcImage}, sleeper...)...)
	pe := lcRunD(sb, "--name", "p-ex", lcImage, "true")
	lcWaitStatus(sb, pe, "exited", 10*time.Second)
	pc := strings.TrimSpace(sb.ok("create", "--name", "p-cr", lcImage, "true").stdout)
	r = sb.expectWith(runOpts{stdin: strings.NewReader("n\n")}, 0, "container", "prune")
	assertContains(t, r.stderr, "Are you sure", "prune asks")
	assertEqual(t, len(lines(sb.ok("ps", "-aq").stdout)), 3, "containers after prune answered no")
	r = sb.ok("container", "prune", "-f")
	got := lines(r.stdout)
	sort.Strings(got)
	want := []string{pe, pc}
	sort.Strings(want)
	assertEqual(t, strings.Join(got, ","), strings.Join(want, ","), "prune -f prints the removed IDs")
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-aq", "--no-trunc").stdout), pr, "prune keeps the running container")
	sb.ok("rm", "-f", "p-run")
	sb.ok("volume", "rm", keep)
	lcAssertClean(t, sb, "rm -f")
}

// TestLifecycleWaitKillRestart: wait prints exit codes; kill sends SIGKILL or -s SIG;
// restart runs a running or exited container again.
func TestLifecycleWaitKillRestart(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	w1 := lcRunD(sb, "--name", "w1", lcImage, "sh", "-c", "sleep 0.3; exit 5")
	w2 := lcRunD(sb, "--name", "w2", lcImage, "true")
	assertEqual(t, sb.ok("wait", "w1").stdout, "5\n", "wait prints the exit code")
	assertEqual(t, sb.ok("wait", w2[:12], "w1").stdout, "0\n5\n", "wait of two containers")
	assertEqual(t, sb.ok("wait", w1).stdout, "5\n", "wait of an exited container")

	k1 := lcRunD(sb, "--name", "k1", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
	assertEqual(t, sb.ok("kill", "k1").stdout, "k1\n", "kill prints the name")
	assertEqual(t, sb.ok("wait", "k1").stdout, "137\n", "killed with SIGKILL")
	assertEqual(t, lcInspect(sb, k1).State.ExitCode, 137, "ExitCode after kill")

	sb.ok("run", "-d", "--name", "k2", lcImage, "sh", "-c", "trap 'exit 9' HUP; trap 'exit 10' USR1; echo ready; sleep 1000 & wait")
	lcWaitLog(sb, "k2", "ready", 10*time.Second)
	sb.ok("kill", "-s", "HUP", "k2")
	assertEqual(t, sb.ok("wait", "k2").stdout, "9\n", "kill -s HUP")
	sb.ok("run", "-d", "--name", "k3", lcImage, "sh", "-c", "trap 'exit 9' HUP; trap 'exit 10' USR1; echo ready; sleep 1000 & wait")
	lcWaitLog(sb, "k3", "ready", 10*time.Second)
	sb.ok("kill", "--signal", "SIGUSR1", "k3")
	assertEqual(t, sb.ok("wait", "k3").stdout, "10\n", "kill --signal SIGUSR1")
	r := sb.expect(1, "kill", "k3")
	assertContains(t, r.stderr, "not running", "kill of a stopped container")
	r = sb.expect(125, "kill", "-s", "NOSUCHSIG", "k3")
	assertOneLineError(t, r, "NOSUCHSIG")

	// restart of a running container: stopped (its stop signal) and started again.
	rs := lcRunD(sb, "--name", "rs", lcImage, "sh", "-c", "trap 'exit 0' TERM; echo run; sleep 1000 & wait")
	before := lcWaitStatus(sb, rs, "running", 10*time.Second)
	lcWaitLog(sb, rs, "run", 10*time.Second) // the trap is set (see above)
	began := time.Now()
	assertEqual(t, sb.ok("restart", "rs").stdout, "rs\n", "restart prints the name")
	if el := time.Since(began); el > 8*time.Second {
		t.Fatalf("restart of a container that stops on TERM took %s", el)
	}
	after := lcWaitStatus(sb, rs, "running", 10*time.Second)
	if after.State.Pid == before.State.Pid || lcAlive(before.State.Pid) ||
		!lcParseTime(t, after.State.StartedAt, "StartedAt").After(lcParseTime(t, before.State.StartedAt, "StartedAt")) {
		t.Fatalf("restart: %+v then %+v", before.State, after.State)
	}
	lcWaitLog(sb, "rs", "run\nrun\n", 10*time.Second)
	lcWaitMonitorCount(sb, 1)
	// restart of an exited container runs it again.
	sb.ok("restart", "w1")
	assertEqual(t, sb.ok("wait", "w1").stdout, "5\n", "wait after restart of an exited container")
	sb.ok("rm", "-f", "w1", "w2", "k1", "k2", "k3", "rs")
	lcAssertClean(t, sb, "rm -f")
}

// TestLifecycleTop: the container's processes, with Docker's columns and host PIDs.
func TestLifecycleTop(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcRunD(sb, "--name", "tp", lcImage, "sh", "-c", "sleep 1001 & sleep 1002 & wait")
	init := lcWaitStatus(sb, "tp", "running", 10*time.Second).State.Pid
	var r result
	lcEventually(t, 10*time.Second, "top shows the shell and both sleeps", func() (bool, string) {
		r = sb.ok("top", "tp")
		return len(lines(r.stdout)) == 4 && strings.Contains(r.stdout, "sleep 1001") && strings.Contains(r.stdout, "sleep 1002"), r.String()
	})
	rows := lines(r.stdout)
	assertEqual(t, strings.Join(lcColumns(rows[0]), "|"), "UID|PID|PPID|STIME|TIME|CMD", "top header")
	pids := map[string]string{}
	for _, row := range rows[1:] {
		c := lcColumns(row)
		if len(c) != 6 {
			t.Fatalf("top row %q", row)
		}
		pids[c[5]] = c[1] + "/" + c[2]
		pid, _ := strconv.Atoi(c[1])
		if !lcAlive(pid) {
			t.Fatalf("top shows pid %d, which is no host process", pid)
		}
	}
	if got := pids["sh -c sleep 1001 & sleep 1002 & wait"]; !strings.HasPrefix(got, strconv.Itoa(init)+"/") {
		t.Fatalf("top: the init should be pid %d, got %q:\n%s", init, got, r.stdout)
	}
	for _, s := range []string{"sleep 1001", "sleep 1002"} {
		if !strings.HasSuffix(pids[s], "/"+strconv.Itoa(init)) {
			t.Fatalf("top: %s should be a child of %d:\n%s", s, init, r.stdout)
		}
	}
	// A process started with exec -d is adopted outside the init's tree; it is still
	// one of the container's processes.
	sb.ok("exec", "-d", "tp", "sleep", "1003")
	lcEventually(t, 10*time.Second, "top shows the exec -d process", func() (bool, string) {
		r = sb.ok("top", "tp")
		return strings.Contains(r.stdout, "sleep 1003") && len(lines(r.stdout)) == 5, r.String()
	})
	sb.ok("stop", "-t", "0", "tp")
	r = sb.expect(125, "top", "tp")
	assertOneLineError(t, r, "not running")
	sb.ok("rm", "tp")
	lcAssertClean(t, sb, "rm")
}
