package container

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// A run request takes three shapes on its way down, each made once:
//
//	flags    → Options   the CLI parses each flag (ParseVolume, network.Parse with
//	                     config.toml's defaults, security.Parse, the limits …)
//	Options  → Request   Manager.Check checks them against this host, once
//	Request  → Config    Create merges them with the image's configuration (merge) and
//	                     records the container; Config is the record, each fact once
//	Config   → nsinit.Spec   every start builds the spec from the record (prepare)

// Settings are the choices a container keeps as the user made them: what each start
// reads and what inspect shows as asked. Options carries them in, Config keeps them.
type Settings struct {
	Entrypoint *[]string `json:"Entrypoint,omitempty"` // nil: the image's
	Cmd        []string  `json:"Cmd,omitempty"`        // empty: the image's
	CapAdd     []string  `json:"CapAdd,omitempty"`
	CapDrop    []string  `json:"CapDrop,omitempty"`
	Privileged bool      `json:"Privileged,omitempty"`
	ReadOnly   bool      `json:"ReadonlyRootfs,omitempty"`
	// Network is --network as parsed with config.toml's defaults (network.Parse).
	Network network.Config `json:"Network"`
	// Ports are -p's (and, once created, -P's: the image's exposed ports).
	Ports       []network.PortMapping `json:"PortBindings,omitempty"`
	PublishAll  bool                  `json:"PublishAllPorts,omitempty"`
	Init        bool                  `json:"Init,omitempty"`
	AutoRemove  bool                  `json:"AutoRemove,omitempty"`
	Interactive bool                  `json:"OpenStdin,omitempty"`
	TTY         bool                  `json:"Tty,omitempty"`
	Labels      map[string]string     `json:"Labels,omitempty"`
	// Annotations are --annotation's KEY=VALUE (OCI annotations: kept and shown by
	// inspect, as Docker's HostConfig.Annotations and Podman's Config.Annotations).
	Annotations map[string]string `json:"Annotations,omitempty"`
	Restart     string            `json:"RestartPolicy,omitempty"` // no, always, unless-stopped, on-failure[:N]
	StopTimeout *int              `json:"StopTimeout,omitempty"`
	// Userns is "" (the container is root in hutch's namespace, i.e. you) or
	// "keep-id" (the container runs as your own uid and gid).
	Userns string `json:"UsernsMode,omitempty"`
	// ProcessSettings are the process and namespace settings (--ulimit, --sysctl, --shm-size,
	// --group-add, --domainname, --expose): ParseProcess.
	ProcessSettings
	// Resources are the limits asked (--memory, --cpus …), in Docker's HostConfig names.
	Resources *cgroups.Resources `json:"Resources,omitempty"`
	// LogConfig is --log-driver and --log-opt (nil in a record made before them:
	// json-file).
	LogConfig *LogConfig `json:"LogConfig,omitempty"`
	// Devices are --device's host device nodes (and those of the CDI devices, resolved
	// at creation); CDIDevices the CDI names asked (--device vendor.com/class=name, --gpus).
	Devices    []DeviceSpec `json:"Devices,omitempty"`
	CDIDevices []string     `json:"CDIDevices,omitempty"`
	// HealthOnFailure is --health-on-failure: "" (none), kill, restart or stop.
	HealthOnFailure string `json:"HealthOnFailure,omitempty"`
	// ByRun marks a container `hutch run` created to start at once: one that never
	// started once its creator is gone was cut short, not made to be started later.
	ByRun bool `json:"ByRun,omitempty"`
}

// Options is what the user asked for a new container, each flag parsed: the Settings
// it keeps, and what is merged with the image's configuration.
type Options struct {
	Settings
	Name       string // "": none given (the container is named after its ID)
	Image      string // as given
	Env        []string
	WorkingDir string
	User       string
	Hostname   string
	Mounts     []MountSpec
	// VolumesFrom are --volumes-from CONTAINER[:ro|rw] (resolved by Check into Mounts).
	VolumesFrom []string
	// ImageVolume is --image-volume: what an image's VOLUME becomes: "" or bind (an
	// anonymous volume), tmpfs, ignore.
	ImageVolume string
	StopSignal  string // overrides the image's
	// Healthcheck is --health-* (ParseHealth): its fields over the image's; Test
	// ["NONE"] disables the image's. nil: the image's.
	Healthcheck *images.Healthcheck
	// Security is --security-opt parsed (security.Parse; the raw values are in its
	// Raw); nil: the defaults.
	Security *security.Options
	// CIDFile is where the new container's ID is written once it is recorded
	// (--cidfile; a file there already is refused, as Docker does).
	CIDFile string
}

// Request is Options checked against this host (Manager.Check): the capabilities it
// keeps and, with --userns keep-id, its id maps. Create and Run take one.
type Request struct {
	Options
	caps           []string
	uidMap, gidMap []nsinit.IDMap
	// keepIDUser is the user a keep-id container runs as when -u names none: you.
	keepIDUser string
	// utsHostname is the hostname of the UTS namespace it shares (--uts host or
	// container:NAME), "" with its own.
	utsHostname string
}

// recordVersion is the layout of config.json that Save writes: 2 has the Settings at
// the top level; records without a Version have an "Options" object instead, read by
// migrate.
const recordVersion = 2

// Config is a created container's record: the options resolved against the image.
type Config struct {
	Version   int       `json:"Version"`
	ID        string    `json:"Id"`
	Name      string    `json:"Name"`
	ImageID   string    `json:"ImageID"`
	ImageName string    `json:"ImageName"`
	Created   time.Time `json:"Created"`
	// The command's process, as the image and the options make it.
	Args     []string `json:"Args"`
	Env      []string `json:"Env"`
	Cwd      string   `json:"WorkingDir"`
	User     string   `json:"User"`
	Hostname string   `json:"Hostname"`
	Caps     []string `json:"Capabilities"`
	// Mounts are the user's mounts plus an anonymous volume per image VOLUME, with
	// anonymous volumes named once created.
	Mounts     []MountSpec `json:"Mounts"`
	StopSignal string      `json:"StopSignal,omitempty"`
	// ExposedPorts are the image's ("80/tcp"), for ps's expose filter (Exposed adds
	// the published ones).
	ExposedPorts []string `json:"ExposedPorts,omitempty"`
	// Healthcheck is the check the container's monitor runs: the image's HEALTHCHECK
	// with --health-*'s fields over it (mergeHealth); nil: none.
	Healthcheck *images.Healthcheck `json:"Healthcheck,omitempty"`
	// UIDMap and GIDMap are the container's own user namespace (keep-id), in hutch's ids.
	UIDMap []nsinit.IDMap `json:"UIDMap,omitempty"`
	GIDMap []nsinit.IDMap `json:"GIDMap,omitempty"`
	// Security is --security-opt, checked (a seccomp profile file's content included);
	// nil: the defaults.
	Security *security.Options `json:"Security,omitempty"`
	Settings
}

// Named says whether the user named the container (--name, rename), rather than
// leaving it the name of its ID.
func (c *Config) Named() bool { return c.Name != shortID(c.ID) }

// NoNewPrivileges says whether the container's processes run with no_new_privs.
func (c *Config) NoNewPrivileges() bool { return c.Security != nil && c.Security.NoNewPrivileges }

// SeccompProfile is the seccomp profile in effect (none with --privileged).
func (c *Config) SeccompProfile() security.Seccomp {
	return c.Security.SeccompFor(c.Privileged)
}

// SecurityOpt are the --security-opt values as given (Docker's HostConfig.SecurityOpt).
func (c *Config) SecurityOpt() []string {
	if c.Security == nil {
		return nil
	}
	return c.Security.Raw
}

// defaultPath is the PATH of an image that sets none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// merge makes the record of container id from the checked request and its image:
// Docker's rules. The command is the image's Entrypoint and Cmd, --entrypoint replacing
// the first (and clearing the image's Cmd), a command given replacing the Cmd; the
// working directory, user and stop signal are the options' over the image's; the
// environment is the image's with the options' on top, PATH added when the image has
// none, TERM with -t, HOSTNAME (unless -e sets it); an anonymous volume for each VOLUME
// no mount covers; -P publishes every EXPOSEd port -p does not.
func merge(r *Request, id string, imageID string, imageNames []string, ic images.ContainerConfig) (*Config, error) {
	o := r.Options
	entry, cmd := ic.Entrypoint, ic.Cmd
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
	c := &Config{
		Version: recordVersion, ID: id, Name: o.Name, ImageID: imageID, ImageName: o.Image, Created: time.Now().UTC(),
		Args: args, Cwd: firstOf(o.WorkingDir, ic.WorkingDir, "/"), User: firstOf(o.User, r.keepIDUser, ic.User),
		Hostname: firstOf(o.Hostname, r.utsHostname, shortID(id)), Caps: r.caps, StopSignal: firstOf(o.StopSignal, ic.StopSignal),
		UIDMap: r.uidMap, GIDMap: r.gidMap, Security: o.Security, Settings: o.Settings,
		Healthcheck: mergeHealth(o.Healthcheck, ic.Healthcheck),
	}
	if c.Name == "" {
		c.Name = shortID(id)
	}
	c.ExposedPorts = sortedKeys(ic.ExposedPorts)
	// A short name or an ID prefix is recorded as the image's name.
	if len(imageNames) > 0 && !strings.Contains(o.Image, "/") && !strings.HasPrefix(imageID, o.Image) {
		c.ImageName = imageNames[0]
	}
	if o.PublishAll {
		exposed := map[string]struct{}{}
		for k := range ic.ExposedPorts {
			exposed[k] = struct{}{}
		}
		for _, e := range o.Expose {
			keys, err := exposedPorts(e)
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				exposed[k] = struct{}{}
			}
		}
		ports, err := network.PublishAll(o.Ports, exposed)
		if err != nil {
			return nil, err
		}
		c.Ports = ports
	}
	env := MergeEnv(ic.Env, o.Env)
	if !hasEnv(env, "PATH") {
		env = append([]string{defaultPath}, env...)
	}
	if o.TTY && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	c.Env = MergeEnv(env, []string{"HOSTNAME=" + c.Hostname})
	if hasEnv(o.Env, "HOSTNAME") {
		c.Env = MergeEnv(c.Env, o.Env)
	}
	c.Mounts = append(c.Mounts, o.Mounts...)
	for _, dst := range sortedKeys(ic.Volumes) {
		covered := o.ImageVolume == "ignore"
		for _, mt := range o.Mounts {
			covered = covered || filepath.Clean(mt.Destination) == filepath.Clean(dst)
		}
		switch {
		case covered:
		case o.ImageVolume == "tmpfs":
			c.Mounts = append(c.Mounts, MountSpec{Type: "tmpfs", Destination: dst})
		default:
			c.Mounts = append(c.Mounts, MountSpec{Type: "volume", Destination: dst})
		}
	}
	return c, nil
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// firstOf is the first of values that is not empty.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
