package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/types"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/security"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/volumes"
)

// Session is one hutch command's engine: the host it runs on, and every part built from
// it in one place (the store, the container manager, the volumes, the registries, the
// pull policy, the builder's environment). It also owns the move into hutch's user
// namespace, where the store can be opened: a command either runs there whole
// (UseStore) or declares its two halves (Split, RunSplit).
type Session struct {
	Host *Host
	// AuthFile is where registry credentials are read and written for this command:
	// --authfile, else $REGISTRY_AUTH_FILE, else ~/.config/hutch/auth.json (""). A
	// command that has the flag sets it before using the registries.
	AuthFile string
	store    *storage.Store
	// request is what the plain-user half of a split command handed to this process
	// (nil when it was not started as such a half).
	request *handedRequest
	// startAt executes the command again at a Place (nil: execAt); tests replace it.
	startAt func(p Place, env ...string) (int, error)
	// handed are the files the outside half of a split command handed this process.
	handed []*os.File
}

// Options are a command's global flags.
type Options struct {
	LogLevel string // --log-level
	Store    StoreFlags
	// AuthFile is --authfile ("": $REGISTRY_AUTH_FILE, else the user's auth.json).
	AuthFile string
}

// Open loads the host (configuration, paths, the user namespace's plan or state) and
// sets the log level: logLevel (--log-level), else config.toml's, else warn.
func Open(logLevel string) (*Session, error) { return OpenWith(Options{LogLevel: logLevel}) }

// OpenWith is Open with the command's global flags.
func OpenWith(o Options) (*Session, error) {
	logLevel := o.LogLevel
	req, err := takeRequest()
	if err != nil {
		return nil, err
	}
	host, err := LoadWith(o.Store)
	if err != nil {
		return nil, err
	}
	if logLevel == "" {
		logLevel = host.Config.Engine.LogLevel
	}
	if logLevel == "" {
		logLevel = "warn"
	}
	lv, err := logrus.ParseLevel(logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
	}
	logrus.SetLevel(lv)
	logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	if host.KeptMiss != "" {
		logrus.Debugf("not joined to the kept user namespace before start-up (%s): checking the paths as the plain user", host.KeptMiss)
	}
	authFile := o.AuthFile
	if authFile != "" {
		if authFile, err = filepath.Abs(authFile); err != nil {
			return nil, fmt.Errorf("--authfile %s: %w", o.AuthFile, err)
		}
	}
	events.Use(host.EventLog())
	return &Session{Host: host, request: req, AuthFile: authFile}, nil
}

// Close releases the store, if it was opened.
func (s *Session) Close() {
	if s != nil && s.store != nil {
		_, _ = s.store.Shutdown(false)
		s.store = nil
	}
}

// Store opens the store (once) and prints the host's warnings, once per login session.
// It works only where the store can be opened: in a command that UseStore moved there,
// or in the inside half of a split one.
func (s *Session) Store() (*storage.Store, error) {
	if s.store != nil {
		return s.store, nil
	}
	st, err := s.Host.OpenStore()
	if err != nil {
		return nil, err
	}
	s.store = st
	diag.PrintOnce(os.Stderr, s.Host.Paths.RuntimeDir, s.Host.Warnings())
	return st, nil
}

// LockedStore opens the store and takes hutch's store lock, for commands that change
// the store; the returned function releases the lock.
func (s *Session) LockedStore() (*storage.Store, func(), error) {
	st, err := s.Store()
	if err != nil {
		return nil, nil, err
	}
	l, err := s.Host.LockStore()
	if err != nil {
		return nil, nil, err
	}
	return st, l.Unlock, nil
}

// Records are the containers' records; reading them needs no store.
func (s *Session) Records() *container.Records {
	return &container.Records{Dir: filepath.Join(s.Host.Paths.GraphRoot, "hutch-containers")}
}

// Volumes are the named volumes.
func (s *Session) Volumes() *volumes.Store {
	dir := s.Host.Paths.VolumeDir
	if dir == "" {
		dir = filepath.Join(s.Host.Paths.DataDir, "volumes")
	}
	return &volumes.Store{Dir: dir}
}

// CgroupOptions is config.toml's [cgroups].
func (s *Session) CgroupOptions() cgroups.Options {
	c := s.Host.Config.Cgroups
	return cgroups.Options{Parent: c.Parent, OnUnavailable: c.OnUnavailable}
}

// NetworkDefaults is config.toml's [network], for --network.
func (s *Session) NetworkDefaults() network.Defaults {
	nc := s.Host.Config.Network
	return network.Defaults{Mode: nc.Default, MTU: nc.MTU, AllowHostLoopback: nc.AllowHostLoopback, EnableIPv6: nc.EnableIPv6}
}

// LogDriver is config.toml's [containers] log_driver ("": json-file).
func (s *Session) LogDriver() string { return s.Host.Config.Containers.LogDriver }

// manager is the one place a container manager is built; store is nil for the
// commands that only touch records, processes and cgroups.
// SeccompCache is where compiled seccomp filters are kept (security.Cache).
func (s *Session) SeccompCache() *security.Cache {
	return &security.Cache{Dir: filepath.Join(s.Host.Paths.CacheDir, "seccomp")}
}

func (s *Session) manager(store *storage.Store) *container.Manager {
	m := &container.Manager{Records: s.Records(), Volumes: s.Volumes(), Cgroups: s.CgroupOptions(),
		HostUID: s.Host.NS.UID, HostGID: s.Host.NS.GID, SlotDir: filepath.Join(s.Host.Paths.RuntimeDir, "rootfs"),
		NetDir: filepath.Join(s.Host.Paths.RuntimeDir, "net"), SlirpPath: s.Host.Config.Network.Slirp4netnsPath,
		Seccomp: s.SeccompCache(), CDISpecDirs: s.Host.Config.Engine.CDISpecDirs}
	if store != nil {
		m.Store = store
	}
	return m
}

// Containers is the container manager with the store (create, start, remove, rename).
func (s *Session) Containers() (*container.Manager, error) {
	st, err := s.Store()
	if err != nil {
		return nil, err
	}
	return s.manager(st), nil
}

// ContainerControl is the container manager without the store, for what needs only the
// records, the processes and the cgroups (stop, pause, update, stats): it works as the
// plain user, who can reach the containers' processes.
func (s *Session) ContainerControl() *container.Manager { return s.manager(nil) }

// SystemContext is hutch's go.podman.io/image context; skipTLSVerify is --tls-verify=false.
func (s *Session) SystemContext(skipTLSVerify bool) *types.SystemContext {
	sys := s.Host.SystemContext()
	switch {
	case s.AuthFile != "":
		sys.AuthFilePath = s.AuthFile
	case os.Getenv("REGISTRY_AUTH_FILE") != "":
		sys.AuthFilePath = os.Getenv("REGISTRY_AUTH_FILE")
	}
	if skipTLSVerify {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	return sys
}

// Registries is config.toml's [registries]: the search list and the aliases.
func (s *Session) Registries() images.Registries {
	r := s.Host.Config.Registries
	return images.Registries{Search: r.Search, Aliases: r.Aliases}
}

// Images is the image service on the store (opened if it was not).
func (s *Session) Images(skipTLSVerify bool) (*images.Service, error) {
	st, err := s.Store()
	if err != nil {
		return nil, err
	}
	return &images.Service{Store: st, Sys: s.SystemContext(skipTLSVerify)}, nil
}

// Info is `hutch info`: it opens the store, and reports its failure rather than
// failing.
func (s *Session) Info() *Info {
	st, err := s.Store()
	in := s.Host.Info(st, err)
	if sums, err := s.Records().Summaries(); err == nil {
		for _, c := range sums {
			in.Containers.Total++
			switch {
			case c.State.Status == container.StatusRunning && container.Paused(c.State):
				in.Containers.Paused++
			case c.State.Status == container.StatusRunning:
				in.Containers.Running++
			default:
				in.Containers.Stopped++
			}
		}
	}
	return in
}
