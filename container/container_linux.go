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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	storagetypes "go.podman.io/storage/types"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
	"hutch.dev/hutch/volumes"
)

// ErrNotFound is returned for a container that does not exist.
var ErrNotFound = errors.New("no such container")

// Options is what the user asked for on the command line.
type Options struct {
	Name       string    `json:"Name,omitempty"`
	Image      string    `json:"Image"`
	Entrypoint *[]string `json:"Entrypoint,omitempty"` // nil: the image's
	Cmd        []string  `json:"Cmd,omitempty"`        // empty: the image's
	Env        []string  `json:"Env,omitempty"`
	WorkingDir string    `json:"WorkingDir,omitempty"`
	User       string    `json:"User,omitempty"`
	Hostname   string    `json:"Hostname,omitempty"`
	CapAdd     []string  `json:"CapAdd,omitempty"`
	CapDrop    []string  `json:"CapDrop,omitempty"`
	Privileged bool      `json:"Privileged,omitempty"`
	// NoNewPrivileges is kept for records written before --security-opt was parsed by
	// package security; Config.Security holds it now.
	NoNewPrivileges bool `json:"NoNewPrivileges,omitempty"`
	// SecurityOpt are the --security-opt values as given (Docker's HostConfig.SecurityOpt);
	// Create parses them into Config.Security.
	SecurityOpt []string `json:"SecurityOpt,omitempty"`
	// Security is SecurityOpt already parsed (security.Parse) by the caller, so that a
	// bad option is refused before the image is pulled; nil: Create parses SecurityOpt.
	Security *security.Options `json:"-"`
	ReadOnly bool              `json:"ReadonlyRootfs,omitempty"`
	Network  string            `json:"NetworkMode,omitempty"`
	// NetworkOptions are the slirp4netns options (--network slirp4netns:…, config.toml).
	NetworkOptions *network.Config       `json:"NetworkOptions,omitempty"`
	Ports          []network.PortMapping `json:"PortBindings,omitempty"`    // -p
	PublishAll     bool                  `json:"PublishAllPorts,omitempty"` // -P (added to Ports at create)
	Mounts         []MountSpec           `json:"Mounts,omitempty"`
	Init           bool                  `json:"Init,omitempty"`
	AutoRemove     bool                  `json:"AutoRemove,omitempty"`
	Interactive    bool                  `json:"OpenStdin,omitempty"`
	TTY            bool                  `json:"Tty,omitempty"`
	Labels         map[string]string     `json:"Labels,omitempty"`
	Restart        string                `json:"RestartPolicy,omitempty"` // no, always, unless-stopped, on-failure[:N]
	StopSignal     string                `json:"StopSignal,omitempty"`    // overrides the image's
	StopTimeout    *int                  `json:"StopTimeout,omitempty"`
	// Userns is "" (the container is root in hutch's namespace, i.e. you) or
	// "keep-id" (the container runs as your own uid and gid).
	Userns string `json:"UsernsMode,omitempty"`
	// Resources are the limits asked (--memory, --cpus …), in Docker's HostConfig names.
	Resources *cgroups.Resources `json:"Resources,omitempty"`
	// ByRun marks a container `hutch run` created to start at once: one that never
	// started once its creator is gone was cut short, not made to be started later.
	ByRun bool `json:"ByRun,omitempty"`
}

// Config is a created container: the options resolved against the image.
type Config struct {
	ID        string    `json:"Id"`
	Name      string    `json:"Name"`
	ImageID   string    `json:"ImageID"`
	ImageName string    `json:"ImageName"`
	Created   time.Time `json:"Created"`
	Args      []string  `json:"Args"`
	Env       []string  `json:"Env"`
	Cwd       string    `json:"WorkingDir"`
	User      string    `json:"User"`
	Hostname  string    `json:"Hostname"`
	Caps      []string  `json:"Capabilities"`
	Options   Options   `json:"Options"`
	// Mounts are the user's mounts plus an anonymous volume per image VOLUME, with
	// anonymous volumes named once created.
	Mounts     []MountSpec `json:"Mounts"`
	StopSignal string      `json:"StopSignal,omitempty"`
	// UIDMap and GIDMap are the container's own user namespace (keep-id), in hutch's ids.
	UIDMap []nsinit.IDMap `json:"UIDMap,omitempty"`
	GIDMap []nsinit.IDMap `json:"GIDMap,omitempty"`
	// Security is --security-opt, checked (a seccomp profile file's content included);
	// nil in records written before it existed: the defaults.
	Security *security.Options `json:"Security,omitempty"`
}

// NoNewPrivileges says whether the container's processes run with no_new_privs.
func (c *Config) NoNewPrivileges() bool {
	return c.Options.NoNewPrivileges || c.Security != nil && c.Security.NoNewPrivileges
}

// SeccompProfile is the seccomp profile in effect (none with --privileged).
func (c *Config) SeccompProfile() security.Seccomp {
	return c.Security.SeccompFor(c.Options.Privileged)
}

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

// DefaultNetwork is used when --network is not given.
const DefaultNetwork = NetworkSlirp

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
	warned  bool
	early   *earlyCgroup // a cgroup made before Create, for an init launched early
	// NetDir holds the state of the containers' networks (port forwarder sockets);
	// SlirpPath is the configured slirp4netns ("" = found on $PATH).
	NetDir, SlirpPath string
	// Seccomp caches the containers' compiled seccomp filters.
	Seccomp *security.Cache

	delegOnce sync.Once // guards deleg: DiscoverCgroups finds it in the background
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Create checks the options, resolves them against the image and records a new
// container in the store. Nothing is mounted or started.
func (m *Manager) Create(o Options) (*Config, error) {
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	if err := m.checkNetwork(&o); err != nil {
		return nil, err
	}
	caps, err := capabilities(o)
	if err != nil {
		return nil, err
	}
	sec := o.Security
	if sec == nil {
		if sec, err = security.Parse(o.SecurityOpt); err != nil {
			return nil, err
		}
	}
	if err := m.checkLimits(o); err != nil {
		return nil, err
	}
	for _, mt := range o.Mounts {
		if mt.Type == "bind" {
			if _, err := os.Stat(mt.Source); err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", mt.Source, unwrapPath(err))
			}
		}
	}
	img, err := images.Resolve(m.Store, o.Image)
	if err != nil {
		return nil, err
	}
	icfg, _, err := images.ReadConfig(m.Store, img.ID)
	if err != nil {
		return nil, err
	}
	ic := icfg.Config
	if o.PublishAll {
		if o.Ports, err = network.PublishAll(o.Ports, ic.ExposedPorts); err != nil {
			return nil, err
		}
	}
	entry := ic.Entrypoint
	cmd := ic.Cmd
	if o.Entrypoint != nil {
		entry, cmd = *o.Entrypoint, nil
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("image %s has no command (no Cmd or Entrypoint): give one after the image name (`hutch run %s /bin/sh`), or set one with `hutch import --change 'CMD [\"/bin/sh\"]'`", o.Image, o.Image)
	}
	id, err := m.takeID()
	if err != nil {
		return nil, err
	}
	c := &Config{
		ID: id, ImageID: img.ID, ImageName: o.Image, Created: time.Now().UTC(),
		Args: args, Cwd: ic.WorkingDir, User: ic.User, Hostname: id[:12], Caps: caps,
		Options: o, StopSignal: ic.StopSignal, Security: sec,
	}
	if o.StopSignal != "" {
		c.StopSignal = o.StopSignal
	}
	if len(img.Names) > 0 && !strings.Contains(o.Image, "/") && !strings.HasPrefix(img.ID, o.Image) {
		c.ImageName = img.Names[0]
	}
	if o.WorkingDir != "" {
		c.Cwd = o.WorkingDir
	}
	if c.Cwd == "" {
		c.Cwd = "/"
	}
	if o.User != "" {
		c.User = o.User
	}
	if o.Hostname != "" {
		c.Hostname = o.Hostname
	}
	env := MergeEnv(ic.Env, o.Env)
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	}
	if o.TTY && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	c.Env = MergeEnv(env, []string{"HOSTNAME=" + c.Hostname})
	if hasEnv(o.Env, "HOSTNAME") {
		c.Env = MergeEnv(c.Env, o.Env)
	}
	c.Mounts = append(c.Mounts, o.Mounts...)
	for dst := range ic.Volumes {
		covered := false
		for _, mt := range o.Mounts {
			if filepath.Clean(mt.Destination) == filepath.Clean(dst) {
				covered = true
			}
		}
		if !covered {
			c.Mounts = append(c.Mounts, MountSpec{Type: "volume", Destination: dst})
		}
	}
	var copts *cstorage.ContainerOptions
	switch o.Userns {
	case "":
	case "keep-id":
		if err := c.keepID(m.HostUID, m.HostGID); err != nil {
			return nil, err
		}
		copts = &cstorage.ContainerOptions{IDMappingOptions: storagetypes.IDMappingOptions{
			UIDMap: toIDTools(c.UIDMap), GIDMap: toIDTools(c.GIDMap)}}
		if o.User == "" {
			c.User = fmt.Sprintf("%d:%d", m.HostUID, m.HostGID)
		}
	default:
		return nil, fmt.Errorf("--userns %q: use keep-id, or leave it out", o.Userns)
	}
	var names []string
	if o.Name != "" {
		if err := validName(o.Name); err != nil {
			return nil, err
		}
		names = []string{o.Name}
	}
	if o.AutoRemove {
		// A --rm container does not outlive its command: like Podman, keep its records
		// and its layer out of the synced store files (no fsync, a volatile overlay).
		if copts == nil {
			copts = &cstorage.ContainerOptions{}
		}
		copts.Volatile = true
	}
	_, err = m.Store.CreateContainer(id, names, img.ID, "", creatorMetadata(), copts)
	if errors.Is(err, cstorage.ErrDuplicateName) {
		// A name held by a store entry that a removal or a creation cut short left
		// without records is free: finish removing that entry, then take the name.
		if other, oerr := m.Store.Container(o.Name); oerr == nil && m.orphaned(other) {
			if rerr := m.RemoveRef(other.ID, false); rerr == nil {
				_, err = m.Store.CreateContainer(id, names, img.ID, "", creatorMetadata(), copts)
			}
		}
	}
	if err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			holder := "another container"
			if other, err := m.Store.Container(o.Name); err == nil {
				holder = "container " + other.ID[:12]
			}
			return nil, fmt.Errorf("the name %q is already used by %s: choose another --name, or remove it with `hutch rm %s`", o.Name, holder, o.Name)
		}
		return nil, fmt.Errorf("creating the container: %w", err)
	}
	c.Name = o.Name
	if c.Name == "" {
		c.Name = id[:12]
	}
	if err := m.Records.Save(c); err != nil {
		_ = m.Records.Delete(id)
		_ = m.Store.DeleteContainer(id)
		return nil, err
	}
	c.Emit(events.Create)
	return c, nil
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
func capabilities(o Options) ([]string, error) {
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
	if removeVolumes || c.Options.AutoRemove {
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
	if m.usesMountProgram() {
		// A hutch or monitor killed outright leaves the fuse-overlayfs that served the
		// container's root behind, holding the dead mount: end it. Only when the store
		// still counts the root as mounted, as the scan reads every process's command line.
		if n, err := m.Store.Mounted(id); err == nil && n > 0 {
			if ctr, err := m.Store.Container(id); err == nil {
				killStrayMountPrograms(ctr.LayerID)
			}
		}
	}
	_, _ = m.Store.Unmount(id, true)
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
	c.Name, c.Options.Name = name, name
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

// keepID computes the maps of --userns=keep-id: your uid (hutch's 0) appears as itself
// in the container, the container's root and the ids below yours are your first
// subordinate ids, and the rest keep their place. Files you own stay yours in bind mounts.
func (c *Config) keepID(uid, gid int) error {
	nu, ng := mappedIDs("/proc/self/uid_map"), mappedIDs("/proc/self/gid_map")
	if uid <= 0 || uid >= nu || gid <= 0 || gid >= ng {
		return fmt.Errorf("--userns=keep-id needs a subordinate id range larger than your uid %d (this namespace maps %d uids): ask an admin to run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`", uid, nu)
	}
	c.UIDMap = keepIDMap(uid, nu)
	c.GIDMap = keepIDMap(gid, ng)
	return nil
}

func keepIDMap(id, n int) []nsinit.IDMap {
	m := []nsinit.IDMap{{ContainerID: 0, HostID: 1, Size: id}, {ContainerID: id, HostID: 0, Size: 1}}
	if n-id-1 > 0 {
		m = append(m, nsinit.IDMap{ContainerID: id + 1, HostID: id + 1, Size: n - id - 1})
	}
	return m
}

// mappedIDs counts the ids this user namespace maps.
func mappedIDs(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var a, h, size int
		if _, err := fmt.Sscanf(line, "%d %d %d", &a, &h, &size); err == nil && a+size > n {
			n = a + size
		}
	}
	return n
}

func toIDTools(m []nsinit.IDMap) []idtools.IDMap {
	out := make([]idtools.IDMap, len(m))
	for i, x := range m {
		out[i] = idtools.IDMap{ContainerID: x.ContainerID, HostID: x.HostID, Size: x.Size}
	}
	return out
}

// killStrayMountPrograms ends fuse-overlayfs processes serving the given layer: only
// ours (same uid) and only those whose command line names that layer's directory.
func killStrayMountPrograms(layerID string) {
	if layerID == "" {
		return
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "fuse-overlayfs") || !strings.Contains(string(b), layerID) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && pid != os.Getpid() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// usesMountProgram reports whether the store mounts through a program (fuse-overlayfs)
// whose process outlives a killed owner.
func (m *Manager) usesMountProgram() bool {
	for _, o := range m.Store.GraphOptions() {
		if strings.HasPrefix(o, "overlay.mount_program=") {
			return true
		}
	}
	return false
}
