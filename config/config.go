// Package config reads hutch's TOML configuration: /etc/hutch/config.toml, then the
// user's $XDG_CONFIG_HOME/hutch/config.toml, each decoded strictly so that a typo is an
// error naming the file, the line and the key rather than a setting silently ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"hutch.dev/hutch/internal/detachkeys"
	"hutch.dev/hutch/internal/fsutil"
)

// SystemFile is the administrator's configuration, read before the user's.
const SystemFile = "/etc/hutch/config.toml"

// Storage drivers a user may force in [storage] driver.
const (
	DriverAuto    = ""               // probe: native overlay, then fuse-overlayfs, then vfs
	DriverOverlay = "overlay"        // native kernel overlay inside the user namespace
	DriverFuse    = "fuse-overlayfs" // overlay through the fuse-overlayfs mount program
	DriverVFS     = "vfs"            // full copies, works everywhere
)

// Config is the merged configuration. Field tags are the TOML keys; every key that a
// file may contain is a field here, so strict decoding rejects everything else.
type Config struct {
	Storage    StorageConfig    `toml:"storage"`
	Engine     EngineConfig     `toml:"engine"`
	Registries RegistriesConfig `toml:"registries"`
	Cgroups    CgroupsConfig    `toml:"cgroups"`
	Network    NetworkConfig    `toml:"network"`
	Containers ContainersConfig `toml:"containers"`
}

// ContainersConfig is the [containers] table: defaults of `run` and `create`.
type ContainersConfig struct {
	// LogDriver is the default of --log-driver: "json-file" (the default, Docker's
	// format), "k8s-file" (Podman's) or "none".
	LogDriver string `toml:"log_driver"`
	// DefaultUlimits are --ulimit values every container gets (NAME=SOFT[:HARD]);
	// --ulimit of the same name overrides one.
	DefaultUlimits []string `toml:"default_ulimits"`
}

// CgroupsConfig is the [cgroups] table (docs/limits.md).
type CgroupsConfig struct {
	// Parent is a cgroup v2 directory delegated to the user, in which containers'
	// cgroups are made (default: the user's own cgroup, when it is delegated).
	Parent string `toml:"parent"`
	// OnUnavailable is what run and create do when a limit cannot be applied: "fail"
	// (default: exit 125 with the fix) or "warn" (say so once and run without it).
	OnUnavailable string `toml:"on_unavailable"`
}

// NetworkConfig is the [network] table: the defaults of `run --network`.
type NetworkConfig struct {
	// Default is the network of a container without --network: "slirp4netns" (the
	// default), "none" or "host".
	Default string `toml:"default"`
	// AllowHostLoopback lets containers reach the host's 127.0.0.1 through 10.0.2.2
	// (host.containers.internal); default false, as Podman.
	AllowHostLoopback bool `toml:"allow_host_loopback"`
	// MTU of the container's interface (default 65520).
	MTU int `toml:"mtu"`
	// EnableIPv6 gives containers IPv6 through slirp4netns.
	EnableIPv6 bool `toml:"enable_ipv6"`
	// Slirp4netnsPath is the slirp4netns binary (default: found on $PATH).
	Slirp4netnsPath string `toml:"slirp4netns_path"`
}

// RegistriesConfig is the [registries] table.
type RegistriesConfig struct {
	// Search lists the registries a short name (alpine) is looked up in, in order;
	// default ["docker.io"].
	Search []string `toml:"search"`
	// Insecure registries are reached over plain HTTP or without verifying TLS.
	Insecure []string `toml:"insecure"`
	// Blocked registries are refused.
	Blocked []string `toml:"blocked"`
	// Aliases map short names to full names: myapp = "quay.io/me/myapp".
	Aliases map[string]string `toml:"aliases"`
	// Mirror lists mirrors tried before a registry when pulling.
	Mirror []MirrorConfig `toml:"mirror"`
}

// MirrorConfig is one [[registries.mirror]].
type MirrorConfig struct {
	Registry string `toml:"registry"` // the registry mirrored, e.g. docker.io
	Location string `toml:"location"` // the mirror, e.g. mirror.example.com:5000
	Insecure bool   `toml:"insecure"`
}

// StorageConfig is the [storage] table.
type StorageConfig struct {
	// Driver forces a storage driver (overlay, fuse-overlayfs, vfs); empty means probe.
	Driver string `toml:"driver"`
	// GraphRoot moves the image store (default $XDG_DATA_HOME/hutch/storage), e.g. off
	// a network file system.
	GraphRoot string `toml:"graphroot"`
	// MountProgram is the fuse-overlayfs binary (default: found on $PATH).
	MountProgram string `toml:"mount_program"`
}

// EngineConfig is the [engine] table.
type EngineConfig struct {
	// LogLevel is the default for --log-level (debug, info, warn, error).
	LogLevel string `toml:"log_level"`
	// CDISpecDirs are where --device finds CDI specs (vendor.com/class=name), in order;
	// empty: /etc/cdi and /var/run/cdi (Podman's cdi_spec_dirs).
	CDISpecDirs []string `toml:"cdi_spec_dirs"`
	// DetachKeys is the default for --detach-keys (Podman's detach_keys): unset,
	// ctrl-p,ctrl-q; "" turns detaching off.
	DetachKeys *string `toml:"detach_keys"`
}

// Source records a configuration file that was read.
type Source struct {
	Path  string
	Found bool
}

// Load reads the given files in order (later files override earlier ones key by key)
// and validates the result. A missing file is not an error.
func Load(files ...string) (*Config, []Source, error) {
	cfg := &Config{}
	var sources []Source
	for _, path := range files {
		data, err := fsutil.ConfigFile.Read(path)
		if errors.Is(err, os.ErrNotExist) {
			sources = append(sources, Source{Path: path})
			continue
		}
		if err != nil {
			return nil, sources, &Error{Msg: err.Error()}
		}
		if err := decode(path, data, cfg); err != nil {
			return nil, sources, err
		}
		if err := cfg.validate(); err != nil {
			return nil, sources, &Error{Msg: path + ": " + err.Msg}
		}
		sources = append(sources, Source{Path: path, Found: true})
	}
	if err := cfg.validate(); err != nil {
		return nil, sources, err
	}
	return cfg, sources, nil
}

// decode merges one file into cfg. Keys absent from the file keep their values.
func decode(path string, data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	var strict *toml.StrictMissingError
	var derr *toml.DecodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &strict):
		var msgs []string
		for _, e := range strict.Errors {
			line, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q", path, line, strings.Join(e.Key(), ".")))
		}
		return &Error{Msg: strings.Join(msgs, "; ") + " (see docs/config.md for the keys hutch knows)"}
	case errors.As(err, &derr):
		line, col := derr.Position()
		key := strings.Join(derr.Key(), ".")
		if key != "" {
			return &Error{Msg: fmt.Sprintf("%s:%d:%d: key %q: %s", path, line, col, key, derr.Error())}
		}
		return &Error{Msg: fmt.Sprintf("%s:%d:%d: %s", path, line, col, derr.Error())}
	default:
		return &Error{Msg: fmt.Sprintf("%s: %v", path, err)}
	}
}

func (c *Config) validate() *Error {
	switch c.Storage.Driver {
	case DriverAuto, DriverOverlay, DriverFuse, DriverVFS:
	default:
		return &Error{Msg: fmt.Sprintf("[storage] driver = %q is not a driver hutch knows: use \"overlay\", \"fuse-overlayfs\" or \"vfs\", or remove the key to let hutch choose", c.Storage.Driver)}
	}
	for _, m := range c.Registries.Mirror {
		if m.Registry == "" || m.Location == "" {
			return &Error{Msg: "[[registries.mirror]] needs both registry = \"…\" and location = \"…\""}
		}
	}
	switch c.Cgroups.OnUnavailable {
	case "", "fail", "warn":
	default:
		return &Error{Msg: fmt.Sprintf("[cgroups] on_unavailable = %q: use \"fail\" (refuse a limit that cannot be applied) or \"warn\" (run without it, saying so)", c.Cgroups.OnUnavailable)}
	}
	if c.Cgroups.Parent != "" && !strings.HasPrefix(c.Cgroups.Parent, "/") {
		return &Error{Msg: fmt.Sprintf("[cgroups] parent = %q must be an absolute path (e.g. /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/hutch.slice)", c.Cgroups.Parent)}
	}
	switch c.Containers.LogDriver {
	case "", "json-file", "k8s-file", "none":
	default:
		return &Error{Msg: fmt.Sprintf("[containers] log_driver = %q: use \"json-file\" (the default, Docker's format), \"k8s-file\" (Podman's) or \"none\"", c.Containers.LogDriver)}
	}
	switch c.Network.Default {
	case "", "slirp4netns", "none", "host":
	default:
		return &Error{Msg: fmt.Sprintf("[network] default = %q: use \"slirp4netns\", \"none\" or \"host\"", c.Network.Default)}
	}
	if c.Network.MTU != 0 && (c.Network.MTU < 68 || c.Network.MTU > 65521) {
		return &Error{Msg: fmt.Sprintf("[network] mtu = %d: use a value from 68 to 65521 (default 65520)", c.Network.MTU)}
	}
	if p := c.Network.Slirp4netnsPath; p != "" && !strings.HasPrefix(p, "/") {
		return &Error{Msg: fmt.Sprintf("[network] slirp4netns_path = %q must be an absolute path", p)}
	}
	switch strings.ToLower(c.Engine.LogLevel) {
	case "", "debug", "info", "warn", "warning", "error":
	default:
		return &Error{Msg: fmt.Sprintf("[engine] log_level = %q: use debug, info, warn or error", c.Engine.LogLevel)}
	}
	if c.Engine.DetachKeys != nil {
		if _, err := detachkeys.Parse(*c.Engine.DetachKeys); err != nil {
			return &Error{Msg: "[engine] detach_keys: " + err.Error()}
		}
	}
	return nil
}

// Error is a configuration error; its message names the file, line and key.
type Error struct{ Msg string }

func (e *Error) Error() string { return "config: " + e.Msg }
