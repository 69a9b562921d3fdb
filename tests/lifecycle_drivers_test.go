package tests

// The parts of the lifecycle that depend on how the container's root is stored, on
// every driver: cp (both ways, running and stopped, symlinks that point out of the
// container), logs, restart policies, and faults (the monitor or the container killed).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLifecycleCopy: cp into and out of a running and a stopped container, files,
// directories and "dir/." contents, relative host paths; symlinks in the container that
// point outside it (to / or to a host directory) never let a copy reach the host.
func TestLifecycleCopy(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		outside := lcOwnedDir(t, sb, "outside") // a host directory the container must not reach
		sb.writeUserFile(filepath.Join(outside, "secret"), "host-secret\n")
		lcOwnedDir(t, sb, "outside/target")
		sb.writeUserFile(sb.path("work", "f.txt"), "host-file\n")
		sb.writeUserFile(sb.path("work", "d", "sub", "x"), "deep\n")
		sb.writeUserFile(sb.path("work", "d", "top"), "top\n")
		// A unique name in the host's /tmp, which a copy through /etc/evil would reach.
		hostTmp := fmt.Sprintf("hutch-lc-evil-%d-%s", os.Getpid(), filepath.Base(sb.dir))
		t.Cleanup(func() { os.Remove("/tmp/" + hostTmp) })

		lcRunD(sb, "--name", "cp", lcImage, "sh", "-c", strings.Join([]string{
			"mkdir -p /data", "echo from-ct > /data/in", "mkdir -p /data/tree/sub", "echo leaf > /data/tree/sub/leaf",
			"ln -s / /etc/evil", "ln -s " + outside + " /x", "ln -s ../../../../../../../../../.." + outside + " /rel",
			"ln -s " + outside + "/target /data/link", "ln -s " + outside + "/secret /data/secret",
			"trap 'exit 0' TERM", "echo ready > /tmp/ready", "sleep 1000 & wait"}, "; "))
		lcEventually(t, 10*time.Second, "the container is ready", func() (bool, string) {
			r := sb.run(runOpts{}, "exec", "cp", "cat", "/tmp/ready")
			return r.stdout == "ready\n", r.String()
		})
		cat := func(p string) string {
			t.Helper()
			return sb.ok("exec", "cp", "cat", p).stdout
		}
		// assertOutsideUntouched: the host directory holds what the test put there, and
		// the host's /tmp has nothing of the container's.
		assertOutsideUntouched := func(after string) {
			t.Helper()
			var got []string
			_ = filepath.Walk(outside, func(p string, fi os.FileInfo, err error) error {
				if err == nil && p != outside {
					rel, _ := filepath.Rel(outside, p)
					got = append(got, rel)
				}
				return nil
			})
			sort.Strings(got)
			assertEqual(t, strings.Join(got, ","), "secret,target", "the host directory after "+after)
			assertEqual(t, lcReadString(t, filepath.Join(outside, "secret")), "host-secret\n", "the host's secret after "+after)
			if _, err := os.Lstat("/tmp/" + hostTmp); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("after %s, /tmp/%s exists on the host (%v)", after, hostTmp, err)
			}
		}

		// Running: in, with relative host paths (file, directory, directory contents).
		sb.ok("cp", "f.txt", "cp:/data/")
		assertEqual(t, cat("/data/f.txt"), "host-file\n", "cp FILE CT:DIR/")
		sb.ok("cp", "f.txt", "cp:/data/renamed.txt")
		assertEqual(t, cat("/data/renamed.txt"), "host-file\n", "cp FILE CT:NEWNAME")
		sb.writeUserFile(sb.path("work", "f2.txt"), "second\n")
		sb.ok("cp", "f2.txt", "cp:/data/renamed.txt")
		assertEqual(t, cat("/data/renamed.txt"), "second\n", "cp FILE CT:EXISTING-FILE (replaced)")
		sb.ok("cp", "d", "cp:/data/d")
		assertEqual(t, cat("/data/d/sub/x")+cat("/data/d/top"), "deep\ntop\n", "cp DIR CT:NEW")
		sb.ok("cp", "d", "cp:/data")
		assertEqual(t, cat("/data/d/sub/x"), "deep\n", "cp DIR CT:EXISTING-DIR (into it)")
		sb.ok("cp", "d/.", "cp:/data/contents")
		assertEqual(t, cat("/data/contents/top"), "top\n", "cp DIR/. CT:NEW (the contents)")
		sb.ok("cp", sb.path("work", "f.txt"), "cp:/data/abs.txt")
		assertEqual(t, cat("/data/abs.txt"), "host-file\n", "cp with an absolute host path")

		// Running: out.
		sb.ok("cp", "cp:/data/in", "in.txt")
		assertEqual(t, lcReadString(t, sb.path("work", "in.txt")), "from-ct\n", "cp CT:FILE HOST")
		lcAssertOwned(t, sb, sb.path("work", "in.txt"))
		sb.ok("cp", "cp:/data/renamed.txt", "in.txt")
		assertEqual(t, lcReadString(t, sb.path("work", "in.txt")), "second\n", "cp CT:FILE HOST-EXISTING-FILE (replaced)")
		sb.ok("cp", "cp:/data/tree", "tree-out")
		assertEqual(t, lcReadString(t, sb.path("work", "tree-out", "sub", "leaf")), "leaf\n", "cp CT:DIR HOST")
		lcAssertOwned(t, sb, sb.path("work", "tree-out", "sub", "leaf"))
		r := sb.expect(125, "cp", "cp:/no/such/file", "x")
		assertOneLineError(t, r, "/no/such/file")

		// Symlinks that point out of the container are resolved inside it.
		escapes := func(state string) {
			t.Helper()
			for _, dst := range []string{"cp:/x/file", "cp:/rel/file", "cp:/x/", "cp:/data/link", "cp:/data/link/file", "cp:/etc/evil" + outside + "/file"} {
				sb.run(runOpts{}, "cp", "f.txt", dst)
				assertOutsideUntouched(fmt.Sprintf("cp f.txt %s (%s)", dst, state))
			}
			sb.run(runOpts{}, "cp", "d", "cp:/x/dd")
			assertOutsideUntouched("cp d cp:/x/dd (" + state + ")")
			// Through /etc/evil -> /, a copy lands in the container's /tmp, not the host's.
			sb.ok("cp", "f.txt", "cp:/etc/evil/tmp/"+hostTmp)
			assertOutsideUntouched("cp f.txt cp:/etc/evil/tmp/… (" + state + ")")
			// Out: a link to a host file is copied as the link it is (as docker cp does), and
			// a path through a link to a host directory does not lead there: nothing of
			// the host's file is read into a regular file.
			for _, f := range []string{"secret-out", "secret-out2"} {
				os.Remove(sb.path("work", f))
			}
			sb.run(runOpts{}, "cp", "cp:/data/secret", "secret-out")
			if target, err := os.Readlink(sb.path("work", "secret-out")); err != nil || target != outside+"/secret" {
				t.Fatalf("cp out of a symlink (%s): want the link to %s/secret, got %q (%v)", state, outside, target, err)
			}
			sb.expect(125, "cp", "cp:/x/secret", "secret-out2")
			if _, err := os.Lstat(sb.path("work", "secret-out2")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("cp out through a link to a host directory (%s) made a file (%v)", state, err)
			}
		}
		escapes("running")
		assertEqual(t, cat("/tmp/"+hostTmp), "host-file\n", "the copy through /etc/evil, inside the container")

		// Stopped: the same, with the root mounted by cp itself and unmounted after.
		sb.ok("stop", "cp")
		lcAssertNoProcsNoMounts(t, sb, "stop")
		sb.ok("cp", "f.txt", "cp:/data/stopped.txt")
		sb.ok("cp", "d/.", "cp:/data/contents-stopped")
		sb.ok("cp", "cp:/data/in", "in-stopped.txt")
		assertEqual(t, lcReadString(t, sb.path("work", "in-stopped.txt")), "from-ct\n", "cp out of a stopped container")
		escapes("stopped")
		lcAssertNoProcsNoMounts(t, sb, "cp into and out of a stopped container")
		sb.ok("start", "cp")
		lcEventually(t, 10*time.Second, "the container runs again", func() (bool, string) {
			r := sb.run(runOpts{}, "exec", "cp", "cat", "/data/stopped.txt")
			return r.code == 0, r.String()
		})
		assertEqual(t, cat("/data/stopped.txt")+cat("/data/contents-stopped/sub/x"), "host-file\ndeep\n", "what cp put into the stopped container")
		sb.ok("rm", "-f", "cp")
		assertOutsideUntouched("the end")
		lcAssertClean(t, sb, "rm -f")
	})
}

func lcReadString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lcAssertOwned(t *testing.T, sb *sandbox, p string) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != sb.user.uid {
		t.Fatalf("%s is owned by uid %d, not the user (%d)", p, st.Uid, sb.user.uid)
	}
}

// TestLifecycleLogs: stdout and stderr kept apart, -f until the container exits,
// --tail, -t, --since and --until.
func TestLifecycleLogs(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		lcRunD(sb, "--name", "lg", lcImage, "sh", "-c",
			"for i in 1 2 3; do echo out$i; echo err$i >&2; done; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo late-out; echo late-err >&2; sleep 0.2")
		lcEventually(t, 10*time.Second, "the first lines are logged", func() (bool, string) {
			r := sb.ok("logs", "lg")
			return r.stdout == "out1\nout2\nout3\n" && r.stderr == "err1\nerr2\nerr3\n", r.String()
		})

		// -f follows until the container exits.
		f := lcStart(sb, runOpts{}, "logs", "-f", "lg")
		lcEventually(t, 10*time.Second, "logs -f prints what is there", func() (bool, string) {
			return f.stdout.String() == "out1\nout2\nout3\n" && f.stderr.String() == "err1\nerr2\nerr3\n", f.stdout.String() + f.stderr.String()
		})
		time.Sleep(100 * time.Millisecond)
		if !f.running() {
			t.Fatalf("logs -f ended while the container runs:\n%s", f.res)
		}
		sb.ok("exec", "lg", "touch", "/tmp/go")
		r := f.wait(t, 15*time.Second)
		if r.code != 0 || r.stdout != "out1\nout2\nout3\nlate-out\n" || r.stderr != "err1\nerr2\nerr3\nlate-err\n" {
			t.Fatalf("logs -f, followed to the container's end:\n%s", r)
		}
		assertEqual(t, lcInspect(sb, "lg").State.Status, "exited", "the container once logs -f ended")
		r = sb.ok("logs", "-f", "lg")
		assertEqual(t, r.stdout, "out1\nout2\nout3\nlate-out\n", "logs -f of an exited container returns")

		// -t: each line stamped; --since/--until around the pause the test made.
		r = sb.ok("logs", "-t", "lg")
		stamps := map[string]time.Time{}
		for _, stream := range []string{r.stdout, r.stderr} {
			for _, l := range lines(stream) {
				ts, text, ok := strings.Cut(l, " ")
				if !ok {
					t.Fatalf("logs -t line %q", l)
				}
				stamps[text] = lcParseTime(t, ts, "logs -t")
			}
		}
		if len(stamps) != 8 || stamps["out1"].After(stamps["out3"]) || time.Since(stamps["out1"]) > time.Minute {
			t.Fatalf("logs -t: %v\n%s", stamps, r)
		}
		early, late := stamps["out1"], stamps["late-out"]
		for _, k := range []string{"out1", "out2", "out3", "err1", "err2", "err3"} {
			if stamps[k].After(early) {
				early = stamps[k]
			}
		}
		for _, k := range []string{"late-out", "late-err"} {
			if stamps[k].Before(late) {
				late = stamps[k]
			}
		}
		if !late.After(early) {
			t.Fatalf("the late lines (%s) should come after the early ones (%s)", late, early)
		}
		mid := early.Add(late.Sub(early) / 2)
		r = sb.ok("logs", "--since", mid.Format(time.RFC3339Nano), "lg")
		assertEqual(t, r.stdout+"|"+r.stderr, "late-out\n|late-err\n", "logs --since (RFC 3339)")
		r = sb.ok("logs", "--until", mid.Format(time.RFC3339Nano), "lg")
		assertEqual(t, r.stdout+"|"+r.stderr, "out1\nout2\nout3\n|err1\nerr2\nerr3\n", "logs --until")
		r = sb.ok("logs", "--since", fmt.Sprintf("%d.%09d", mid.Unix(), mid.Nanosecond()), "lg")
		assertEqual(t, r.stdout, "late-out\n", "logs --since (Unix time)")
		r = sb.ok("logs", "--since", "10m", "lg")
		assertEqual(t, r.stdout, "out1\nout2\nout3\nlate-out\n", "logs --since 10m")
		r = sb.ok("logs", "--until", "10m", "lg")
		assertEqual(t, r.stdout+r.stderr, "", "logs --until 10m (ago)")
		r = sb.expect(125, "logs", "--since", "yesterday-ish", "lg")
		assertOneLineError(t, r, "yesterday-ish")

		// --tail counts the last lines (of one stream here, to know their order).
		id := lcRunD(sb, "--name", "tl", lcImage, "sh", "-c", "for i in 1 2 3 4 5; do echo l$i; done")
		lcWaitStatus(sb, id, "exited", 10*time.Second)
		lcWaitLog(sb, "tl", "l5", 10*time.Second)
		assertEqual(t, sb.ok("logs", "--tail", "2", "tl").stdout, "l4\nl5\n", "logs --tail 2")
		assertEqual(t, sb.ok("logs", "-n", "1", "tl").stdout, "l5\n", "logs -n 1")
		assertEqual(t, sb.ok("logs", "--tail", "0", "tl").stdout, "", "logs --tail 0")
		assertEqual(t, sb.ok("logs", "--tail", "all", "tl").stdout, "l1\nl2\nl3\nl4\nl5\n", "logs --tail all")
		r = sb.ok("logs", "--tail", "2", "-t", "tl")
		if ls := lines(r.stdout); len(ls) != 2 || !strings.HasSuffix(ls[0], " l4") || !strings.HasSuffix(ls[1], " l5") {
			t.Fatalf("logs --tail 2 -t:\n%s", r)
		}
		sb.expect(125, "logs", "--tail", "-3", "tl")

		// A created container has no output yet; a removed one has no logs.
		sb.ok("create", "--name", "quiet", lcImage, "true")
		assertEqual(t, sb.ok("logs", "quiet").stdout, "", "logs of a created container")
		sb.ok("rm", "lg", "tl", "quiet")
		r = sb.expect(125, "logs", "lg")
		assertOneLineError(t, r, "no such container")
		lcAssertClean(t, sb, "rm")
	})
}

// TestLifecycleRestartPolicy: the monitor restarts per --restart: on-failure:N (N more
// runs of a failing command, none of a succeeding one), always (after any exit, with
// the container's files kept), no; `stop` ends a container for good.
func TestLifecycleRestartPolicy(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		fail := lcRunD(sb, "--name", "fail", "--restart", "on-failure:2", lcImage, "sh", "-c", "echo run; exit 1")
		okOnce := lcRunD(sb, "--name", "ok-once", "--restart", "on-failure:2", lcImage, "sh", "-c", "echo run; exit 0")
		never := lcRunD(sb, "--name", "never", lcImage, "sh", "-c", "echo run; exit 1")
		final := func(id string, restarts int) lcContainer {
			t.Helper()
			var in lcContainer
			lcEventually(t, 20*time.Second, "container "+id[:12]+" done after "+strconv.Itoa(restarts)+" restart(s)", func() (bool, string) {
				in = lcInspect(sb, id)
				mon := lcAlive(lcRecord(sb, id).State.MonitorPid)
				return in.State.Status == "exited" && in.RestartCount == restarts && !mon, fmt.Sprintf("%+v restarts %d monitor %v", in.State, in.RestartCount, mon)
			})
			return in
		}
		in := final(fail, 2)
		assertEqual(t, in.State.ExitCode, 1, "on-failure:2: the last exit code")
		assertEqual(t, sb.ok("logs", "fail").stdout, "run\nrun\nrun\n", "on-failure:2 of a failing command: three runs")
		assertEqual(t, in.HostConfig.RestartPolicy.Name+":"+strconv.Itoa(in.HostConfig.RestartPolicy.MaximumRetryCount), "on-failure:2", "RestartPolicy")
		final(okOnce, 0)
		assertEqual(t, sb.ok("logs", "ok-once").stdout, "run\n", "on-failure of a succeeding command: one run")
		final(never, 0)
		assertEqual(t, sb.ok("logs", "never").stdout, "run\n", "no restart policy: one run")
		// Nothing of them stays: no monitor, no mount.
		lcAssertNoProcsNoMounts(t, sb, "the restarts are over")

		// always: the first run exits 0 by itself, the second sees the file the first
		// left (the same container) and runs until killed, the third until stopped.
		al := lcRunD(sb, "--name", "al", "--restart", "always", lcImage, "sh", "-c",
			"trap 'exit 0' TERM; echo started; if [ ! -f /run-before ]; then touch /run-before; exit 0; fi; sleep 1000 & wait")
		var mon lcProc
		lcEventually(t, 20*time.Second, "always: restarted after exit 0", func() (bool, string) {
			in := lcInspect(sb, al)
			m, ok := lcMonitors(sb)[al]
			mon = m
			return ok && in.State.Running && in.RestartCount == 1 && sb.ok("logs", "al").stdout == "started\nstarted\n", fmt.Sprintf("%+v restarts %d", in.State, in.RestartCount)
		})
		pid := lcInspect(sb, al).State.Pid
		sb.ok("kill", "al")
		lcEventually(t, 20*time.Second, "always: restarted after SIGKILL", func() (bool, string) {
			in := lcInspect(sb, al)
			return in.State.Running && in.State.Pid != pid && in.RestartCount == 2, fmt.Sprintf("%+v restarts %d", in.State, in.RestartCount)
		})
		// (Polled: the monitor is briefly between its two halves, exec'ing.)
		lcEventually(t, 5*time.Second, "the same monitor, and only it, across restarts", func() (bool, string) {
			ms := lcMonitors(sb)
			return len(ms) == 1 && ms[al].pid == mon.pid, fmt.Sprintf("want pid %d only:\n%s", mon.pid, lcProcList(lcProcs(sb)))
		})
		// The third run has set its trap once it said "started": the stop is heard.
		lcWaitLog(sb, "al", "started\nstarted\nstarted\n", 10*time.Second)
		sb.ok("stop", "al")
		// It stays stopped: longer than the next restart would take.
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if in := lcInspect(sb, al); in.State.Status != "exited" || in.RestartCount != 2 {
				t.Fatalf("always: restarted after stop: %+v restarts %d", in.State, in.RestartCount)
			}
			time.Sleep(50 * time.Millisecond)
		}
		assertEqual(t, sb.ok("logs", "al").stdout, "started\nstarted\nstarted\n", "always: runs")
		assertEqual(t, lcInspect(sb, al).State.ExitCode, 0, "always: the exit code of the stopped run")
		lcAssertNoProcsNoMounts(t, sb, "stop of a container with --restart always")

		// A stop that comes between two runs (the restart delay) ends it too.
		gap := lcRunD(sb, "--name", "gap", "--restart", "always", lcImage, "sh", "-c", "echo run")
		lcEventually(t, 20*time.Second, "always: a few quick restarts", func() (bool, string) {
			in := lcInspect(sb, gap)
			return in.RestartCount >= 3, fmt.Sprintf("%d", in.RestartCount)
		})
		sb.ok("stop", "gap")
		gapMon := lcRecord(sb, gap).State.MonitorPid
		lcEventually(t, 15*time.Second, "the monitor of a container stopped between runs ends", func() (bool, string) {
			return !lcAlive(gapMon), lcProcList(lcProcs(sb))
		})
		n := lcInspect(sb, gap).RestartCount
		time.Sleep(500 * time.Millisecond)
		if in := lcInspect(sb, gap); in.RestartCount != n || in.State.Status != "exited" {
			t.Fatalf("always: restarted after stop between runs: %+v restarts %d (was %d)", in.State, in.RestartCount, n)
		}

		r := sb.expect(125, "run", "-d", "--restart", "sometimes", lcImage, "true")
		assertOneLineError(t, r, "sometimes")
		r = sb.expect(125, "run", "-d", "--rm", "--restart", "always", lcImage, "true")
		assertOneLineError(t, r, "--rm")
		sb.ok("container", "prune", "-f")
		lcAssertClean(t, sb, "prune")
	})
}

// TestLifecycleFaults: a monitor killed outright leaves a container that ps shows as
// exited and rm cleans up (no process, no mount, no fuse-overlayfs); a container whose
// process is killed is recorded with 137 and cleaned up by its monitor.
func TestLifecycleFaults(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)

		// The monitor, found as a process of the user: `hutch-monitor ID`.
		id := lcRunD(sb, "--name", "mk", lcImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		init := lcWaitStatus(sb, id, "running", 10*time.Second).State.Pid
		mon := lcMonitorOf(sb, id)
		if err := syscall.Kill(mon.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		lcEventually(t, 10*time.Second, "ps -a shows the container as exited", func() (bool, string) {
			r := sb.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}")
			return strings.HasPrefix(r.stdout, "mk Exited (137) "), r.stdout
		})
		lcEventually(t, 10*time.Second, "the container's process dies with its monitor", func() (bool, string) {
			return !lcAlive(init), lcProcList(lcProcs(sb))
		})
		in := lcInspect(sb, "mk")
		if in.State.Running || in.State.Status != "exited" || in.State.ExitCode != 137 {
			t.Fatalf("inspect after the monitor was killed: %+v", in.State)
		}
		sb.expect(125, "exec", "mk", "true")
		assertEqual(t, sb.ok("rm", "mk").stdout, "mk\n", "rm of the container whose monitor died")
		lcAssertClean(t, sb, "rm of the container whose monitor was killed")

		// The container's process, killed from outside: the monitor records 137.
		id = lcRunD(sb, "--name", "ck", "-u", "1000", lcImage, "sleep", "1000")
		init = lcWaitStatus(sb, id, "running", 10*time.Second).State.Pid
		if err := syscall.Kill(init, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		in = lcWaitStatus(sb, "ck", "exited", 10*time.Second)
		assertEqual(t, in.State.ExitCode, 137, "ExitCode of a container whose process was killed")
		assertEqual(t, in.State.Error, "", "the monitor recorded the end itself")
		assertContains(t, sb.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout, "ck Exited (137) ", "ps -a")
		lcAssertNoProcsNoMounts(t, sb, "the container's process was killed")
		sb.ok("rm", "ck")
		lcAssertClean(t, sb, "rm")
	})
}
