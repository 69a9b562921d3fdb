package tests

// The crash campaign: each kind of command is started, killed with SIGKILL at a random
// moment of its run (uniform over its measured duration), and then `hutch system check`
// (with --repair when it finds something) must leave a clean store, the next command of
// the same kind must work, and nothing of the sandbox may be left running or mounted.
//
// CI runs about 100 kills; CRASH_KILLS=N runs N (spread over the kinds; CRASH_KINDS=build,rmi
// picks kinds), e.g.
//
//	CRASH_KILLS=2000 HUTCH_BIN=$PWD/bin/hutch go test -tags '…' -run TestCrashCampaign -timeout 6h ./tests/
//
// The table of trials per command is logged at the end (and written to CRASH_REPORT
// when that names a file).

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashKind is one kind of command the campaign kills.
type crashKind struct {
	name string
	// setup prepares the kind's sandbox once; prep readies one run (timed or killed).
	setup func(c *crashRun)
	prep  func(c *crashRun, i int)
	// args is the command to kill.
	args func(c *crashRun, i int) []string
	// next runs the next command of the same kind after the kill and the check, and
	// checks that it worked.
	next func(c *crashRun, i int)
	// monitor: kill the container's monitor that args starts, not the command itself.
	monitor bool
}

// crashRun is one kind's campaign: its sandbox, and what it saw.
type crashRun struct {
	t      *testing.T // the current trial's
	sb     *sandbox
	reg    *regServer
	kind   *crashKind
	driver string
	dur    time.Duration // the command's measured duration

	trials, killed, finished, repaired, clean, failed int
	problems                                          map[string]int // kinds of problems the checks found
}

// at is the sandbox as the current trial sees it.
func (c *crashRun) at() *sandbox { return lcAt(c.sb, c.t) }

// crashReady is a container command that says "ready" once its trap is set.
var crashReady = []string{"sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"}

// crashRandomTar is a root file system tarball of busybox and mib MiB of random
// (incompressible) data under /data: an image whose layer nothing else shares.
func crashRandomTar(t *testing.T, path string, mib int) {
	t.Helper()
	data := make([]byte, mib<<20)
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.IntN(256))
	}
	_, _ = rand.NewChaCha8(seed).Read(data)
	es, err := busyboxEntries()
	if err != nil {
		t.Fatal(err)
	}
	b, err := makeTar(append(es, dirEntry("data/"), fileEntry("data/blob", data, 0o644), fileEntry("data/small", []byte("x\n"), 0o644)))
	if err != nil {
		t.Fatal(err)
	}
	if err := writePublic(path, b); err != nil {
		t.Fatal(err)
	}
}

func crashKinds() []*crashKind {
	return []*crashKind{
		{name: "pull",
			setup: func(c *crashRun) {
				sb := c.at()
				crashRandomTar(c.t, sb.path("work", "rand.tar"), 8)
				sb.ok("import", sb.path("work", "rand.tar"), "pullsrc")
				sb.ok("push", "--tls-verify=false", "pullsrc", c.reg.host+"/crash/pull:1")
				sb.ok("rmi", "pullsrc")
			},
			prep: func(c *crashRun, i int) { c.at().run(runOpts{}, "rmi", c.reg.host+"/crash/pull:1") },
			args: func(c *crashRun, i int) []string {
				return []string{"pull", "-q", "--tls-verify=false", c.reg.host + "/crash/pull:1"}
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("pull", "-q", "--tls-verify=false", c.reg.host+"/crash/pull:1")
				sb.ok("run", "--rm", c.reg.host+"/crash/pull:1", "cat", "/data/small")
			}},
		{name: "push",
			setup: func(c *crashRun) {
				crashRandomTar(c.t, c.at().path("work", "rand.tar"), 8)
				c.at().ok("import", c.at().path("work", "rand.tar"), "pushsrc")
			},
			args: func(c *crashRun, i int) []string {
				return []string{"push", "--tls-verify=false", "pushsrc", fmt.Sprintf("%s/crash/push%d:1", c.reg.host, i)}
			},
			next: func(c *crashRun, i int) {
				c.at().ok("push", "--tls-verify=false", "pushsrc", fmt.Sprintf("%s/crash/push%d:1", c.reg.host, i))
			}},
		{name: "load",
			setup: func(c *crashRun) {
				sb := c.at()
				crashRandomTar(c.t, sb.path("work", "rand.tar"), 8)
				sb.ok("import", sb.path("work", "rand.tar"), "medium")
				sb.ok("save", "-o", sb.path("work", "medium.tar"), "medium")
				sb.ok("rmi", "medium")
			},
			prep: func(c *crashRun, i int) { c.at().run(runOpts{}, "rmi", "medium") },
			args: func(c *crashRun, i int) []string { return []string{"load", "-i", c.sb.path("work", "medium.tar")} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				assertContains(c.t, sb.ok("load", "-i", sb.path("work", "medium.tar")).stdout, "Loaded image: localhost/medium:latest", "load after the kill")
				sb.ok("run", "--rm", "medium", "cat", "/data/small")
			}},
		{name: "build",
			setup: func(c *crashRun) {
				bdCtx(c.t, c.at(), "ctx", map[string]string{
					"Dockerfile": "FROM " + lcImage + "\nCOPY data /data\nRUN cat /data/file > /copied && echo ran\nRUN echo more >> /copied\n",
					"data/file":  strings.Repeat("content\n", 1<<16),
				})
			},
			args: func(c *crashRun, i int) []string {
				return []string{"build", "--no-cache", "-t", "built", c.sb.path("work", "ctx")}
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("build", "--no-cache", "-t", "built", sb.path("work", "ctx"))
				assertEqual(c.t, strings.Count(sb.ok("run", "--rm", "built", "cat", "/copied").stdout, "content"), 1<<16, "the built image's /copied")
			}},
		{name: "save",
			setup: func(c *crashRun) {
				crashRandomTar(c.t, c.at().path("work", "rand.tar"), 8)
				c.at().ok("import", c.at().path("work", "rand.tar"), "medium")
				c.at().userDir(c.at().path("work", "out"))
			},
			args: func(c *crashRun, i int) []string {
				return []string{"save", "-o", c.sb.path("work", "out", "medium.tar"), "medium"}
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				out := sb.path("work", "out", "medium.tar")
				sb.ok("save", "-o", out, "medium")
				// The archive is whole, and no scratch directory of the killed save is left.
				ents, _ := os.ReadDir(sb.path("work", "out"))
				if len(ents) != 1 {
					var names []string
					for _, e := range ents {
						names = append(names, e.Name())
					}
					c.t.Fatalf("after the next save, %s holds %v; want only medium.tar", sb.path("work", "out"), names)
				}
				sb.ok("rmi", "medium")
				sb.ok("load", "-i", out)
			}},
		{name: "import",
			setup: func(c *crashRun) { crashRandomTar(c.t, c.at().path("work", "rand.tar"), 8) },
			prep:  func(c *crashRun, i int) { c.at().run(runOpts{}, "rmi", "imp") },
			args:  func(c *crashRun, i int) []string { return []string{"import", c.sb.path("work", "rand.tar"), "imp"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("import", sb.path("work", "rand.tar"), "imp")
				sb.ok("run", "--rm", "imp", "/bin/busybox", "true")
			}},
		{name: "tag",
			args: func(c *crashRun, i int) []string { return []string{"tag", lcImage, fmt.Sprintf("tag%d", i)} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("tag", lcImage, fmt.Sprintf("tag%d", i))
				sb.ok("inspect", fmt.Sprintf("tag%d", i))
			}},
		{name: "rmi",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				crashRandomTar(c.t, sb.path("work", "rand.tar"), 4)
				sb.ok("import", sb.path("work", "rand.tar"), "doomed")
			},
			args: func(c *crashRun, i int) []string { return []string{"rmi", "doomed"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				crashRemovedOrGone(c.t, sb.run(runOpts{}, "rmi", "doomed"), "image")
				if strings.Contains(sb.ok("images", "-a").stdout, "doomed") {
					c.t.Fatal("images -a still lists doomed")
				}
				c.kind.prep(c, i)
				sb.ok("rmi", "doomed")
			}},
		{name: "run-d",
			args: func(c *crashRun, i int) []string {
				return append([]string{"run", "-d", "--name", "d", lcImage}, crashReady...)
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("rm", "-f", "d")
				lcRunD(sb, append([]string{"--name", "d", lcImage}, crashReady...)...)
				lcWaitLog(sb, "d", "ready", 20*time.Second)
				crashOneNamed(c.t, sb, "d")
			}},
		{name: "run-rm",
			args: func(c *crashRun, i int) []string {
				return []string{"run", "--rm", "--name", "r", lcImage, "sh", "-c", "echo x > /f; cat /etc/hello"}
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				assertEqual(c.t, sb.ok("run", "--rm", "--name", "r", lcImage, "sh", "-c", "echo x > /f; cat /etc/hello").stdout, helloContent, "run --rm after the kill")
				if strings.Contains(sb.ok("ps", "-a").stdout, " r\n") {
					c.t.Fatal("ps -a lists the --rm container after it ended")
				}
			}},
		{name: "exec",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				if st := sb.run(runOpts{}, "inspect", "--format", "{{.State.Status}}", "e"); strings.TrimSpace(st.stdout) != "running" {
					sb.run(runOpts{}, "rm", "-f", "e")
					lcRunD(sb, append([]string{"--name", "e", lcImage}, crashReady...)...)
					lcWaitLog(sb, "e", "ready", 20*time.Second)
				}
			},
			args: func(c *crashRun, i int) []string {
				return []string{"exec", "e", "sh", "-c", "echo hi > /tmp/x; cat /etc/hello"}
			},
			next: func(c *crashRun, i int) {
				assertEqual(c.t, c.at().ok("exec", "e", "sh", "-c", "echo hi > /tmp/x; cat /etc/hello").stdout, helloContent, "exec after the kill")
			}},
		{name: "stop",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				sb.run(runOpts{}, "rm", "-f", "s")
				lcRunD(sb, append([]string{"--name", "s", lcImage}, crashReady...)...)
				lcWaitLog(sb, "s", "ready", 20*time.Second)
			},
			args: func(c *crashRun, i int) []string { return []string{"stop", "s"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				assertEqual(c.t, sb.ok("stop", "s").stdout, "s\n", "stop after the kill")
				assertEqual(c.t, lcInspect(sb, "s").State.Status, "exited", "the container after stop")
				c.kind.prep(c, i)
				sb.ok("stop", "s")
			}},
		{name: "rm-f",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				lcRunD(sb, append([]string{"--name", "victim", lcImage}, crashReady...)...)
			},
			args: func(c *crashRun, i int) []string { return []string{"rm", "-f", "victim"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("rm", "-f", "victim")
				lcRunD(sb, append([]string{"--name", "victim", lcImage}, crashReady...)...)
				crashOneNamed(c.t, sb, "victim")
				sb.ok("rm", "-f", "victim")
			}},
		{name: "volume-rm",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("volume", "create", "vol")
				sb.ok("run", "--rm", "-v", "vol:/d", lcImage, "sh", "-c",
					"dd if=/dev/urandom of=/d/blob bs=1M count=4 2>/dev/null; for i in $(seq 1 200); do mkdir -p /d/t/$i; echo $i > /d/t/$i/f; done; chown -R 1000:1000 /d/t")
			},
			args: func(c *crashRun, i int) []string { return []string{"volume", "rm", "vol"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				crashRemovedOrGone(c.t, sb.run(runOpts{}, "volume", "rm", "vol"), "volume")
				if strings.Contains(sb.ok("volume", "ls", "-q").stdout, "vol") {
					c.t.Fatal("volume ls still lists vol")
				}
				c.kind.prep(c, i)
				sb.ok("volume", "rm", "vol")
			}},
		{name: "system-prune",
			prep: func(c *crashRun, i int) {
				sb := c.at()
				for k := 0; k < 2; k++ { // the first becomes dangling
					crashRandomTar(c.t, sb.path("work", "rand.tar"), 2)
					sb.ok("import", sb.path("work", "rand.tar"), "dangle")
				}
			},
			args: func(c *crashRun, i int) []string { return []string{"system", "prune", "-f"} },
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("system", "prune", "-f")
				for _, img := range sb.images(true) {
					if img.Dangling {
						c.t.Fatalf("system prune left a dangling image: %+v", img)
					}
				}
				sb.ok("rmi", "dangle")
			}},
		{name: "monitor", monitor: true,
			args: func(c *crashRun, i int) []string {
				return []string{"run", "-d", "--name", "m", lcImage, "sh", "-c", "echo up; sleep 1"}
			},
			next: func(c *crashRun, i int) {
				sb := c.at()
				sb.ok("start", "m")
				lcWaitStatus(sb, "m", "exited", 30*time.Second)
				sb.ok("rm", "m")
			}},
	}
}

// crashRemovedOrGone accepts the next removal of what the killed one was removing: done
// now, or found already gone ("no such …") — never a failure that meets damage.
func crashRemovedOrGone(t *testing.T, r result, what string) {
	t.Helper()
	if r.code == 0 || (r.code == 1 && (strings.Contains(r.stderr, "no such "+what) || strings.Contains(r.stderr, what+" not found"))) {
		return
	}
	t.Fatalf("the next removal of the %s failed:\n%s", what, r)
}

// crashOneNamed fails unless exactly one container is named name.
func crashOneNamed(t *testing.T, sb *sandbox, name string) {
	t.Helper()
	n := 0
	for _, e := range lcPS(sb, "-a") {
		if e.Name == name {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("ps -a lists %d containers named %s, want 1:\n%s", n, name, sb.ok("ps", "-a"))
	}
}

// crashGroupGone waits until no live process is left in process group pgid.
func crashGroupGone(t *testing.T, pgid int) {
	t.Helper()
	lcEventually(t, 10*time.Second, "the killed command's processes are gone", func() (bool, string) {
		var left []string
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			if len(f) > 2 && f[0] != "Z" && f[0] != "X" && f[2] == strconv.Itoa(pgid) {
				left = append(left, e.Name())
			}
		}
		return len(left) == 0, strings.Join(left, " ")
	})
}

// TestCrashCampaign kills every kind of command at random moments and checks that
// hutch recovers from each kill.
func TestCrashCampaign(t *testing.T) {
	t.Parallel()
	total := 100
	if v := os.Getenv("CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("CRASH_KILLS=%q: a number of kills", v)
		}
		total = n
	}
	kinds := crashKinds()
	if v := os.Getenv("CRASH_KINDS"); v != "" {
		var only []*crashKind
		for _, k := range kinds {
			for _, name := range strings.Split(v, ",") {
				if k.name == strings.TrimSpace(name) {
					only = append(only, k)
				}
			}
		}
		if len(only) == 0 {
			t.Fatalf("CRASH_KINDS=%q names no kind of command", v)
		}
		kinds = only
	}
	per := (total + len(kinds) - 1) / len(kinds)
	reg := startRegistry(t, false)
	ds := drivers(t)
	began := time.Now()
	var mu sync.Mutex
	var runs []*crashRun
	t.Run("kinds", func(t *testing.T) {
		for k, kind := range kinds {
			kind := kind
			c := &crashRun{kind: kind, reg: reg, driver: ds[k%len(ds)], problems: map[string]int{}}
			mu.Lock()
			runs = append(runs, c)
			mu.Unlock()
			t.Run(kind.name, func(t *testing.T) {
				t.Parallel()
				c.campaign(t, per)
			})
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "crash campaign: %d kills asked (%d per kind), %s\n", total, per, time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "%-13s %-15s %7s %7s %9s %9s %7s %7s  %s\n", "command", "driver", "trials", "killed", "finished", "repaired", "clean", "failed", "problems found after the kills")
	sum := crashRun{}
	for _, c := range runs {
		var ps []string
		for k, n := range c.problems {
			ps = append(ps, fmt.Sprintf("%s×%d", k, n))
		}
		sort.Strings(ps)
		fmt.Fprintf(&b, "%-13s %-15s %7d %7d %9d %9d %7d %7d  %s\n", c.kind.name, c.driver, c.trials, c.killed, c.finished, c.repaired, c.clean, c.failed, strings.Join(ps, " "))
		sum.trials += c.trials
		sum.killed += c.killed
		sum.finished += c.finished
		sum.repaired += c.repaired
		sum.clean += c.clean
		sum.failed += c.failed
	}
	fmt.Fprintf(&b, "%-13s %-15s %7d %7d %9d %9d %7d %7d\n", "all", "", sum.trials, sum.killed, sum.finished, sum.repaired, sum.clean, sum.failed)
	t.Log("\n" + b.String())
	if p := os.Getenv("CRASH_REPORT"); p != "" {
		_ = os.WriteFile(p, []byte(b.String()), 0o644)
	}
	if sum.killed < total && !t.Failed() {
		t.Errorf("only %d of the %d kills asked hit a running command", sum.killed, total)
	}
}

// campaign runs one kind's trials until it has killed kills running commands (or tried
// four times as often).
func (c *crashRun) campaign(t *testing.T, kills int) {
	c.t = t
	sb := newSandbox(t, userWithRange)
	sb.driver = c.driver
	sb.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n", c.driver))
	c.sb = sb
	lcImport(t, sb)
	if c.kind.setup != nil {
		c.kind.setup(c)
	}
	// The command's duration, measured on two runs that are not killed.
	var runs []time.Duration
	for k := 0; k < 2; k++ {
		if c.kind.prep != nil {
			c.kind.prep(c, -1-k)
		}
		began := time.Now()
		bg := lcStart(sb, runOpts{}, c.kind.args(c, -1-k)...)
		if c.kind.monitor {
			if r := bg.wait(t, time.Minute); r.code != 0 {
				t.Fatalf("measuring: %s", r)
			}
			id := strings.TrimSpace(bg.res.stdout)
			lcEventually(t, time.Minute, "the container ends", func() (bool, string) { return lcRecord(sb, id).State.Status == "exited", "" })
		} else if r := bg.wait(t, 5*time.Minute); r.code != 0 {
			t.Fatalf("measuring the command's duration: %s", r)
		}
		runs = append(runs, time.Since(began))
		c.cleanup(-1 - k)
	}
	// The shorter: a later run often has less to do (blobs the registry knows, a warm
	// cache), and a kill after the end is no kill.
	c.dur = min(runs[0], runs[1])
	t.Logf("%s: %s takes %s (on %s)", c.kind.name, shellJoin(c.kind.args(c, 0)), c.dur.Round(time.Millisecond), c.driver)
	for i := 0; c.killed < kills && i < 4*kills; i++ {
		c.trials++
		ok := t.Run(fmt.Sprintf("trial%03d", i), func(t *testing.T) {
			c.t = t
			c.trial(i)
		})
		c.t = t
		if !ok {
			c.failed++
			// Whatever the failure left must not fail the trials after it.
			lcAt(sb, t).run(runOpts{}, "system", "check", "--repair")
			c.cleanup(i)
		}
	}
}

// trial is one kill, check, repair and next command.
func (c *crashRun) trial(i int) {
	t, sb := c.t, c.at()
	if c.kind.prep != nil {
		c.kind.prep(c, i)
	}
	delay := time.Duration(rand.Int64N(int64(c.dur) + 1))
	bg := lcStart(sb, runOpts{}, c.kind.args(c, i)...)
	pgid := bg.cmd.Process.Pid
	killed := false
	if c.kind.monitor {
		// The monitor of the container the command starts: killed at the chosen moment
		// of the container's life if it lives then.
		began := time.Now()
		if r := bg.wait(t, time.Minute); r.code != 0 {
			t.Fatalf("run -d: %s", r)
		}
		id := strings.TrimSpace(bg.res.stdout)
		time.Sleep(time.Until(began.Add(delay)))
		if m, ok := lcMonitors(sb)[id]; ok {
			killed = syscall.Kill(m.pid, syscall.SIGKILL) == nil
			lcEventually(t, 10*time.Second, "the killed monitor is gone", func() (bool, string) { return !lcAlive(m.pid), "" })
		}
	} else {
		select {
		case <-bg.done:
		case <-time.After(delay):
			// Half of the kills take the whole process group; the other half only hutch
			// itself (the process the user started), whose namespaced child then dies by
			// its parent-death signal.
			if i%2 == 0 {
				killed = bg.leader.kill()
			} else {
				killed = bg.cmd.Process.Kill() == nil
			}
		}
		r := bg.wait(t, time.Minute)
		killed = killed && r.code == 128+int(syscall.SIGKILL)
		if !killed && r.code != 0 {
			t.Fatalf("the command, not killed, failed:\n%s", r)
		}
		if !killed && r.elapsed < c.dur {
			// It ended before the kill: the kills to come are drawn over its real length.
			c.dur = r.elapsed
		}
		crashGroupGone(t, pgid)
	}
	if killed {
		c.killed++
	} else {
		c.finished++
	}
	// The check, and the repair when it found something.
	rep, r := sb.check()
	if r.code != 0 {
		c.repaired++
		for _, p := range rep.Problems {
			c.problems[p.Kind]++
		}
		rep2, r2 := sb.check("--repair")
		if r2.code != 0 {
			t.Fatalf("system check --repair after the kill did not repair everything:\n%s", rep2)
		}
		t.Logf("after the kill (%s in), the check found:\n%s", delay.Round(time.Millisecond), rep)
	}
	// (The full check ran right after the kill; the ones that follow read records only.)
	assertCheckClean(t, sb, "the kill (and the repair)", "--quick")
	// The next command of the same kind works.
	c.kind.next(c, i)
	c.cleanup(i)
	lcAssertNoProcsNoMounts(t, sb, "the trial")
	assertCheckClean(t, sb, "the trial", "--quick")
	c.clean++
}

// cleanup removes the trial's containers.
func (c *crashRun) cleanup(i int) {
	sb := c.at()
	if ids := lines(sb.run(runOpts{}, "ps", "-aq", "--no-trunc").stdout); len(ids) > 0 {
		sb.ok(append([]string{"rm", "-f"}, ids...)...)
	}
}
