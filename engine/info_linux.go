package engine

import (
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/config"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/version"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/overlay"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/userns"
)

// Info is `hutch info`: everything hutch found about the user and the machine, with
// every warning and its fix.
type Info struct {
	Version  string              `json:"version"`
	Go       string              `json:"go"`
	Kernel   string              `json:"kernel"`
	User     InfoUser            `json:"user"`
	IDMaps   InfoIDMaps          `json:"idMappings"`
	Kept     InfoKept            `json:"keptNamespace"`
	Config   []config.Source     `json:"configFiles"`
	Paths    *config.Paths       `json:"paths"`
	Store    InfoStore           `json:"store"`
	Cgroups  *cgroups.Delegation `json:"cgroups"`
	Network  *network.Info       `json:"network"`
	Warnings []diag.Warning      `json:"warnings"`
}

// InfoUser is who hutch runs for.
type InfoUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home"`
}

// InfoIDMaps is the namespace's mapping and where it came from.
type InfoIDMaps struct {
	UIDMap            []userns.IDMap  `json:"uidMap"`
	GIDMap            []userns.IDMap  `json:"gidMap"`
	Source            string          `json:"source"`
	SingleID          bool            `json:"singleID"`
	IgnoreChownErrors bool            `json:"ignoreChownErrors"`
	Helpers           []userns.Helper `json:"helpers"`
}

// InfoKept is the kept user namespace this command joined: its holder process, since
// when it runs, and its file (the maps are IDMaps).
type InfoKept struct {
	Kept      bool      `json:"kept"`
	HolderPID int       `json:"holderPid,omitempty"`
	Since     time.Time `json:"since,omitempty"`
	File      string    `json:"file,omitempty"`
	// OwnMounts: this command joined the user namespace only, with a mount namespace
	// of its own (it runs in another mount namespace than the kept one's origin).
	OwnMounts bool `json:"ownMounts,omitempty"`
	// Note says why there is none.
	Note string `json:"note,omitempty"`
}

// InfoStore is the store and its driver.
type InfoStore struct {
	GraphRoot string            `json:"graphRoot"`
	RunRoot   string            `json:"runRoot"`
	Driver    *overlay.Choice   `json:"driver,omitempty"`
	Status    map[string]string `json:"status,omitempty"`
	Images    int               `json:"images"`
	Error     string            `json:"error,omitempty"`
}

// Info gathers the report. store may be nil (it could not be opened; openErr says why).
func (h *Host) Info(store *storage.Store, openErr error) *Info {
	in := &Info{
		Version: version.Version,
		Go:      runtime.Version(),
		User:    InfoUser{Name: h.NS.User, UID: h.NS.UID, GID: h.NS.GID, Home: h.NS.Home},
		IDMaps: InfoIDMaps{UIDMap: h.NS.UIDMap, GIDMap: h.NS.GIDMap, SingleID: h.NS.SingleID,
			IgnoreChownErrors: h.NS.SingleID, Helpers: h.NS.Helpers},
		Config:   h.Sources,
		Paths:    h.Paths,
		Store:    InfoStore{GraphRoot: h.Paths.GraphRoot, RunRoot: h.Paths.RunRoot},
		Cgroups:  cgroups.Discover(cgroups.Options{Parent: h.Config.Cgroups.Parent, OnUnavailable: h.Config.Cgroups.OnUnavailable}),
		Network:  network.Probe(h.Config.Network.Slirp4netnsPath, h.Config.Network.Default, h.Config.Network.AllowHostLoopback),
		Warnings: h.Warnings(),
	}
	switch {
	case h.Kept != nil:
		in.Kept = InfoKept{Kept: true, HolderPID: h.Kept.PID, Since: userns.StartTime(h.Kept.Start),
			File: filepath.Join(h.Kept.Dir, userns.HolderFile), OwnMounts: h.Kept.OwnMounts}
	case h.NS.Root:
		in.Kept.Note = "none: running as root, without a user namespace"
	default:
		in.Kept.Note = "none: this command made a namespace of its own (see the warnings)"
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	switch {
	case h.NS.Root:
		in.IDMaps.Source = "none: running as root, without a user namespace"
	case h.NS.SubIDs != nil:
		in.IDMaps.Source = h.NS.SubIDs.Source
	}
	if store != nil {
		d := store.Manifest.Driver
		in.Store.Driver = &d
		in.Store.Status = map[string]string{}
		if st, err := store.Status(); err == nil {
			for _, kv := range st {
				in.Store.Status[kv[0]] = kv[1]
			}
		}
		if imgs, err := store.Images(); err == nil {
			in.Store.Images = len(imgs)
		}
	}
	if openErr != nil {
		in.Store.Error = openErr.Error()
	}
	if in.Network.Problem != "" {
		in.Warnings = append(in.Warnings, diag.Warning{ID: "network", Text: "containers get no network by default: " + in.Network.Problem})
	}
	if in.Cgroups.Limits != "available" {
		in.Warnings = append(in.Warnings, diag.Warning{ID: "cgroup-limits",
			Text: "resource limits (--memory, --cpus, --pids-limit …) cannot be applied here: " + strings.TrimPrefix(in.Cgroups.Limits, "unavailable: ")})
	}
	return in
}
