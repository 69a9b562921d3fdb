package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
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

// checkLimits refuses (exit 125) limits that cannot be applied here, or, with
// [cgroups] on_unavailable = "warn", says so on stderr (Check, once per request).
func (m *Manager) checkLimits(r *cgroups.Resources) error {
	if r.Empty() {
		return nil
	}
	if err := r.Validate(runtime.NumCPU()); err != nil {
		return err
	}
	err := m.delegation().Check(r)
	if err == nil {
		return nil
	}
	if m.Cgroups.Warn() {
		warnLimits(err)
		return nil
	}
	return err
}

// warnLimits says what a container runs without: limits left out (on_unavailable =
// "warn"), or a cgroup of its own.
func warnLimits(err error) {
	var ue *cgroups.UnavailableError
	if !errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "Warning: the container is "+err.Error())
		return
	}
	fmt.Fprintln(os.Stderr, "Warning: "+ue.Warning("running"))
}

// cgroupFor makes the container's cgroup and writes its limits, for a start: the init
// is cloned into it. Without a delegated cgroup, a container with no limits runs without
// one, as does one whose limits are only warned about.
// limitsSaid: the limits left out were said already, by the request's Check in this
// process (run); only a cgroup that cannot be made is said then.
func (m *Manager) cgroupFor(c *Config, limitsSaid bool) (*cgroups.Limited, error) {
	warn := warnLimits
	if limitsSaid {
		warn = func(err error) {
			if ue := (*cgroups.UnavailableError)(nil); !errors.As(err, &ue) {
				warnLimits(err)
			}
		}
	}
	return m.delegation().Prepare(cgroups.Prefix+c.ID, c.Resources, warn)
}

// recordCgroup notes the container's cgroup and what was applied in its state.
func recordCgroup(st *State, l *cgroups.Limited) {
	if l == nil {
		return
	}
	if l.Cgroup != nil {
		st.Cgroup = l.Cgroup.Dir
	}
	st.Applied, st.NotApplied = l.Applied, l.NotApplied
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
	if c.Resources != nil {
		cp := *c.Resources
		cp.Requested = map[string]string{}
		for k, v := range c.Resources.Requested {
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
	c.Resources = merged
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
