package container

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// ProcessSettings are the settings of a container's process and namespaces that Docker keeps
// in HostConfig (and Config: Domainname, ExposedPorts).
type ProcessSettings struct {
	Domainname string            `json:"Domainname,omitempty"`
	Ulimits    []nsinit.Rlimit   `json:"Ulimits,omitempty"`
	Sysctls    map[string]string `json:"Sysctls,omitempty"`
	ShmSize    int64             `json:"ShmSize,omitempty"`
	// GroupAdd are group names or ids (resolved in the image at every start), or
	// keep-groups alone.
	GroupAdd []string `json:"GroupAdd,omitempty"`
	// Expose are ports to expose (PORT[/PROTO] or ranges), which -P publishes too.
	Expose []string `json:"Expose,omitempty"`
	// PidMode, IpcMode and UTSMode are "" (the container's own namespace), "host"
	// (hutch's: the host's), or "container:ID" (another container's, by ID once
	// created); CgroupnsMode is "" (private) or "host".
	PidMode      string `json:"PidMode,omitempty"`
	IpcMode      string `json:"IpcMode,omitempty"`
	UTSMode      string `json:"UTSMode,omitempty"`
	CgroupnsMode string `json:"CgroupnsMode,omitempty"`
}

// KeepGroups is --group-add keep-groups (Podman): the process keeps your supplementary
// groups (shown as nogroup inside, but granting their access to bind-mounted files).
const KeepGroups = "keep-groups"

// ProcessFlags are the raw values of the flags ProcessSettings is made of.
type ProcessFlags struct {
	Domainname, ShmSize                string
	Ulimits, Sysctls, GroupAdd, Expose []string
	DefaultUlimits                     []string // config.toml's [containers] default_ulimits
	Pid, IPC, UTS, Cgroupns            string
}

// ParseProcess reads --domainname, --ulimit (over the configured defaults), --sysctl,
// --shm-size, --group-add and --expose; each malformed value is an error naming its
// flag.
func ParseProcess(f ProcessFlags) (ProcessSettings, error) {
	p := ProcessSettings{Domainname: f.Domainname}
	if len(f.Domainname) > 64 || strings.ContainsAny(f.Domainname, " \t\n/") {
		return p, fmt.Errorf("--domainname %q: at most 64 characters, no spaces or slashes", f.Domainname)
	}
	for _, v := range append(append([]string{}, f.DefaultUlimits...), f.Ulimits...) {
		r, err := nsinit.ParseRlimit(v)
		if err != nil {
			return p, err
		}
		replaced := false
		for i := range p.Ulimits {
			if p.Ulimits[i].Name == r.Name {
				p.Ulimits[i], replaced = r, true
			}
		}
		if !replaced {
			p.Ulimits = append(p.Ulimits, r)
		}
	}
	for _, v := range f.Sysctls {
		k, val, err := nsinit.ParseSysctl(v)
		if err != nil {
			return p, err
		}
		if p.Sysctls == nil {
			p.Sysctls = map[string]string{}
		}
		p.Sysctls[k] = val
	}
	if f.ShmSize != "" {
		n, err := units.RAMInBytes(f.ShmSize)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("--shm-size %q: expected a size above 0, e.g. 64m or 1g", f.ShmSize)
		}
		p.ShmSize = n
	}
	for _, g := range f.GroupAdd {
		switch {
		case g == KeepGroups:
			if len(f.GroupAdd) > 1 {
				return p, fmt.Errorf("--group-add keep-groups cannot be combined with other --group-add values (the groups kept are yours, as they are)")
			}
		case g == "" || strings.ContainsAny(g, ": \t\n"):
			return p, fmt.Errorf("--group-add %q: expected a group name or id from the image's /etc/group", g)
		}
		p.GroupAdd = append(p.GroupAdd, g)
	}
	for _, ns := range []struct {
		flag, v    string
		to         *string
		containers bool
	}{{"--pid", f.Pid, &p.PidMode, true}, {"--ipc", f.IPC, &p.IpcMode, true}, {"--uts", f.UTS, &p.UTSMode, true}, {"--cgroupns", f.Cgroupns, &p.CgroupnsMode, false}} {
		mode, err := parseNamespace(ns.flag, ns.v, ns.containers)
		if err != nil {
			return p, err
		}
		*ns.to = mode
	}
	if p.UTSMode != "" && p.Domainname != "" {
		return p, fmt.Errorf("--domainname cannot be set with --uts %s: the UTS namespace is not the container's own", p.UTSMode)
	}
	for _, e := range f.Expose {
		if _, err := exposedPorts(e); err != nil {
			return p, err
		}
		p.Expose = append(p.Expose, e)
	}
	return p, nil
}

// exposedPorts reads --expose PORT[/PROTO] or START-END[/PROTO] into the image's
// ExposedPorts keys ("80/tcp").
func exposedPorts(v string) ([]string, error) {
	bad := fmt.Errorf("--expose %q: expected PORT[/tcp|udp] or START-END[/tcp|udp]", v)
	ports, proto, hasProto := strings.Cut(v, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, bad
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || a == 0 || b < a {
		return nil, bad
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

// ParseAddHost reads --add-host NAME:IP (or NAME=IP, IPv6 addresses in brackets or
// not; IP host-gateway: the host, as the container reaches it).
func ParseAddHost(v string) (string, error) {
	name, ip, ok := strings.Cut(v, "=")
	if !ok {
		name, ip, ok = strings.Cut(v, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
		return "", fmt.Errorf("--add-host %q: expected NAME:IP (or NAME:host-gateway)", v)
	}
	if ip != network.HostGateway && net.ParseIP(ip) == nil {
		return "", fmt.Errorf("--add-host %q: %q is not an IP address (nor host-gateway)", v, ip)
	}
	return name + ":" + ip, nil
}

// ParseDNS reads --dns, --dns-search and --dns-option into the network's config.
func ParseDNS(c *network.Config, servers, search, options []string) error {
	for _, s := range servers {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("--dns %q: not an IP address", s)
		}
		c.DNS = append(c.DNS, s)
	}
	for _, s := range search {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("--dns-search %q: expected a domain (or . for none)", s)
		}
		c.DNSSearch = append(c.DNSSearch, s)
	}
	for _, s := range options {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("--dns-option %q: expected one option, e.g. ndots:2", s)
		}
		c.DNSOptions = append(c.DNSOptions, s)
	}
	return nil
}

// parseNamespace reads --pid, --ipc, --uts (containers: true) or --cgroupns: "" or
// private (the container's own), host, or container:NAME; Docker's --ipc shareable (a
// private namespace others may join: every one here is) is private.
func parseNamespace(flag, v string, containers bool) (string, error) {
	switch {
	case v == "" || v == "private" || (flag == "--ipc" && v == "shareable"):
		return "", nil
	case v == "host":
		return v, nil
	case containers && strings.HasPrefix(v, "container:") && len(v) > len("container:"):
		return v, nil
	case flag == "--ipc" && v == "none":
		return "", fmt.Errorf("--ipc none: a container here always has an IPC namespace and /dev/shm of its own; use --ipc private")
	}
	forms := "private or host"
	if containers {
		forms = "private, host or container:NAME"
	}
	return "", fmt.Errorf("%s %q: use %s", flag, v, forms)
}

// nsContainer is the container NAME of a mode container:NAME ("": none).
func nsContainer(mode string) string {
	name, _ := strings.CutPrefix(mode, "container:")
	if name == mode {
		return ""
	}
	return name
}

// containerMode is --network container:ID as a namespace mode ("": not joined).
func containerMode(n network.Config) string {
	if n.Mode == network.ModeContainer {
		return "container:" + n.Container
	}
	return ""
}
