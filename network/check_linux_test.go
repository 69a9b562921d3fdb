package network

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCheckPortsNamesATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port < UnprivilegedPortStart() {
		t.Skipf("the kernel gave port %d, below ip_unprivileged_port_start", port)
	}
	err = CheckPorts([]PortMapping{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80, Protocol: "tcp"}})
	if err == nil {
		t.Fatal("a taken port was accepted")
	}
	for _, s := range []string{"-p 127.0.0.1:" + strconv.Itoa(port) + "->80/tcp", "host port " + strconv.Itoa(port) + "/tcp", "already in use"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// The same port in UDP is free.
	if err := CheckPorts([]PortMapping{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80, Protocol: "udp"}}); err != nil {
		t.Errorf("udp: %v", err)
	}
}

func TestPrivilegedPortError(t *testing.T) {
	err := privilegedError(PortMapping{HostPort: 80, ContainerPort: 80, Protocol: "tcp"}, 1024)
	for _, s := range []string{"(1024 on this machine)", "sudo sysctl net.ipv4.ip_unprivileged_port_start=80", "-p 8080:80"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

func TestChooseFreeGivesEveryMappingAPort(t *testing.T) {
	got, err := chooseFree([]PortMapping{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", ContainerPort: 53, Protocol: "udp"}, {HostPort: 9999, ContainerPort: 1, Protocol: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].HostPort == 0 || got[1].HostPort == 0 || got[2].HostPort != 9999 {
		t.Errorf("got %+v", got)
	}
}

func TestFindSlirp(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	_, err := FindSlirp("")
	if err == nil || !strings.Contains(err.Error(), "apt-get install slirp4netns") || !strings.Contains(err.Error(), dir) {
		t.Errorf("missing: %v", err)
	}
	bin := filepath.Join(dir, "slirp4netns")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := FindSlirp(""); err != nil || p != bin {
		t.Errorf("on PATH: %q %v", p, err)
	}
	if _, err := FindSlirp(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "slirp4netns_path") {
		t.Errorf("configured, missing: %v", err)
	}
	if p, err := FindSlirp(bin); err != nil || p != bin {
		t.Errorf("configured: %q %v", p, err)
	}
}

func TestCheckPortsRefusesAHostPortTwice(t *testing.T) {
	ps := []PortMapping{{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 81, Protocol: "tcp"}}
	err := CheckPorts(ps)
	if err == nil || !strings.Contains(err.Error(), "both publish host port 40000/tcp") {
		t.Fatalf("got %v", err)
	}
}
