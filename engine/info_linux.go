package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

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
	Kept    InfoKept            `json:"keptNamespace"`
	Config  []config.Source     `json:"configFiles"`
	Paths   *config.Paths       `json:"paths"`
	Store   InfoStore           `json:"store"`
	Cgroups *cgroups.Delegation `json:"cgroups"`
	Network *network.Info       `json:"network"`
	Seccomp InfoSeccomp         `json:"seccomp"`
	// SecurityOptions is Docker's list: name=seccomp,profile=builtin, name=rootless, …
	SecurityOptions []string       `json:"SecurityOptions"`
	Warnings        []diag.Warning `json:"warnings"`
	// Rootless: hutch runs as a plain user, in a user namespace (not as real root).
	Rootless   bool           `json:"rootless"`
	Host       InfoHost       `json:"host"`
	Containers InfoContainers `json:"containers"`
	Registries InfoRegistries `json:"registries"`
	// Time is when the report was made (RFC 3339).
	Time string `json:"time"`
}

// InfoHost is the machine: its name, system, processors and memory.
type InfoHost struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`      // linux
	Arch     string `json:"arch"`    // Go's name: amd64, arm64
	Machine  string `json:"machine"` // the kernel's: x86_64, aarch64
	// Distribution is from /etc/os-release: ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME.
	Distribution InfoDistribution `json:"distribution"`
	CPUs         int              `json:"cpus"`
	MemTotal     int64            `json:"memTotal"` // bytes
	MemFree      int64            `json:"memFree"`
	SwapTotal    int64            `json:"swapTotal"`
	SwapFree     int64            `json:"swapFree"`
	Uptime       string           `json:"uptime"`
	// Executable is the hutch binary that answers (it is also the containers' runtime).
	Executable string `json:"executable"`
}

// InfoDistribution is /etc/os-release's answer.
type InfoDistribution struct {
	ID         string `json:"id"`
	Version    string `json:"version"`
	Codename   string `json:"codename,omitempty"`
	PrettyName string `json:"prettyName"`
}

// InfoContainers counts the user's containers (of this store) by state.
type InfoContainers struct {
	Total   int `json:"total"`
	Running int `json:"running"`
	Paused  int `json:"paused"`
	Stopped int `json:"stopped"`
}

// InfoRegistries is config.toml's [registries] as pulls use it.
type InfoRegistries struct {
	Search   []string `json:"search"`
	Insecure []string `json:"insecure"`
	Blocked  []string `json:"blocked"`
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

// InfoKept is the kept user namespace this command joined: its holder process, since
// when it runs, and its file (the maps are IDMaps).
type InfoKept struct {
	Kept      bool      `json:"kept"`
	HolderPID int       `json:"holderPid,omitempty"`
	Since     time.Time `json:"since,omitempty"`
	File      string    `json:"file,omitempty"`
	// OwnMounts: this command joined the user namespace only, with a mount namespace
	// of its own (it runs in another mount namespace than the kept one's origin, or its
	// working directory's path leads elsewhere in the kept one).
	OwnMounts bool `json:"ownMounts,omitempty"`
	// JoinedBy says how: "constructor" (this process joined before its Go runtime
	// started, the verdict on the paths holding) or "parent" (a plain-user hutch
	// checked the paths and started it there).
	JoinedBy string `json:"joinedBy,omitempty"`
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
	switch {
	case h.Kept != nil:
		in.Kept = InfoKept{Kept: true, HolderPID: h.Kept.PID, Since: userns.StartTime(h.Kept.Start),
			File: filepath.Join(h.Kept.Dir, userns.HolderFile), OwnMounts: h.Kept.OwnMounts, JoinedBy: "parent"}
		if h.KeptDirect {
			in.Kept.JoinedBy = "constructor"
		}
	case h.NS.Root:
		in.Kept.Note = "none: running as root, without a user namespace"
	default:
		in.Kept.Note = "none: this command made a namespace of its own (see the warnings)"
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
	in.Rootless = !h.NS.Root
	in.Host = hostInfo()
	in.Time = time.Now().Format(time.RFC3339Nano)
	r := h.Config.Registries
	in.Registries = InfoRegistries{Search: r.Search, Insecure: r.Insecure, Blocked: r.Blocked}
	if len(in.Registries.Search) == 0 {
		in.Registries.Search = []string{"docker.io"}
	}
	for _, l := range []*[]string{&in.Registries.Insecure, &in.Registries.Blocked} {
		if *l == nil {
			*l = []string{}
		}
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

// hostInfo reads the machine's name, system, processors and memory.
func hostInfo() InfoHost {
	hi := InfoHost{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	hi.Hostname, _ = os.Hostname()
	hi.Executable, _ = os.Executable()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		hi.Machine = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		unit := int64(si.Unit)
		hi.MemTotal, hi.MemFree = int64(si.Totalram)*unit, int64(si.Freeram)*unit
		hi.SwapTotal, hi.SwapFree = int64(si.Totalswap)*unit, int64(si.Freeswap)*unit
		hi.Uptime = (time.Duration(si.Uptime) * time.Second).String()
	}
	hi.Distribution = osRelease("/etc/os-release")
	return hi
}

// osRelease reads an os-release file (or /usr/lib/os-release when it is missing).
func osRelease(path string) InfoDistribution {
	f, err := os.Open(path)
	if err != nil {
		if f, err = os.Open("/usr/lib/os-release"); err != nil {
			return InfoDistribution{PrettyName: "Linux"}
		}
	}
	defer f.Close()
	var d InfoDistribution
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		switch k {
		case "ID":
			d.ID = v
		case "VERSION_ID":
			d.Version = v
		case "VERSION_CODENAME":
			d.Codename = v
		case "PRETTY_NAME":
			d.PrettyName = v
		}
	}
	if d.PrettyName == "" {
		d.PrettyName = "Linux"
	}
	return d
}
