package network

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePublishForms(t *testing.T) {
	tcp := func(ip string, host, ctr int) PortMapping {
		return PortMapping{HostIP: ip, HostPort: host, ContainerPort: ctr, Protocol: "tcp"}
	}
	for _, tc := range []struct {
		in   string
		want []PortMapping
	}{
		{"80", []PortMapping{tcp("", 0, 80)}},
		{"8080:80", []PortMapping{tcp("", 8080, 80)}},
		{"127.0.0.1:8080:80", []PortMapping{tcp("127.0.0.1", 8080, 80)}},
		{"127.0.0.1::80", []PortMapping{tcp("127.0.0.1", 0, 80)}},
		{"8080:80/tcp", []PortMapping{tcp("", 8080, 80)}},
		{"5353:53/udp", []PortMapping{{HostPort: 5353, ContainerPort: 53, Protocol: "udp"}}},
		{"5353:53/UDP", []PortMapping{{HostPort: 5353, ContainerPort: 53, Protocol: "udp"}}},
		{"[::1]:8080:80", []PortMapping{tcp("::1", 8080, 80)}},
		{"8000-8002:80-82", []PortMapping{tcp("", 8000, 80), tcp("", 8001, 81), tcp("", 8002, 82)}},
		{"80-81", []PortMapping{tcp("", 0, 80), tcp("", 0, 81)}},
		{"0.0.0.0:9000-9001:90-91/udp", []PortMapping{
			{HostIP: "0.0.0.0", HostPort: 9000, ContainerPort: 90, Protocol: "udp"},
			{HostIP: "0.0.0.0", HostPort: 9001, ContainerPort: 91, Protocol: "udp"}}},
	} {
		got, err := ParsePublish(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParsePublishErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "is not a port"},
		{"abc", "is not a port"},
		{"0", "is not a port"},
		{"70000", "is not a port"},
		{"8080:80/sctp", "tcp or udp"},
		{"1.2.3:8080:80", "is not an IP address"},
		{"a:b:c:d", "too many colons"},
		{"8000-8010:80-81", "has 11 ports but the container range 80-81 has 2"},
		{"90-80", "not a port range"},
		{"[::1]8080:80", "IPv6"},
		{"8080:", "container port"},
		{"x:80", "host port"},
	} {
		_, err := ParsePublish(tc.in)
		if err == nil {
			t.Errorf("%q: accepted", tc.in)
			continue
		}
		if !strings.HasPrefix(err.Error(), "-p/--publish ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q lacks the flag name or %q", tc.in, err, tc.want)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	for _, tc := range []struct {
		in   string
		d    Defaults
		want Config
	}{
		{"", Defaults{}, Config{Mode: ModeSlirp, MTU: DefaultMTU}},
		{"", Defaults{Mode: "none"}, Config{Mode: ModeNone}},
		{"", Defaults{AllowHostLoopback: true, MTU: 1500}, Config{Mode: ModeSlirp, MTU: 1500, AllowHostLoopback: true}},
		{"host", Defaults{AllowHostLoopback: true}, Config{Mode: ModeHost}},
		{"bridge", Defaults{}, Config{Mode: ModeSlirp, MTU: DefaultMTU}},
		{"slirp4netns:mtu=1500,allow_host_loopback=true", Defaults{}, Config{Mode: ModeSlirp, MTU: 1500, AllowHostLoopback: true}},
		{"slirp4netns:allow_host_loopback=false", Defaults{AllowHostLoopback: true}, Config{Mode: ModeSlirp, MTU: DefaultMTU}},
		{"slirp4netns:cidr=10.5.0.0/16,enable_ipv6=true", Defaults{}, Config{Mode: ModeSlirp, MTU: DefaultMTU, CIDR: "10.5.0.0/16", EnableIPv6: true}},
	} {
		got, err := Parse(tc.in, tc.d)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q (defaults %+v): got %+v, want %+v", tc.in, tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"pasta", "use slirp4netns"},
		{"none:x=1", "takes no options"},
		{"slirp4netns:mtu=10", "mtu must be"},
		{"slirp4netns:mtu=abc", "mtu must be"},
		{"slirp4netns:allow_host_loopback=maybe", "takes true or false"},
		{"slirp4netns:cidr=10.0.2.0/30", "/25 or larger"},
		{"slirp4netns:cidr=fd00::/64", "IPv4 network"},
		{"slirp4netns:color=blue", `unknown option "color"`},
	} {
		_, err := Parse(tc.in, Defaults{})
		if err == nil || !strings.HasPrefix(err.Error(), "--network ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want --network … %q", tc.in, err, tc.want)
		}
	}
}

func TestAddrs(t *testing.T) {
	a := Config{Mode: ModeSlirp}.Addrs()
	if a.Gateway.String() != "10.0.2.2" || a.DNS.String() != "10.0.2.3" || a.Container.String() != "10.0.2.100" {
		t.Errorf("default: %+v", a)
	}
	a = Config{Mode: ModeSlirp, CIDR: "10.5.0.0/16"}.Addrs()
	if a.Gateway.String() != "10.5.0.2" || a.DNS.String() != "10.5.0.3" || a.Container.String() != "10.5.0.100" {
		t.Errorf("10.5.0.0/16: %+v", a)
	}
}

func TestPublishAllAddsExposedPortsNotPublished(t *testing.T) {
	explicit, _ := ParsePublish("8080:80")
	got, err := PublishAll(explicit, map[string]struct{}{"80/tcp": {}, "53/udp": {}, "443": {}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{ContainerPort: 443, Protocol: "tcp"},
		{ContainerPort: 53, Protocol: "udp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := PublishAll(nil, map[string]struct{}{"x/tcp": {}}); err == nil || !strings.Contains(err.Error(), "EXPOSE") {
		t.Errorf("bad EXPOSE: %v", err)
	}
}

func TestFormatAndBindings(t *testing.T) {
	ps := []PortMapping{
		{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "::1", HostPort: 8443, ContainerPort: 443, Protocol: "tcp"},
	}
	if got, want := Format(ps), "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp, [::1]:8443->443/tcp"; got != want {
		t.Errorf("Format: %q, want %q", got, want)
	}
	b := Bindings(append(ps, PortMapping{ContainerPort: 80, Protocol: "tcp"}))
	want := map[string][]Binding{
		"80/tcp":  {{HostIP: "127.0.0.1", HostPort: "8080"}, {HostIP: "", HostPort: ""}},
		"53/udp":  {{HostIP: "", HostPort: "5353"}},
		"443/tcp": {{HostIP: "::1", HostPort: "8443"}},
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("Bindings: %+v", b)
	}
}

func TestResolvConfKeepsSearchAndOptionsOnly(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\nsearch corp.example.com lab.example\noptions edns0 trust-ad\ndomain example.org\n"
	got := string(ResolvConf([]byte(host), Config{Mode: ModeSlirp}))
	want := "nameserver 10.0.2.3\nsearch corp.example.com lab.example\noptions edns0 trust-ad\ndomain example.org\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = string(ResolvConf(nil, Config{Mode: ModeSlirp, CIDR: "10.9.0.0/24", EnableIPv6: true}))
	if got != "nameserver 10.9.0.3\nnameserver fd00::3\n" {
		t.Errorf("ipv6/cidr: %q", got)
	}
}

func TestHosts(t *testing.T) {
	if got := Hosts(Config{Mode: ModeSlirp}, "abc web"); got != "10.0.2.100\tabc web\n" {
		t.Errorf("no loopback: %q", got)
	}
	if got := Hosts(Config{Mode: ModeSlirp, AllowHostLoopback: true}, "abc"); got != "10.0.2.100\tabc\n10.0.2.2\thost.containers.internal host.docker.internal\n" {
		t.Errorf("loopback: %q", got)
	}
	if got := Hosts(Config{Mode: ModeNone}, "abc"); got != "127.0.1.1\tabc\n" {
		t.Errorf("none: %q", got)
	}
}

func TestSlirpArgs(t *testing.T) {
	base := "slirp4netns --configure --mtu=65520 --ready-fd=3 --exit-fd=4 --enable-sandbox --enable-seccomp"
	for _, c := range []struct {
		n    string
		want string
	}{
		{"slirp4netns", base + " --disable-host-loopback --netns-type=path /proc/7/ns/net tap0"},
		{"slirp4netns:mtu=1500,allow_host_loopback=true,cidr=10.9.0.0/24,enable_ipv6=true",
			"slirp4netns --configure --mtu=1500 --ready-fd=3 --exit-fd=4 --enable-sandbox --enable-seccomp --cidr=10.9.0.0/24 --enable-ipv6 --netns-type=path /proc/7/ns/net tap0"},
	} {
		cfg, err := Parse(c.n, Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(slirpArgs(cfg, "/proc/7/ns/net"), " "); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.n, got, c.want)
		}
	}
}
