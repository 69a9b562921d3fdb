// Package storage opens hutch's layered store (go.podman.io/storage) for one user,
// inside the user namespace only, with the driver chosen by package overlay and recorded
// in a manifest next to the data so that it is never switched silently.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cstorage "go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/overlay"
)

// ManifestFile records, in the graph root, how the store was created.
const ManifestFile = "hutch-store.json"

// Manifest is the store's record of its driver.
type Manifest struct {
	Version int            `json:"version"`
	Driver  overlay.Choice `json:"driver"`
	Created time.Time      `json:"created"`
	// SingleID records a store made in a single-id namespace, whose files all belong
	// to the user.
	SingleID bool `json:"singleID"`
}

// Options say where the store lives and how to open it.
type Options struct {
	GraphRoot    string
	RunRoot      string
	Driver       string // forced driver from config ("" = probe on first use)
	DriverSource string // where Driver was set, for error messages
	// DriverFlag: Driver comes from --storage-driver (for this command), not from
	// DriverSource.
	DriverFlag   bool
	MountProgram string
	SingleID     bool // only one id is mapped: store every owner as root
	// DriverOptions are --storage-opt's options of the driver (overlay.mountopt=…,
	// vfs.ignore_chown_errors=…), for this command, after hutch's own.
	DriverOptions []string
	// Flags are the global flags that chose this store ("--root DIR …"; "" for the
	// user's own), for the commands that messages give.
	Flags string
}

// hutch is the command line that works on this store, for messages: "hutch", or with
// the flags that chose it.
func (o Options) hutch() string {
	if o.Flags == "" {
		return "hutch"
	}
	return "hutch " + o.Flags
}

// Store is an open store and how it was opened.
type Store struct {
	cstorage.Store
	Manifest Manifest
	Options  Options
}

// Open opens (creating if needed) the store. It must run inside the user namespace:
// the overlay driver probes and records its mount program at first open, and a probe
// run outside the namespace would pin the store to fuse-overlayfs for good.
func Open(o Options) (*Store, error) {
	if err := CheckLocalFS(o.GraphRoot); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.GraphRoot, 0o700); err != nil {
		return nil, fmt.Errorf("creating store: %w", err)
	}
	m, err := manifest(o)
	if err != nil {
		return nil, err
	}
	driverOpts := []string{}
	prefix := m.Driver.StorageDriver() + "."
	switch m.Driver.Name {
	case overlay.Fuse:
		driverOpts = append(driverOpts, "overlay.mount_program="+m.Driver.MountProgram)
	case overlay.Native:
		// The overlay driver falls back to fuse-overlayfs on its own when this flag file
		// says so; the manifest, not that file, is the record hutch keeps. It is written
		// before the store opens, atomically, whatever it says (or if it is missing):
		// without it the driver guesses by scanning the store for whiteouts and
		// fuse-overlayfs xattrs, and on a new store that another hutch is filling at the
		// same moment (parallel first pulls) it found that one's layers and chose the
		// mount program (TestStressParallelPulls).
		flag := filepath.Join(o.GraphRoot, "overlay", ".has-mount-program")
		if b, err := os.ReadFile(flag); err != nil || strings.TrimSpace(string(b)) != "false" {
			if err := os.MkdirAll(filepath.Dir(flag), 0o700); err != nil {
				return nil, err
			}
			if err := fsutil.WriteFileAtomic(flag, []byte("false"), 0o600); err != nil {
				return nil, err
			}
		}
		// Nor does the driver test-mount overlay again: hutch probed it when it made the
		// store (the manifest). Its cached answer lives in the run root, shared by every
		// command; one test mount that failed while other commands filled the new store
		// at the same moment was cached as "not supported" for all of them
		// (TestStressParallelPulls in CI).
		runhome := filepath.Join(o.RunRoot, "overlay")
		if err := os.MkdirAll(runhome, 0o700); err != nil {
			return nil, err
		}
		_ = os.Remove(filepath.Join(runhome, "overlay-false"))
		if _, err := os.Stat(filepath.Join(runhome, "overlay-true")); err != nil {
			if err := fsutil.WriteFileAtomic(filepath.Join(runhome, "overlay-true"), nil, 0o600); err != nil {
				return nil, err
			}
		}
	}
	if o.SingleID {
		driverOpts = append(driverOpts, prefix+"ignore_chown_errors=true")
	}
	for _, opt := range o.DriverOptions {
		if !strings.HasPrefix(opt, prefix) {
			return nil, fmt.Errorf("--storage-opt %s: the store at %s uses the %s driver, whose options start with %q", opt, o.GraphRoot, m.Driver.Name, prefix)
		}
		driverOpts = append(driverOpts, opt)
	}
	// go.podman.io/storage computes its own defaults before it looks at ours: keep it
	// from reading Podman's storage.conf and from judging $XDG_RUNTIME_DIR (which may be
	// unset, relative or someone else's; hutch has resolved RunRoot already).
	os.Setenv("CONTAINERS_STORAGE_CONF", os.DevNull)
	os.Setenv("XDG_RUNTIME_DIR", filepath.Dir(o.RunRoot))
	s, err := cstorage.GetStore(storagetypes.StoreOptions{
		GraphRoot:          o.GraphRoot,
		RunRoot:            o.RunRoot,
		GraphDriverName:    m.Driver.StorageDriver(),
		GraphDriverOptions: driverOpts,
	})
	if err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		if len(o.DriverOptions) > 0 {
			return nil, fmt.Errorf("opening the store at %s with --storage-opt %s: %s; check those options (or leave them out)", o.GraphRoot, strings.Join(o.DriverOptions, " --storage-opt "), msg)
		}
		return nil, fmt.Errorf("opening the store at %s: %s; if its records are damaged, `%s system reset` starts over (it deletes all images and containers)", o.GraphRoot, msg, o.hutch())
	}
	if m.Driver.Name == overlay.Native {
		flag := filepath.Join(o.GraphRoot, "overlay", ".has-mount-program")
		if b, err := os.ReadFile(flag); err == nil && strings.TrimSpace(string(b)) == "true" {
			_, _ = s.Shutdown(true)
			return nil, fmt.Errorf("the store at %s was created for native overlay, but the kernel no longer allows it here: set driver = \"fuse-overlayfs\" in config.toml after `%s system reset`, or use another graphroot", o.GraphRoot, o.hutch())
		}
	}
	// A few megabytes that commands freeing space give up on a full disk (package
	// diskspace); made again here once there is room.
	diskspace.EnsureReserve(o.GraphRoot)
	return &Store{Store: s, Manifest: m, Options: o}, nil
}

// manifest reads the recorded driver or, for a new store, probes and records one. A
// recorded driver that differs from the one config.toml forces is an error that says
// both and what to do: switching would hide every image already stored.
func manifest(o Options) (Manifest, error) {
	path := filepath.Join(o.GraphRoot, ManifestFile)
	m, found, err := recordedManifest(o, path)
	if found || err != nil {
		return m, err
	}
	// A new store: one command probes and records, the others wait for that record.
	// Unserialised, parallel first commands (TestStressParallelPulls) each probed in
	// the same scratch directory, and one's os.RemoveAll of it pulled the layout from
	// under another's test mount: that one found native overlay "failed", recorded
	// fuse-overlayfs over the first one's record, and opened the store with the mount
	// program, which makes the driver write "true" to overlay/.has-mount-program; a
	// command that had read the native record then failed ("the kernel no longer
	// allows it here"), and the store was left to fuse-overlayfs for good.
	l, err := lock.Acquire(filepath.Join(o.GraphRoot, "hutch-store.lock"), nil)
	if err != nil {
		return Manifest{}, err
	}
	defer l.Unlock()
	if m, found, err := recordedManifest(o, path); found || err != nil {
		return m, err
	}
	return probeManifest(o, path)
}

// recordedManifest reads and checks the store's record; found is false when there is none.
func recordedManifest(o Options, path string) (Manifest, bool, error) {
	m, err := checkManifest(o, path)
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, false, nil
	}
	return m, true, err
}

func checkManifest(o Options, path string) (Manifest, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("store record %s is damaged (%w): run `%s system reset` to start over", path, err, o.hutch())
		}
		if o.Driver != "" && o.Driver != m.Driver.Name && o.DriverFlag {
			return m, fmt.Errorf("the store at %s was created with the %s driver, but --storage-driver asks for %s; hutch does not switch silently (the images would disappear): "+
				"keep %s by leaving out --storage-driver (or giving --storage-driver %s), use another store for %s with --root DIR, or start over with %s by running `%s --storage-driver %s system reset` (deletes all images and containers)",
				o.GraphRoot, m.Driver.Name, o.Driver, m.Driver.Name, m.Driver.Name, o.Driver, o.Driver, o.hutch(), o.Driver)
		}
		if o.Driver != "" && o.Driver != m.Driver.Name {
			return m, fmt.Errorf("the store at %s was created with the %s driver, but %s asks for %s; hutch does not switch silently (the images would disappear): "+
				"keep %s by removing the `driver` line from %s, or start over with %s by running `%s system reset` (deletes all images and containers)",
				o.GraphRoot, m.Driver.Name, o.DriverSource, o.Driver, m.Driver.Name, o.DriverSource, o.Driver, o.hutch())
		}
		if o.SingleID && !m.SingleID {
			return m, fmt.Errorf("the store at %s holds files of your subordinate ids, but this time only your own uid is mapped (newuidmap/newgidmap did not apply your ranges; `hutch info` says why): "+
				"using the store like this would mix owners, so hutch stops; fix the ranges, or start a separate store with `[storage] graphroot` in config.toml", o.GraphRoot)
		}
		if m.Driver.Name == overlay.Fuse {
			if _, err := os.Stat(m.Driver.MountProgram); err != nil {
				return m, fmt.Errorf("the store at %s uses fuse-overlayfs, but %s is gone: reinstall it (`apt-get install fuse-overlayfs`)", o.GraphRoot, m.Driver.MountProgram)
			}
		}
		return m, nil
	}
	return Manifest{}, err
}

// probeManifest chooses the driver of a new store and records it; the caller holds
// the store's lock.
func probeManifest(o Options, path string) (Manifest, error) {
	forced := o.Driver
	if forced == "" {
		forced = existingDriver(o.GraphRoot)
	}
	source := "config.toml"
	if o.DriverFlag {
		source = "--storage-driver"
	}
	c, err := overlay.ChooseFrom(filepath.Join(o.GraphRoot, "probe"), forced, source, o.MountProgram)
	os.RemoveAll(filepath.Join(o.GraphRoot, "probe"))
	if err != nil {
		return Manifest{}, err
	}
	if forced != "" && o.Driver == "" {
		c.Forced, c.Reason = false, "kept from the data already in the store"
	}
	m := Manifest{Version: 1, Driver: c, Created: time.Now().UTC(), SingleID: o.SingleID}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return m, err
	}
	return m, nil
}

// existingDriver recognises a store made before the manifest existed.
func existingDriver(graphRoot string) string {
	if _, err := os.Stat(filepath.Join(graphRoot, "vfs")); err == nil {
		return overlay.VFS
	}
	if b, err := os.ReadFile(filepath.Join(graphRoot, "overlay", ".has-mount-program")); err == nil {
		if strings.TrimSpace(string(b)) == "true" {
			return overlay.Fuse
		}
		return overlay.Native
	}
	return ""
}

// Network file systems, by statfs magic: they do not understand user namespaces
// (ownership is checked against the real uid) and their xattrs and whiteouts are unsafe.
var networkFS = map[int64]string{
	0x6969:     "NFS",
	0x517B:     "SMB",
	0xFF534D42: "CIFS",
	0xFE534D42: "SMB2",
	0x5346414F: "AFS",
	0x6B414653: "kAFS",
	0x00C36400: "CephFS",
	0x47504653: "GPFS",
	0x0BD00BD0: "Lustre",
	0x01021997: "9p",
	0xAAD7AAEA: "PanFS",
	0x7461636F: "OCFS2",
	0x564C:     "NCP",
	0x786F4256: "VirtualBox shared folder",
}

// NetworkFSName returns the name of the network file system with statfs magic m, or "".
func NetworkFSName(m int64) string { return networkFS[m] }

// CheckLocalFS refuses a graph root on a network file system, naming it and the fix.
// The nearest existing ancestor is checked when the directory does not exist yet.
func CheckLocalFS(graphRoot string) error {
	dir := graphRoot
	var st unix.Statfs_t
	for {
		err := unix.Statfs(dir, &st)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOENT) || dir == "/" {
			return &os.PathError{Op: "statfs", Path: dir, Err: err}
		}
		dir = filepath.Dir(dir)
	}
	if name := NetworkFSName(int64(st.Type)); name != "" {
		return fmt.Errorf("the image store %s is on %s, a network file system that cannot hold files of subordinate ids: "+
			"put the store on a local disk by adding to ~/.config/hutch/config.toml:\n  [storage]\n  graphroot = \"/var/tmp/%s/hutch-storage\"",
			graphRoot, name, os.Getenv("USER"))
	}
	return nil
}
