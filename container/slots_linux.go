package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// dropSlot removes what a foreground run killed outright left of the container's slot
// (SlotDir/ID): its bind mount of the root lives on in the kept mount namespace, and
// would keep the root's file system (and a fuse-overlayfs serving it) alive after the
// root is unmounted.
func (m *Manager) dropSlot(id string) { _ = m.DropSlot(id) }

// DropSlot unmounts and removes the slot SlotDir/name of a foreground run that is gone;
// one already gone is fine (a removal of its container may have dropped it).
func (m *Manager) DropSlot(name string) error {
	if m.SlotDir == "" || name == "" || strings.ContainsRune(name, '/') {
		return nil
	}
	slot := filepath.Join(m.SlotDir, name)
	if _, err := os.Lstat(slot); err != nil {
		return nil
	}
	_ = unix.Unmount(slot, unix.MNT_DETACH)
	if err := os.Remove(slot); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
