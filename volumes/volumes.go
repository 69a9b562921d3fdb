// Package volumes keeps a user's named volumes: directories under
// $XDG_DATA_HOME/hutch/volumes/NAME/_data with a small JSON record beside them. A volume
// is filled from the image's content at its mount point the first time a container
// uses it, as Docker does.
package volumes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.podman.io/storage/pkg/archive"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/fsutil"
)

// ErrNotFound is returned for a volume that does not exist.
var ErrNotFound = errors.New("no such volume")

// ErrInUse is returned when removing a volume that containers use.
var ErrInUse = errors.New("volume is in use")

// Volume is one volume's record, in `docker volume inspect`'s shape.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	Options    map[string]string `json:"Options"`
	Anonymous  bool              `json:"Anonymous"`
	// Populated records that the volume was filled from an image (once, at first use).
	Populated bool `json:"Populated"`
}

// Store is the volumes folder.
type Store struct{ Dir string }

// ValidName reports whether name is a valid volume name (and not a path).
// (^[a-zA-Z0-9][a-zA-Z0-9_.-]*$, checked by hand: no regexp compiled at start-up).
func ValidName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return name != ""
}

func (s *Store) record(name string) string { return filepath.Join(s.Dir, name, "volume.json") }

// Create makes a volume; an empty name makes an anonymous one with a random name. opts
// are the local driver's options (CheckOptions). A name that exists already is returned
// as is (docker volume create is idempotent).
func (s *Store) Create(name string, labels, opts map[string]string, anonymous bool) (*Volume, error) {
	if name == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		name, anonymous = hex.EncodeToString(b), true
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("invalid volume name %q: use letters, digits and _ . - (starting with a letter or digit)", name)
	}
	if err := CheckOptions(opts); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if v, err := s.Get(name); err == nil {
		return v, nil
	}
	// Made whole under a temporary name, then renamed into place: a creation cut short
	// leaves no directory that looks like a volume without its record.
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(s.Dir, creatingPrefix+name+"-")
	if err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // nothing once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	if opts == nil {
		opts = map[string]string{}
	}
	dir := filepath.Join(s.Dir, name)
	v := &Volume{Name: name, Driver: "local", Mountpoint: filepath.Join(dir, "_data"), CreatedAt: time.Now().UTC(),
		Labels: labels, Scope: "local", Options: opts, Anonymous: anonymous}
	if err := s.write(filepath.Join(tmp, "volume.json"), v); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if v, gerr := s.Get(name); gerr == nil {
			return v, nil // made by someone else meanwhile
		}
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	events.Volume(events.Create, v.Name, v.Driver)
	return v, nil
}

// Prefixes of the directories a creation or a removal works in.
const (
	creatingPrefix = ".creating-"
	removingPrefix = ".removing-"
)

func (s *Store) save(v *Volume) error { return s.write(s.record(v.Name), v) }

func (s *Store) write(path string, v *Volume) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, b, 0o600)
}

// Get reads a volume's record.
func (s *Store) Get(name string) (*Volume, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	b, err := os.ReadFile(s.record(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (`hutch volume ls` lists your volumes)", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: damaged record %s: %w", name, s.record(name), err)
	}
	v.Mountpoint = filepath.Join(s.Dir, name, "_data")
	return &v, nil
}

// List returns every volume, by name.
func (s *Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range entries {
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data. users names the containers that use it; a
// volume in use is refused unless force.
func (s *Store) Remove(name string, users []string, force bool) error {
	dir := filepath.Join(s.Dir, name)
	driver := "local"
	if v, err := s.Get(name); err == nil {
		driver = v.Driver
	} else {
		// A directory of that name without its record is what an older hutch's removal
		// cut short left: finish it.
		if fi, serr := os.Stat(dir); !errors.Is(err, ErrNotFound) || !ValidName(name) || serr != nil || !fi.IsDir() {
			return err
		}
	}
	if len(users) > 0 && !force {
		return fmt.Errorf("%w: volume %s is used by container %v: remove the container first, or use -f", ErrInUse, name, users)
	}
	// Out of sight at once (an atomic rename: the name is free), then deleted; a
	// removal cut short leaves only a directory that the next one, or `hutch system
	// check --repair`, deletes.
	// (A rename creates nothing: it works on a full disk.)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	gone := filepath.Join(s.Dir, removingPrefix+name+"-"+hex.EncodeToString(b))
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	events.Volume(events.Destroy, name, driver)
	_, err := s.RemoveLeftovers(time.Minute)
	return err
}

// Leftover is a directory in the volumes folder that is no volume: one a removal or a
// creation cut short left.
type Leftover struct {
	Path, Name, Problem string
	ModTime             time.Time
}

// Leftovers lists what removals and creations cut short left: directories being
// removed, and those being created or without a record for longer than minAge.
func (s *Store) Leftovers(minAge time.Duration) ([]Leftover, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Leftover
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !e.IsDir() {
			continue
		}
		l := Leftover{Path: filepath.Join(s.Dir, e.Name()), Name: e.Name(), ModTime: fi.ModTime()}
		young := time.Since(fi.ModTime()) < minAge
		switch {
		case strings.HasPrefix(e.Name(), removingPrefix):
			l.Problem = "a volume removal cut short"
		case strings.HasPrefix(e.Name(), creatingPrefix):
			if young {
				continue
			}
			l.Problem = "a volume creation cut short"
		case ValidName(e.Name()):
			if _, err := os.Stat(s.record(e.Name())); err == nil || young {
				continue
			}
			l.Problem = "a volume directory without its record (volume.json)"
		default:
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// RemoveLeftovers deletes what Leftovers(minAge) lists and returns it.
func (s *Store) RemoveLeftovers(minAge time.Duration) ([]Leftover, error) {
	left, err := s.Leftovers(minAge)
	if err != nil {
		return nil, err
	}
	for _, l := range left {
		if err := os.RemoveAll(l.Path); err != nil {
			return left, fmt.Errorf("removing %s: %w", l.Path, err)
		}
	}
	return left, nil
}

// Populate fills an empty volume, once, with the content of src (the image's directory
// at the mount point, already resolved inside the container's root), keeping owners and
// modes. A volume that was filled before, or holds data, is left alone.
func (s *Store) Populate(v *Volume, src string) error {
	if v.Populated || v.Kind() == KindTmpfs { // a tmpfs starts empty, as --tmpfs does
		return nil
	}
	entries, err := os.ReadDir(v.Source())
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			if err := archive.NewDefaultArchiver().CopyWithTar(src, v.Source()); err != nil {
				return fmt.Errorf("filling volume %s from the image: %w", v.Name, err)
			}
		}
	}
	v.Populated = true
	return s.save(v)
}
