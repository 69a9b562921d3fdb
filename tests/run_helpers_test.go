package tests

// Helpers of the `hutch run` and `hutch volume` tests: their fixture image (busybox with
// every applet, users and groups, files to copy into volumes), background and terminal
// runs of hutch, and the check that a run left nothing behind.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The images every run test imports into its sandbox, from runRootfs.
const (
	imgRun = "rt"  // plain: CMD echo default-cmd
	imgCfg = "cfg" // ENTRYPOINT, CMD, ENV, WORKDIR, USER set with --change
	imgVol = "vol" // VOLUME /srv/seed
)

// What the run fixture's root file system holds.
const (
	seedContent  = "seeded-from-image\n"
	deepContent  = "deep-in-the-image\n"
	aliceUID     = 1000
	extraGID     = 2000
	moreGID      = 2001
	passwdFile   = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nbob:x:1001:1001:Bob:/home/bob:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	groupFile    = "root:x:0:\ntty:x:5:\nalice:x:1000:\nbob:x:1001:\nextra:x:2000:alice\nmore:x:2001:bob,alice\nnogroup:x:65534:\n"
	dockerCapEff = "00000000a80425fb" // Docker's default capability set
)

var (
	runRootfsOnce sync.Once
	runRootfsPath string
	runRootfsErr  error
)

// runRootfs is a root file system tarball for the run tests: /bin/busybox with every
// applet it has (sh, ps, grep, stty, hostname, touch, kill, ip …), /etc/passwd and
// /etc/group with alice (1000) in the supplementary groups extra (2000) and more (2001),
// /home/user/owned owned by 1000:1000, /srv/seed to fill volumes from, a non-executable
// /bin/notexec, a root-only /bin/rootonly and a script in /usr/local/bin.
func runRootfs(t *testing.T) string {
	t.Helper()
	runRootfsOnce.Do(func() {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			runRootfsErr = err
			return
		}
		out, err := exec.Command("/bin/busybox", "--list").Output()
		if err != nil {
			runRootfsErr = fmt.Errorf("busybox --list: %w", err)
			return
		}
		owned := func(e tarEntry, uid, gid int) tarEntry { e.uid, e.gid = uid, gid; return e }
		es := []tarEntry{dirEntry("bin/"), fileEntry("bin/busybox", bb, 0o755)}
		for _, a := range strings.Fields(string(out)) {
			if a != "busybox" && !strings.Contains(a, "/") {
				es = append(es, symlinkEntry("bin/"+a, "busybox"))
			}
		}
		tmp := dirEntry("tmp/")
		tmp.mode = 0o1777
		root := dirEntry("root/")
		root.mode = 0o700
		es = append(es,
			fileEntry("bin/notexec", []byte("#!/bin/sh\necho notexec ran\n"), 0o644),
			fileEntry("bin/rootonly", []byte("#!/bin/sh\necho rootonly ran\n"), 0o700),
			dirEntry("etc/"),
			fileEntry("etc/hello", []byte(helloContent), 0o644),
			fileEntry("etc/passwd", []byte(passwdFile), 0o644),
			fileEntry("etc/group", []byte(groupFile), 0o644),
			dirEntry("home/"),
			owned(dirEntry("home/user/"), ownedUID, ownedUID),
			owned(fileEntry("home/user/owned", []byte("owned by 1000\n"), 0o644), ownedUID, ownedUID),
			owned(dirEntry("home/alice/"), aliceUID, aliceUID),
			root, tmp,
			dirEntry("srv/"),
			dirEntry("srv/seed/"),
			owned(fileEntry("srv/seed/file", []byte(seedContent), 0o640), aliceUID, extraGID),
			dirEntry("srv/seed/sub/"),
			fileEntry("srv/seed/sub/deep", []byte(deepContent), 0o644),
			dirEntry("usr/"), dirEntry("usr/local/"), dirEntry("usr/local/bin/"),
			fileEntry("usr/local/bin/greet", []byte("#!/bin/sh\necho \"greet: $*\"\n"), 0o755),
		)
		layer, err := makeTar(es)
		if err != nil {
			runRootfsErr = err
			return
		}
		p := filepath.Join(fix.dir, "run-rootfs.tar")
		if err := writePublic(p, layer); err != nil {
			runRootfsErr = err
			return
		}
		runRootfsPath = p
	})
	if runRootfsErr != nil {
		t.Fatalf("writing the run fixture: %v", runRootfsErr)
	}
	return runRootfsPath
}

// importRunImages imports the run fixture into the sandbox as the named images
// (imgRun, imgCfg, imgVol).
func importRunImages(t *testing.T, sb *sandbox, names ...string) {
	t.Helper()
	rootfs := runRootfs(t)
	for _, n := range names {
		var changes []string
		switch n {
		case imgRun:
			changes = []string{`CMD ["echo", "default-cmd"]`}
		case imgCfg:
			changes = []string{
				`ENTRYPOINT ["/bin/echo", "ep"]`,
				`CMD ["default-arg"]`,
				"ENV FOO=from-image BAR=image-bar PATH=/usr/local/bin:/bin",
				"WORKDIR /work/dir",
				"USER alice",
			}
		case imgVol:
			changes = []string{`CMD ["sh"]`, "VOLUME /srv/seed"}
		default:
			t.Fatalf("importRunImages: unknown image %q", n)
		}
		args := []string{"import"}
		for _, c := range changes {
			args = append(args, "--change", c)
		}
		sb.ok(append(args, rootfs, n)...)
	}
}

// ---------------------------------------------------------------------------------
// hutch in the background

// syncBuffer collects a stream that a test reads while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bgRun is hutch running in the background: the test waits for output, signals it,
// then waits for its end.
type bgRun struct {
	t              *testing.T
	args           []string
	cmd            *exec.Cmd
	leader         *groupLeader
	stdout, stderr *syncBuffer
	done           chan struct{}
	res            result
}

// start starts hutch as the sandbox's user without waiting for it.
func (sb *sandbox) startRun(o runOpts, args ...string) *bgRun {
	sb.t.Helper()
	b := &bgRun{t: sb.t, args: args, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = sb.command(o, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	b.launch()
	return b
}

func (b *bgRun) launch() {
	b.t.Helper()
	began := time.Now()
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("starting hutch %s: %v", shellJoin(b.args), err)
	}
	b.leader = leaderOf(b.cmd)
	go func() {
		err := b.leader.wait(b.cmd)
		b.res = result{args: b.args, elapsed: time.Since(began)}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.res.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.res.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			b.res.code = -1
			b.res.stderr = err.Error() + "\n"
		}
		close(b.done)
	}()
	b.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.leader.kill()
			<-b.done
		}
	})
}

// waitOutput waits until stdout contains s, failing the test after timeout or if hutch
// ends first.
func (b *bgRun) waitOutput(s string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(b.stdout.String(), s) {
		select {
		case <-b.done:
			if strings.Contains(b.stdout.String(), s) {
				return
			}
			b.t.Fatalf("hutch ended before printing %q:\n%s", s, b.wait())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %q on stdout after %s; so far:\n%s\n--- stderr ---\n%s", s, timeout, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the hutch process the test started (not its group).
func (b *bgRun) signal(sig syscall.Signal) {
	b.t.Helper()
	if err := b.cmd.Process.Signal(sig); err != nil {
		b.t.Fatalf("signalling hutch: %v", err)
	}
}

// wait waits for hutch to end (at most 30 seconds) and returns what happened.
func (b *bgRun) wait() result {
	b.t.Helper()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.leader.kill()
		<-b.done
		b.t.Fatalf("hutch %s did not end within 30s; killed it. stdout:\n%s", shellJoin(b.args), b.stdout.String())
	}
	b.res.stdout, b.res.stderr = b.stdout.String(), b.stderr.String()+b.res.stderr
	return b.res
}

// ---------------------------------------------------------------------------------
// Terminals

// openPTY opens a pseudo-terminal pair as root with the given size.
func openTestPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	setWinsize(t, master, rows, cols)
	return master, slave
}

func setWinsize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
}

// ptyRun is hutch started on a terminal: the slave is its stdin, stdout and stderr and
// its controlling terminal (hutch leads a new session), the test reads the master.
type ptyRun struct {
	*bgRun
	master *os.File
	read   chan struct{} // closed when the master reads EOF/EIO
}

func (sb *sandbox) startOnPTY(rows, cols uint16, args ...string) *ptyRun {
	sb.t.Helper()
	master, slave := openTestPTY(sb.t, rows, cols)
	b := &bgRun{t: sb.t, args: args, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = sb.command(runOpts{}, args...)
	b.cmd.Stdin, b.cmd.Stdout, b.cmd.Stderr = slave, slave, slave
	b.cmd.SysProcAttr.Setpgid = false
	b.cmd.SysProcAttr.Setsid = true
	b.cmd.SysProcAttr.Setctty = true
	b.cmd.SysProcAttr.Ctty = 0
	p := &ptyRun{bgRun: b, master: master, read: make(chan struct{})}
	b.launch()
	slave.Close() // hutch holds it now: the master reads EIO when hutch is gone
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				// Everything the terminal shows, without the \r of its \r\n.
				_, _ = p.stdout.Write(bytes.ReplaceAll(buf[:n], []byte("\r"), nil))
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// finish waits for hutch and for the rest of its output on the terminal.
func (p *ptyRun) finish() result {
	p.t.Helper()
	r := p.wait()
	select {
	case <-p.read:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("the terminal never closed after hutch ended:\n%s", r)
	}
	r.stdout = p.stdout.String()
	return r
}

// ---------------------------------------------------------------------------------
// Nothing left behind

// sbProc is one process on the host.
type sbProc struct {
	pid  int
	uid  int
	args string
}

// sandboxProcesses lists the live processes of the sandbox: running as the test user or
// one of its subordinate ids, and tied to the sandbox by their environment, their
// command line or (in a mount namespace of their own) their mounts. Processes in except
// are left out.
//
// The sandbox's holder of the kept user namespace (the process its holder file names)
// is meant to stay, and is left out too: a second holder, or one whose file is gone
// (after `system reset`), is listed.
func sandboxProcesses(sb *sandbox, except map[int]bool) []sbProc {
	entries, _ := os.ReadDir("/proc")
	myMnt, _ := os.Readlink("/proc/self/ns/mnt")
	holders := sb.holderPids()
	var out []sbProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || except[pid] || pid == os.Getpid() || holders[pid] {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		uid := -1
		zombie := false
		for _, l := range strings.Split(string(status), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
				uid, _ = strconv.Atoi(f[1])
			}
			if strings.HasPrefix(l, "State:") && strings.Contains(l, "Z") {
				zombie = true
			}
		}
		u := sb.user
		ours := uid == u.uid || (u.subUID != nil && uid >= u.subUID.start && uid < u.subUID.start+u.subUID.count)
		if !ours || zombie {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
		mark := []byte(sb.dir + "/")
		tied := bytes.Contains(cmdline, mark) || bytes.Contains(environ, mark)
		if !tied {
			if mnt, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err == nil && mnt != myMnt {
				mi, _ := os.ReadFile(filepath.Join(dir, "mountinfo"))
				tied = bytes.Contains(mi, mark)
			}
		}
		if tied {
			out = append(out, sbProc{pid: pid, uid: uid, args: strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")})
		}
	}
	return out
}

// assertNothingLeft checks that no hutch or container process of the sandbox is alive
// (except the test's own), that nothing of the sandbox is mounted on the host, and
// that the store holds no container.
func assertNothingLeft(t *testing.T, sb *sandbox, except map[int]bool, after string) {
	t.Helper()
	// Processes end a moment after hutch (fuse-overlayfs when its mount namespace goes).
	var left []sbProc
	for deadline := time.Now().Add(5 * time.Second); ; {
		if left = sandboxProcesses(sb, except); len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		var b strings.Builder
		for _, p := range left {
			fmt.Fprintf(&b, "  pid %d uid %d: %s\n", p.pid, p.uid, p.args)
			_ = syscall.Kill(p.pid, syscall.SIGKILL) // not to outlive the test
		}
		t.Fatalf("after %s, processes of the sandbox are still running (killed now):\n%s", after, b.String())
	}
	mi := readFile(t, "/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, sb.dir+"/") {
			t.Fatalf("after %s, the host still has a mount of the sandbox:\n%s", after, l)
		}
	}
	if n := sb.df()["Containers"].Total; n != 0 {
		t.Fatalf("after %s, the store holds %d container(s), want 0", after, n)
	}
}

// volumeNames lists the sandbox's volumes.
func listVolumes(t *testing.T, sb *sandbox) []string {
	t.Helper()
	return lines(sb.ok("volume", "ls", "-q").stdout)
}

// kv parses KEY=VALUE lines printed by a container.
func parseKV(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// userDir makes a directory in the sandbox owned by the test user, as a bind source.
func bindDir(t *testing.T, sb *sandbox, name string) string {
	t.Helper()
	p := sb.path("work", name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	return p
}

// uniqueSleep is a sleep duration that names one process of one test: unique, and short
// enough (two minutes) that a process a failed test leaves behind ends by itself.
func uniqueSleep() string {
	return fmt.Sprintf("120.%06d", sleepSeq.Add(1)*1000+int64(os.Getpid()%1000))
}

var sleepSeq atomic.Int64
