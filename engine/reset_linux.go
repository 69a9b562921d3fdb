package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/config"
)

// Reset deletes the user's store, run root, runtime state and cache without opening the
// store, so that it works when the store's metadata is damaged. It runs inside the user
// namespace, where files of subordinate ids can be deleted; what is mounted there
// under them (the kept namespace keeps the mounts of commands killed outright) is
// unmounted first. With storeOnly (a store that --root or --runroot chose) it deletes
// that store's graph root and run root only: the cache and the runtime state (the kept
// namespace's holder file among it) serve the user's own store as well.
func Reset(p *config.Paths, storeOnly bool) error {
	var errs []error
	dirs := []string{p.GraphRoot, p.RunRoot, p.CacheDir}
	if storeOnly {
		dirs = dirs[:2]
	} else {
		unmountUnder(p.RuntimeDir)
	}
	for _, dir := range dirs {
		unmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	// The runtime dir itself stays (it may be XDG_RUNTIME_DIR/hutch); its content goes,
	// the holder's file with it, which ends the holder.
	if entries, err := os.ReadDir(p.RuntimeDir); err == nil && !storeOnly {
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(p.RuntimeDir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset incomplete: %w", err)
	}
	return nil
}

// unmountUnder detaches every mount at or below dir in this mount namespace, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			mp := fields[4]
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				mounts = append(mounts, mp)
			}
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
}
