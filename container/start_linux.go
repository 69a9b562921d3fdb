package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/internal/idmap"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/volumes"
)

// initShape is what the clone of c's init depends on (launch.Begin): the namespaces it
// shares found now (another container's, through its running init).
func (m *Manager) initShape(c *Config) (*nsinit.Spec, error) {
	s := &nsinit.Spec{NewNetwork: newNetns(c.Network), Terminal: c.TTY, Init: c.Init,
		UIDMap: c.UIDMap, GIDMap: c.GIDMap, CgroupNS: c.CgroupnsMode}
	for _, ns := range []struct {
		mode, name string
		to         *string
	}{{c.PidMode, "pid", &s.PidNS}, {c.IpcMode, "ipc", &s.IPCNS}, {c.UTSMode, "uts", &s.UTSNS}, {containerMode(c.Network), "net", &s.NetNS}} {
		if ns.mode == "" || ns.mode == nsinit.NSHost {
			*ns.to = ns.mode
			continue
		}
		p, err := m.namespaceOf(nsContainer(ns.mode), ns.name)
		if err != nil {
			return nil, err
		}
		*ns.to = p
	}
	return s, nil
}

// starting says how a container is started.
type starting struct {
	stdio nsinit.Stdio
	// begun is its init, launched already (Run), or nil.
	begun *launch.Start
	// handover: the network is for the monitor's C half (launch's Handover).
	handover bool
	// log hears when slirp4netns ends before the container (nil: nobody).
	log      io.Writer
	restarts int
	// limitsSaid: the request's Check said already which limits are left out (run).
	limitsSaid bool
	// created: this process created the container (run): its store entry's creator
	// record says already that what the start mounts is no leftover.
	created bool
}

// start is the one way a container's init is started — by run and start -a in the
// foreground, and by the detached container's monitor: the start announced in the
// state record (unless this process created the container: how.created), the root
// mounted and the spec built (prepare), the init begun in its cgroup unless Run did it
// already, finished (launch: the network attached), the state recorded as running,
// and only then the command executed — nothing it does (fill the disk) can fail the
// record. On failure nothing of the start is left, the root unmounted included, and
// the record says what it said before; the error maps to Docker's status with
// launch.ExitCode.
func (m *Manager) start(c *Config, how starting) (*launch.Running, *State, error) {
	prev := &State{Status: StatusCreated} // what run's new container has
	if !how.created {
		if st, err := m.Records.State(c.ID); err == nil {
			prev = st
		}
		// What this start mounts and attaches is its own until it records the
		// container as running: `system check` must not take it for a leftover.
		announced := *prev
		announced.Starter = self()
		_ = m.Records.SaveState(c.ID, &announced) // without it, a check may report a start it runs into
	}
	spec, err := m.prepare(c)
	if err != nil {
		if how.begun != nil {
			how.begun.Abort()
		}
		m.restoreState(c.ID, prev, !how.created)
		return nil, nil, err
	}
	s := how.begun
	if s == nil {
		if s, err = m.begin(c, spec, how, ""); err != nil {
			m.unmount(c.ID)
			m.restoreState(c.ID, prev, !how.created)
			return nil, nil, err
		}
	}
	var st *State
	recorded := false
	r, err := s.FinishRecorded(spec, func(r *launch.Running) error {
		st = &State{Status: StatusRunning, Pid: r.Pid(), MonitorPid: os.Getpid(), StartedAt: time.Now().UTC(),
			Restarts: how.restarts, Rootfs: spec.Rootfs}
		recordCgroup(st, r.Cgroup)
		if r.Network != nil {
			st.Ports = r.Network.Ports
		}
		// This process owns the container while it runs: `ps` shows it, `stop` and
		// `kill` reach it.
		if err := m.Records.SaveState(c.ID, st); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil {
		m.unmount(c.ID)
		m.restoreState(c.ID, prev, recorded || !how.created)
		return nil, nil, err
	}
	return r, st, nil
}

// restoreState puts back the state a start that failed found, when the start wrote
// over it (announced, or recorded as running); a monitor then records the failure.
func (m *Manager) restoreState(id string, prev *State, written bool) {
	if written {
		_ = m.Records.SaveState(id, prev)
	}
}

// begin makes the container's cgroup and clones its init into it (launch.Begin); slot
// is where its root is handed over when it is mounted after (Run), "" otherwise.
func (m *Manager) begin(c *Config, shape *nsinit.Spec, how starting, slot string) (*launch.Start, error) {
	cg, err := m.cgroupFor(c, how.limitsSaid)
	if err != nil {
		return nil, err
	}
	return launch.Begin(shape, launch.Options{Stdio: how.stdio, Cgroup: cg, Network: m.netOptions(c, how), Slot: slot})
}

// prepare mounts the container's root and builds its runtime spec: the user resolved
// from the image's passwd and group files, volumes created and filled, /etc files
// generated. On failure nothing stays mounted.
func (m *Manager) prepare(c *Config) (_ *nsinit.Spec, retErr error) {
	rootfs, err := storage.Mount(m.Store, c.ID)
	if err != nil {
		if errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrLayerUnknown) {
			return nil, fmt.Errorf("container %s has lost its store entry (a removal was cut short, or its image was removed with force): remove it with `hutch rm %s`, or repair the store with `hutch system check --repair`", c.Name, c.Name)
		}
		return nil, fmt.Errorf("mounting the container's root file system: %w", err)
	}
	defer func() {
		if retErr != nil {
			m.unmount(c.ID)
		}
	}()
	u, err := resolveUser(rootfs, c.User, c.ImageName)
	if err != nil {
		return nil, err
	}
	env := c.Env
	if !hasEnv(env, "HOME") {
		env = append(append([]string{}, env...), "HOME="+u.Home)
	}
	spec, err := m.initShape(c)
	if err != nil {
		return nil, err
	}
	spec.Rootfs, spec.Args, spec.Env, spec.Cwd, spec.Hostname = rootfs, c.Args, env, c.Cwd, c.Hostname
	spec.User, spec.Caps, spec.NoNewPrivileges = u.User, c.Caps, c.NoNewPrivileges()
	spec.Privileged, spec.ReadOnly = c.Privileged, c.ReadOnly
	spec.Domainname, spec.Rlimits, spec.Sysctls, spec.ShmSize = c.Domainname, c.Ulimits, c.Sysctls, c.ShmSize
	spec.KeepGroups = len(c.GroupAdd) == 1 && c.GroupAdd[0] == KeepGroups
	if spec.User, err = addGroups(rootfs, spec.User, c.GroupAdd, c.ImageName); err != nil {
		return nil, err
	}
	spec.TTYGroup = len(c.GIDMap) > 0 || idmap.SelfGIDMapped(5)
	spec.SessionKeyring = nsinit.SessionKeyring(c.ID)
	if spec.Seccomp, spec.SeccompFlags, err = seccompProgram(m.Seccomp, c); err != nil {
		return nil, err
	}
	if c.Security != nil {
		spec.Mask, spec.Unmask = c.Security.Mask, c.Security.Unmask
	}
	etc, err := m.etcFiles(c)
	if err != nil {
		return nil, err
	}
	spec.Mounts = append(spec.Mounts, etc...)
	devices, err := deviceMounts(c)
	if err != nil {
		return nil, err
	}
	spec.Mounts = append(spec.Mounts, devices...)
	changed := false
	for i, mt := range c.Mounts {
		switch mt.Type {
		case "bind":
			fi, err := os.Stat(mt.Source)
			if err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", mt.Source, unwrapPath(err))
			}
			if mt.Chown {
				if err := chownMount(c, mt.Source, u.User); err != nil {
					return nil, err
				}
			}
			if mt.Overlay {
				om, err := m.overlayMount(c, i, mt, fi)
				if err != nil {
					return nil, err
				}
				spec.Mounts = append(spec.Mounts, om)
				continue
			}
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "bind", Source: mt.Source, Destination: mt.Destination, ReadOnly: mt.ReadOnly, File: !fi.IsDir()})
		case "tmpfs":
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "tmpfs", Destination: mt.Destination, ReadOnly: mt.ReadOnly, Options: mt.Options, NoExec: mt.NoExec, Suid: mt.Suid})
		case "image":
			im, err := m.imageMount(c, i, mt)
			if err != nil {
				return nil, err
			}
			spec.Mounts = append(spec.Mounts, im)
		case "volume":
			v, err := m.Volumes.Create(mt.Source, nil, mt.VolumeOptions, false)
			if err != nil {
				return nil, err
			}
			if mt.Source == "" {
				c.Mounts[i].Source, changed = v.Name, true
			}
			switch v.Kind() {
			case volumes.KindTmpfs:
				tm, err := m.tmpfsVolume(c, v, mt)
				if err != nil {
					return nil, err
				}
				spec.Mounts = append(spec.Mounts, tm)
				continue
			case volumes.KindBind:
				if fi, err := os.Stat(v.Source()); err != nil || !fi.IsDir() {
					if err == nil {
						err = syscall.ENOTDIR
					}
					return nil, fmt.Errorf("volume %s binds %s: %w (make the directory, or `hutch volume rm %s` and create it again with another device=)", v.Name, v.Source(), unwrapPath(err), v.Name)
				}
			}
			src, err := securejoin.SecureJoin(rootfs, mt.Destination)
			if err != nil {
				return nil, err
			}
			if !mt.NoCopy {
				if err := m.Volumes.Populate(v, src); err != nil {
					return nil, err
				}
			}
			if mt.Chown {
				if err := chownMount(c, v.Source(), u.User); err != nil {
					return nil, err
				}
			}
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "bind", Source: v.Source(), Destination: mt.Destination, ReadOnly: mt.ReadOnly})
		}
	}
	if changed {
		if err := m.Records.Save(c); err != nil {
			return nil, err
		}
	}
	// Parents before children (a volume on /etc, then /etc/hosts on it); at equal depth
	// the user's mount comes last and wins over the generated file.
	sort.SliceStable(spec.Mounts, func(i, j int) bool {
		return depth(spec.Mounts[i].Destination) < depth(spec.Mounts[j].Destination)
	})
	return spec, nil
}

// tmpfsVolume is the mount of a tmpfs volume (-o type=tmpfs): memory of the container's
// own, as Docker's local driver mounts it for the containers that use it. A tmpfs lives
// in the mount namespace of the container that mounts it, so one running container at a
// time may use the volume: a second is refused rather than given an empty copy of it.
func (m *Manager) tmpfsVolume(c *Config, v *volumes.Volume, mt MountSpec) (nsinit.Mount, error) {
	opts, err := v.TmpfsOptions()
	if err != nil {
		return nsinit.Mount{}, err
	}
	users, err := m.VolumeUsers()
	if err != nil {
		return nsinit.Mount{}, err
	}
	for _, name := range users[v.Name] {
		if name == c.Name {
			continue
		}
		other, err := m.Records.Get(name)
		if err != nil {
			continue
		}
		if st, err := m.Records.Current(other.ID); err == nil && st.Status == StatusRunning {
			return nsinit.Mount{}, fmt.Errorf("volume %s is a tmpfs, and container %s uses it: hutch mounts a tmpfs volume in one running container at a time (each container's tmpfs would be a different one); stop %s first, or use a volume without -o type=tmpfs to share files", v.Name, other.Name, other.Name)
		}
	}
	return nsinit.Mount{Type: "tmpfs", Destination: mt.Destination, ReadOnly: mt.ReadOnly, Options: opts}, nil
}

func depth(p string) int {
	p = filepath.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// resolveUser reads USER[:GROUP] (names or numbers) against the image's /etc/passwd
// and /etc/group (nsinit.LookupUser).
func resolveUser(rootfs, spec, image string) (nsinit.Identity, error) {
	u, err := nsinit.LookupUser(rootfs, spec)
	switch {
	case errors.Is(err, nsinit.ErrUnknownUser):
		return u, fmt.Errorf("-u %q: no such user or group in the image %s (its /etc/passwd and /etc/group): use a name from there or numeric ids (-u 1000:1000)", spec, image)
	case errors.Is(err, nsinit.ErrIDRange):
		return u, fmt.Errorf("-u %q: id out of range", spec)
	case err != nil:
		name, _, _ := strings.Cut(spec, ":")
		return u, fmt.Errorf("-u %q (user %s): %w", spec, name, err)
	}
	return u, nil
}

// etcFiles writes /etc/hostname, /etc/hosts and /etc/resolv.conf for the container in
// its run directory and returns the bind mounts that put them in place.
func (m *Manager) etcFiles(c *Config) ([]nsinit.Mount, error) {
	dir, err := m.Store.ContainerRunDirectory(c.ID)
	if err != nil {
		return nil, err
	}
	names := c.Hostname
	if c.Named() && c.Name != c.Hostname {
		names += " " + c.Name
	}
	n := c.Network
	if n.Mode == network.ModeContainer {
		// The network is the other container's: its address and resolver, with this
		// one's own names and DNS settings.
		if t, err := m.Records.Get(n.Container); err == nil {
			own := n
			n = t.Network
			n.ExtraHosts, n.DNS, n.DNSSearch, n.DNSOptions = own.ExtraHosts, own.DNS, own.DNSSearch, own.DNSOptions
		}
	}
	return launch.Etc{Network: n, Hostname: c.Hostname, HostnameFile: true, Names: names}.Write(dir)
}
