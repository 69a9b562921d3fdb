package network

import (
	"strings"
	"testing"
)

func TestEtcFiles(t *testing.T) {
	slirp, err := Parse("slirp4netns:allow_host_loopback=true", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	hostHosts := []byte("127.0.0.1\tlocalhost\n192.0.2.7\tbuildhost") // no final newline
	hostResolv := []byte("nameserver 127.0.0.53\nsearch example.org\noptions edns0\n")
	for _, c := range []struct {
		n                  Config
		hosts, resolv, not string
	}{
		{slirp, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.100\tc1 web\n10.0.2.2\thost.containers.internal host.docker.internal\n",
			"nameserver 10.0.2.3\nsearch example.org\noptions edns0\n", "127.0.0.53"},
		{Config{Mode: ModeNone}, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tc1 web\n",
			string(hostResolv), "10.0.2."},
		// The host's network: the host's own /etc/hosts, then the container's names.
		{Config{Mode: ModeHost}, "127.0.0.1\tlocalhost\n192.0.2.7\tbuildhost\n127.0.1.1\tc1 web\n",
			string(hostResolv), "10.0.2."},
	} {
		hosts := string(EtcHosts(c.n, "c1 web", hostHosts))
		if hosts != c.hosts {
			t.Errorf("%s: hosts:\n%s\nwant:\n%s", c.n.Mode, hosts, c.hosts)
		}
		resolv := string(EtcResolv(c.n, hostResolv))
		if resolv != c.resolv {
			t.Errorf("%s: resolv.conf:\n%s\nwant:\n%s", c.n.Mode, resolv, c.resolv)
		}
		if strings.Contains(hosts+resolv, c.not) {
			t.Errorf("%s: %q in\n%s%s", c.n.Mode, c.not, hosts, resolv)
		}
	}
	// A host without /etc/hosts: localhost still.
	if got := string(EtcHosts(Config{Mode: ModeHost}, "c1", nil)); !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("host network without the host's file:\n%s", got)
	}
}
