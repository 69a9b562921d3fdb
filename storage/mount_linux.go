package storage

import (
	"path/filepath"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/internal/lock"
)

// mountsLock is the lock every mount of a layer (a container's, a build's, an image
// mount's) takes shared while it mounts, and `system check` takes exclusively while
// go.podman.io/storage's check mounts layers: each hutch process has its own mount
// namespace, so a layer the check mounted and unmounted (which renames a fresh
// directory over `merged`) while another process had it mounted would lose that
// process's mount.
func mountsLock(s cstorage.Store) string {
	return filepath.Join(s.RunRoot(), "hutch-mounts.lock")
}

// Mount mounts container (or layer) id's root file system as s.Mount does, under the
// mounts lock taken shared.
func Mount(s cstorage.Store, id string) (string, error) {
	l, err := lock.Shared(mountsLock(s))
	if err != nil {
		return "", err
	}
	defer l.Unlock()
	return s.Mount(id, "")
}

// HoldMounts takes the mounts lock exclusively: until it is released no layer is
// mounted by a hutch process (unmounts go on), so which layers are mounted stays as
// the store's records say.
func HoldMounts(s cstorage.Store) (*lock.Lock, error) {
	return lock.Acquire(mountsLock(s), nil)
}

// MountImage mounts image id's root file system read-only as s.MountImage does (an
// image mount: `--mount type=image`), under the mounts lock taken shared.
func MountImage(s cstorage.Store, id string) (string, error) {
	l, err := lock.Shared(mountsLock(s))
	if err != nil {
		return "", err
	}
	defer l.Unlock()
	return s.MountImage(id, nil, "")
}
