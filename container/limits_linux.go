package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/nsinit"
)

// delegation is where containers' cgroups go, found once per command.
func (m *Manager) delegation() *cgroups.Delegation {
	m.delegOnce.Do(func() { m.deleg = cgroups.Discover(m.Cgroups) })
	return m.deleg
}

// DiscoverCgroups starts finding the cgroup delegation in the background, for a command
// about to start a container (run): reading /proc/self/mountinfo and the cgroup files
// takes a few hundred microseconds, which then overlap the caller's own work instead of
// delaying the container's init, cloned into its cgroup.
func (m *Manager) DiscoverCgroups() { go m.delegation() }

// wantsCgroup reports whether a container started now gets a cgroup of its own: always
// where a delegated cgroup exists, and whenever limits are asked (to fail or warn).
func (m *Manager) wantsCgroup(o Options) bool {
	return m.delegation().Usable() || !o.Resources.Empty()
}

// CheckLimits refuses the limits o asks that cannot be applied here (exit 125), as
// Create does, so that run and create fail before pulling an image; with
// [cgroups] on_unavailable = "warn" it leaves the warning to Create.
func (m *Manager) CheckLimits(o Options) error {
	if m.Cgroups.Warn() || o.Resources.Empty() {
		return nil
	}
	return m.checkLimits(o)
}

// checkLimits refuses (exit 125) limits that cannot be applied here, or, with
// [cgroups] on_unavailable = "warn", says so once on stderr.
func (m *Manager) checkLimits(o Options) error {
	if o.Resources.Empty() {
		return nil
	}
	if err := o.Resources.Validate(runtime.NumCPU()); err != nil {
		return err
	}
	err := m.delegation().Check(o.Resources)
	if err == nil {
		return nil
	}
	if m.Cgroups.Warn() {
		m.warnLimits(err)
		return nil
	}
	return err
}

func (m *Manager) warnLimits(err error) {
	if m.warned {
		return
	}
	m.warned = true
	var ue *cgroups.UnavailableError
	if !errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "Warning: the container is "+err.Error())
		return
	}
	fmt.Fprintln(os.Stderr, "Warning: "+ue.Warning("running"))
}

// attachCgroup makes the container's cgroup and writes its limits, for a start: the
// init is cloned into it. Without a delegated cgroup, a container with no limits runs
// without one, as does one whose limits are only warned about.
func (m *Manager) attachCgroup(c *Config, p *prepared) error {
	if e := m.early; e != nil && e.id == c.ID {
		// Made before the container, for its init launched already (Run).
		m.early = nil
		p.limits, p.spec.Cgroup = e.limits, e.limits.File
		return nil
	}
	l, err := m.delegation().Prepare(cgroups.Prefix+c.ID, c.Options.Resources, m.warnLimits)
	if err != nil {
		return err
	}
	p.limits, p.spec.Cgroup = l, l.File
	return nil
}

// earlyCgroup is a container's cgroup made before the container itself, so that its
// init can be launched into it while the container is created (Run).
type earlyCgroup struct {
	id     string
	limits *cgroups.Limited
}

// earlyCgroup picks the ID of the container Run is about to create and, when it gets a
// cgroup, makes it now and points spec at it: the init launched early is cloned into it.
func (m *Manager) earlyCgroup(o Options, spec *nsinit.Spec) error {
	if !m.wantsCgroup(o) {
		return nil
	}
	if err := m.checkLimits(o); err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	l, err := m.delegation().Prepare(cgroups.Prefix+id, o.Resources, m.warnLimits)
	if err != nil {
		return err
	}
	m.early = &earlyCgroup{id: id, limits: l}
	spec.Cgroup = l.File
	return nil
}

// dropEarlyCgroup removes a cgroup made early for a container that was not created.
func (m *Manager) dropEarlyCgroup() {
	if m.early != nil {
		m.early.limits.Abort()
		m.early = nil
	}
}

// takeID is the ID for a new container: the one an early cgroup was made for, or a new one.
func (m *Manager) takeID() (string, error) {
	if m.early != nil {
		return m.early.id, nil
	}
	return newID()
}

// launched finishes a started init's cgroup side before it runs the command. On
// failure the caller kills the init.
func (p *prepared) launched(pid int) error {
	p.spec.Cgroup = nil
	if p.limits == nil {
		return nil
	}
	return p.limits.Started(pid)
}

// dropCgroup removes a cgroup made for a start that failed.
func (p *prepared) dropCgroup() {
	p.spec.Cgroup = nil
	p.limits.Abort()
}

// record notes the container's cgroup and what was applied in its state.
func (p *prepared) record(st *State) {
	if p.limits == nil {
		return
	}
	if p.limits.Cgroup != nil {
		st.Cgroup = p.limits.Cgroup.Dir
	}
	st.Applied, st.NotApplied = p.limits.Applied, p.limits.NotApplied
}

// noteExit reads, before the cgroup goes, whether the OOM killer killed in it.
func noteExit(st *State) {
	if st.Cgroup != "" && cgroups.At(st.Cgroup).OOMKills() > 0 {
		st.OOMKilled = true
	}
}

// RemoveCgroup removes a stopped container's cgroup (system reset, which deletes the
// records wholesale).
func (m *Manager) RemoveCgroup(id string) error { return m.removeCgroup(id) }

// removeCgroup removes the cgroup a container's last run used.
func (m *Manager) removeCgroup(id string) error {
	if st, err := m.Records.State(id); err == nil && st.Cgroup != "" {
		if err := cgroups.At(st.Cgroup).Remove(); err != nil {
			return err
		}
	}
	// One made for a start that failed before it was recorded.
	if d := m.delegation(); d.Usable() {
		return cgroups.At(filepath.Join(d.Base, cgroups.Prefix+id)).Remove()
	}
	return nil
}

// ErrNoCgroup is returned for stats, pause and update of a container without a cgroup.
var ErrNoCgroup = errors.New("the container has no cgroup of its own")

// cgroupOf is a running container's cgroup, or why it has none.
func (r *Records) cgroupOf(c *Config, deleg func() *cgroups.Delegation) (*cgroups.Cgroup, *State, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nil, nil, err
	}
	if st.Status != StatusRunning {
		return nil, st, fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name, st.Status)
	}
	if st.Cgroup == "" {
		why := "it was started without one"
		if d := deleg(); !d.Usable() {
			why = d.Why
		}
		return nil, st, fmt.Errorf("%w (%s): %s", ErrNoCgroup, c.Name, why)
	}
	return cgroups.At(st.Cgroup), st, nil
}

// Pause freezes every process of a running container (cgroup.freeze).
func (m *Manager) Pause(c *Config) error {
	cg, _, err := m.Records.cgroupOf(c, m.delegation)
	if err != nil {
		return err
	}
	if cg.Frozen() {
		return fmt.Errorf("container %s is already paused", c.Name)
	}
	if err := cg.Freeze(); err != nil {
		return err
	}
	c.Emit(events.Pause)
	return nil
}

// Unpause lets a paused container run again.
func (m *Manager) Unpause(c *Config) error {
	cg, _, err := m.Records.cgroupOf(c, m.delegation)
	if err != nil {
		return err
	}
	if !cg.Frozen() {
		return fmt.Errorf("container %s is not paused", c.Name)
	}
	if err := cg.Thaw(); err != nil {
		return err
	}
	c.Emit(events.Unpause)
	return nil
}

// Paused reports whether a running container is frozen.
func Paused(st *State) bool {
	return st.Status == StatusRunning && st.Cgroup != "" && cgroups.At(st.Cgroup).Frozen()
}

// thawAfterSignal lets a paused container receive a signal other than SIGKILL (which
// reaches frozen processes anyway), as Docker does.
func thawAfterSignal(st *State) {
	if Paused(st) {
		_ = cgroups.At(st.Cgroup).Thaw()
	}
}

// Stats reads a running container's cgroup counters.
func (m *Manager) Stats(c *Config) (cgroups.Stats, error) {
	cg, _, err := m.Records.cgroupOf(c, m.delegation)
	if err != nil {
		return cgroups.Stats{}, err
	}
	return cg.Stats()
}

// Update changes a container's limits: recorded for its next starts, and written into
// its cgroup now when it runs. Limits that cannot be applied are refused (exit 125).
func (m *Manager) Update(c *Config, u *cgroups.Resources) error {
	merged := &cgroups.Resources{}
	if c.Options.Resources != nil {
		cp := *c.Options.Resources
		cp.Requested = map[string]string{}
		for k, v := range c.Options.Resources.Requested {
			cp.Requested[k] = v
		}
		merged = &cp
	}
	merged.Merge(u)
	if err := merged.Validate(runtime.NumCPU()); err != nil {
		return err
	}
	st, err := m.Records.Current(c.ID)
	if err != nil {
		return err
	}
	// Judged where the container's cgroup is (wherever this command runs from), or,
	// for a container that never had one, where a start would make it.
	d := m.delegation()
	if st.Cgroup != "" {
		d = cgroups.DelegationOf(cgroups.At(st.Cgroup))
	}
	if err := d.Check(u); err != nil {
		return err
	}
	if st.Status == StatusRunning {
		if st.Cgroup == "" {
			return fmt.Errorf("%w (%s): it was started without one, so its limits cannot change while it runs; stop it, update it and start it again", ErrNoCgroup, c.Name)
		}
		if err := d.EnableFor(u); err != nil {
			return err
		}
		applied, err := cgroups.At(st.Cgroup).Apply(merged.ForUpdate(u), d.Base)
		if err != nil {
			return err
		}
		st.Applied = mergeApplied(st.Applied, applied)
		if err := m.Records.SaveState(c.ID, st); err != nil {
			return err
		}
	}
	c.Options.Resources = merged
	if err := m.Records.Save(c); err != nil {
		return err
	}
	c.Emit(events.Update)
	return nil
}

func mergeApplied(old, now []cgroups.Setting) []cgroups.Setting {
	var out []cgroups.Setting
	for _, s := range old {
		replaced := false
		for _, n := range now {
			replaced = replaced || n.Flag == s.Flag || n.File == s.File && n.File != "io.max"
		}
		if !replaced {
			out = append(out, s)
		}
	}
	return append(out, now...)
}

// cgroupHint explains a failed clone into the container's cgroup.
func cgroupHint(p *prepared) string {
	if p.limits == nil || p.limits.Cgroup == nil {
		return ""
	}
	return fmt.Sprintf(" (cloning into the cgroup %s: hutch must run inside the delegated cgroup, since the kernel moves a process only between cgroups whose common ancestor you may write)", p.limits.Cgroup.Dir)
}

// startExecInCgroup starts an exec'd command in the container's cgroup, under its
// limits. The kernel moves a process only between cgroups whose common ancestor the user
// may write: an exec from outside the delegated cgroup cannot enter it, and then runs
// outside it with a warning (it never hides that the limits do not cover it).
func startExecInCgroup(c *Config, st *State, flags int, spec *nsinit.ExecSpec, child nsinit.Stdio) (*nsinit.ExecProcess, error) {
	if st.Cgroup == "" {
		return nsinit.StartExec(st.Pid, flags, spec, child)
	}
	if Paused(st) {
		return nil, fmt.Errorf("container %s is paused: unpause it first (`hutch unpause %s`); a command started in its frozen cgroup would not run", c.Name, c.Name)
	}
	f, err := cgroups.At(st.Cgroup).Open()
	if err == nil {
		spec.Cgroup = f
		p, err := nsinit.StartExec(st.Pid, flags, spec, child)
		f.Close()
		spec.Cgroup = nil
		if err == nil || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return p, err
		}
	}
	fmt.Fprintf(os.Stderr, "Warning: the command runs outside the cgroup of container %s (its limits, stats and pause do not cover it): this hutch runs outside the delegated cgroup %s, and the kernel moves a process only between cgroups whose common ancestor you may write\n", c.Name, filepath.Dir(st.Cgroup))
	return nsinit.StartExec(st.Pid, flags, spec, child)
}
