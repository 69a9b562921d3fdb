package launch

import (
	"os"

	"golang.org/x/sys/unix"
)

// ShareSlots makes dir a shared mount in this mount namespace, so that a bind mount
// made in it later appears in the mount namespace of an init cloned before
// (Options.Slot): run launches the init while it creates and mounts the container.
func ShareSlots(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind mount", Path: dir, Err: err}
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
