package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	cstorage "go.podman.io/storage"
	"hutch.dev/hutch/internal/fsutil"
)

// creator is what a container's store entry records about the process that created it
// (in the entry's metadata): while that process lives, an entry without hutch's records
// is one being created; once it is gone, the entry is left over from a creation or a
// removal cut short (kill -9), and may be removed.
type creator struct {
	PID   int    `json:"creatorPid"`
	Start uint64 `json:"creatorStart"` // /proc/PID/stat starttime, in clock ticks
}

// orphanGrace is how old an entry without a creator record (made by an older hutch)
// must be to count as left over.
const orphanGrace = time.Minute

func creatorMetadata() string {
	st, _ := fsutil.ProcessStart(os.Getpid())
	b, _ := json.Marshal(creator{PID: os.Getpid(), Start: st})
	return string(b)
}

// creatorAlive tells whether the process that created the store entry still runs.
func creatorAlive(sc *cstorage.Container) bool {
	var cr creator
	if json.Unmarshal([]byte(sc.Metadata), &cr) != nil || cr.PID <= 0 {
		return time.Since(sc.Created) < orphanGrace
	}
	st, ok := fsutil.ProcessStart(cr.PID)
	return ok && st == cr.Start
}

// orphaned tells whether a store entry is left over: hutch has no record of it, and
// the process that created it is gone.
func (m *Manager) orphaned(sc *cstorage.Container) bool {
	if _, err := m.Records.load(sc.ID); err == nil {
		return false
	}
	return !creatorAlive(sc)
}

// Orphans lists the store's containers that are left over (see orphaned).
func (m *Manager) Orphans() ([]cstorage.Container, error) {
	all, err := m.Store.Containers()
	if err != nil {
		return nil, err
	}
	var out []cstorage.Container
	for i := range all {
		if m.orphaned(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// CreatorAlive tells whether the process creating store entry id still runs (false
// when the store has no such entry).
func (m *Manager) CreatorAlive(id string) bool {
	sc, err := m.Store.Container(id)
	return err == nil && creatorAlive(sc)
}

// RemoveLeftovers finishes what removals and creations cut short left: record
// directories being deleted (or without a config.json, once no live process is
// creating them) and store entries without records whose creator is gone. It returns
// the IDs it removed.
func (m *Manager) RemoveLeftovers() ([]string, error) {
	var done []string
	left, err := m.Records.Leftovers()
	if err != nil {
		return nil, err
	}
	for _, l := range left {
		if !l.Removing && m.CreatorAlive(l.ID) {
			continue // its creator is writing it right now
		}
		if l.Removing {
			if err := os.RemoveAll(l.Path); err != nil {
				return done, fmt.Errorf("finishing the removal of container %s: %w", shortID(l.ID), err)
			}
			continue
		}
		if err := m.RemoveRef(l.ID, false); err != nil && !errors.Is(err, ErrNotFound) {
			return done, err
		}
		if err := m.Records.Delete(l.ID); err != nil {
			return done, err
		}
		done = append(done, l.ID)
	}
	orphans, err := m.Orphans()
	if err != nil {
		return done, err
	}
	for _, o := range orphans {
		if err := m.RemoveRef(o.ID, false); err != nil && !errors.Is(err, ErrNotFound) {
			return done, err
		}
		done = append(done, o.ID)
	}
	return done, nil
}

// Prune removes every container that is not running, and whatever removals and
// creations cut short left; it returns the IDs removed.
func (m *Manager) Prune() ([]string, error) {
	sums, err := m.Records.Summaries()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, s := range sums {
		if s.State.Status == StatusRunning {
			continue
		}
		if err := m.Remove(s.Config, false); err != nil {
			return done, err
		}
		done = append(done, s.Config.ID)
	}
	more, err := m.RemoveLeftovers()
	return append(done, more...), err
}

// Reap finishes a container whose owner (its monitor, or the `hutch run` it ran under)
// died without recording its end: the exit is recorded (137, as `ps` already shows it),
// and its mount, network state and cgroup are released; a --rm container is removed.
func (m *Manager) Reap(c *Config) error {
	st, err := m.Records.State(c.ID)
	if err != nil {
		return err
	}
	if Alive(st) {
		return fmt.Errorf("container %s is running", c.Name)
	}
	if c.AutoRemove {
		return m.Remove(c, true)
	}
	m.releaseMount(c.ID)
	m.removeNetDir(c.ID)
	if err := m.removeCgroup(c.ID); err != nil {
		return err
	}
	if st.Status != StatusRunning {
		return nil
	}
	st.Status, st.ExitCode, st.Pid = StatusExited, 137, 0
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now().UTC()
	}
	st.Error = "the container's monitor died"
	return m.Records.SaveState(c.ID, st)
}

// ReleaseMount undoes a mount of container id that nothing uses any more (its owner
// died): the store's count, and the mount program serving it.
func (m *Manager) ReleaseMount(id string) { m.releaseMount(id) }

// NetKey is the name of a container's network state directory under NetDir.
func NetKey(id string) string { return shortID(id) }

// OwnerBusy tells whether the process that owned the container's last run (its monitor,
// or the `hutch run` it ran under) still lives, whatever the record says: right after
// the container ends, its owner records the exit first, then unmounts and removes its
// network state, and what it is about to release is no leftover.
func OwnerBusy(st *State) bool {
	return st.MonitorPid > 0 && !st.StartedAt.IsZero() && confirmDead(func() bool { return aliveOnce(st) })
}
