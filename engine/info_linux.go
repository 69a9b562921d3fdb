package engine

import (
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/config"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/version"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/overlay"
	"hutch.dev/hutch/security"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/userns"
)

// Info is `hutch info`: everything hutch found about the user and the machine, with
// every warning and its fix.
type Info struct {
	Version string              `json:"version"`
	Commit  string              `json:"commit"` // the git commit, HASH-dirty, or unknown
	Go      string              `json:"go"`
	Kernel  string              `json:"kernel"`
	User    InfoUser            `json:"user"`
	IDMaps  InfoIDMaps          `json:"idMappings"`
	Config  []config.Source     `json:"configFiles"`
	Paths   *config.Paths       `json:"paths"`
	Store   InfoStore           `json:"store"`
	Cgroups *cgroups.Delegation `json:"cgroups"`
	Network *network.Info       `json:"network"`
	Seccomp InfoSeccomp         `json:"seccomp"`
	// SecurityOptions is Docker's list: name=seccomp,profile=builtin, name=rootless, …
	SecurityOptions []string       `json:"SecurityOptions"`
	Warnings        []diag.Warning `json:"warnings"`
}

// InfoSeccomp is whether containers can be confined with seccomp, and by what.
type InfoSeccomp struct {
	Enabled bool   `json:"enabled"`
	Profile string `json:"profile"`           // the default: builtin
	Source  string `json:"source,omitempty"`  // Docker's default profile, as compiled in
	Problem string `json:"problem,omitempty"` // why not, when not
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
		Commit:  version.Get().Commit(),
		Go:      runtime.Version(),
		User:    InfoUser{Name: h.NS.User, UID: h.NS.UID, GID: h.NS.GID, Home: h.NS.Home},
		IDMaps: InfoIDMaps{UIDMap: h.NS.UIDMap, GIDMap: h.NS.GIDMap, SingleID: h.NS.SingleID,
			IgnoreChownErrors: h.NS.SingleID, Helpers: h.NS.Helpers},
		Config:   h.Sources,
		Paths:    h.Paths,
		Store:    InfoStore{GraphRoot: h.Paths.GraphRoot, RunRoot: h.Paths.RunRoot},
		Cgroups:  cgroups.Discover(cgroups.Options{Parent: h.Config.Cgroups.Parent, OnUnavailable: h.Config.Cgroups.OnUnavailable}),
		Network:  network.Probe(h.Config.Network.Slirp4netnsPath, h.Config.Network.Default, h.Config.Network.AllowHostLoopback),
		Warnings: h.allWarnings(),
	}
	ok, why := security.KernelSupport()
	in.Seccomp = InfoSeccomp{Enabled: ok, Profile: security.SeccompBuiltin, Source: security.BuiltinVersion(), Problem: why}
	if ok {
		in.SecurityOptions = append(in.SecurityOptions, "name=seccomp,profile="+security.SeccompBuiltin)
	} else {
		in.Warnings = append(in.Warnings, diag.Warning{ID: "seccomp", Text: "containers run without a seccomp filter: " + why})
	}
	if !h.NS.Root {
		in.SecurityOptions = append(in.SecurityOptions, "name=rootless")
	}
	in.SecurityOptions = append(in.SecurityOptions, "name=cgroupns")
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
