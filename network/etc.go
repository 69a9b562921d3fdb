package network

import (
	"net"
	"strings"
)

// ResolvConf is the container's /etc/resolv.conf on a slirp4netns network: the DNS
// forwarder of slirp4netns (10.0.2.3, which asks the host's resolvers), plus the host's
// search domains and options. The host's nameservers are left out: a loopback one
// (systemd-resolved's 127.0.0.53) would be the container's own loopback.
func ResolvConf(host []byte, c Config) []byte {
	var b strings.Builder
	b.WriteString("nameserver " + c.Addrs().DNS.String() + "\n")
	if c.EnableIPv6 {
		b.WriteString("nameserver fd00::3\n")
	}
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "search", "domain", "options":
			b.WriteString(strings.Join(f, " ") + "\n")
		}
	}
	return []byte(b.String())
}

// localhost is how every /etc/hosts but the host network's begins.
const localhost = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// EtcHosts is a container's /etc/hosts on network c, naming the container names
// ("HOSTNAME [NAME]"): localhost and its own names, and on the host's network the host's
// file (hostHosts, when it could be read) before its names.
func EtcHosts(c Config, names string, hostHosts []byte) []byte {
	hosts := localhost
	if c.Mode == ModeHost && hostHosts != nil {
		hosts = string(hostHosts)
		if !strings.HasSuffix(hosts, "\n") {
			hosts += "\n"
		}
	}
	hosts += Hosts(c, names)
	for _, h := range c.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == HostGateway {
			ip = c.HostGatewayIP()
		}
		hosts += ip + "\t" + name + "\n"
	}
	return []byte(hosts)
}

// HostGateway is --add-host's name for the host's address as the container reaches it.
const HostGateway = "host-gateway"

// HostGatewayIP is the host as a container on network c reaches it: on slirp4netns the
// gateway when host loopback is allowed, else the host's first address that is not
// loopback (reached through slirp4netns's NAT); on the host's network, 127.0.0.1.
func (c Config) HostGatewayIP() string {
	switch {
	case c.Mode == ModeSlirp && c.AllowHostLoopback:
		return c.Addrs().Gateway.String()
	case c.Mode == ModeSlirp:
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
					return n.IP.String()
				}
			}
		}
		return c.Addrs().Gateway.String()
	}
	return "127.0.0.1"
}

// EtcResolv is a container's /etc/resolv.conf on network c: the host's (hostResolv), or,
// on slirp4netns, its DNS forwarder (ResolvConf).
func EtcResolv(c Config, hostResolv []byte) []byte {
	base := hostResolv
	if c.Mode == ModeSlirp {
		base = ResolvConf(hostResolv, c)
	}
	if len(c.DNS) == 0 && len(c.DNSSearch) == 0 && len(c.DNSOptions) == 0 {
		return base
	}
	// --dns, --dns-search and --dns-option each replace their kind of line.
	var b strings.Builder
	for _, s := range c.DNS {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(c.DNSSearch) > 0 && !(len(c.DNSSearch) == 1 && c.DNSSearch[0] == ".") {
		b.WriteString("search " + strings.Join(c.DNSSearch, " ") + "\n")
	}
	if len(c.DNSOptions) > 0 {
		b.WriteString("options " + strings.Join(c.DNSOptions, " ") + "\n")
	}
	for _, line := range strings.Split(string(base), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch {
		case f[0] == "nameserver" && len(c.DNS) > 0,
			(f[0] == "search" || f[0] == "domain") && len(c.DNSSearch) > 0,
			f[0] == "options" && len(c.DNSOptions) > 0:
			continue
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

// HostNames are the names /etc/hosts gives the host on a slirp4netns network with host
// loopback allowed (Podman's and Docker's).
var HostNames = []string{"host.containers.internal", "host.docker.internal"}

// Hosts is the part of a container's /etc/hosts that depends on its network: its own
// names at its address, and the host's names at the gateway when host loopback is
// allowed. names is "HOSTNAME [NAME]".
func Hosts(c Config, names string) string {
	if c.Mode != ModeSlirp {
		return "127.0.1.1\t" + names + "\n"
	}
	a := c.Addrs()
	s := a.Container.String() + "\t" + names + "\n"
	if c.AllowHostLoopback {
		s += a.Gateway.String() + "\t" + strings.Join(HostNames, " ") + "\n"
	}
	return s
}
