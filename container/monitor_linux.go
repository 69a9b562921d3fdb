package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	_ "hutch.dev/hutch/container/cmonitor" // the C half the monitor hands over to
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/nsinit"
)

// MonitorName is the name hutch is re-executed under to become a container's monitor.
const MonitorName = "hutch-monitor"

// stopMarker is created by `hutch stop` before it signals a container, so that the
// monitor does not restart what the user stopped.
const stopMarker = "stopping"

// StartDetached starts a created container under a monitor of its own: the hutch
// binary re-executed in its own session, inside hutch's user namespace and in a mount
// namespace of its own, which keeps the container's mounts alive, writes its output to the log, records its exit
// and cleans up. It returns once the container's command runs (or failed to start).
func (m *Manager) StartDetached(c *Config) error {
	p, err := m.startMonitor(c, nil)
	if p != nil {
		_ = p.Release() // it outlives us; init adopts it
	}
	return err
}

// attachFromStart is a client of a terminal container's monitor attached before the
// container starts (`run -it`, `start -ai`): the monitor's end of a socket pair, and
// the size the container's terminal gets.
type attachFromStart struct {
	conn *os.File
	size *unix.Winsize
}

// startMonitor is StartDetached, with a client attached from the start (client, may be
// nil); it returns the monitor (its parent is this process until it ends), or nil when
// it could not be started.
func (m *Manager) startMonitor(c *Config, client *attachFromStart) (*os.Process, error) {
	st, err := m.Records.State(c.ID)
	if err != nil {
		return nil, err
	}
	if Alive(st) {
		return nil, fmt.Errorf("container %s is already running", c.Name)
	}
	if err := checkDetachedJoins(c); err != nil {
		return nil, err
	}
	// A monitor may still be alive between two runs (waiting out a restart delay) when
	// it was just stopped: let it see the stop and go before this start clears the mark.
	for deadline := time.Now().Add(15 * time.Second); monitorAlive(st.MonitorPid, c.ID) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	_ = os.Remove(filepath.Join(m.Records.dir(c.ID), stopMarker))
	_ = os.Remove(filepath.Join(m.Records.dir(c.ID), healthRestartMarker))
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{MonitorName, c.ID},
		// A mount namespace of its own (made by the constructor, below hutch's kept one):
		// the container's mounts go with the monitor, even when it is killed outright.
		Env:         append(os.Environ(), contract.OwnMounts+"=1"),
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if client != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, client.conn) // fd 4
		cmd.Env = append(cmd.Env, contract.CmClient+"=4")
		if client.size != nil {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%d", contract.CmWinsize, client.size.Row, client.size.Col))
		}
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the container's monitor: %w", err)
	}
	w.Close()
	var rep startReport
	err = json.NewDecoder(r).Decode(&rep)
	if errors.Is(err, io.EOF) {
		return cmd.Process, errors.New("the container's monitor died before the container started (see `hutch logs " + c.Name + "`)")
	}
	if err != nil {
		return cmd.Process, fmt.Errorf("the container's monitor: %w", err)
	}
	if rep.Error != "" {
		return cmd.Process, &nsinit.ExecError{Code: rep.Code, Msg: rep.Error}
	}
	return cmd.Process, nil
}

type startReport struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// Monitor is the body of a container's monitor process. Started by StartDetached
// (exited == nil), it starts the container, reports on ready, and hands the waiting
// over to the C half (internal/nsenter/monitor.c), which executes hutch again as
// `hutch-monitor ID exited STATUS` when the container ends: then Monitor records the
// exit, unmounts, and restarts the container if its policy says so (handing over again)
// or removes it with --rm. It returns the process's exit status.
func (m *Manager) Monitor(id string, ready *os.File, exited *int) int {
	report := func(rep startReport) {
		if ready != nil {
			b, _ := json.Marshal(rep)
			_, _ = ready.Write(b) // a parent gone cannot be told
			ready.Close()
			ready = nil
		}
	}
	c, err := m.Records.Get(id)
	if err != nil {
		report(startReport{Code: nsinit.ExitEngine, Error: err.Error()})
		return 1
	}
	st, err := m.Records.State(id)
	if err != nil {
		st = &State{}
	}
	restarts := st.Restarts
	client := takeAttachClient() // nil but for the first start of `run -it` and `start -ai`
	if exited != nil {
		c.died(st, *exited) // before the exit is recorded: `stop` and `wait` see it after
		reapNetwork()
		st.Status, st.ExitCode, st.FinishedAt, st.Pid = StatusExited, *exited, time.Now().UTC(), 0
		m.saveEnd(id, st)
		m.unmount(c.ID)
		m.removeNetDir(c.ID)
	}
	for first := exited == nil; ; first = false {
		if !first {
			if !m.shouldRestart(c, st.ExitCode, restarts) {
				break
			}
			restarts++
			if !m.waitRestart(c, restartDelay(restarts)) {
				break
			}
			c.Emit(events.Restart)
		}
		code, err := m.startAndHandOver(c, restarts, client, func() { report(startReport{}) })
		if client != nil {
			client.conn.Close() // a failed start: the client hears it from the report
			client = nil
		}
		// Only a failure returns here.
		report(startReport{Code: code, Error: err.Error()})
		st = &State{Status: StatusExited, ExitCode: code}
		if first {
			break // a container that cannot start is not restarted from `run -d`
		}
	}
	if c.AutoRemove {
		_ = m.Remove(c, true)
	}
	return 0
}

// startAndHandOver starts the container with its output going to pipes (or a
// terminal), records it as running, calls started, and executes the C half of the
// monitor, which inherits the pipes and the child. It returns only on failure.
func (m *Manager) startAndHandOver(c *Config, restarts int, client *attachFromStart, started func()) (int, error) {
	fail := func(code int, err error) (int, error) {
		m.recordFailure(c.ID, code, err, restarts)
		return code, err
	}
	mio, err := m.monitorIO(c, client)
	if err != nil {
		mio.close()
		return fail(nsinit.ExitEngine, err)
	}
	// The init (and slirp4netns) must be forked by the thread that executes the C half:
	// their parent-death signal belongs to that thread, which survives the exec.
	runtime.LockOSThread()
	r, _, err := m.start(c, starting{stdio: mio.child, handover: true, restarts: restarts})
	mio.started()
	if err != nil {
		mio.close()
		return fail(launch.ExitCode(err), err)
	}
	handed, keep := mio.handed, mio.keep
	if r.Network != nil {
		netFD, env := handoverEnv(r.Network)
		keep, handed = append(keep, netFD), append(handed, env...)
	}
	c.Emit(events.Start)
	started()
	handed = append(handed, contract.CmPID+"="+strconv.Itoa(r.Pid()))
	if c.Healthcheck != nil {
		handed = append(handed, contract.CmHealth+"="+healthSchedule(c.Healthcheck))
	}
	for _, f := range keep {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			r.Abort()
			m.unmount(c.ID)
			mio.close()
			return fail(nsinit.ExitEngine, err)
		}
	}
	_, _ = m.Store.Shutdown(false)
	// From the thread that cloned the init: this one, or, when the init joined another
	// container's network namespace (--network container:), the thread that joined it,
	// whose namespace the monitor then runs in (nsinit's HandOver).
	err = r.HandOver("/proc/self/exe", []string{MonitorName, c.ID}, append(os.Environ(), handed...))
	r.Abort()
	m.unmount(c.ID)
	mio.close()
	return fail(nsinit.ExitEngine, fmt.Errorf("handing the container over to its monitor: %w", err))
}

// monitorIO are a detached container's standard streams: its log, and a terminal or
// pipes whose other ends the monitor's C half reads, with standard input from a FIFO
// that `hutch attach` writes to (-i).
type monitorIO struct {
	child nsinit.Stdio
	// keep are the descriptors the C half inherits; handed names them to it.
	keep   []*os.File
	handed []string
	// afterStart are the container's ends, closed here once it holds them.
	afterStart []*os.File
}

// On failure, what it opened is in the result, for close. A terminal container's
// monitor serves attach clients (attach_linux.go); client is one attached from the start.
func (m *Manager) monitorIO(c *Config, client *attachFromStart) (*monitorIO, error) {
	mio := &monitorIO{}
	logPath := m.Records.LogPath(c.ID)
	if c.LogDriver() == LogNone {
		logPath = os.DevNull
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return mio, err
	}
	size, files := c.logLimits()
	mio.keep, mio.handed = []*os.File{logf},
		[]string{contract.Cmonitor + "=1", contract.CmID + "=" + c.ID, contract.CmLog + "=" + strconv.Itoa(int(logf.Fd())),
			contract.CmLogFormat + "=" + c.LogDriver(), contract.CmLogPath + "=" + logPath,
			contract.CmLogMax + "=" + strconv.FormatInt(size, 10), contract.CmLogFiles + "=" + strconv.Itoa(files)}
	if c.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return mio, err
		}
		mio.child = nsinit.Stdio{Stdin: slave, Stdout: slave, Stderr: slave}
		mio.afterStart = append(mio.afterStart, slave)
		mio.keep = append(mio.keep, master)
		mio.handed = append(mio.handed, contract.CmOut+"="+strconv.Itoa(int(master.Fd())), contract.CmTerm+"="+strconv.Itoa(int(master.Fd())))
		if client != nil && client.size != nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, client.size)
		}
		ln, err := listenAttach(m.Records.dir(c.ID))
		if err != nil {
			return mio, err
		}
		mio.keep = append(mio.keep, ln)
		mio.handed = append(mio.handed, contract.CmAttach+"="+strconv.Itoa(int(ln.Fd())))
		if client != nil {
			mio.keep = append(mio.keep, client.conn)
			mio.handed = append(mio.handed, contract.CmClient+"="+strconv.Itoa(int(client.conn.Fd())))
		}
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return mio, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			_ = outR.Close()
			_ = outW.Close()
			return mio, err
		}
		mio.child = nsinit.Stdio{Stdout: outW, Stderr: errW}
		mio.afterStart = append(mio.afterStart, outW, errW)
		mio.keep = append(mio.keep, outR, errR)
		mio.handed = append(mio.handed, contract.CmOut+"="+strconv.Itoa(int(outR.Fd())), contract.CmErr+"="+strconv.Itoa(int(errR.Fd())))
	}
	if c.Interactive {
		// Standard input comes from a FIFO that `hutch attach` writes to, opened
		// read-write so that it never reaches end-of-file between writers.
		fifo := filepath.Join(m.Records.dir(c.ID), "stdin")
		_ = unix.Mkfifo(fifo, 0o600)
		in, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err != nil {
			return mio, err
		}
		mio.keep = append(mio.keep, in)
		if c.TTY {
			mio.handed = append(mio.handed, contract.CmIn+"="+strconv.Itoa(int(in.Fd())))
		} else {
			mio.child.Stdin = in
		}
	}
	return mio, nil
}

// started closes the container's ends of its streams once it holds them.
func (mio *monitorIO) started() {
	for _, f := range mio.afterStart {
		f.Close()
	}
	mio.afterStart = nil
}

// close closes every stream of a start that failed.
func (mio *monitorIO) close() {
	mio.started()
	for _, f := range mio.keep {
		f.Close()
	}
	mio.keep = nil
}

// saveEnd records a container's end; on a full disk (the container may have filled it)
// the store's reserve is given up for it: a lost exit record reads as 137 and a
// container left "running".
func (m *Manager) saveEnd(id string, st *State) {
	if err := m.Records.SaveState(id, st); err != nil && diskspace.IsFull(err) && diskspace.ReleaseIfLow(m.Store.GraphRoot()) {
		_ = m.Records.SaveState(id, st)
	}
}

func (m *Manager) recordFailure(id string, code int, err error, restarts int) {
	now := time.Now().UTC()
	m.saveEnd(id, &State{Status: StatusExited, ExitCode: code, Error: err.Error(),
		StartedAt: now, FinishedAt: now, Restarts: restarts})
}

// Alive reports whether the process recorded as the container's owner (the monitor, or
// the `hutch run` of a foreground container) still lives: a record that says "running"
// for a dead owner is a container that died with it.
func Alive(st *State) bool {
	if st.Status != StatusRunning || st.MonitorPid <= 0 {
		return false
	}
	return confirmDead(func() bool { return aliveOnce(st) })
}

func aliveOnce(st *State) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(st.MonitorPid) + "/stat")
	if err != nil {
		return false
	}
	// A zombie, or a pid reused by a process started after the container, is not it.
	if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 20 && f[0] == "Z" && !execing(st.MonitorPid) {
		return false
	}
	return processStart(st.MonitorPid).Before(st.StartedAt.Add(time.Second))
}

// processStart is when pid started (zero if unknown), from /proc/PID/stat's starttime.
func processStart(pid int) time.Time {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 20 {
		return time.Time{}
	}
	ticks, _ := strconv.ParseInt(f[19], 10, 64)
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}
	}
	var uptime float64
	_, _ = fmt.Sscanf(string(up), "%f", &uptime)
	boot := time.Now().Add(-time.Duration(uptime * float64(time.Second)))
	return boot.Add(time.Duration(ticks) * time.Second / 100)
}

// Current returns the container's state as it really is: a "running" record whose owner
// died reads as exited (137: the container died with it).
func (r *Records) Current(id string) (*State, error) {
	st, err := r.State(id)
	if err != nil {
		return nil, err
	}
	if st.Status == StatusRunning && !Alive(st) {
		st.Status, st.ExitCode = StatusExited, 137
		if st.FinishedAt.IsZero() {
			st.FinishedAt = time.Now().UTC()
		}
		st.Error = "the container's monitor died"
	}
	return st, nil
}

// waitRestart waits out the delay before a restart; it returns false when the container
// is not to be restarted after all: `hutch stop` marked it meanwhile, or `hutch rm`
// removed it (then there is nothing left for this monitor to do).
func (m *Manager) waitRestart(c *Config, d time.Duration) bool {
	marker := filepath.Join(m.Records.dir(c.ID), stopMarker)
	for deadline := time.Now().Add(d); ; {
		if _, err := os.Stat(marker); err == nil {
			return false
		}
		if _, err := os.Stat(filepath.Join(m.Records.dir(c.ID), "config.json")); err != nil {
			return false
		}
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)+time.Millisecond))
	}
}

func restartDelay(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 6)
	return min(d, 10*time.Second)
}

// shouldRestart applies --restart: no, always, unless-stopped, on-failure[:N].
func (m *Manager) shouldRestart(c *Config, code, restarts int) bool {
	if _, err := os.Stat(filepath.Join(m.Records.dir(c.ID), stopMarker)); err == nil {
		return false // the user stopped it
	}
	if err := os.Remove(filepath.Join(m.Records.dir(c.ID), healthRestartMarker)); err == nil {
		return true // --health-on-failure restart
	}
	policy, max := ParseRestart(c.Restart)
	switch policy {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (max == 0 || restarts < max)
	}
	return false
}

// ParseRestart splits a --restart value into its policy and retry count.
func ParseRestart(v string) (string, int) {
	p, n, _ := strings.Cut(v, ":")
	max, _ := strconv.Atoi(n)
	if p == "" {
		p = "no"
	}
	return p, max
}

// ValidRestart checks a --restart value.
func ValidRestart(v string) error {
	p, n, hasN := strings.Cut(v, ":")
	switch p {
	case "", "no", "always", "unless-stopped":
		if hasN {
			return fmt.Errorf("--restart %q: only on-failure takes a count", v)
		}
	case "on-failure":
		if hasN {
			if k, err := strconv.Atoi(n); err != nil || k < 0 {
				return fmt.Errorf("--restart %q: the count must be a number ≥ 0", v)
			}
		}
	default:
		return fmt.Errorf("--restart %q: use no, always, unless-stopped or on-failure[:N]", v)
	}
	return nil
}

// monitorAlive reports whether pid is (still) the monitor of container id.
func monitorAlive(pid int, id string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.HasPrefix(string(b), MonitorName+"\x00"+id)
}
