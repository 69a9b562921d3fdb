package launch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

func TestEtcWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	slirp, _ := network.Parse("", network.Defaults{})
	mounts, err := Etc{Network: slirp, Hostname: "abc", HostnameFile: true, Names: "abc web"}.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, m := range mounts {
		if m.Type != "bind" || !m.File || filepath.Dir(m.Source) != dir {
			t.Errorf("mount %+v", m)
		}
		dests = append(dests, m.Destination)
	}
	if want := []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}; !reflect.DeepEqual(dests, want) {
		t.Fatalf("destinations %q, want %q", dests, want)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("hostname"); got != "abc\n" {
		t.Errorf("hostname %q", got)
	}
	if got := read("hosts"); !strings.HasSuffix(got, "10.0.2.100\tabc web\n") {
		t.Errorf("hosts:\n%s", got)
	}
	if got := read("resolv.conf"); !strings.HasPrefix(got, "nameserver 10.0.2.3\n") {
		t.Errorf("resolv.conf:\n%s", got)
	}

	// A build step: no /etc/hostname, its names default to the hostname; written again.
	mounts, err = Etc{Network: network.Config{Mode: network.ModeNone}, Hostname: "hutch-build"}.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 2 || !reflect.DeepEqual(mounts[0], nsinit.Mount{Type: "bind", Source: filepath.Join(dir, "hosts"), Destination: "/etc/hosts", File: true}) {
		t.Fatalf("mounts %+v", mounts)
	}
	if got := read("hosts"); !strings.HasSuffix(got, "127.0.1.1\thutch-build\n") {
		t.Errorf("hosts:\n%s", got)
	}
}
