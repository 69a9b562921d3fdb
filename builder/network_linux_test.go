package builder

import (
	"strings"
	"testing"

	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

func TestNetworkSpec(t *testing.T) {
	slirp, err := network.Parse("slirp4netns:allow_host_loopback=true", network.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n          network.Config
		newNet     bool
		hosts, not string
	}{
		{slirp, true, "10.0.2.100\thutch-build\n10.0.2.2\thost.containers.internal host.docker.internal\n", ""},
		{network.Config{Mode: network.ModeNone}, true, "127.0.1.1\thutch-build\n", "10.0.2."},
		{network.Config{Mode: network.ModeHost}, false, "127.0.1.1\thutch-build\n", "10.0.2."},
	} {
		spec := &nsinit.Spec{Hostname: "hutch-build"}
		hosts, resolv := networkSpec(c.n, spec)
		if spec.NewNetwork != c.newNet {
			t.Errorf("%s: NewNetwork = %v", c.n.Mode, spec.NewNetwork)
		}
		if !strings.Contains(hosts, c.hosts) || c.not != "" && strings.Contains(hosts, c.not) {
			t.Errorf("%s: hosts:\n%s", c.n.Mode, hosts)
		}
		if got := strings.HasPrefix(string(resolv), "nameserver 10.0.2.3\n"); got != (c.n.Mode == network.ModeSlirp) {
			t.Errorf("%s: resolv.conf:\n%s", c.n.Mode, resolv)
		}
	}
}
