package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// HealthName is the name hutch is executed under by a monitor's C half to run one
// probe of the container's healthcheck: `hutch-health ID`.
const HealthName = "hutch-health"

// healthRestartMarker is left by a probe whose container turned unhealthy with
// --health-on-failure restart: the monitor restarts the container whatever its
// --restart policy (shouldRestart).
const healthRestartMarker = "health-restart"

// healthSchedule is contract.CmHealth's value for h: what the monitor's C half needs
// to run the probes on time (container/cmonitor/monitor.c).
func healthSchedule(h *images.Healthcheck) string {
	t := healthTiming(h)
	return fmt.Sprintf("%d:%d:%d:%d", t.Interval.Milliseconds(), t.Timeout.Milliseconds(),
		t.StartPeriod.Milliseconds(), t.StartInterval.Milliseconds())
}

func (r *Records) healthPath(id string) string { return filepath.Join(r.dir(id), "health.json") }

// Health is the container's health as inspect and ps show it: nil when it has no
// healthcheck or never ran; "starting" before the first result of this run; and
// "unhealthy" once it is not running (as Docker, whose checks end with the container),
// with the results of its last run.
func (r *Records) Health(c *Config, st *State) *Health {
	if c.Healthcheck == nil || st.StartedAt.IsZero() {
		return nil
	}
	h := r.readHealth(c.ID, st)
	if st.Status != StatusRunning {
		h.Status = HealthUnhealthy
	}
	return h
}

// readHealth reads the recorded health of the run st started; a record of another
// run, or none, is a run still starting.
func (r *Records) readHealth(id string, st *State) *Health {
	var h Health
	b, err := os.ReadFile(r.healthPath(id))
	if err != nil || json.Unmarshal(b, &h) != nil || !h.Run.Equal(st.StartedAt) {
		return &Health{Status: HealthStarting, Log: []HealthResult{}, Run: st.StartedAt}
	}
	if h.Log == nil {
		h.Log = []HealthResult{}
	}
	return &h
}

// HealthcheckOptions are how a probe runs.
type HealthcheckOptions struct {
	// Seccomp caches compiled filters: the probe runs under the container's.
	Seccomp *security.Cache
}

// Healthcheck runs the container's healthcheck once, now — the monitor's probe on its
// schedule, a foreground run's between waits, `hutch healthcheck run` when asked —
// as an exec in the container (launch.Exec: a session of its own, the container's
// namespaces, cgroup, capabilities and seccomp filter), killed at its timeout. The
// result is recorded (health.json, under health.lock), a change of status is an event
// (health_status: healthy), and a container that turns unhealthy gets its
// --health-on-failure. It returns the health after the probe.
func (r *Records) Healthcheck(c *Config, o HealthcheckOptions) (*Health, error) {
	if c.Healthcheck == nil {
		return nil, fmt.Errorf("container %s has no healthcheck: create it with one (`hutch run --health-cmd 'CMD' …`), or from an image with a HEALTHCHECK", c.Name)
	}
	st, err := r.Current(c.ID)
	if err != nil {
		return nil, err
	}
	if st.Status != StatusRunning {
		return nil, fmt.Errorf("%w: %s is %s; its healthcheck runs while it runs (`hutch start %s`)", ErrNotRunning, c.Name, st.Status, c.Name)
	}
	if Paused(st) {
		return nil, fmt.Errorf("container %s is paused: its healthcheck waits until it is unpaused (`hutch unpause %s`)", c.Name, c.Name)
	}
	hc := healthTiming(c.Healthcheck)
	res, err := probe(c, st, hc, o.Seccomp)
	if err != nil {
		return nil, fmt.Errorf("the healthcheck of container %s: %w", c.Name, err)
	}
	// A container that ended (or was restarted) meanwhile: the probe is no news.
	if now, err := r.Current(c.ID); err != nil || now.Status != StatusRunning || !now.StartedAt.Equal(st.StartedAt) {
		return nil, fmt.Errorf("%w: container %s ended during its healthcheck", ErrNotRunning, c.Name)
	}
	l, err := lock.Acquire(filepath.Join(r.dir(c.ID), "health.lock"), nil)
	if err != nil {
		return nil, err
	}
	h := r.readHealth(c.ID, st)
	before := h.Status
	h.record(res, hc, st.StartedAt)
	b, err := json.MarshalIndent(h, "", "  ")
	if err == nil {
		err = fsutil.ReplaceFile(r.healthPath(c.ID), b, 0o600)
	}
	l.Unlock()
	if err != nil {
		return nil, fmt.Errorf("recording the health of container %s: %w", c.Name, err)
	}
	if h.Status != before {
		c.Emit(events.HealthStatus + ": " + h.Status)
		if h.Status == HealthUnhealthy {
			if err := r.onUnhealthy(c, st); err != nil {
				return h, fmt.Errorf("--health-on-failure %s: %w", c.HealthOnFailure, err)
			}
		}
	}
	return h, nil
}

// onUnhealthy applies --health-on-failure: kill (SIGKILL; the --restart policy then
// applies as to any exit), stop (as `hutch stop`: no restart), restart (stopped, and
// restarted by its monitor whatever --restart says; a foreground container, which
// has no monitor to restart it, is stopped).
func (r *Records) onUnhealthy(c *Config, st *State) error {
	timeout := 10 * time.Second
	if c.StopTimeout != nil {
		timeout = time.Duration(*c.StopTimeout) * time.Second
	}
	switch c.HealthOnFailure {
	case "kill":
		return r.Signal(c, unix.SIGKILL)
	case "stop":
		return r.Stop(c, timeout)
	case "restart":
		if !monitorAlive(st.MonitorPid, c.ID) {
			return r.Stop(c, timeout)
		}
		return r.stop(c, "", timeout, healthRestartMarker)
	}
	return nil
}

// probe runs the check and returns its result: its exit status and first 4 KiB of
// output, or -1 when it outlived its timeout (then it is killed, with every process of
// its session). A check that cannot start (126, 127) is a failed result; an engine
// failure is an error.
func probe(c *Config, st *State, hc images.Healthcheck, cache *security.Cache) (HealthResult, error) {
	res := HealthResult{Start: time.Now().UTC()}
	args, err := healthArgs(&hc)
	if err != nil {
		return res, err
	}
	spec, flags, err := execSpec(c, ExecOptions{Cmd: args, Seccomp: cache})
	if err != nil {
		return res, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return res, err
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return res, err
	}
	defer pr.Close()
	p, err := launch.Exec(st.Pid, flags, spec, nsinit.Stdio{Stdin: devnull, Stdout: pw, Stderr: pw}, st.Cgroup, nil)
	pw.Close()
	if err != nil {
		var ee *nsinit.ExecError
		if errors.As(err, &ee) {
			res.End, res.ExitCode, res.Output = time.Now().UTC(), ee.Code, ee.Msg
			return res, nil
		}
		return res, err
	}
	output := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(pr, healthOutputMax))
		_, _ = io.Copy(io.Discard, pr)
		output <- b
	}()
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	go func() {
		code, err := p.Wait()
		done <- exit{code, err}
	}()
	timer := time.NewTimer(hc.Timeout)
	defer timer.Stop()
	select {
	case e := <-done:
		if e.err != nil {
			return res, e.err
		}
		res.ExitCode = e.code
		// What the check left running may hold the pipe open: its output so far is enough.
		select {
		case b := <-output:
			res.Output = string(b)
		case <-time.After(time.Second):
		}
	case <-timer.C:
		// The check leads a session of its own (nsinit's execChild): its process group
		// is every process it started that did not leave it.
		if cmd := p.CommandPid(); cmd > 0 {
			_ = signalProcess(st, -cmd, unix.SIGKILL)
		}
		_ = p.Signal(unix.SIGKILL)
		<-done
		res.ExitCode, res.Output = -1, fmt.Sprintf("Health check exceeded timeout (%s)", hc.Timeout)
	}
	res.End = time.Now().UTC()
	return res, nil
}

// healthLoop runs c's healthcheck on its schedule while a foreground `run` waits for
// it (a detached container's monitor has its own timer: monitor.c). The function it
// returns ends the loop, without waiting for a probe under way (which may be the one
// stopping the container).
func (r *Records) healthLoop(c *Config, cache *security.Cache) func() {
	if c.Healthcheck == nil {
		return func() {}
	}
	hc := healthTiming(c.Healthcheck)
	done := make(chan struct{})
	go func() {
		began := time.Now()
		for {
			d := hc.Interval
			if hc.StartPeriod > 0 && time.Since(began) < hc.StartPeriod {
				d = hc.StartInterval
			}
			t := time.NewTimer(d)
			select {
			case <-done:
				t.Stop()
				return
			case <-t.C:
			}
			_, _ = r.Healthcheck(c, HealthcheckOptions{Seccomp: cache})
		}
	}()
	return func() { close(done) }
}
