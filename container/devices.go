package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DeviceSpec is one --device HOST[:CTR[:PERMS]], in Docker's HostConfig.Devices names.
type DeviceSpec struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// DefaultCDISpecDirs are where CDI specs are looked for, as Podman and the CDI library
// do (config.toml's [engine] cdi_spec_dirs replaces them).
var DefaultCDISpecDirs = []string{"/etc/cdi", "/var/run/cdi"}

// cdiName is a fully qualified CDI device name: vendor.com/class=name.
var cdiName = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9.\-]*/[a-zA-Z0-9][a-zA-Z0-9_.\-]*)=([a-zA-Z0-9][a-zA-Z0-9_.:\-]*)$`)

// IsCDIDevice tells whether a --device value names a CDI device (vendor.com/class=name).
func IsCDIDevice(v string) bool { return cdiName.MatchString(v) }

// ParseDevices reads every --device and --gpus: the host device nodes, and the CDI
// device names (--gpus all is nvidia.com/gpu=all, --gpus device=0,1 nvidia.com/gpu=0 and
// nvidia.com/gpu=1: GPUs come through CDI, as Podman's).
func ParseDevices(values []string, gpus string) ([]DeviceSpec, []string, error) {
	var devs []DeviceSpec
	var cdi []string
	for _, v := range values {
		if IsCDIDevice(v) {
			cdi = append(cdi, v)
			continue
		}
		d, err := ParseDevice(v)
		if err != nil {
			return nil, nil, err
		}
		devs = append(devs, d)
	}
	if gpus != "" {
		g := strings.Trim(gpus, `"'`)
		switch {
		case g == "all":
			cdi = append(cdi, "nvidia.com/gpu=all")
		case strings.HasPrefix(g, "device="):
			for _, id := range strings.Split(strings.TrimPrefix(g, "device="), ",") {
				if !IsCDIDevice("nvidia.com/gpu=" + id) {
					return nil, nil, fmt.Errorf("--gpus %q: %q is no GPU name or index", gpus, id)
				}
				cdi = append(cdi, "nvidia.com/gpu="+id)
			}
		default:
			return nil, nil, fmt.Errorf("--gpus %q: use all or device=ID[,ID…] (hutch gives GPUs through CDI: --gpus all is --device nvidia.com/gpu=all; a count or capabilities need Docker's NVIDIA runtime hook, which hutch does not run)", gpus)
		}
	}
	return devs, cdi, nil
}

// ParseDevice reads --device HOST[:CTR[:PERMS]] (PERMS: some of r, w, m; default rwm).
func ParseDevice(v string) (DeviceSpec, error) {
	bad := func(why string) (DeviceSpec, error) {
		return DeviceSpec{}, fmt.Errorf("--device %q: %s (expected HOST[:CONTAINER[:PERMISSIONS]], e.g. /dev/fuse or /dev/sdc:/dev/xvdc:r, or a CDI name vendor.com/class=name)", v, why)
	}
	parts := strings.Split(v, ":")
	if len(parts) > 3 || parts[0] == "" {
		return bad("malformed")
	}
	d := DeviceSpec{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	if len(parts) == 2 && validPerms(parts[1]) && !strings.HasPrefix(parts[1], "/") {
		d.CgroupPermissions = parts[1]
	} else if len(parts) >= 2 {
		d.PathInContainer = parts[1]
		if len(parts) == 3 {
			d.CgroupPermissions = parts[2]
		}
	}
	if !filepath.IsAbs(d.PathOnHost) {
		return bad("the host path must be absolute")
	}
	if !filepath.IsAbs(d.PathInContainer) {
		return bad("the path in the container must be absolute")
	}
	if !validPerms(d.CgroupPermissions) {
		return bad("the permissions are some of r, w and m")
	}
	d.PathOnHost, d.PathInContainer = filepath.Clean(d.PathOnHost), filepath.Clean(d.PathInContainer)
	return d, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.Count(p, string(c)) > 1 {
			return false
		}
	}
	return true
}

// cdiSpec is the part of a CDI specification (github.com/cncf-tags/container-device-interface,
// SPEC.md) hutch applies: device nodes, mounts and environment; JSON or YAML.
type cdiSpec struct {
	Version        string      `yaml:"cdiVersion"`
	Kind           string      `yaml:"kind"`
	Devices        []cdiDevice `yaml:"devices"`
	ContainerEdits cdiEdits    `yaml:"containerEdits"`
	path           string
}

type cdiDevice struct {
	Name           string   `yaml:"name"`
	ContainerEdits cdiEdits `yaml:"containerEdits"`
}

type cdiEdits struct {
	Env         []string        `yaml:"env"`
	DeviceNodes []cdiDeviceNode `yaml:"deviceNodes"`
	Mounts      []cdiMount      `yaml:"mounts"`
	Hooks       []yaml.Node     `yaml:"hooks"`
}

type cdiDeviceNode struct {
	Path        string `yaml:"path"`
	HostPath    string `yaml:"hostPath"`
	Permissions string `yaml:"permissions"`
}

type cdiMount struct {
	HostPath      string   `yaml:"hostPath"`
	ContainerPath string   `yaml:"containerPath"`
	Options       []string `yaml:"options"`
}

// CDIEdits are what CDI devices add to a container: device nodes, bind mounts and
// environment variables.
type CDIEdits struct {
	Devices []DeviceSpec
	Mounts  []MountSpec
	Env     []string
}

// ResolveCDI finds each named CDI device (vendor.com/class=name) in the specs (*.json,
// *.yaml, *.yml) of dirs — a later directory's spec of the same kind and device wins, as
// in the CDI library — and returns what they add to a container: each device's edits
// and its spec's container-wide edits. Hooks are refused: hutch runs no OCI hooks.
func ResolveCDI(dirs, names []string) (*CDIEdits, error) {
	if len(names) == 0 {
		return &CDIEdits{}, nil
	}
	specs, err := loadCDISpecs(dirs)
	if err != nil {
		return nil, err
	}
	out := &CDIEdits{}
	applied := map[string]bool{} // a spec's container-wide edits, once
	for _, n := range names {
		m := cdiName.FindStringSubmatch(n)
		if m == nil {
			return nil, fmt.Errorf("--device %q: not a CDI device name (vendor.com/class=name)", n)
		}
		kind, dev := m[1], m[2]
		var spec *cdiSpec
		var device *cdiDevice
		for _, s := range specs {
			if s.Kind != kind {
				continue
			}
			for i := range s.Devices {
				if s.Devices[i].Name == dev {
					spec, device = s, &s.Devices[i]
				}
			}
		}
		if device == nil {
			return nil, fmt.Errorf("--device %s: no CDI spec in %s defines device %q of kind %s%s", n, strings.Join(dirs, ", "), dev, kind, cdiKnown(specs, kind))
		}
		edits := []cdiEdits{device.ContainerEdits}
		if !applied[spec.path] {
			edits, applied[spec.path] = append(edits, spec.ContainerEdits), true
		}
		for _, e := range edits {
			if len(e.Hooks) > 0 {
				return nil, fmt.Errorf("--device %s: its CDI spec %s has hooks, which hutch does not run (it runs no OCI hooks)", n, spec.path)
			}
			out.Env = append(out.Env, e.Env...)
			for _, dn := range e.DeviceNodes {
				host := dn.HostPath
				if host == "" {
					host = dn.Path
				}
				perms := dn.Permissions
				if perms == "" {
					perms = "rwm"
				}
				if !filepath.IsAbs(host) || !filepath.IsAbs(dn.Path) || !validPerms(perms) {
					return nil, fmt.Errorf("--device %s: CDI spec %s: device node %+v needs absolute paths and permissions of r, w, m", n, spec.path, dn)
				}
				out.Devices = append(out.Devices, DeviceSpec{PathOnHost: filepath.Clean(host), PathInContainer: filepath.Clean(dn.Path), CgroupPermissions: perms})
			}
			for _, mt := range e.Mounts {
				if !filepath.IsAbs(mt.HostPath) || !filepath.IsAbs(mt.ContainerPath) {
					return nil, fmt.Errorf("--device %s: CDI spec %s: mount %+v needs absolute paths", n, spec.path, mt)
				}
				ms := MountSpec{Type: "bind", Source: filepath.Clean(mt.HostPath), Destination: filepath.Clean(mt.ContainerPath)}
				for _, o := range mt.Options {
					if o == "ro" {
						ms.ReadOnly = true
					}
				}
				out.Mounts = append(out.Mounts, ms)
			}
		}
	}
	return out, nil
}

func cdiKnown(specs []*cdiSpec, kind string) string {
	var names []string
	for _, s := range specs {
		if s.Kind == kind {
			for _, d := range s.Devices {
				names = append(names, kind+"="+d.Name)
			}
		}
	}
	if len(names) == 0 {
		if kind == "nvidia.com/gpu" {
			return " (no spec of that kind at all: this host has no CDI spec for NVIDIA GPUs; install the NVIDIA Container Toolkit and generate one with `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)"
		}
		return " (no spec of that kind at all)"
	}
	sort.Strings(names)
	return " (it has: " + strings.Join(names, ", ") + ")"
}

// loadCDISpecs reads every spec in dirs, in order; a missing directory has none.
func loadCDISpecs(dirs []string) ([]*cdiSpec, error) {
	var out []*cdiSpec
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading the CDI spec directory %s: %w", dir, err)
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || ext != ".json" && ext != ".yaml" && ext != ".yml" {
				continue
			}
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("reading the CDI spec %s: %w", p, err)
			}
			var s cdiSpec
			if err := yaml.Unmarshal(b, &s); err != nil {
				return nil, fmt.Errorf("the CDI spec %s: %w", p, err)
			}
			if s.Kind == "" || !strings.Contains(s.Kind, "/") {
				return nil, fmt.Errorf("the CDI spec %s: kind %q is not vendor.com/class", p, s.Kind)
			}
			s.path = p
			out = append(out, &s)
		}
	}
	return out, nil
}
