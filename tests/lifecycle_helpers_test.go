package tests

// Helpers of the container lifecycle tests (lifecycle_*_test.go): their image (busybox
// with every applet), detached containers, the Docker-shaped JSON of `inspect` and
// `ps`, polling with short intervals, terminals, and the checks that a sandbox has no
// process, no mount and no record left.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The images the lifecycle tests import from lcRootfs.
const (
	lcImage     = "lc"     // CMD ["sh"]
	lcStopImage = "lcstop" // CMD ["sh"], STOPSIGNAL SIGUSR1
)

// What lcRootfs holds besides busybox.
const (
	lcAliceUID = 1000
	lcPasswd   = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	lcGroup    = "root:x:0:\nalice:x:1000:\nnogroup:x:65534:\n"
)

var (
	lcRootfsOnce sync.Once
	lcRootfsPath string
	lcRootfsErr  error
)

// lcRootfs is a root file system tarball: /bin/busybox with every applet it has,
// /etc/passwd and /etc/group naming alice (1000), /etc/hello (0644, not executable),
// /home/alice owned by alice, /tmp.
func lcRootfs(t *testing.T) string {
	t.Helper()
	lcRootfsOnce.Do(func() {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			lcRootfsErr = err
			return
		}
		out, err := exec.Command("/bin/busybox", "--list").Output()
		if err != nil {
			lcRootfsErr = fmt.Errorf("busybox --list: %w", err)
			return
		}
		es := []tarEntry{dirEntry("bin/"), fileEntry("bin/busybox", bb, 0o755)}
		for _, a := range strings.Fields(string(out)) {
			if a != "busybox" && !strings.Contains(a, "/") {
				es = append(es, symlinkEntry("bin/"+a, "busybox"))
			}
		}
		tmp := dirEntry("tmp/")
		tmp.mode = 0o1777
		alice := dirEntry("home/alice/")
		alice.uid, alice.gid = lcAliceUID, lcAliceUID
		es = append(es, dirEntry("etc/"),
			fileEntry("etc/hello", []byte(helloContent), 0o644),
			fileEntry("etc/passwd", []byte(lcPasswd), 0o644),
			fileEntry("etc/group", []byte(lcGroup), 0o644),
			dirEntry("home/"), alice, tmp, dirEntry("root/"))
		layer, err := makeTar(es)
		if err != nil {
			lcRootfsErr = err
			return
		}
		p := filepath.Join(fix.dir, "lifecycle-rootfs.tar")
		if err := writePublic(p, layer); err != nil {
			lcRootfsErr = err
			return
		}
		lcRootfsPath = p
	})
	if lcRootfsErr != nil {
		t.Fatalf("writing the lifecycle fixture: %v", lcRootfsErr)
	}
	return lcRootfsPath
}

// lcImport imports the lifecycle images into the sandbox (lcImage unless named).
func lcImport(t *testing.T, sb *sandbox, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = []string{lcImage}
	}
	lcCleanupContainers(t, sb)
	for _, n := range names {
		args := []string{"import", "--change", `CMD ["sh"]`}
		switch n {
		case lcImage:
		case lcStopImage:
			args = append(args, "--change", "STOPSIGNAL SIGUSR1")
		default:
			t.Fatalf("lcImport: unknown image %q", n)
		}
		sb.ok(append(args, lcRootfs(t), n)...)
	}
}

// lcCleanupContainers makes sure that a test that fails with containers running leaves
// none behind: `hutch system reset`, the harness's cleanup, deletes the records and the
// store but does not stop detached containers, whose monitors would run on. Before it,
// this removes every container with rm -f and kills what is left of the sandbox.
func lcCleanupContainers(t *testing.T, sb *sandbox) {
	t.Cleanup(func() {
		if os.Getenv("HUTCH_TEST_KEEP") != "" {
			return
		}
		if ids := lines(sb.run(runOpts{}, "ps", "-aq", "--no-trunc").stdout); len(ids) > 0 {
			sb.run(runOpts{}, append([]string{"rm", "-f"}, ids...)...)
		}
		for _, p := range lcProcs(sb) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
}

// lcSandbox is a sandbox of the user with a subordinate range (the driver hutch
// probes) holding the lifecycle image.
func lcSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t, userWithRange)
	lcImport(t, sb)
	return sb
}

var lcHexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// lcRunD runs `hutch run -d ARGS…` and returns the container ID it printed: one line
// of 64 hex digits, nothing else.
func lcRunD(sb *sandbox, args ...string) string {
	sb.t.Helper()
	r := sb.ok(append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSuffix(r.stdout, "\n")
	if !lcHexID.MatchString(id) {
		sb.t.Fatalf("run -d should print the container's 64-hex ID and nothing else:\n%s", r)
	}
	return id
}

// lcSleeper is a container command that runs until stopped and ends at once on
// SIGTERM with status 0 (a shell as pid 1 needs a trap to hear the signal). It prints
// "ready" once the trap is set: a SIGTERM that comes before finds pid 1 without a
// handler and is dropped, and `stop` then waits out its timeout (lcRunReady waits).
var lcSleeper = []string{"sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"}

// lcRunReady is lcRunD of a command that prints "ready" when it can be stopped (as
// lcSleeper does), waiting until it has.
func lcRunReady(sb *sandbox, args ...string) string {
	sb.t.Helper()
	id := lcRunD(sb, args...)
	lcWaitLog(sb, id, "ready", 20*time.Second)
	return id
}

// ---------------------------------------------------------------------------------
// The JSON hutch prints about containers

// lcContainer is the part of `hutch inspect CONTAINER` the tests read.
type lcContainer struct {
	ID      string   `json:"Id"`
	Created string   `json:"Created"`
	Path    string   `json:"Path"`
	Args    []string `json:"Args"`
	Name    string   `json:"Name"`
	Image   string   `json:"Image"`
	State   struct {
		Status     string `json:"Status"`
		Running    bool   `json:"Running"`
		Pid        int    `json:"Pid"`
		ExitCode   int    `json:"ExitCode"`
		Error      string `json:"Error"`
		StartedAt  string `json:"StartedAt"`
		FinishedAt string `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Hostname   string            `json:"Hostname"`
		User       string            `json:"User"`
		Tty        bool              `json:"Tty"`
		OpenStdin  bool              `json:"OpenStdin"`
		Env        []string          `json:"Env"`
		Cmd        []string          `json:"Cmd"`
		Image      string            `json:"Image"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
		StopSignal string            `json:"StopSignal"`
	} `json:"Config"`
	HostConfig struct {
		NetworkMode   string `json:"NetworkMode"`
		AutoRemove    bool   `json:"AutoRemove"`
		RestartPolicy struct {
			Name              string `json:"Name"`
			MaximumRetryCount int    `json:"MaximumRetryCount"`
		} `json:"RestartPolicy"`
		Binds []string `json:"Binds"`
	} `json:"HostConfig"`
	Mounts []struct {
		Type        string `json:"Type"`
		Name        string `json:"Name"`
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
		RW          bool   `json:"RW"`
	} `json:"Mounts"`
	RestartCount int    `json:"RestartCount"`
	LogPath      string `json:"LogPath"`
}

// lcInspect is `hutch inspect REF` for one container.
func lcInspect(sb *sandbox, ref string) lcContainer {
	sb.t.Helper()
	r := sb.ok("inspect", ref)
	var out []lcContainer
	mustJSON(sb.t, r, &out)
	if len(out) != 1 {
		sb.t.Fatalf("inspect %s returned %d objects:\n%s", ref, len(out), r)
	}
	return out[0]
}

// lcPSEntry is one entry of `hutch ps --format json`: the record and its state.
type lcPSEntry struct {
	ID        string   `json:"Id"`
	Name      string   `json:"Name"`
	ImageName string   `json:"ImageName"`
	Args      []string `json:"Args"`
	State     struct {
		Status     string    `json:"Status"`
		Pid        int       `json:"Pid"`
		MonitorPid int       `json:"MonitorPid"`
		ExitCode   int       `json:"ExitCode"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
		Restarts   int       `json:"RestartCount"`
		Rootfs     string    `json:"Rootfs"`
	} `json:"State"`
}

// lcPS is `hutch ps --format json ARGS…`.
func lcPS(sb *sandbox, args ...string) []lcPSEntry {
	sb.t.Helper()
	var out []lcPSEntry
	mustJSON(sb.t, sb.ok(append([]string{"ps", "--format", "json"}, args...)...), &out)
	return out
}

// lcRecord is the ps entry of one container (by full ID).
func lcRecord(sb *sandbox, id string) lcPSEntry {
	sb.t.Helper()
	for _, e := range lcPS(sb, "-a") {
		if e.ID == id {
			return e
		}
	}
	sb.t.Fatalf("ps -a does not list container %s", id)
	return lcPSEntry{}
}

// ---------------------------------------------------------------------------------
// Polling

// lcEventually polls cond every 25 ms until it holds, failing the test after timeout
// with what cond last said.
func lcEventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %s; last seen:\n%s", what, timeout, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// lcWaitStatus waits until inspect shows the container in status.
func lcWaitStatus(sb *sandbox, ref, status string, timeout time.Duration) lcContainer {
	sb.t.Helper()
	var in lcContainer
	lcEventually(sb.t, timeout, "container "+ref+" "+status, func() (bool, string) {
		in = lcInspect(sb, ref)
		return in.State.Status == status, fmt.Sprintf("%+v", in.State)
	})
	return in
}

// lcWaitLog waits until the container's stdout log contains s.
func lcWaitLog(sb *sandbox, ref, s string, timeout time.Duration) {
	sb.t.Helper()
	lcEventually(sb.t, timeout, "logs of "+ref+" contain "+strconv.Quote(s), func() (bool, string) {
		r := sb.ok("logs", ref)
		return strings.Contains(r.stdout, s), r.String()
	})
}

// lcParseTime reads a time inspect printed.
func lcParseTime(t *testing.T, v, what string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("%s: %q is not an RFC 3339 time: %v", what, v, err)
	}
	return tm
}

// ---------------------------------------------------------------------------------
// Processes and mounts of a sandbox

// lcProc is one live process of the sandbox.
type lcProc struct {
	pid, ppid, uid int
	args           string
	pidNS          string // "pid:[…]"
	inContainer    bool   // in a pid namespace of its own (a container's process)
}

func (p lcProc) String() string {
	where := "host"
	if p.inContainer {
		where = "container"
	}
	return fmt.Sprintf("pid %d (ppid %d, uid %d, %s): %s", p.pid, p.ppid, p.uid, where, p.args)
}

// isMonitor tells whether the process is a container's monitor, `hutch-monitor ID`.
func (p lcProc) isMonitor() bool { return strings.HasPrefix(p.args, "hutch-monitor ") }

// lcProcs lists the live processes (zombies left out: this machine's pid 1 reaps
// slowly) of the sandbox's user or its subordinate ids that belong to the sandbox:
// hutch and its helpers name the sandbox in their command line or environment, a
// container's processes have its mounts, and anything in the pid namespace of one of
// those belongs to that container too (`hutch exec` processes, orphaned to the host).
func lcProcs(sb *sandbox) []lcProc {
	myPidNS, _ := os.Readlink("/proc/self/ns/pid")
	myMntNS, _ := os.Readlink("/proc/self/ns/mnt")
	mark := []byte(sb.dir + "/")
	u := sb.user
	type cand struct {
		lcProc
		tied bool
	}
	var all []cand
	entries, _ := os.ReadDir("/proc")
	holders := sb.holderPids() // the kept namespace's holder stays
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || holders[pid] {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		c := cand{lcProc: lcProc{pid: pid, uid: -1}}
		zombie := false
		for _, l := range strings.Split(string(status), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "Uid:":
				c.uid, _ = strconv.Atoi(f[1])
			case "PPid:":
				c.ppid, _ = strconv.Atoi(f[1])
			case "State:":
				zombie = f[1] == "Z" || f[1] == "X"
			}
		}
		ours := c.uid == u.uid || (u.subUID != nil && c.uid >= u.subUID.start && c.uid < u.subUID.start+u.subUID.count)
		if !ours || zombie {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
		c.args = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		c.pidNS, _ = os.Readlink(filepath.Join(dir, "ns", "pid"))
		c.inContainer = c.pidNS != "" && c.pidNS != myPidNS
		c.tied = bytes.Contains(cmdline, mark) || bytes.Contains(environ, mark)
		if !c.tied {
			if mnt, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err == nil && mnt != myMntNS {
				mi, _ := os.ReadFile(filepath.Join(dir, "mountinfo"))
				c.tied = mountsName(sb, mi, mark)
			}
		}
		all = append(all, c)
	}
	// A container's pid namespace belongs to the sandbox when one of its processes does,
	// or when the process is a child of one of the sandbox's monitors.
	tiedPID := map[int]bool{}
	for _, c := range all {
		if c.tied {
			tiedPID[c.pid] = true
		}
	}
	tiedNS := map[string]bool{}
	for _, c := range all {
		if c.inContainer && (c.tied || tiedPID[c.ppid]) {
			tiedNS[c.pidNS] = true
		}
	}
	var out []lcProc
	for _, c := range all {
		if c.tied || (c.inContainer && tiedNS[c.pidNS]) {
			out = append(out, c.lcProc)
		}
	}
	return out
}

// mountsName tells whether a mount table names the sandbox (mark), leaving out the
// mounts the test itself made there (which every mount namespace made since holds).
func mountsName(sb *sandbox, mi, mark []byte) bool {
	if len(sb.harnessMounts) == 0 {
		return bytes.Contains(mi, mark)
	}
	for _, l := range bytes.Split(mi, []byte{'\n'}) {
		f := strings.Fields(string(l))
		if len(f) > 4 && isHarnessMount(sb, f[4]) {
			continue
		}
		if bytes.Contains(l, mark) {
			return true
		}
	}
	return false
}

func lcProcList(ps []lcProc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// lcMounts lists the mounts that name the sandbox: in the host's mount table and in
// the mount namespace of every process of the user and its subordinate ids.
func lcMounts(sb *sandbox) []string {
	mark := sb.dir + "/"
	var out []string
	seen := map[string]bool{}
	scan := func(who, file string) {
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 4 && ignoredMount(sb, f[4]) {
				continue
			}
			// The mount point (field 5) or the source (after " - ") names the sandbox.
			if len(f) > 4 && (strings.HasPrefix(f[4]+"/", mark) || strings.Contains(l, " - ") && strings.Contains(l[strings.Index(l, " - "):], mark)) {
				k := who + ": " + l
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	scan("host", "/proc/self/mountinfo")
	u := sb.user
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) != nil {
			continue
		}
		uid := int(st.Uid)
		if uid != u.uid && (u.subUID == nil || uid < u.subUID.start || uid >= u.subUID.start+u.subUID.count) {
			continue
		}
		if s, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		scan("pid "+strconv.Itoa(pid), filepath.Join("/proc", e.Name(), "mountinfo"))
	}
	return out
}

// ignoredMount tells whether mount point mp is one that may stay: the test's own
// (isHarnessMount), or one of the store's own mounts of the sandbox that the kept mount
// namespace keeps between commands: the runtime directory's rootfs, bound onto itself and
// shared once, and the overlay driver's home, which go.podman.io/storage binds onto
// itself (private) and unbinds when a command ends with no layer mounted.
func ignoredMount(sb *sandbox, mp string) bool {
	return isHarnessMount(sb, mp) || mp == sb.runtimeDir()+"/rootfs" || mp == sb.graphRoot()+"/overlay"
}

func isHarnessMount(sb *sandbox, mp string) bool {
	for _, m := range sb.harnessMounts {
		if mp == m {
			return true
		}
	}
	return false
}

// lcAssertNoProcsNoMounts checks (polling a few seconds: the monitor records the exit,
// unmounts and ends a moment after the container) that the sandbox has no process and
// no mount left. Processes found at the end are killed, not to outlive the test.
func lcAssertNoProcsNoMounts(t *testing.T, sb *sandbox, after string) {
	t.Helper()
	var ps []lcProc
	var ms []string
	// Twice clean in a row: a process that is executing itself is unreadable for a moment.
	deadline := time.Now().Add(10 * time.Second)
	for clean := 0; clean < 2; {
		ps, ms = lcProcs(sb), lcMounts(sb)
		if len(ps) == 0 && len(ms) == 0 {
			clean++
		} else {
			clean = 0
		}
		if clean < 2 && time.Now().After(deadline) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(ps) > 0 {
		for _, p := range ps {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		t.Fatalf("after %s, processes of the sandbox are still running (killed now):\n%s", after, lcProcList(ps))
	}
	if len(ms) > 0 {
		t.Fatalf("after %s, the sandbox is still mounted:\n%s", after, strings.Join(ms, "\n"))
	}
}

// lcAssertClean checks that nothing of any container is left: no process, no mount, no
// record (`ps -a` empty, `system df` counts no container).
func lcAssertClean(t *testing.T, sb *sandbox, after string) {
	t.Helper()
	lcAssertNoProcsNoMounts(t, sb, after)
	if r := sb.ok("ps", "-a", "-q"); strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("after %s, ps -a still lists containers:\n%s", after, r)
	}
	if n := sb.df()["Containers"].Total; n != 0 {
		t.Fatalf("after %s, system df counts %d container(s), want 0", after, n)
	}
	recs := filepath.Join(sb.graphRoot(), "hutch-containers")
	if es, err := os.ReadDir(recs); err == nil && len(es) > 0 {
		t.Fatalf("after %s, %s still holds %d record(s)", after, recs, len(es))
	}
}

// lcMonitors are the sandbox's monitor processes, by the container ID they name.
func lcMonitors(sb *sandbox) map[string]lcProc {
	out := map[string]lcProc{}
	for _, p := range lcProcs(sb) {
		if p.isMonitor() && !p.inContainer {
			out[strings.Fields(p.args)[1]] = p
		}
	}
	return out
}

// lcHasMount tells whether the mount namespace of pid has a mount at mountpoint.
func lcHasMount(pid int, mountpoint string) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 4 && f[4] == mountpoint {
			return true
		}
	}
	return false
}

// lcAlive tells whether pid is a live (not zombie) process.
func lcAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// ---------------------------------------------------------------------------------
// Terminals

// lcPTY opens a pseudo-terminal pair as a terminal emulator would, sized rows×cols.
func lcPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
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
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
	return master, slave
}

// lcOnTerminal runs hutch with a terminal as its standard streams and controlling
// terminal (a session of its own), writes input to it once it runs, and returns what
// the terminal showed (without \r) and hutch's exit status.
func lcOnTerminal(sb *sandbox, rows, cols uint16, input string, args ...string) (string, int) {
	t := sb.t
	t.Helper()
	master, slave := lcPTY(t, rows, cols)
	cmd := sb.command(runOpts{}, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setpgid = false
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting hutch %s: %v", shellJoin(args), err)
	}
	slave.Close() // hutch holds it: the master reads EIO once hutch and the command are gone
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	if input != "" {
		_, _ = master.Write([]byte(input))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done //nolint:errcheck // killed: its error would only say so
		t.Fatalf("hutch %s on a terminal did not end within 30s", shellJoin(args))
	}
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatalf("the terminal never closed after hutch %s ended", shellJoin(args))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("hutch %s: %v", shellJoin(args), err)
	}
	return strings.ReplaceAll(out.String(), "\r", ""), code
}

// lcLogEntry is one line of a container's log file as the monitor writes it (the
// json-file driver: Docker's format).
type lcLogEntry struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"`
	Line   string    `json:"log"`
}

// lcReadLogFile reads the log file inspect names (as root: it is the user's 0600 file).
func lcReadLogFile(t *testing.T, path string) []lcLogEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the container's log file: %v", err)
	}
	var out []lcLogEntry
	for _, l := range lines(string(b)) {
		var e lcLogEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log file %s: line %q is not a log entry: %v", path, l, err)
		}
		out = append(out, e)
	}
	return out
}

// lcColumns splits a table row at runs of two or more spaces.
func lcColumns(row string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(row), -1)
}

// ---------------------------------------------------------------------------------
// Commands in the background, sandboxes shared by subtests

// lcBuffer is an output buffer the test reads while hutch writes it.
type lcBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lcBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lcBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lcBg is hutch running in the background while the test does other things.
type lcBg struct {
	args           []string
	cmd            *exec.Cmd
	leader         *groupLeader
	stdout, stderr lcBuffer
	done           chan struct{}
	res            result
}

// lcStart starts hutch as the sandbox's user without waiting for it; the test's
// cleanup kills it (and its process group) if it still runs then.
func lcStart(sb *sandbox, o runOpts, args ...string) *lcBg {
	sb.t.Helper()
	b := &lcBg{args: args, done: make(chan struct{})}
	b.cmd = sb.command(o, args...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	began := time.Now()
	if err := b.cmd.Start(); err != nil {
		sb.t.Fatalf("starting hutch %s: %v", shellJoin(args), err)
	}
	b.leader = leaderOf(b.cmd)
	go func() {
		err := b.leader.wait(b.cmd)
		b.res = result{args: args, elapsed: time.Since(began)}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.res.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.res.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			b.res.code = -1
		}
		b.res.stdout, b.res.stderr = b.stdout.String(), b.stderr.String()
		close(b.done)
	}()
	sb.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.leader.kill()
			<-b.done
		}
	})
	return b
}

// running tells whether hutch still runs.
func (b *lcBg) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// wait waits for hutch to end, failing the test if it runs longer than timeout.
func (b *lcBg) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-b.done:
		return b.res
	case <-time.After(timeout):
		b.leader.kill()
		<-b.done
		t.Fatalf("hutch %s did not end within %s (killed now); so far:\n%s", shellJoin(b.args), timeout, b.res)
		return result{}
	}
}

// lcAt is the sandbox as seen from another test (a parallel subtest must fail itself,
// not its parent); the cleanup stays with the test that made the sandbox.
func lcAt(sb *sandbox, t *testing.T) *sandbox {
	c := *sb
	c.t = t
	return &c
}

// lcOwnedDir makes a directory in the sandbox's work directory owned by the user.
func lcOwnedDir(t *testing.T, sb *sandbox, name string) string {
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

// lcMonitorOf waits for the monitor of container id and returns it: `run -d` returns
// as soon as the container runs, and the monitor then executes its long-lived half,
// during which its command line and environment cannot be read for a moment.
func lcMonitorOf(sb *sandbox, id string) lcProc {
	sb.t.Helper()
	var m lcProc
	lcEventually(sb.t, 10*time.Second, "the process hutch-monitor "+id, func() (bool, string) {
		var ok bool
		m, ok = lcMonitors(sb)[id]
		return ok, lcProcList(lcProcs(sb))
	})
	return m
}

// lcWaitMonitorCount waits until the sandbox has exactly n monitors.
func lcWaitMonitorCount(sb *sandbox, n int) {
	sb.t.Helper()
	lcEventually(sb.t, 10*time.Second, fmt.Sprintf("exactly %d monitor(s)", n), func() (bool, string) {
		return len(lcMonitors(sb)) == n, lcProcList(lcProcs(sb))
	})
}
