package container

import (
	"fmt"
	"net"
	"slices"
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
}

// KeepGroups is --group-add keep-groups (Podman): the process keeps your supplementary
// groups (shown as nogroup inside, but granting their access to bind-mounted files).
const KeepGroups = "keep-groups"

// ProcessFlags are the raw values of the flags ProcessSettings is made of.
type ProcessFlags struct {
	Domainname, ShmSize                string
	Ulimits, Sysctls, GroupAdd, Expose []string
	DefaultUlimits                     []string // config.toml's [containers] default_ulimits
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

// checkProcess checks the process settings against this host: the hard limits (an
// unprivileged user can only lower them), and the sysctls' namespaces.
func checkProcess(s Settings) error {
	for _, r := range s.Ulimits {
		if err := nsinit.CheckRlimit(r); err != nil {
			return err
		}
	}
	for _, h := range s.Network.ExtraHosts {
		if name, ip, _ := strings.Cut(h, ":"); ip == network.HostGateway && s.Network.Mode == network.ModeNone {
			return fmt.Errorf("--add-host %s:host-gateway: with --network none the container has no way to the host; leave --network none out, or give an address", name)
		}
	}
	for k := range s.Sysctls {
		if err := nsinit.CheckSysctl(k, newNetns(s.Network)); err != nil {
			return err
		}
	}
	return nil
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

// addGroups adds --group-add's groups (names from the image's /etc/group, or ids) to
// u's supplementary groups (keep-groups: see the spec's KeepGroups).
func addGroups(rootfs string, u nsinit.User, groups []string, image string) (nsinit.User, error) {
	if len(groups) == 1 && groups[0] == KeepGroups {
		u.AdditionalGids = nil
		return u, nil
	}
	for _, g := range groups {
		gid, err := nsinit.LookupGroup(rootfs, g)
		if err != nil {
			return u, fmt.Errorf("--group-add %s: %w in the image %s (its /etc/group): use a name from there or a numeric id", g, err, image)
		}
		if !slices.Contains(u.AdditionalGids, gid) {
			u.AdditionalGids = append(u.AdditionalGids, gid)
		}
	}
	return u, nil
}
