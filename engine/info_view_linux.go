package engine

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/version"
	"hutch.dev/hutch/userns"
)

// InfoView is what an `info --format` template sees: hutch's own report (Info, its
// fields promoted: .Commit, .User, .IDMaps, .Paths, .Cgroups, .Network, .Seccomp,
// .Warnings, .SecurityOptions …), Docker's field names at the top level
// (.ServerVersion, .Driver, .NCPU …) and Podman's trees (.Host, .Store, .Version,
// .Registries). Where they share a name, .Store has hutch's fields and Podman's, and
// .Version prints as hutch's version while .Version.Version and the like are Podman's;
// hutch's own .Host, .Containers and .Registries, shadowed by Podman's and Docker's,
// are .Info.Host, .Info.Containers and .Info.Registries. `info --format json` prints
// Info itself, hutch's own structure.
type InfoView struct {
	*Info

	// Docker's (`docker info --format`).
	ServerVersion      string
	Containers         int
	ContainersRunning  int
	ContainersPaused   int
	ContainersStopped  int
	Images             int
	Driver             string
	DriverStatus       [][2]string
	DockerRootDir      string
	KernelVersion      string
	OperatingSystem    string
	OSVersion          string
	OSType             string
	Architecture       string
	NCPU               int
	MemTotal           int64
	Name               string
	CgroupDriver       string
	CgroupVersion      string
	MemoryLimit        bool
	SwapLimit          bool
	CpuCfsPeriod       bool //nolint:revive // Docker's name
	CpuCfsQuota        bool //nolint:revive // Docker's name
	CPUShares          bool
	CPUSet             bool
	PidsLimit          bool
	IndexServerAddress string
	DefaultRuntime     string
	Runtimes           map[string]DockerRuntime
	Debug              bool
	ExperimentalBuild  bool
	LiveRestoreEnabled bool
	SystemTime         string
	HttpProxy          string //nolint:revive // Docker's name
	HttpsProxy         string //nolint:revive // Docker's name
	NoProxy            string
	Labels             []string

	// Podman's (`podman info --format`).
	Host       PodmanHost
	Store      ViewStore
	Version    ViewVersion
	Registries map[string]any
}

// DockerRuntime is one of Docker's .Runtimes.
type DockerRuntime struct {
	Path string `json:"path"`
}

// ViewStore is .Store: hutch's InfoStore (.Store.Driver.Name, .Store.Images …) and
// Podman's fields.
type ViewStore struct {
	InfoStore
	GraphDriverName    string
	GraphOptions       map[string]any
	GraphStatus        map[string]string
	GraphRootAllocated uint64
	GraphRootUsed      uint64
	ImageStore         struct{ Number int }
	ContainerStore     struct{ Number, Paused, Running, Stopped int }
	VolumePath         string
	ConfigFile         string
	ImageCopyTmpDir    string
	TransientStore     bool
}

// ViewVersion is Podman's .Version; printed whole it is hutch's version, as hutch's own
// .Version is.
type ViewVersion struct {
	APIVersion string
	Version    string
	GoVersion  string
	GitCommit  string
	BuiltTime  string
	Built      int64
	OsArch     string
	Os         string
}

func (v ViewVersion) String() string { return v.Version }

// PodmanHost is Podman's .Host.
type PodmanHost struct {
	Arch               string
	BuildahVersion     string
	CgroupManager      string
	CgroupVersion      string
	CgroupControllers  []string
	CPUs               int
	Distribution       struct{ Distribution, Version, Codename, Variant string }
	EventLogger        string
	Hostname           string
	IDMappings         struct{ UIDMap, GIDMap []PodmanIDMap }
	Kernel             string
	LogDriver          string
	MemFree            int64
	MemTotal           int64
	NetworkBackend     string
	OCIRuntime         struct{ Name, Package, Path, Version string }
	OS                 string
	Rootless           bool
	RootlessNetworkCmd string
	Security           struct {
		ApparmorEnabled    bool
		Capabilities       string
		Rootless           bool
		SECCOMPEnabled     bool
		SECCOMPProfilePath string
		SELinuxEnabled     bool
	}
	Slirp4NetNS struct{ Executable, Package, Version string }
	SwapFree    int64
	SwapTotal   int64
	Uptime      string
}

// PodmanIDMap is one line of an id mapping, as Podman names its fields.
type PodmanIDMap struct {
	ContainerID uint32 `json:"container_id"`
	HostID      uint32 `json:"host_id"`
	Size        uint32 `json:"size"`
}

// View builds the template view of the report.
func (in *Info) View() *InfoView {
	v := &InfoView{Info: in}
	vi := version.Get()
	driver := ""
	if in.Store.Driver != nil {
		driver = in.Store.Driver.StorageDriver()
	}
	statusKeys := make([]string, 0, len(in.Store.Status))
	for k := range in.Store.Status {
		statusKeys = append(statusKeys, k)
	}
	sort.Strings(statusKeys)

	// Docker's.
	v.ServerVersion = in.Version
	v.Containers, v.ContainersRunning = in.Containers.Total, in.Containers.Running
	v.ContainersPaused, v.ContainersStopped = in.Containers.Paused, in.Containers.Stopped
	v.Images, v.Driver, v.DockerRootDir = in.Store.Images, driver, in.Store.GraphRoot
	v.DriverStatus = [][2]string{}
	for _, k := range statusKeys {
		v.DriverStatus = append(v.DriverStatus, [2]string{k, in.Store.Status[k]})
	}
	v.KernelVersion = in.Kernel
	v.OperatingSystem, v.OSVersion, v.OSType = in.Host.Distribution.PrettyName, in.Host.Distribution.Version, in.Host.OS
	v.Architecture, v.NCPU, v.MemTotal, v.Name = in.Host.Machine, in.Host.CPUs, in.Host.MemTotal, in.Host.Hostname
	v.CgroupDriver, v.CgroupVersion = "none", ""
	if in.Cgroups != nil {
		switch in.Cgroups.Mode {
		case "v2":
			v.CgroupDriver, v.CgroupVersion = "cgroupfs", "2"
		case "v1", "hybrid":
			v.CgroupDriver, v.CgroupVersion = "cgroupfs", "1"
		}
		for _, a := range in.Cgroups.Availability {
			switch a.Controller {
			case "memory":
				v.MemoryLimit, v.SwapLimit = a.Available, a.Available
			case "cpu":
				v.CpuCfsPeriod, v.CpuCfsQuota, v.CPUShares = a.Available, a.Available, a.Available
			case "cpuset":
				v.CPUSet = a.Available
			case "pids":
				v.PidsLimit = a.Available
			}
		}
	}
	v.IndexServerAddress = "https://index.docker.io/v1/"
	v.DefaultRuntime = "hutch"
	v.Runtimes = map[string]DockerRuntime{"hutch": {Path: in.Host.Executable}}
	v.SystemTime = in.Time
	v.HttpProxy, v.HttpsProxy, v.NoProxy = proxyEnv("HTTP_PROXY"), proxyEnv("HTTPS_PROXY"), proxyEnv("NO_PROXY")
	v.Labels = []string{}

	// Podman's.
	h := &v.Host
	h.Arch, h.CPUs, h.Hostname, h.Kernel, h.OS = in.Host.Arch, in.Host.CPUs, in.Host.Hostname, in.Kernel, in.Host.OS
	h.MemFree, h.MemTotal, h.SwapFree, h.SwapTotal, h.Uptime = in.Host.MemFree, in.Host.MemTotal, in.Host.SwapFree, in.Host.SwapTotal, in.Host.Uptime
	h.Distribution.Distribution, h.Distribution.Version, h.Distribution.Codename = in.Host.Distribution.ID, in.Host.Distribution.Version, in.Host.Distribution.Codename
	h.CgroupManager = v.CgroupDriver
	if v.CgroupVersion != "" {
		h.CgroupVersion = "v" + v.CgroupVersion
	}
	h.CgroupControllers = []string{}
	if in.Cgroups != nil && in.Cgroups.Base != "" {
		h.CgroupControllers = in.Cgroups.BaseControllers
	}
	h.IDMappings.UIDMap, h.IDMappings.GIDMap = podmanIDMaps(in.IDMaps.UIDMap), podmanIDMaps(in.IDMaps.GIDMap)
	h.OCIRuntime.Name, h.OCIRuntime.Path, h.OCIRuntime.Version = "hutch", in.Host.Executable, "hutch version "+in.Version
	h.Rootless, h.Security.Rootless = in.Rootless, in.Rootless
	h.Security.SECCOMPEnabled, h.Security.SECCOMPProfilePath = in.Seccomp.Enabled, in.Seccomp.Profile
	if in.Network != nil {
		h.NetworkBackend, h.RootlessNetworkCmd = in.Network.Default, in.Network.Default
		h.Slirp4NetNS.Executable, h.Slirp4NetNS.Version = in.Network.Slirp4netns, in.Network.Version
	}

	st := &v.Store
	st.InfoStore = in.Store
	st.GraphDriverName = driver
	st.GraphOptions = map[string]any{}
	if d := in.Store.Driver; d != nil && d.MountProgram != "" {
		st.GraphOptions["overlay.mount_program"] = map[string]string{"Executable": d.MountProgram}
	}
	st.GraphStatus = in.Store.Status
	if st.GraphStatus == nil {
		st.GraphStatus = map[string]string{}
	}
	var fs unix.Statfs_t
	if unix.Statfs(in.Store.GraphRoot, &fs) == nil {
		st.GraphRootAllocated = fs.Blocks * uint64(fs.Bsize)
		st.GraphRootUsed = (fs.Blocks - fs.Bfree) * uint64(fs.Bsize)
	}
	st.ImageStore.Number = in.Store.Images
	st.ContainerStore.Number, st.ContainerStore.Running = in.Containers.Total, in.Containers.Running
	st.ContainerStore.Paused, st.ContainerStore.Stopped = in.Containers.Paused, in.Containers.Stopped
	if in.Paths != nil {
		st.VolumePath = in.Paths.VolumeDir
		st.ConfigFile = in.Paths.UserConfig
	}
	st.ImageCopyTmpDir = filepath.Join(in.Store.GraphRoot, "tmp")

	v.Version = ViewVersion{APIVersion: in.Version, Version: in.Version, GoVersion: vi.GoVersion, GitCommit: in.Commit,
		BuiltTime: vi.BuildTime, OsArch: vi.OsArch, Os: vi.Os}
	if t, err := time.Parse(time.RFC3339, vi.BuildTime); err == nil {
		v.Version.Built = t.Unix()
	} else if n, err := strconv.ParseInt(vi.BuildTime, 10, 64); err == nil {
		v.Version.Built = n
	}
	v.Registries = map[string]any{"search": in.Registries.Search}
	return v
}

func podmanIDMaps(ms []userns.IDMap) []PodmanIDMap {
	out := []PodmanIDMap{}
	for _, m := range ms {
		out = append(out, PodmanIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}

func proxyEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return os.Getenv(strings.ToLower(name))
}
