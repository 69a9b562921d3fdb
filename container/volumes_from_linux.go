package container

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"hutch.dev/hutch/nsinit"
)

// volumesFrom resolves --volumes-from CONTAINER[:ro|rw] into mounts: the bind mounts
// and volumes of each container (its tmpfs mounts are its own), read-only with :ro,
// read-write with :rw, as they are there otherwise. A destination the request mounts
// itself is left to it.
func (m *Manager) volumesFrom(o *Options) error {
	for _, v := range o.VolumesFrom {
		ref, mode, _ := strings.Cut(v, ":")
		switch mode {
		case "", "ro", "rw", "z", "Z":
		default:
			return fmt.Errorf("--volumes-from %q: use CONTAINER[:ro|rw]", v)
		}
		src, err := m.Records.Get(ref)
		if err != nil {
			return fmt.Errorf("--volumes-from %s: %w", ref, err)
		}
		for _, mt := range src.Mounts {
			if mt.Type != "bind" && mt.Type != "volume" {
				continue
			}
			if mt.Type == "volume" && mt.Source == "" {
				return fmt.Errorf("--volumes-from %s: its anonymous volume for %s is made when it first starts: start it once (`hutch start %s`), or name a volume with -v NAME:%s", ref, mt.Destination, src.Name, mt.Destination)
			}
			covered := false
			for _, own := range o.Mounts {
				covered = covered || filepath.Clean(own.Destination) == filepath.Clean(mt.Destination)
			}
			if covered {
				continue
			}
			mt.Options = nil
			switch mode {
			case "ro":
				mt.ReadOnly = true
			case "rw":
				mt.ReadOnly = false
			}
			o.Mounts = append(o.Mounts, mt)
		}
	}
	return nil
}

// chownMount gives a mount's source (-v …:U) to the container's user, all the way down,
// without following symlinks: the ids are the user's as hutch's namespace sees them
// (through the container's own maps with --userns keep-id), within the user's range.
func chownMount(c *Config, src string, u nsinit.User) error {
	uid, gid, err := hostIDs(c, u)
	if err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("-v %s:…:U: giving %s to the container's user (%d:%d): %w", src, p, u.UID, u.GID, err)
		}
		return nil
	})
}

// hostIDs are the container user's ids in hutch's namespace.
func hostIDs(c *Config, u nsinit.User) (int, int, error) {
	uid, gid := int(u.UID), int(u.GID)
	if len(c.UIDMap) > 0 {
		var ok bool
		if uid, ok = mapID(c.UIDMap, u.UID); !ok {
			return 0, 0, fmt.Errorf("-v …:U: uid %d of the container is not mapped", u.UID)
		}
		if gid, ok = mapID(c.GIDMap, u.GID); !ok {
			return 0, 0, fmt.Errorf("-v …:U: gid %d of the container is not mapped", u.GID)
		}
	}
	return uid, gid, nil
}

func mapID(maps []nsinit.IDMap, id uint32) (int, bool) {
	for _, m := range maps {
		if int(id) >= m.ContainerID && int(id) < m.ContainerID+m.Size {
			return m.HostID + int(id) - m.ContainerID, true
		}
	}
	return 0, false
}

// overlayMount is -v DIR:DST:O: the kernel's overlay with the host directory as its
// lower layer and an upper and work directory of the container's own, in its records
// (kept across its restarts, removed with it).
func (m *Manager) overlayMount(c *Config, i int, mt MountSpec, fi os.FileInfo) (nsinit.Mount, error) {
	if !fi.IsDir() {
		return nsinit.Mount{}, fmt.Errorf("-v %s:%s:O: an overlay needs a directory", mt.Source, mt.Destination)
	}
	dir := filepath.Join(m.Records.dir(c.ID), "overlay", strconv.Itoa(i))
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nsinit.Mount{}, fmt.Errorf("-v %s:%s:O: %w", mt.Source, mt.Destination, err)
		}
	}
	return nsinit.Mount{Type: "overlay", Source: mt.Source, Destination: mt.Destination,
		Options: []string{"lowerdir=" + overlayEscape(mt.Source), "upperdir=" + overlayEscape(upper),
			"workdir=" + overlayEscape(work), "userxattr"}}, nil
}

// overlayEscape escapes a path for overlayfs's mount options (as the builder's writable
// binds do), where ',' separates the options and ':' the lower directories: the kernel
// reads `\\`, `\,` and `\:` as the character escaped.
func overlayEscape(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}
