package launch

import (
	"os"
	"path/filepath"

	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// Etc is what a container's /etc/hostname, /etc/hosts and /etc/resolv.conf say: every
// process hutch starts in new namespaces (a container, a build's RUN step) gets them
// from Write.
type Etc struct {
	Network network.Config
	// Hostname is the container's; /etc/hostname is written only with HostnameFile (a
	// build step keeps the image's).
	Hostname     string
	HostnameFile bool
	// Names are the names /etc/hosts gives the container ("HOSTNAME [NAME]"; "":
	// Hostname).
	Names string
}

// Write writes the files into dir (made anew at every start: replaced atomically, not
// flushed to disk) and returns the bind mounts that put them in place.
func (e Etc) Write(dir string) ([]nsinit.Mount, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	names := e.Names
	if names == "" {
		names = e.Hostname
	}
	hostHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		hostHosts = nil
	}
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		hostResolv = nil
	}
	files := []struct {
		name string
		data []byte
	}{
		{"hosts", network.EtcHosts(e.Network, names, hostHosts)},
		{"resolv.conf", network.EtcResolv(e.Network, hostResolv)},
	}
	if e.HostnameFile {
		files = append([]struct {
			name string
			data []byte
		}{{"hostname", []byte(e.Hostname + "\n")}}, files...)
	}
	var out []nsinit.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := fsutil.ReplaceFile(p, f.data, 0o644); err != nil {
			return nil, err
		}
		out = append(out, nsinit.Mount{Type: "bind", Source: p, Destination: "/etc/" + f.name, File: true})
	}
	return out, nil
}
