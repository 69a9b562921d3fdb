package launch

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ShareSlots makes dir a shared mount in this mount namespace, so that a bind mount
// made in it later appears in the mount namespace of an init cloned before
// (Options.Slot): run launches the init while it creates and mounts the container.
// The kept mount namespace outlives the command: dir is bound onto itself once, by the
// first run (or again when the runtime directory was wiped).
func ShareSlots(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !isMountPoint(dir) {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
			return &os.PathError{Op: "bind mount", Path: dir, Err: err}
		}
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		return &os.PathError{Op: "make shared", Path: dir, Err: err}
	}
	return nil
}

// bindSlot binds rootfs at slot (a new directory in a shared one) and returns what
// undoes it.
func bindSlot(rootfs, slot string) (func(), error) {
	if err := os.Mkdir(slot, 0o700); err != nil {
		return nil, err
	}
	if err := unix.Mount(rootfs, slot, "", unix.MS_BIND, ""); err != nil {
		os.Remove(slot)
		return nil, &os.PathError{Op: "bind mount", Path: slot, Err: err}
	}
	return func() {
		_ = unix.Unmount(slot, unix.MNT_DETACH)
		_ = os.Remove(slot)
	}, nil
}

// isMountPoint reports whether path is the root of a mount (its mount differs from its
// parent's).
func isMountPoint(path string) bool {
	var st, parent unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st) != nil ||
		unix.Statx(unix.AT_FDCWD, filepath.Dir(path), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &parent) != nil {
		return false
	}
	return st.Mnt_id != parent.Mnt_id
}
