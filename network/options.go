// Package network gives containers their network without root: slirp4netns started
// against the container's network namespace (a user-mode TCP/IP stack behind a tap
// device), rootlesskit's builtin port driver for published ports (-p), and the
// /etc/resolv.conf and /etc/hosts that go with them. It also parses --network and -p,
// and checks the host (slirp4netns installed, /dev/net/tun usable, host ports free and
// allowed) before a container is created, so that a failure names its fix.
package network

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Network modes.
const (
	ModeSlirp = "slirp4netns"
	ModeNone  = "none"
	ModeHost  = "host"
	// ModeContainer is --network container:NAME: another container's namespace.
	ModeContainer = "container"
)

// DefaultMTU is slirp4netns's MTU unless told otherwise: large frames make the user-mode
// stack much faster than 1500 (libraries.md §4, rootless-pitfalls #19).
const DefaultMTU = 65520

// DefaultCIDR is slirp4netns's own network: gateway .2, DNS .3, the container .100.
const DefaultCIDR = "10.0.2.0/24"

// Config is a container's network as the user chose it.
type Config struct {
	Mode string `json:"Mode"`
	// slirp4netns options
	MTU               int    `json:"MTU,omitempty"`
	CIDR              string `json:"CIDR,omitempty"`
	AllowHostLoopback bool   `json:"AllowHostLoopback,omitempty"`
	EnableIPv6        bool   `json:"EnableIPv6,omitempty"`
	// MACAddress is --mac-address: the container's tap0 (slirp4netns --macaddress).
	MACAddress string `json:"MacAddress,omitempty"`
	// Container is the ID of the container whose network namespace is joined
	// (ModeContainer).
	Container string `json:"Container,omitempty"`
	// ExtraHosts are --add-host's NAME:IP ("host-gateway": HostGatewayIP), written
	// to /etc/hosts.
	ExtraHosts []string `json:"ExtraHosts,omitempty"`
	// DNS, DNSSearch and DNSOptions replace the nameservers, search domains and options
	// of /etc/resolv.conf (--dns, --dns-search, --dns-option; search "." is none).
	DNS        []string `json:"Dns,omitempty"`
	DNSSearch  []string `json:"DnsSearch,omitempty"`
	DNSOptions []string `json:"DnsOptions,omitempty"`
}

// Defaults are the [network] settings of config.toml that --network falls back on.
type Defaults struct {
	Mode              string
	MTU               int
	AllowHostLoopback bool
	EnableIPv6        bool
}

// Parse reads --network: slirp4netns[:mtu=N,allow_host_loopback=true|false,
// cidr=A.B.C.D/N,enable_ipv6=true|false], none or host. An empty value takes the
// configured default.
func Parse(v string, d Defaults) (Config, error) {
	if v == "" {
		v = d.Mode
	}
	if v == "" {
		v = ModeSlirp
	}
	mode, opts, hasOpts := strings.Cut(v, ":")
	c := Config{Mode: mode}
	switch mode {
	case ModeNone, ModeHost:
		if hasOpts {
			return c, fmt.Errorf("--network %q: %s takes no options", v, mode)
		}
		return c, nil
	case ModeSlirp:
	case "bridge", "default", "private":
		// What Docker and Podman call their default: here it is slirp4netns.
		c.Mode = ModeSlirp
	default:
		return c, fmt.Errorf("--network %q: use slirp4netns[:OPTIONS] (the default), none or host", v)
	}
	c.MTU, c.AllowHostLoopback, c.EnableIPv6 = d.MTU, d.AllowHostLoopback, d.EnableIPv6
	if !hasOpts {
		return c.normalized(), nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, val, _ := strings.Cut(o, "=")
		bad := func(why string) (Config, error) {
			return c, fmt.Errorf("--network %q: %s (options: mtu=N, allow_host_loopback=true|false, cidr=A.B.C.D/N, enable_ipv6=true|false)", v, why)
		}
		switch k {
		case "mtu":
			n, err := strconv.Atoi(val)
			if err != nil || n < 68 || n > 65521 {
				return bad("mtu must be a number from 68 to 65521")
			}
			c.MTU = n
		case "allow_host_loopback", "enable_ipv6":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad(k + " takes true or false")
			}
			if k == "allow_host_loopback" {
				c.AllowHostLoopback = b
			} else {
				c.EnableIPv6 = b
			}
		case "cidr":
			ip, ipnet, err := net.ParseCIDR(val)
			if err != nil || ip.To4() == nil {
				return bad("cidr must be an IPv4 network such as 10.0.2.0/24")
			}
			if ones, _ := ipnet.Mask.Size(); ones > 25 {
				return bad("cidr must be /25 or larger: slirp4netns puts the container at .100")
			}
			c.CIDR = ipnet.String()
		case "port_handler":
			if val != "rootlesskit" {
				return bad("only port_handler=rootlesskit is supported")
			}
		default:
			return bad("unknown option " + strconv.Quote(k))
		}
	}
	return c.normalized(), nil
}

func (c Config) normalized() Config {
	if c.Mode == ModeSlirp && c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	return c
}

// Addresses are the addresses of a slirp4netns network.
type Addresses struct {
	Gateway, DNS, Container net.IP
}

// Addrs returns the gateway (the host, when host loopback is allowed), the DNS
// forwarder and the container's address of the configured network.
func (c Config) Addrs() Addresses {
	cidr := c.CIDR
	if cidr == "" {
		cidr = DefaultCIDR
	}
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		_, ipnet, _ = net.ParseCIDR(DefaultCIDR)
	}
	base := ipnet.IP.To4()
	at := func(n byte) net.IP {
		ip := make(net.IP, 4)
		copy(ip, base)
		ip[3] += n
		return ip
	}
	return Addresses{Gateway: at(2), DNS: at(3), Container: at(100)}
}

// PrefixLen is the length of the network's prefix (24 for the default 10.0.2.0/24).
func (c Config) PrefixLen() int {
	cidr := c.CIDR
	if cidr == "" {
		cidr = DefaultCIDR
	}
	if _, ipnet, err := net.ParseCIDR(cidr); err == nil {
		ones, _ := ipnet.Mask.Size()
		return ones
	}
	return 24
}

// PortMapping is one published port: HostIP:HostPort on the host forwarded to
// ContainerPort in the container. HostPort 0 means any free port, chosen at start.
type PortMapping struct {
	HostIP        string `json:"HostIp,omitempty"`
	HostPort      int    `json:"HostPort"`
	ContainerPort int    `json:"ContainerPort"`
	Protocol      string `json:"Protocol"` // tcp or udp
}

// Key is Docker's name of the container side: "80/tcp".
func (p PortMapping) Key() string { return strconv.Itoa(p.ContainerPort) + "/" + p.Protocol }

// HostAddr is the host side, "127.0.0.1:8080" or "0.0.0.0:8080".
func (p PortMapping) HostAddr() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
}

// String is how `ps` shows it: 127.0.0.1:8080->80/tcp.
func (p PortMapping) String() string { return p.HostAddr() + "->" + p.Key() }

// ParsePublish reads one -p/--publish: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], where
// either port may be a range (8000-8010:80-90; ranges of the same length), an IPv6
// address is written in brackets ([::1]:8080:80), and an empty or missing host port
// means any free port.
func ParsePublish(v string) ([]PortMapping, error) {
	bad := func(why string) ([]PortMapping, error) {
		return nil, fmt.Errorf("-p/--publish %q: %s (expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. -p 8080:80 or -p 127.0.0.1:5353:53/udp)", v, why)
	}
	rest, proto, hasProto := strings.Cut(v, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return bad("the protocol must be tcp or udp")
	}
	var ip, host, ctr string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return bad("an IPv6 address is written [ADDRESS]:HOSTPORT:CONTAINERPORT")
		}
		ip = rest[1:end]
		parts := strings.Split(rest[end+2:], ":")
		if len(parts) != 2 {
			return bad("an IPv6 address is written [ADDRESS]:HOSTPORT:CONTAINERPORT")
		}
		host, ctr = parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctr = parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
		default:
			return bad("too many colons (write an IPv6 address in brackets)")
		}
	}
	if ip != "" {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return bad(strconv.Quote(ip) + " is not an IP address")
		}
		ip = parsed.String()
	}
	cLo, cHi, err := portRange(ctr)
	if err != nil {
		return bad("container port: " + err.Error())
	}
	hLo, hHi := 0, 0
	if host != "" {
		if hLo, hHi, err = portRange(host); err != nil {
			return bad("host port: " + err.Error())
		}
		if hHi-hLo != cHi-cLo {
			return bad(fmt.Sprintf("the host range %s has %d ports but the container range %s has %d", host, hHi-hLo+1, ctr, cHi-cLo+1))
		}
	}
	var out []PortMapping
	for i := 0; i <= cHi-cLo; i++ {
		m := PortMapping{HostIP: ip, ContainerPort: cLo + i, Protocol: proto}
		if hLo != 0 {
			m.HostPort = hLo + i
		}
		out = append(out, m)
	}
	return out, nil
}

// portRange reads N or N-M (1 ≤ N ≤ M ≤ 65535).
func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return 0, 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	if !isRange {
		return a, a, nil
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a || b > 65535 {
		return 0, 0, fmt.Errorf("%q is not a port range (N-M with N ≤ M ≤ 65535)", s)
	}
	return a, b, nil
}

// ParseExposed reads an image's EXPOSE entry ("80/tcp", "53/udp", "8000-8002") into
// mappings to any free host port, for -P.
func ParseExposed(e string) ([]PortMapping, error) {
	p, proto, _ := strings.Cut(e, "/")
	if proto == "" {
		proto = "tcp"
	}
	ms, err := ParsePublish(p + "/" + proto)
	if err != nil {
		return nil, fmt.Errorf("the image's EXPOSE %q: %w", e, err)
	}
	return ms, nil
}

// PublishAll adds a mapping to a free host port for every exposed port (-P) that the
// explicit mappings do not already publish.
func PublishAll(explicit []PortMapping, exposed map[string]struct{}) ([]PortMapping, error) {
	have := map[string]bool{}
	for _, p := range explicit {
		have[p.Key()] = true
	}
	keys := make([]string, 0, len(exposed))
	for k := range exposed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := append([]PortMapping{}, explicit...)
	for _, k := range keys {
		ms, err := ParseExposed(k)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !have[m.Key()] {
				have[m.Key()] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// Format is the PORTS column of `ps`: "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp".
func Format(ports []PortMapping) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// Binding is one host side in Docker's NetworkSettings.Ports and HostConfig.PortBindings.
type Binding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// Bindings groups mappings the way Docker's inspect shows them: {"80/tcp": [{HostIp, HostPort}]}.
func Bindings(ports []PortMapping) map[string][]Binding {
	out := map[string][]Binding{}
	for _, p := range ports {
		hp := ""
		if p.HostPort != 0 {
			hp = strconv.Itoa(p.HostPort)
		}
		out[p.Key()] = append(out[p.Key()], Binding{HostIP: p.HostIP, HostPort: hp})
	}
	return out
}

// CheckMAC checks --mac-address for a container on network mode: a unicast Ethernet
// address, for slirp4netns's interface (the only one hutch makes).
func CheckMAC(mac, mode string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return fmt.Errorf("--mac-address %q: not an Ethernet address (six hex bytes: 92:d0:c6:0a:29:33)", mac)
	}
	if hw[0]&1 != 0 {
		return fmt.Errorf("--mac-address %q: a multicast address (the first byte is odd): use a unicast one, e.g. 02:42:ac:11:00:02", mac)
	}
	if mode != ModeSlirp {
		return fmt.Errorf("--mac-address %q with --network %s: only a slirp4netns network has an interface of the container's own", mac, mode)
	}
	return nil
}
