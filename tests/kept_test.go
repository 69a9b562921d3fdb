package tests

// The kept user namespace: the first command that needs hutch's user namespace makes it
// and leaves a holder process (hutch-holder) in it; every later command joins it. These
// tests kill, fake, wipe and race the holder, as the unprivileged user, and check that
// everything keeps working (docs/development.md, "The kept user namespace").

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// userNS is the user namespace a hutch command's processes run in, as `hutch unshare`
// sees it.
func userNS(sb *sandbox) string {
	sb.t.Helper()
	return strings.TrimSpace(sb.ok("unshare", "readlink", "/proc/self/ns/user").stdout)
}

// procStatus reads one field of /proc/PID/status.
func procStatus(pid int, field string) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestKeptNamespace: the first command makes the namespace and one holder; the next
// ones join it (the same user namespace, no new holder); the holder is a single-threaded
// C process (no Go runtime), in a session of its own, shown by info and ps, and ended by
// system reset.
func TestKeptNamespace(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	if hs := sandboxHolders(sb); len(hs) != 0 {
		t.Fatalf("a new sandbox has holders: %v", hs)
	}
	ns := userNS(sb)
	holder := sb.holder(t)
	if nsOf(holder, "user") != ns {
		t.Fatalf("the command ran in %s, the holder %d is in %s", ns, holder, nsOf(holder, "user"))
	}
	for i := 0; i < 3; i++ {
		if got := userNS(sb); got != ns {
			t.Fatalf("command %d ran in %s, not in the kept namespace %s", i+2, got, ns)
		}
	}
	importRunImages(t, sb, imgRun)
	r := sb.ok("run", "--rm", imgRun, "cat", "/proc/self/uid_map")
	if got := parseIDMap(t, r); len(got) != 2 || got[1][1] != sb.user.subUID.start {
		t.Fatalf("a container in the kept namespace has the map %v:\n%s", got, r)
	}
	if got := sb.holder(t); got != holder {
		t.Fatalf("the holder changed from %d to %d without being killed", holder, got)
	}

	// What the user mounts in `hutch unshare` goes with it (a mount namespace of its
	// own below the kept one), as before the namespace was kept.
	m := sb.path("work", "m")
	sb.writeUserFile(filepath.Join(m, "under"), "")
	r = sb.ok("unshare", "sh", "-c", "mount -t tmpfs none "+m+" && touch "+m+"/over && ls "+m)
	assertEqual(t, r.stdout, "over\n", "ls in the unshare that mounted")
	assertEqual(t, sb.ok("unshare", "ls", m).stdout, "under\n", "ls in the next unshare")

	assertEqual(t, procStatus(holder, "Threads"), "1", "the holder's threads (a C loop, no Go runtime)")
	sid, _ := unix.Getsid(holder)
	assertEqual(t, sid, holder, "the holder's session (its own)")
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", holder))
	assertEqual(t, string(cmdline), "hutch-holder\x00"+sb.runtimeDir()+"\x00", "the holder's command line")
	fi, err := os.Stat(filepath.Join(sb.runtimeDir(), "holder"))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := fileOwner(t, filepath.Join(sb.runtimeDir(), "holder"))
	if fi.Mode().Perm() != 0o600 || uid != sb.user.uid {
		t.Fatalf("the holder's file: mode %v, owner %d; want 0600, the user's", fi.Mode().Perm(), uid)
	}
	// It holds no file of the user's: only its inotify descriptor and /dev/null.
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", holder))
	for _, fd := range fds {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", holder, fd.Name()))
		if l != "/dev/null" && l != "anon_inode:inotify" {
			t.Errorf("the holder holds fd %s: %s", fd.Name(), l)
		}
	}

	in := sb.info()
	assertEqual(t, in.KeptNamespace.Kept, true, "info: keptNamespace.kept")
	assertEqual(t, in.KeptNamespace.HolderPID, holder, "info: keptNamespace.holderPid")
	assertEqual(t, in.KeptNamespace.File, filepath.Join(sb.runtimeDir(), "holder"), "info: keptNamespace.file")
	if d := time.Since(in.KeptNamespace.Since); d < 0 || d > 10*time.Minute {
		t.Fatalf("info: the holder runs since %v, %v ago", in.KeptNamespace.Since, d)
	}
	assertContains(t, sb.ok("info").stdout, fmt.Sprintf("kept by: hutch-holder pid %d, since ", holder), "info text")

	sb.ok("system", "reset", "-f")
	waitGone(t, holder, 10*time.Second, "system reset")
	if hs := sandboxHolders(sb); len(hs) != 0 {
		t.Fatalf("after system reset, holders are left: %v", hs)
	}
	// And the next command makes a new one.
	if got := userNS(sb); got == ns {
		t.Fatalf("after system reset, the command ran in the old namespace %s", ns)
	}
	sb.holder(t)
}

// TestKeptHolderKilled: the holder killed between commands, while a command runs in
// the namespace, and while detached containers run in it. Commands keep working;
// running containers keep running and stay manageable (the next holder adopts their
// namespace); a foreground run finishes normally.
func TestKeptHolderKilled(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)

		// Between commands, with no container: the next command makes a new one.
		first := sb.holder(t)
		ns := userNS(sb)
		_ = syscall.Kill(first, syscall.SIGKILL)
		waitGone(t, first, 10*time.Second, "the killed holder")
		r := sb.ok("run", "--rm", imgRun, "echo", "after-kill")
		assertEqual(t, r.stdout, "after-kill\n", "run after the holder was killed")
		second := sb.holder(t)
		if second == first || userNS(sb) == ns {
			t.Fatalf("after the holder was killed the same holder %d or namespace %s is in use", second, ns)
		}

		// During a command: a foreground run that is running its container.
		pr, pw := io.Pipe()
		b := sb.startRun(runOpts{stdin: pr}, "run", "--rm", "-i", "--name", "fg", imgRun, "sh", "-c", "echo ready; read x; echo done-$x")
		b.waitOutput("ready\n", time.Minute)
		_ = syscall.Kill(second, syscall.SIGKILL)
		waitGone(t, second, 10*time.Second, "the holder killed during a run")
		if _, err := pw.Write([]byte("fine\n")); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		r = b.wait()
		if r.code != 0 || !strings.Contains(r.stdout, "done-fine") {
			t.Fatalf("a foreground run whose holder was killed:\n%s", r)
		}
		if out := sb.ok("ps", "-a", "-q").stdout; strings.TrimSpace(out) != "" {
			t.Fatalf("the --rm container is left: %s", out)
		}

		// With detached containers: they keep running, and the next holder adopts
		// their namespace, so that every command sees and manages them.
		sb.ok("run", "-d", "--name", "d1", imgRun, "sleep", "1000")
		sb.ok("run", "-d", "--name", "d2", imgRun, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		third := sb.holder(t)
		kept := nsOf(third, "user")
		_ = syscall.Kill(third, syscall.SIGKILL)
		waitGone(t, third, 10*time.Second, "the holder killed with containers running")
		ps := lcPS(sb)
		if len(ps) != 2 {
			t.Fatalf("after the holder was killed, ps lists %d running containers, want 2: %+v", len(ps), ps)
		}
		for _, e := range ps {
			if nsOf(e.State.MonitorPid, "user") != kept {
				t.Fatalf("container %s's monitor left the namespace %s", e.Name, kept)
			}
		}
		assertEqual(t, userNS(sb), kept, "the namespace after the holder was killed with containers running")
		fourth := sb.holder(t)
		assertEqual(t, nsOf(fourth, "user"), kept, "the new holder's namespace")
		assertEqual(t, sb.ok("exec", "d1", "echo", "exec-ok").stdout, "exec-ok\n", "exec into a container of the old holder")
		sb.writeUserFile(sb.path("work", "in.txt"), "copied\n")
		sb.ok("cp", "in.txt", "d1:/tmp/in.txt")
		assertEqual(t, sb.ok("exec", "d1", "cat", "/tmp/in.txt").stdout, "copied\n", "cp into a container of the old holder")
		sb.ok("stop", "d2")
		sb.ok("rm", "-f", "d1")
		sb.ok("rm", "d2")
		lcAssertNoProcsNoMounts(t, sb, "the containers of a killed holder removed")
		sb.holder(t)
	})
}

// TestKeptHolderKilledAnyMoment: a holder killed as soon as its file appears — while
// the command that made it is still setting it up, or right after, before the command
// joins it — costs the command nothing but time: it makes another, or runs in a
// namespace of its own, and succeeds.
func TestKeptHolderKilledAnyMoment(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	sb.ok("system", "migrate") // no holder now; the runtime directory exists
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(in, sb.runtimeDir(), unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var killed sync.Map
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n, _ := unix.Poll(fds, 100); n != 1 {
				continue
			}
			if _, err := unix.Read(in, buf); err != nil {
				continue
			}
			if pid, _ := holderLine(filepath.Join(sb.runtimeDir(), "holder")); pid > 0 {
				if _, done := killed.LoadOrStore(pid, true); !done {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}()
	for i := 0; i < 4; i++ {
		r := sb.ok("run", "--rm", imgRun, "echo", "run-"+strconv.Itoa(i))
		assertEqual(t, r.stdout, "run-"+strconv.Itoa(i)+"\n", "a run whose holders are killed")
		assertEqual(t, strings.TrimSpace(sb.ok("unshare", "id", "-u").stdout), "0", "id -u in the namespace")
	}
	close(stop)
	wg.Wait()
	unix.Close(in)
	n := 0
	killed.Range(func(_, _ any) bool { n++; return true })
	if n == 0 {
		t.Fatalf("no holder was killed: the test did not test anything")
	}
	// Unhindered, the next commands keep one holder again.
	ns := userNS(sb)
	assertEqual(t, userNS(sb), ns, "the namespace of two commands in a row")
	sb.holder(t)
	lcAssertNoProcsNoMounts(t, sb, "runs whose holders were killed")
}

// TestKeptHolderPidReused: a holder file that names another live process of the user
// (its pid reused, its start time faked right) is not joined, and that process is left
// alone: the command makes a new holder.
func TestKeptHolderPidReused(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	ns := userNS(sb)
	holder := sb.holder(t)
	file := filepath.Join(sb.runtimeDir(), "holder")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(holder, syscall.SIGKILL)
	waitGone(t, holder, 10*time.Second, "the killed holder")

	// Another process of the user's, named by a file as the holder would be: its own
	// pid and start time, and the old holder's namespaces and stamps.
	other := sb.command(runOpts{bin: "/bin/sleep"}, "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	pid := other.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	start := f[19] // field 22
	lines := strings.SplitN(string(orig), "\n", 3)
	hl := strings.Fields(lines[1])
	hl[1], hl[3] = strconv.Itoa(pid), start
	fake := lines[0] + "\n" + strings.Join(hl, " ") + "\n" + lines[2]
	sb.writeUserFile(file, fake)
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}

	r := sb.ok("unshare", "sh", "-c", "id -u; readlink /proc/self/ns/user")
	out := lines2(r.stdout)
	if len(out) != 2 || out[0] != "0" || out[1] == nsOf(pid, "user") || out[1] == ns {
		t.Fatalf("with the holder's file naming process %d (in %s), the command ran as %v:\n%s", pid, nsOf(pid, "user"), out, r)
	}
	if !procAlive(pid) {
		t.Fatalf("the process the fake holder file named was ended")
	}
	if p, _ := holderLine(file); p == pid {
		t.Fatalf("the holder's file still names process %d", pid)
	}
	sb.holder(t)
}

func lines2(s string) []string { return strings.Fields(strings.TrimSpace(s)) }

// TestKeptRuntimeDirWiped: the runtime directory deleted under the holder (as a logout
// or a cleaner would) ends the holder; running containers keep running, and the next
// command adopts their namespace and manages them; without containers it makes a new
// one.
func TestKeptRuntimeDirWiped(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		sb.ok("run", "-d", "--name", "w", imgRun, "sleep", "1000")
		holder := sb.holder(t)
		kept := nsOf(holder, "user")
		if err := os.RemoveAll(sb.runtimeDir()); err != nil {
			t.Fatal(err)
		}
		waitGone(t, holder, 10*time.Second, "the holder whose runtime directory was wiped")
		ps := lcPS(sb)
		if len(ps) != 1 || ps[0].Name != "w" {
			t.Fatalf("after the runtime directory was wiped, ps lists %+v", ps)
		}
		assertEqual(t, sb.ok("exec", "w", "echo", "still").stdout, "still\n", "exec after the wipe")
		assertEqual(t, userNS(sb), kept, "the namespace after the wipe, with a container running")
		sb.holder(t)
		sb.ok("rm", "-f", "w")
		lcAssertNoProcsNoMounts(t, sb, "rm -f after the wipe")

		// Without containers.
		holder = sb.holder(t)
		if err := os.RemoveAll(sb.runtimeDir()); err != nil {
			t.Fatal(err)
		}
		waitGone(t, holder, 10*time.Second, "the holder whose runtime directory was wiped")
		r := sb.ok("run", "--rm", imgRun, "echo", "fresh")
		assertEqual(t, r.stdout, "fresh\n", "run after the wipe")
		if got := userNS(sb); got == kept {
			t.Fatalf("with no container left, the wiped namespace %s is in use again", kept)
		}
		sb.holder(t)
	})
}

// TestKeptRace: commands started together on a sandbox without a holder agree on one
// namespace, and leave exactly one holder.
func TestKeptRace(t *testing.T) {
	t.Parallel()
	for _, who := range []string{userWithRange, userNoRange} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, who)
			for round := 0; round < 3; round++ {
				const n = 6
				var bs []*bgRun
				for i := 0; i < n; i++ {
					args := []string{"unshare", "readlink", "/proc/self/ns/user"}
					if i%2 == 1 {
						args = []string{"info", "--format", "{{.Kept.HolderPID}} {{.User.Name}}"}
					}
					bs = append(bs, sb.startRun(runOpts{}, args...))
				}
				seen := map[string]bool{}
				for i, b := range bs {
					r := b.wait()
					if r.code != 0 {
						t.Fatalf("round %d: a racing command failed:\n%s", round, r)
					}
					if i%2 == 0 {
						seen[strings.TrimSpace(r.stdout)] = true
					}
				}
				if len(seen) != 1 {
					t.Fatalf("round %d: racing commands ran in %d namespaces: %v", round, len(seen), seen)
				}
				holder := sb.holder(t)
				for ns := range seen {
					assertEqual(t, nsOf(holder, "user"), ns, "the racing commands' namespace is the holder's")
				}
				// The next round races again, for a holder that is gone.
				_ = syscall.Kill(holder, syscall.SIGKILL)
				waitGone(t, holder, 10*time.Second, "the killed holder")
			}
		})
	}
}

// TestKeptSingleID: a user without subordinate ranges gets a kept single-id namespace,
// joined by the next commands and made again when its holder is killed.
func TestKeptSingleID(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userNoRange)
	r := sb.ok("unshare", "cat", "/proc/self/uid_map")
	if got := parseIDMap(t, r); fmt.Sprint(got) != fmt.Sprint([][3]int{{0, sb.user.uid, 1}}) {
		t.Fatalf("uid map %v, want the single id", got)
	}
	ns := userNS(sb)
	assertEqual(t, userNS(sb), ns, "the single-id namespace of two commands")
	holder := sb.holder(t)
	importRunImages(t, sb, imgRun)
	assertEqual(t, sb.ok("run", "--rm", imgRun, "echo", "single").stdout, "single\n", "run in the kept single-id namespace")
	_ = syscall.Kill(holder, syscall.SIGKILL)
	waitGone(t, holder, 10*time.Second, "the killed holder")
	assertEqual(t, sb.ok("run", "--rm", imgRun, "echo", "again").stdout, "again\n", "run after the holder was killed")
	if sb.holder(t) == holder || userNS(sb) == ns {
		t.Fatalf("the single-id holder was not made again")
	}
	in := sb.info()
	assertEqual(t, in.IDMappings.SingleID, true, "info: singleID")
	assertEqual(t, in.KeptNamespace.Kept, true, "info: kept")
}

// rangesUser is a user of this test's own whose ranges it changes (other tests' users
// are left alone: their running commands must not see their ranges move).
const rangesUser = "hutch-ranges"

// setRanges gives the user exactly one subordinate uid and gid range from start, by
// editing /etc/subuid and /etc/subgid as an admin would (a copy renamed over each, the
// other users' lines untouched). usermod refuses while the user has processes, and
// the holder is one.
func setRanges(t *testing.T, u *testUser, start int) {
	t.Helper()
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if f := strings.Split(l, ":"); len(f) == 3 && (f[0] == u.name || f[0] == strconv.Itoa(u.uid)) {
				continue
			}
			out = append(out, l)
		}
		out = append(out, fmt.Sprintf("%s:%d:65536", u.name, start))
		tmp := file + ".hutch-test"
		if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	u.subUID, u.subGID = &subRange{start, 65536}, &subRange{start, 65536}
}

// TestKeptRangesChanged: when an admin moves the user's subordinate ranges, the next
// command makes a new namespace with them; while containers run in the old one it is
// kept (with a warning that names `hutch system migrate`), and migrate stops them and
// ends it, after which the new ranges apply.
func TestKeptRangesChanged(t *testing.T) {
	t.Parallel()
	// The user and its ranges are the machine's: a second copy of the suite running
	// beside this one must not move them in the middle of this test.
	machineLock(t, "ranges")
	u, err := ensureUser(rangesUser, true)
	if err != nil {
		t.Fatal(err)
	}
	orig := *u.subUID
	t.Cleanup(func() { setRanges(t, u, orig.start) })
	base, err := freeSubIDStart()
	if err != nil {
		t.Fatal(err)
	}
	rangeA, rangeB, rangeC := base+65536, base+2*65536, base+3*65536
	setRanges(t, u, rangeA)
	sb := newSandboxOf(t, u)
	uidMapStart := func() int {
		t.Helper()
		got := parseIDMap(t, sb.ok("unshare", "cat", "/proc/self/uid_map"))
		if len(got) != 2 {
			t.Fatalf("uid map %v: want the user's id and one range", got)
		}
		return got[1][1]
	}
	assertEqual(t, uidMapStart(), rangeA, "the range in the first namespace")
	first := sb.holder(t)

	// Moved, nothing running: a new namespace with the new range, the old holder ends.
	setRanges(t, u, rangeB)
	assertEqual(t, uidMapStart(), rangeB, "the range after the admin moved it")
	waitGone(t, first, 10*time.Second, "the holder of the old ranges")
	second := sb.holder(t)

	// Moved while a container runs: the namespace is kept, with a warning.
	importRunImages(t, sb, imgRun)
	sb.ok("run", "-d", "--name", "r", imgRun, "sleep", "1000")
	setRanges(t, u, rangeC)
	r := sb.ok("unshare", "cat", "/proc/self/uid_map")
	if got := parseIDMap(t, r); got[1][1] != rangeB {
		t.Fatalf("with a container running, the namespace's range moved to %v", got)
	}
	r = sb.ok("images")
	assertContains(t, r.stderr, "hutch system migrate", "the warning about the changed ranges")
	assertEqual(t, sb.holder(t), second, "the holder kept while a container runs")
	assertEqual(t, sb.ok("exec", "r", "echo", "kept").stdout, "kept\n", "exec into the container of the old ranges")

	// Its holder killed: the next one adopts the container's namespace, old maps and
	// all, and still says so.
	_ = syscall.Kill(second, syscall.SIGKILL)
	waitGone(t, second, 10*time.Second, "the killed holder")
	assertEqual(t, uidMapStart(), rangeB, "the range after the holder of the old ranges was killed")
	third := sb.holder(t)
	in := sb.info()
	if len(in.IDMappings.UIDMap) != 2 || in.IDMappings.UIDMap[1].HostID != rangeB {
		t.Fatalf("info shows the maps %+v, want the adopted namespace's (range %d)", in.IDMappings.UIDMap, rangeB)
	}

	r = sb.ok("system", "migrate", "-t", "0")
	assertContains(t, r.stdout, "stopped r", "migrate's report")
	assertContains(t, r.stdout, fmt.Sprintf("ended the kept user namespace (hutch-holder pid %d)", third), "migrate's report")
	waitGone(t, third, 10*time.Second, "the holder ended by migrate")
	assertEqual(t, lcPS(sb, "-a")[0].State.Status, "exited", "the container after migrate")
	assertEqual(t, uidMapStart(), rangeC, "the range after migrate")
	sb.ok("rm", "r")
	lcAssertNoProcsNoMounts(t, sb, "migrate and rm")
	// The image's files still belong to range B's ids, which range C does not map: the
	// sandbox's final reset could not delete them. Back to B (nothing runs: the
	// namespace is made again at once, without migrate).
	setRanges(t, u, rangeB)
	assertEqual(t, uidMapStart(), rangeB, "the range moved back")
}

// TestKeptOtherMountNamespace: a command from another mount namespace than the one the
// kept namespace was made from (here root's `unshare -m`, with a tmpfs only it has) joins
// the user namespace only and works on its own view of the files: a bind mount of a
// path only it sees holds what it sees there. Commands from the usual namespace still
// join the kept one.
func TestKeptOtherMountNamespace(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	ns := userNS(sb)
	priv := sb.path("work", "priv")
	sb.writeUserFile(filepath.Join(priv, "f"), "host-view\n")
	setup := "mount -t tmpfs tmpfs " + priv + " && echo private-view > " + priv + "/f && chmod 0644 " + priv + "/f"
	r := runInPrivateDev(t, sb, setup, "run", "--rm", "-v", priv+":/p", imgRun, "cat", "/p/f")
	if r.code != 0 || r.stdout != "private-view\n" {
		t.Fatalf("a run from a private mount namespace should see its own files:\n%s", r)
	}
	r = runInPrivateDev(t, sb, setup, "info", "--format", "{{.Kept.HolderPID}} {{.Kept.OwnMounts}}")
	if r.code != 0 || r.stdout != fmt.Sprintf("%d true\n", sb.holder(t)) {
		t.Fatalf("info from a private mount namespace: want the holder and ownMounts:\n%s", r)
	}
	r = runInPrivateDev(t, sb, setup, "unshare", "readlink", "/proc/self/ns/user")
	assertEqual(t, strings.TrimSpace(r.stdout), ns, "the user namespace of a command from a private mount namespace")
	assertEqual(t, sb.ok("run", "--rm", "-v", priv+":/p", imgRun, "cat", "/p/f").stdout, "host-view\n", "a run from the usual namespace")
	assertEqual(t, sb.ok("info", "--format", "{{.Kept.OwnMounts}}").stdout, "false\n", "info from the usual namespace")
}

// treeState lists every path under dir with its size and modification time, to show that
// nothing was written there.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestKeptVerdict: a command that joins the kept namespace before its Go runtime starts
// cannot check the paths there (inside, the user's directories and root's both show as
// the overflow uid); it joins only while the verdict that a plain-user hutch wrote after
// checking them still holds (config/verdict_linux.go). Here root changes what was checked
// after the verdict was written: the store's parent made writable by everyone, given to
// another user, and a config file, absent when the verdict was written, that names a
// store in another user's directory. Each time, the commands that would have joined
// (images, run, info) refuse the store as the check does (issue 12, hole 6: a store in
// another user's directory used silently), and write nothing there; undone, the verdict
// holds again.
func TestKeptVerdict(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	other := users[userNoRange]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	stores := sb.path("work", "stores")
	sb.userDir(stores)
	must(os.Chmod(stores, 0o755))
	store := filepath.Join(stores, "s")
	sb.writeConfig("[storage]\ngraphroot = \"" + store + "\"\n")
	importRunImages(t, sb, imgRun)
	// The first command's verdict stamped the store as absent, and it made it: the next
	// command checks again and writes the verdict that holds from then on.
	sb.ok("images")
	// joined asserts that info joins in its constructor: the verdict holds. A miss
	// rewrites what it found stale, so the next command joins, unless something else
	// changed meanwhile: parallel tests edit /etc/subuid (the holder's stamps) and add
	// users. So it tries a few times, and says why each missed.
	joined := func(when string) {
		t.Helper()
		var misses []string
		for i := 0; i < 5; i++ {
			r := sb.ok("--log-level", "debug", "info", "--format", "json")
			var in infoJSON
			mustJSON(t, r, &in)
			if in.KeptNamespace.JoinedBy == "constructor" {
				return
			}
			miss := "?"
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.Contains(l, "not joined") {
					miss = l
				}
			}
			misses = append(misses, in.KeptNamespace.JoinedBy+": "+miss)
		}
		t.Fatalf("%s: info never joined the kept namespace in its constructor (the verdict does not hold):\n%s", when, strings.Join(misses, "\n"))
	}
	// The commands below would take the fast path: the attacks are on it.
	joined("with the verdict written")

	for _, a := range []struct {
		name         string
		attack, undo func() error
		needles      []string
	}{
		{"writable by everyone", func() error { return os.Chmod(stores, 0o777) }, func() error { return os.Chmod(stores, 0o755) },
			[]string{"refusing the store (graph root) " + store, stores + " is writable by everyone (mode 0777) without the sticky bit"}},
		{"another user's", func() error { return os.Chown(stores, other.uid, other.gid) },
			func() error { return os.Chown(stores, sb.user.uid, sb.user.gid) },
			[]string{"refusing the store (graph root) " + store, stores + " belongs to " + userNoRange}},
	} {
		before := treeState(t, stores)
		must(a.attack())
		for _, args := range [][]string{{"images"}, {"run", "--rm", imgRun, "true"}, {"info"}} {
			r := sb.expect(125, args...)
			assertOneLineError(t, r, a.needles...)
		}
		if after := treeState(t, stores); after != before {
			t.Fatalf("%s: something was written in the store:\nbefore:\n%s\nafter:\n%s", a.name, before, after)
		}
		must(a.undo())
		joined("undone " + a.name)
		sb.ok("run", "--rm", imgRun, "true")
	}

	// A config file that was absent when the verdict was written appears, naming a store
	// in another user's directory.
	theirs := sb.path("theirs")
	must(os.Mkdir(theirs, 0o777))
	must(os.Chmod(theirs, 0o777))
	must(os.Chown(theirs, other.uid, other.gid))
	must(os.Remove(sb.configFile()))
	sb.ok("images") // checks again, and makes the default store
	sb.ok("images") // checks the store it made
	joined("without a config file")
	sb.writeConfig("[storage]\ngraphroot = \"" + filepath.Join(theirs, "store") + "\"\n")
	for _, args := range [][]string{{"images"}, {"run", "--rm", imgRun, "true"}} {
		r := sb.expect(125, args...)
		assertOneLineError(t, r, "refusing the store (graph root) "+filepath.Join(theirs, "store"), theirs+" belongs to "+userNoRange)
	}
	if entries, _ := os.ReadDir(theirs); len(entries) != 0 {
		t.Fatalf("hutch wrote into the other user's directory: %v", entries)
	}
	must(os.Remove(sb.configFile()))
	joined("the config file removed again")
}
