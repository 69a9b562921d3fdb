package network

import (
	"strings"
	"testing"
)

// FuzzPublish runs -p/--publish and --network on any text: no panic; every published
// port is a real port of a known protocol, and prints.
//
//	go test -run '^$' -fuzz FuzzPublish -fuzztime 10m ./network/
func FuzzPublish(f *testing.F) {
	for _, s := range []string{
		"80", "8080:80", "127.0.0.1:5353:53/udp", "[::1]:8080:80", "8000-8010:80-90", "::80", "1:2:3:4",
		"65536", "0:80", "80/sctp", "[::1]80", "-1", "1-", "5-3", "127.0.0.1::80",
		"slirp4netns:mtu=1500,allow_host_loopback=true", "none", "host", "slirp4netns:cidr=10.1.2.0/24,enable_ipv6=true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ms, err := ParsePublish(v)
		if err == nil {
			if len(ms) == 0 {
				t.Fatalf("-p %q: accepted, but publishes nothing", v)
			}
			for _, m := range ms {
				if m.ContainerPort < 1 || m.ContainerPort > 65535 || m.HostPort < 0 || m.HostPort > 65535 {
					t.Fatalf("-p %q: ports out of range: %+v", v, m)
				}
				if m.Protocol != "tcp" && m.Protocol != "udp" {
					t.Fatalf("-p %q: protocol %q", v, m.Protocol)
				}
				_ = m.String()
			}
			_ = Format(ms)
			_ = Bindings(ms)
		} else if !strings.Contains(err.Error(), "-p/--publish") {
			t.Fatalf("-p %q: the error does not name the flag: %v", v, err)
		}
		if c, err := Parse(v, Defaults{}); err == nil {
			_ = c.Addrs()
		}
		_, _ = ParseExposed(v)
	})
}
