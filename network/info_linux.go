package network

import (
	"os/exec"
	"strings"

	"github.com/rootless-containers/rootlesskit/v2/pkg/network/slirp4netns"
)

// Info is the network part of `hutch info`.
type Info struct {
	Default           string   `json:"default"`
	AllowHostLoopback bool     `json:"allowHostLoopback"`
	Slirp4netns       string   `json:"slirp4netns,omitempty"` // the binary used
	Version           string   `json:"version,omitempty"`     // its --version, on one line
	Features          []string `json:"features,omitempty"`
	// Tun is "accessible", or why /dev/net/tun cannot be used.
	Tun                   string `json:"tun"`
	UnprivilegedPortStart int    `json:"unprivilegedPortStart"`
	PortForwarder         string `json:"portForwarder"`
	// Problem says why the default network cannot work here, with the fix.
	Problem string `json:"problem,omitempty"`
}

// Probe looks at the host's network backend: slirp4netns (configured path or $PATH),
// its version and features, /dev/net/tun, and the lowest port a user may publish.
func Probe(configured, def string, allowHostLoopback bool) *Info {
	if def == "" {
		def = ModeSlirp
	}
	in := &Info{Default: def, AllowHostLoopback: allowHostLoopback, Tun: "accessible",
		UnprivilegedPortStart: UnprivilegedPortStart(), PortForwarder: "rootlesskit builtin, in a hutch-port process per container that publishes ports"}
	var problems []string
	bin, err := FindSlirp(configured)
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		in.Slirp4netns = bin
		if out, err := exec.Command(bin, "--version").Output(); err == nil {
			var parts []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(l, "commit:") && !strings.HasPrefix(l, "SLIRP_CONFIG") {
					parts = append(parts, strings.TrimSpace(l))
				}
			}
			in.Version = strings.Join(parts, ", ")
		}
		if f, err := slirp4netns.DetectFeatures(bin); err == nil {
			for _, x := range []struct {
				ok   bool
				name string
			}{{f.SupportsEnableIPv6, "ipv6"}, {f.SupportsCIDR, "cidr"}, {f.SupportsDisableHostLoopback, "disable-host-loopback"},
				{f.SupportsEnableSandbox, "sandbox"}, {f.SupportsEnableSeccomp && f.KernelSupportsEnableSeccomp, "seccomp"}} {
				if x.ok {
					in.Features = append(in.Features, x.name)
				}
			}
		} else {
			problems = append(problems, err.Error())
		}
	}
	if err := CheckTun(); err != nil {
		in.Tun = err.Error()
		problems = append(problems, err.Error())
	}
	if def == ModeSlirp && len(problems) > 0 {
		in.Problem = strings.Join(problems, "; ")
	}
	return in
}
