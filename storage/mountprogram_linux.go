package storage

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// UsesMountProgram reports whether a store opened with these graph options (the
// store's GraphOptions) mounts through a program, fuse-overlayfs, whose process
// outlives an owner killed outright, holding the dead mount (and with it its own mount
// namespace) alive.
func UsesMountProgram(graphOptions []string) bool {
	for _, o := range graphOptions {
		if strings.HasPrefix(o, "overlay.mount_program=") {
			return true
		}
	}
	return false
}

// KillMountPrograms ends the fuse-overlayfs processes that serve any of the given layers:
// those whose command line names the layer's directory (a process of another user
// cannot be signalled, and is not). Reading every process's command line costs a few
// milliseconds: call it only when a mount was left behind.
func KillMountPrograms(layerIDs ...string) {
	var ids []string
	for _, id := range layerIDs {
		if id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "fuse-overlayfs") {
			continue
		}
		for _, id := range ids {
			if !strings.Contains(string(b), id) {
				continue
			}
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			break
		}
	}
}
