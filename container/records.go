package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
)

// Records keeps hutch's record of each container, next to the store: its Config, its
// last State and its log, one directory per container, written atomically. They are
// plain files owned by the user, so `ps`, `inspect` and `logs` read them without
// entering the user namespace.
type Records struct{ Dir string }

// Status words, as Docker uses them.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
)

// State is a container's life so far.
type State struct {
	Status     string    `json:"Status"`
	Pid        int       `json:"Pid"`        // the container's init, in the host's pid namespace
	MonitorPid int       `json:"MonitorPid"` // the monitor that owns it (detached containers)
	ExitCode   int       `json:"ExitCode"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	Error      string    `json:"Error,omitempty"`
	Restarts   int       `json:"RestartCount"`
	OOMKilled  bool      `json:"OOMKilled"`
	// Rootfs is where the container's root is mounted, in its owner's mount namespace.
	Rootfs string `json:"Rootfs,omitempty"`
	// Cgroup is the container's own cgroup (v2) directory, "" without one; Applied is
	// what was written into it for the asked limits, NotApplied why some were not.
	Cgroup     string            `json:"Cgroup,omitempty"`
	Applied    []cgroups.Setting `json:"Applied,omitempty"`
	NotApplied string            `json:"NotApplied,omitempty"`
	// Ports are the ports published while it runs, host ports chosen.
	Ports []network.PortMapping `json:"Ports,omitempty"`
	// Starter is the process starting it (a monitor, `hutch start -a`), recorded before
	// it mounts anything, until it records the container as running (or puts back the
	// state it found): what it mounted and attached meanwhile is no leftover.
	Starter *Owner `json:"Starter,omitempty"`
}

// Owner names a process: its pid and its start time (clock ticks after boot), so that
// a pid reused by another process is not taken for it.
type Owner struct {
	Pid   int    `json:"Pid"`
	Start uint64 `json:"Start"`
}

func (r *Records) dir(id string) string { return filepath.Join(r.Dir, id) }

// LogPath is where a container's output is kept.
func (r *Records) LogPath(id string) string { return filepath.Join(r.dir(id), "ctr.log") }

// Save writes a container's Config.
func (r *Records) Save(c *Config) error {
	if err := os.MkdirAll(r.dir(c.ID), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	write := fsutil.WriteFileAtomic
	if c.AutoRemove {
		write = fsutil.ReplaceFile // gone when its command ends: no need to flush it to disk
	}
	return write(filepath.Join(r.dir(c.ID), "config.json"), b, 0o600)
}

// SaveState writes a container's State.
func (r *Records) SaveState(id string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.ReplaceFile(filepath.Join(r.dir(id), "state.json"), b, 0o600)
}

// State reads a container's last recorded State; a container never started is "created".
func (r *Records) State(id string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &State{Status: StatusCreated}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("container %s: damaged state record: %w", shortID(id), err)
	}
	return &st, nil
}

// removingPrefix names a record directory being deleted: renamed out of the way first,
// so that a deletion cut short (kill -9, a full disk) leaves no half record that reads
// as a container, only a directory that the next removal or `hutch system check`
// finishes.
const removingPrefix = ".removing-"

// Delete removes a container's records: at once from every reader's view (an atomic
// rename), then from the disk. A record already gone is no error, and whatever an
// earlier deletion left half done is removed too.
func (r *Records) Delete(id string) error {
	if id == "" || strings.ContainsAny(id, "/.") {
		return nil
	}
	gone := filepath.Join(r.Dir, removingPrefix+id)
	if err := os.Rename(r.dir(id), gone); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the records of container %s: %w", shortID(id), err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("removing the records of container %s: %w", shortID(id), err)
	}
	return nil
}

// Leftover is a directory under the records that is no container's record: one a
// deletion cut short left (Removing), or one without a readable config.json.
type Leftover struct {
	Path, ID string
	Removing bool
	Problem  string
}

// Leftovers lists what Delete or a creation cut short left in the records directory.
func (r *Records) Leftovers() ([]Leftover, error) {
	entries, err := os.ReadDir(r.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Leftover
	for _, e := range entries {
		p := filepath.Join(r.Dir, e.Name())
		if id, ok := strings.CutPrefix(e.Name(), removingPrefix); ok {
			out = append(out, Leftover{Path: p, ID: id, Removing: true, Problem: "a removal cut short"})
			continue
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := r.load(e.Name()); err != nil {
			out = append(out, Leftover{Path: p, ID: e.Name(), Problem: unwrapPath(err).Error()})
		}
	}
	return out, nil
}

// List reads every container's Config, newest first.
func (r *Records) List() ([]*Config, error) {
	entries, err := os.ReadDir(r.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Config
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a record being removed
		}
		c, err := r.load(e.Name())
		if err != nil {
			continue // a record being created or removed right now
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func (r *Records) load(id string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(r.dir(id), "config.json"))
	if err != nil {
		return nil, err
	}
	var c Config
	if err := decodeRecord(b, &c); err != nil {
		return nil, fmt.Errorf("container %s: damaged record: %w", shortID(id), err)
	}
	return &c, nil
}

// Get finds a container by name, full ID or unique ID prefix.
func (r *Records) Get(ref string) (*Config, error) {
	if c, err := r.load(ref); err == nil && len(ref) == 64 {
		return c, nil
	}
	all, err := r.List()
	if err != nil {
		return nil, err
	}
	var hits []*Config
	for _, c := range all {
		if c.Name == ref {
			return c, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(c.ID, ref) {
			hits = append(hits, c)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("%w: %s (`hutch ps -a` lists your containers)", ErrNotFound, ref)
	case 1:
		return hits[0], nil
	default:
		return nil, fmt.Errorf("container ID prefix %q is ambiguous: give more characters", ref)
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
