// Package container creates, starts and removes containers: it turns what the user
// asked for and what the image says into a runtime spec for package nsinit, mounts the
// image through the store, resolves users and volumes inside the container's root, and
// cleans up after the command ends or fails.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	storagetypes "go.podman.io/storage/types"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/internal/idmap"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/volumes"
)

// ErrNotFound is returned for a container that does not exist.
var ErrNotFound = errors.New("no such container")

// seccompProgram is the container's compiled filter, from the cache (nil: unconfined).
func seccompProgram(cache *security.Cache, c *Config) ([]byte, uint32, error) {
	p, err := cache.Program(c.SeccompProfile(), c.Caps)
	if err != nil || p == nil {
		return nil, 0, err
	}
	return p.Bytes(), p.Flags, nil
}

// Networks besides slirp4netns (network_linux.go).
const (
	NetworkNone = "none"
	NetworkHost = "host"
)

// Manager does container work. Records is enough for commands that only read (ps,
// inspect, logs); Store is needed to create, start and remove.
type Manager struct {
	Records *Records
	Store   cstorage.Store
	Volumes *volumes.Store
	// HostUID and HostGID are the user's own ids outside hutch's namespace (for keep-id).
	HostUID, HostGID int
	// SlotDir is a directory in the runtime dir through which Run hands a container's
	// root to an init launched before it was mounted ("" disables that).
	SlotDir string
	// Cgroups is config.toml's [cgroups]: where containers' cgroups go, and whether a
	// limit that cannot be applied fails or warns.
	Cgroups cgroups.Options
	deleg   *cgroups.Delegation
	// NetDir holds the state of the containers' networks (port forwarder sockets);
	// SlirpPath is the configured slirp4netns ("" = found on $PATH).
	NetDir, SlirpPath string
	// Seccomp caches the containers' compiled seccomp filters.
	Seccomp *security.Cache
	// CDISpecDirs are where CDI devices are found (DefaultCDISpecDirs when empty).
	CDISpecDirs []string

	delegOnce sync.Once // guards deleg: DiscoverCgroups finds it in the background
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Check checks o against this host, once, before an image is pulled or anything is
// created: the name, the network (slirp4netns and /dev/net/tun present, the host ports
// free and allowed), the capabilities, the limits (refused here; with [cgroups]
// on_unavailable = "warn", said here, once), the bind mounts' sources, and, with
// --userns keep-id, that your subordinate ranges are large enough.
func (m *Manager) Check(o Options) (*Request, error) {
	r := &Request{Options: o}
	if o.Name != "" {
		if err := validName(o.Name); err != nil {
			return nil, err
		}
	}
	if err := m.checkNetwork(o.Settings); err != nil {
		return nil, err
	}
	caps, err := capabilities(o.Settings)
	if err != nil {
		return nil, err
	}
	r.caps = caps
	if err := m.checkLimits(o.Resources); err != nil {
		return nil, err
	}
	if err := checkProcess(o.Settings); err != nil {
		return nil, err
	}
	if err := m.resolveNamespaces(r); err != nil {
		return nil, err
	}
	if err := checkCIDFile(o.CIDFile); err != nil {
		return nil, err
	}
	if err := m.volumesFrom(&r.Options); err != nil {
		return nil, err
	}
	if err := m.checkDevices(r); err != nil {
		return nil, err
	}
	for _, mt := range r.Mounts {
		if mt.Overlay && m.Store != nil && !m.nativeOverlay() {
			return nil, fmt.Errorf("-v %s:%s:O: an overlay over a host directory needs the kernel's own overlay in your user namespace, and this store uses %s because the kernel's is not available to you (`hutch info` says why): mount the directory read-only (:ro) and write to a --tmpfs or a volume instead", mt.Source, mt.Destination, m.driverWhy())
		}
		if mt.Type == "image" && !mt.ReadOnly && m.Store != nil && !m.nativeOverlay() {
			return nil, fmt.Errorf("--mount type=image,source=%s,target=%s,rw=true: the writable layer over the image is an overlay of the kernel's in your user namespace, and this store uses %s because the kernel's is not available to you (`hutch info` says why): mount the image read-only (leave out rw=true) and write to a --tmpfs or a volume instead", mt.Source, mt.Destination, m.driverWhy())
		}
		if mt.Type == "bind" {
			if _, err := os.Stat(mt.Source); err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", mt.Source, unwrapPath(err))
			}
		}
	}
	switch {
	case o.Userns == "":
	case o.Userns == UsernsKeepID || strings.HasPrefix(o.Userns, UsernsKeepID+":"):
		uid, gid, err := KeepIDOptions(o.Userns, m.HostUID, m.HostGID)
		if err != nil {
			return nil, err
		}
		if r.uidMap, r.gidMap, err = keepIDMaps(uid, gid); err != nil {
			return nil, err
		}
		r.keepIDUser = fmt.Sprintf("%d:%d", uid, gid)
	default:
		return nil, fmt.Errorf("internal error: --userns %q was not parsed (ParseUserns)", o.Userns)
	}
	return r, nil
}

// nativeOverlay says whether the store mounts with the kernel's overlay (not vfs, not
// fuse-overlayfs): then an overlay of hutch's own can be mounted in the user namespace.
func (m *Manager) nativeOverlay() bool {
	return m.Store.GraphDriverName() == "overlay" && !storage.UsesMountProgram(m.Store.GraphOptions())
}

// driverWhy names what the store mounts with when it is not the kernel's overlay.
func (m *Manager) driverWhy() string {
	if m.Store.GraphDriverName() == "overlay" {
		return "fuse-overlayfs"
	}
	return "the " + m.Store.GraphDriverName() + " driver"
}

// Create records a new container from the checked request and its image (found by the
// caller, as the pull policy says). Nothing is mounted or started.
func (m *Manager) Create(r *Request, img *cstorage.Image) (*Config, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	c, err := m.newConfig(r, img, id)
	if err != nil {
		return nil, err
	}
	if err := m.record(c); err != nil {
		return nil, err
	}
	if err := writeCIDFile(r.CIDFile, c.ID); err != nil {
		_ = m.Remove(c, true)
		return nil, err
	}
	return c, nil
}

// newConfig merges the request with the image's configuration into the record of
// container id, not yet in the store.
func (m *Manager) newConfig(r *Request, img *cstorage.Image, id string) (*Config, error) {
	icfg, _, err := images.ReadConfig(m.Store, img.ID)
	if err != nil {
		return nil, err
	}
	return merge(r, id, img.ID, img.Names, icfg.Config)
}

// record adds a new container to the store, under its name, and writes its record.
func (m *Manager) record(c *Config) error {
	var copts *cstorage.ContainerOptions
	if len(c.UIDMap) > 0 {
		copts = &cstorage.ContainerOptions{IDMappingOptions: storagetypes.IDMappingOptions{
			UIDMap: toIDTools(c.UIDMap), GIDMap: toIDTools(c.GIDMap)}}
	}
	if c.AutoRemove {
		// A --rm container does not outlive its command: like Podman, keep its records
		// and its layer out of the synced store files (no fsync, a volatile overlay).
		if copts == nil {
			copts = &cstorage.ContainerOptions{}
		}
		copts.Volatile = true
	}
	var names []string
	if c.Named() {
		names = []string{c.Name}
	}
	_, err := m.Store.CreateContainer(c.ID, names, c.ImageID, "", creatorMetadata(), copts)
	if errors.Is(err, cstorage.ErrDuplicateName) && c.Named() {
		// A name held by a store entry that a removal or a creation cut short left
		// without records is free: finish removing that entry, then take the name.
		if other, oerr := m.Store.Container(c.Name); oerr == nil && m.orphaned(other) {
			if rerr := m.RemoveRef(other.ID, false); rerr == nil {
				_, err = m.Store.CreateContainer(c.ID, names, c.ImageID, "", creatorMetadata(), copts)
			}
		}
	}
	if err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			holder := "another container"
			if other, err := m.Store.Container(c.Name); err == nil {
				holder = "container " + other.ID[:12]
			}
			return fmt.Errorf("the name %q is already used by %s: choose another --name, or remove it with `hutch rm %s`", c.Name, holder, c.Name)
		}
		return fmt.Errorf("creating the container: %w", err)
	}
	if err := m.Records.Save(c); err != nil {
		_ = m.Records.Delete(c.ID)
		_ = m.Store.DeleteContainer(c.ID)
		return err
	}
	c.Emit(events.Create)
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

func validName(n string) error {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return fmt.Errorf("--name %q: names are letters, digits and _ . - (starting with a letter or digit)", n)
		}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// capabilities computes the kept set: Docker's default, or all with --privileged, then
// --cap-add and --cap-drop (ALL allowed in both).
func capabilities(o Settings) ([]string, error) {
	all := nsinit.AllCaps()
	known := map[string]bool{}
	for _, c := range all {
		known[c] = true
	}
	set := map[string]bool{}
	base := nsinit.DefaultCaps
	if o.Privileged {
		base = all
	}
	for _, c := range base {
		set[c] = true
	}
	for _, flag := range []struct {
		name string
		list []string
		on   bool
	}{{"--cap-drop", o.CapDrop, false}, {"--cap-add", o.CapAdd, true}} {
		for _, c := range flag.list {
			cc := nsinit.CanonicalCap(c)
			if cc == "CAP_ALL" {
				for _, a := range all {
					set[a] = flag.on
				}
				continue
			}
			if !known[cc] {
				return nil, fmt.Errorf("%s %q: not a capability this kernel knows (e.g. NET_ADMIN, SYS_PTRACE)", flag.name, c)
			}
			set[cc] = flag.on
		}
	}
	var out []string
	for _, c := range all {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Get finds a container by name, full ID or unique ID prefix.
func (m *Manager) Get(ref string) (*Config, error) { return m.Records.Get(ref) }

// Remove deletes a container that is not running: its mount, its cgroup, with
// removeVolumes (or AutoRemove) its anonymous volumes, its records and its store entry.
// It finishes what a removal cut short left (kill -9, a full disk): every step accepts
// that its part is gone already. The records go before the store entry: a removal cut
// in between leaves a store entry without records, which holds the name until the next
// `hutch rm NAME`, a `hutch run --name NAME` or `hutch system check --repair` removes it
// (never a record that reads as a container whose store entry is gone).
func (m *Manager) Remove(c *Config, removeVolumes bool) error {
	diskspace.ReleaseIfLow(m.Store.GraphRoot())
	m.releaseMount(c.ID)
	if err := m.removeCgroup(c.ID); err != nil {
		return err
	}
	if removeVolumes || c.AutoRemove {
		for _, mt := range c.Mounts {
			if mt.Type != "volume" || mt.Source == "" {
				continue
			}
			if v, err := m.Volumes.Get(mt.Source); err == nil && v.Anonymous {
				_ = m.Volumes.Remove(v.Name, nil, true)
			}
		}
	}
	if err := m.Records.Delete(c.ID); err != nil {
		return err
	}
	c.Emit(events.Destroy)
	if err := m.deleteStoreEntry(c.ID); err != nil {
		return fmt.Errorf("removing container %s: %w; its records are gone: `hutch system check --repair` finishes the removal", c.Name, err)
	}
	m.removeNetDir(c.ID)
	return nil
}

// releaseMount undoes what a killed owner left mounted for container id: a foreground
// run's slot bind mount (in the kept mount namespace), the store's mount count and, with
// fuse-overlayfs, the mount program serving the dead mount.
func (m *Manager) releaseMount(id string) {
	m.dropSlot(id)
	if storage.UsesMountProgram(m.Store.GraphOptions()) {
		// A hutch or monitor killed outright leaves the fuse-overlayfs that served the
		// container's root behind, holding the dead mount: end it. Only when the store
		// still counts the root as mounted, as the scan reads every process's command line.
		if n, err := m.Store.Mounted(id); err == nil && n > 0 {
			if ctr, err := m.Store.Container(id); err == nil {
				storage.KillMountPrograms(ctr.LayerID)
			}
		}
	}
	_, _ = m.Store.Unmount(id, true)
	m.releaseImageMounts(id)
}

// deleteStoreEntry deletes a container from the store; one already gone is fine.
func (m *Manager) deleteStoreEntry(id string) error {
	err := m.Store.DeleteContainer(id)
	if err == nil || errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrNotAContainer) {
		return nil
	}
	return err
}

// RemoveRef removes the container ref names (Remove), or, when no record has that name
// or ID, a store entry of that name or ID left without records by a removal or creation
// cut short. It returns ErrNotFound when there is neither.
func (m *Manager) RemoveRef(ref string, removeVolumes bool) error {
	c, err := m.Get(ref)
	if err == nil {
		return m.Remove(c, removeVolumes)
	}
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	sc, serr := m.Store.Container(ref)
	if serr != nil || !m.orphaned(sc) {
		return err
	}
	diskspace.ReleaseIfLow(m.Store.GraphRoot())
	m.releaseMount(sc.ID)
	if err := m.removeCgroup(sc.ID); err != nil {
		return err
	}
	if err := m.deleteStoreEntry(sc.ID); err != nil {
		return fmt.Errorf("removing container %s: %w", ref, err)
	}
	_ = m.Records.Delete(sc.ID) // a half-deleted record directory, if any
	m.removeNetDir(sc.ID)
	return nil
}

// Rename gives a container a new name, unique among the user's containers.
func (m *Manager) Rename(c *Config, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	// The store does not refuse a name another container holds: it takes it from that
	// container. Look first, in the store and in the records.
	holder := ""
	if other, err := m.Store.Container(name); err == nil && other.ID != c.ID {
		for _, n := range other.Names {
			if n == name {
				holder = other.ID
			}
		}
	}
	if all, err := m.Records.List(); err == nil {
		for _, o := range all {
			if o.Name == name && o.ID != c.ID {
				holder = o.ID
			}
		}
	}
	if holder != "" {
		return fmt.Errorf("the name %q is already used by container %s: choose another name, or remove it with `hutch rm %s`", name, shortID(holder), name)
	}
	// The record first: a rename cut short leaves the store's name behind, which keeps
	// names unique (`hutch system check --repair` sets it right), never two records of
	// one name.
	old := *c
	c.Name = name
	if err := m.Records.Save(c); err != nil {
		*c = old
		return err
	}
	if err := m.Store.SetNames(c.ID, []string{name}); err != nil {
		*c = old
		_ = m.Records.Save(c)
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return fmt.Errorf("the name %q is already used by another container", name)
		}
		return err
	}
	c.Emit(events.Rename, "oldName", old.Name)
	return nil
}

// VolumeUsers maps each volume name to the containers whose mounts name it.
func (m *Manager) VolumeUsers() (map[string][]string, error) {
	all, err := m.Records.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range all {
		for _, mt := range c.Mounts {
			if mt.Type == "volume" && mt.Source != "" {
				users[mt.Source] = append(users[mt.Source], c.Name)
			}
		}
	}
	return users, nil
}

// keepIDMaps are the maps of --userns=keep-id: your uid (hutch's 0) appears as itself
// in the container, the container's root and the ids below yours are your first
// subordinate ids, and the rest keep their place. Files you own stay yours in bind mounts.
func keepIDMaps(uid, gid int) (uidMap, gidMap []nsinit.IDMap, err error) {
	nu, ng := selfIDs(idmap.SelfUID), selfIDs(idmap.SelfGID)
	if uid <= 0 || uid >= nu || gid <= 0 || gid >= ng {
		return nil, nil, fmt.Errorf("--userns=keep-id needs a subordinate id range larger than your uid %d (this namespace maps %d uids): ask an admin to run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`", uid, nu)
	}
	return keepIDMap(uid, nu), keepIDMap(gid, ng), nil
}

func keepIDMap(id, n int) []nsinit.IDMap {
	m := []nsinit.IDMap{{ContainerID: 0, HostID: 1, Size: id}, {ContainerID: id, HostID: 0, Size: 1}}
	if n-id-1 > 0 {
		m = append(m, nsinit.IDMap{ContainerID: id + 1, HostID: id + 1, Size: n - id - 1})
	}
	return m
}

// selfIDs is how many ids this user namespace maps (0 when its map cannot be read).
func selfIDs(path string) int {
	m, err := idmap.Read(path)
	if err != nil {
		return 0
	}
	return m.Len()
}

func toIDTools(m []nsinit.IDMap) []idtools.IDMap {
	out := make([]idtools.IDMap, len(m))
	for i, x := range m {
		out[i] = idtools.IDMap{ContainerID: x.ContainerID, HostID: x.HostID, Size: x.Size}
	}
	return out
}
