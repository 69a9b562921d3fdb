package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/internal/fsutil"
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
		if errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrLayerUnknown) {
			return nil, fmt.Errorf("container %s has lost its store entry (a removal was cut short, or its image was removed with force): remove it with `hutch rm %s`, or repair the store with `hutch system check --repair`", c.Name, c.Name)
		}
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
		home := u.Home
		if home == "" {
			home = "/"
		}
		env = append(append([]string{}, env...), "HOME="+home)
	}
	spec := &nsinit.Spec{
		Rootfs: rootfs, Args: c.Args, Env: env, Cwd: c.Cwd, Hostname: c.Hostname,
		User:            nsinit.User{UID: uint32(u.Uid), GID: uint32(u.Gid)},
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
	for _, g := range u.Sgids {
		spec.User.AdditionalGids = append(spec.User.AdditionalGids, uint32(g))
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
// and /etc/group, both resolved inside the root so an image's symlinks cannot lead out.
func resolveUser(rootfs, spec, image string) (*user.ExecUser, error) {
	passwd, group, err := fsutil.ReadUserDB(rootfs)
	if err != nil {
		return nil, err
	}
	// A uid the image's passwd does not know gets HOME=/ (as Docker gives it), not root's.
	home := "/"
	if name, _, _ := strings.Cut(spec, ":"); name == "" || name == "0" {
		home = "/root"
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Uid: 0, Gid: 0, Home: home}, passwd, group)
	if err != nil {
		name, _, _ := strings.Cut(spec, ":")
		switch {
		case errors.Is(err, user.ErrNoPasswdEntries), errors.Is(err, user.ErrNoGroupEntries),
			strings.Contains(err.Error(), "no matching entries"):
			return nil, fmt.Errorf("-u %q: no such user or group in the image %s (its /etc/passwd and /etc/group): use a name from there or numeric ids (-u 1000:1000)", spec, image)
		case errors.Is(err, user.ErrRange):
			return nil, fmt.Errorf("-u %q: id out of range", spec)
		default:
			return nil, fmt.Errorf("-u %q (user %s): %w", spec, name, err)
		}
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if c.Options.Network == NetworkHost {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
			if !strings.HasSuffix(hosts, "\n") {
				hosts += "\n"
			}
		}
	}
	names := c.Hostname
	if c.Options.Name != "" && c.Options.Name != c.Hostname {
		names += " " + c.Options.Name
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		resolv = nil
	}
	netHosts, resolv := etcNetwork(c, names, resolv)
	hosts += netHosts
	files := []struct {
		name string
		data []byte
	}{
		{"hostname", []byte(c.Hostname + "\n")},
		{"hosts", []byte(hosts)},
		{"resolv.conf", resolv},
	}
	var out []nsinit.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		// Made anew at every start: replaced atomically, not flushed to disk.
		if err := fsutil.ReplaceFile(p, f.data, 0o644); err != nil {
			return nil, err
		}
		out = append(out, nsinit.Mount{Type: "bind", Source: p, Destination: "/etc/" + f.name, File: true})
	}
	return out, nil
}
