package container

import (
	"strings"
	"testing"
	"time"

	"hutch.dev/hutch/network"
)

func TestPsFilter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(name string, age int, status string, code int, labels map[string]string) Summary {
		return Summary{
			Config: &Config{ID: strings.Repeat(name[:1], 64), Name: name, ImageName: "localhost/lc:latest", ImageID: "feed" + name,
				Created: t0.Add(time.Duration(age) * time.Minute), Settings: Settings{Labels: labels, Network: network.Config{Mode: "slirp4netns"}}},
			State: &State{Status: status, ExitCode: code},
		}
	}
	a := mk("alpha", 1, StatusRunning, 0, map[string]string{"team": "web", "tier": "front"})
	a.Config.Ports = []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
	a.Config.Mounts = []MountSpec{{Type: "volume", Source: "data", Destination: "/data"}}
	b := mk("beta", 2, StatusExited, 3, map[string]string{"team": "web"})
	b.Config.ExposedPorts = []string{"53/udp"}
	b.Config.Network.Mode = "none"
	c := mk("gamma", 3, StatusCreated, 0, nil)
	all := []Summary{c, b, a}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "gamma beta alpha"},
		{[]string{"status=running", "status=exited"}, "beta alpha"}, // one key: OR
		{[]string{"status=exited", "label=team=web"}, "beta"},       // keys: AND
		{[]string{"label=team=web", "label=tier"}, "alpha"},         // label: all hold
		{[]string{"name=^(al|ga)"}, "gamma alpha"},                  // a regular expression
		{[]string{"id=bb"}, "beta"},                                 // an ID prefix
		{[]string{"exited=3"}, "beta"},                              // exited only
		{[]string{"exited=0"}, ""},                                  // a created one has no exit code
		{[]string{"before=gamma"}, "beta alpha"},                    // created before gamma
		{[]string{"since=alpha", "before=gamma"}, "beta"},           // both bounds
		{[]string{"volume=data"}, "alpha"},                          // by volume name
		{[]string{"volume=/data/"}, "alpha"},                        // by destination
		{[]string{"network=none"}, "beta"},                          // network mode
		{[]string{"publish=80"}, "alpha"},                           // the container port published
		{[]string{"publish=8080"}, ""},                              // not the host port
		{[]string{"expose=50-60/udp"}, "beta"},                      // the image's exposed ports
		{[]string{"expose=80/tcp"}, "alpha"},                        // published ones are exposed
		{[]string{"ancestor=lc"}, "gamma beta alpha"},               // short image name
		{[]string{"health=none"}, "gamma beta alpha"},               // no healthchecks
		{[]string{"health=healthy"}, ""},                            //
	} {
		f, err := ParseFilters(tc.filters)
		if err != nil {
			t.Fatalf("%v: %v", tc.filters, err)
		}
		if err := f.Bind(all); err != nil {
			t.Fatalf("%v: %v", tc.filters, err)
		}
		var got []string
		for _, s := range all {
			if f.Match(s) {
				got = append(got, s.Config.Name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("--filter %v: %q, want %q", tc.filters, strings.Join(got, " "), tc.want)
		}
	}
	for _, bad := range []string{"status=sleeping", "name=(", "id=xyz", "exited=x", "publish=80/icmp", "publish=9-1", "health=ok", "colour=red", "status"} {
		if _, err := ParseFilters([]string{bad}); err == nil {
			t.Errorf("--filter %s was accepted", bad)
		}
	}
	f, _ := ParseFilters([]string{"before=nothing"})
	if err := f.Bind(all); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Errorf("before= of no container: %v", err)
	}
	list := []Summary{a, c, b}
	if err := Sort(list, "names", nil); err != nil || list[0].Config.Name != "alpha" || list[2].Config.Name != "gamma" {
		t.Errorf("sort by names: %v", err)
	}
	if err := Sort(list, "created", nil); err != nil || list[0].Config.Name != "gamma" {
		t.Errorf("sort by created: newest first")
	}
	if Sort(list, "colour", nil) == nil {
		t.Error("sort by an unknown key")
	}
}
