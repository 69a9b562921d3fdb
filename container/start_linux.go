package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/nsinit"
)

// prepared is a container whose root is mounted and whose spec is ready.
type prepared struct {
	cfg  *Config
	spec *nsinit.Spec
	// limits is the container's cgroup and what was written into it (nil or without
	// a cgroup when it has none).
	limits *cgroups.Limited
}

// prepare mounts the container's root and builds its runtime spec: the user resolved
// from the image's passwd and group files, volumes created and filled, /etc files
// generated. On failure nothing stays mounted.
func (m *Manager) prepare(c *Config, ttyGroup bool) (_ *prepared, retErr error) {
	rootfs, err := m.Store.Mount(c.ID, "")
	if err != nil {
		return nil, fmt.Errorf("mounting the container's root file system: %w", err)
	}
	defer func() {
		if retErr != nil {
			_, _ = m.Store.Unmount(c.ID, true)
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
	spec := &nsinit.Spec{
		Rootfs: rootfs, Args: c.Args, Env: env, Cwd: c.Cwd, Hostname: c.Hostname,
		User:            u.User,
		Caps:            c.Caps,
		NoNewPrivileges: c.NoNewPrivileges(),
		Privileged:      c.Options.Privileged,
		ReadOnly:        c.Options.ReadOnly,
		NewNetwork:      newNetns(c.Options),
		Terminal:        c.Options.TTY,
		Init:            c.Options.Init,
		TTYGroup:        ttyGroup || len(c.GIDMap) > 0,
		UIDMap:          c.UIDMap,
		GIDMap:          c.GIDMap,
		SessionKeyring:  nsinit.SessionKeyring(c.ID),
	}
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
	changed := false
	for i, mt := range c.Mounts {
		switch mt.Type {
		case "bind":
			fi, err := os.Stat(mt.Source)
			if err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", mt.Source, unwrapPath(err))
			}
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "bind", Source: mt.Source, Destination: mt.Destination, ReadOnly: mt.ReadOnly, File: !fi.IsDir()})
		case "tmpfs":
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "tmpfs", Destination: mt.Destination, ReadOnly: mt.ReadOnly, Options: mt.Options})
		case "volume":
			v, err := m.Volumes.Create(mt.Source, nil, false)
			if err != nil {
				return nil, err
			}
			if mt.Source == "" {
				c.Mounts[i].Source, changed = v.Name, true
			}
			src, err := securejoin.SecureJoin(rootfs, mt.Destination)
			if err != nil {
				return nil, err
			}
			if err := m.Volumes.Populate(v, src); err != nil {
				return nil, err
			}
			spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "bind", Source: v.Mountpoint, Destination: mt.Destination, ReadOnly: mt.ReadOnly})
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
	p := &prepared{cfg: c, spec: spec}
	if err := m.attachCgroup(c, p); err != nil {
		return nil, err
	}
	return p, nil
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
	if c.Options.Name != "" && c.Options.Name != c.Hostname {
		names += " " + c.Options.Name
	}
	return launch.Etc{Network: netConfig(c.Options), Hostname: c.Hostname, HostnameFile: true, Names: names}.Write(dir)
}
