package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/images"
)

// defaultShell is what shell forms run under without SHELL.
var defaultShell = []string{"/bin/sh", "-c"}

func shellOf(c *images.ContainerConfig) []string {
	if len(c.Shell) > 0 {
		return c.Shell
	}
	return defaultShell
}

// commandLine turns a CMD/ENTRYPOINT/RUN line into argv: exec form as is, shell form
// through the stage's SHELL.
func commandLine(c *images.ContainerConfig, l instructions.ShellDependantCmdLine) []string {
	if !l.PrependShell {
		return append([]string{}, l.CmdLine...)
	}
	return append(append([]string{}, shellOf(c)...), strings.Join(l.CmdLine, " "))
}

// applyMeta applies an instruction that changes only the configuration. It returns
// false for instructions that make a layer.
func applyMeta(st *state, c instructions.Command, expand instructions.SingleWordExpander) (bool, error) {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		switch c.(type) {
		case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
		default:
			if err := e.Expand(expand); err != nil {
				return true, err
			}
		}
	}
	cfg := &st.Config.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		st.Config.Author = c.Maintainer
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			for _, w := range strings.Fields(p) {
				port, err := expandPort(w, expand)
				if err != nil {
					return true, err
				}
				for _, x := range port {
					cfg.ExposedPorts[x] = struct{}{}
				}
			}
		}
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return true, fmt.Errorf("VOLUME with an empty path")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			p = path.Join(base, p)
		}
		cfg.WorkingDir = path.Clean(p)
	case *instructions.CmdCommand:
		cfg.Cmd = commandLine(cfg, c.ShellDependantCmdLine)
		st.CmdSet = true
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = commandLine(cfg, c.ShellDependantCmdLine)
		if !st.CmdSet {
			cfg.Cmd = nil // an inherited CMD does not go with a new ENTRYPOINT (Docker's rule)
		}
	case *instructions.StopSignalCommand:
		// What `hutch stop` sends: a signal it could not read is refused now.
		if _, err := container.ParseSignal(c.Signal); err != nil {
			return true, fmt.Errorf("STOPSIGNAL: %w", err)
		}
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &images.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	case *instructions.ShellCommand:
		cfg.Shell = append([]string{}, c.Shell...)
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	default:
		return false, nil
	}
	return true, nil
}

// expandPort turns "80", "80/udp" or "8000-8002" into Docker's port keys.
func expandPort(w string, _ instructions.SingleWordExpander) ([]string, error) {
	proto := "tcp"
	if p, pr, ok := strings.Cut(w, "/"); ok {
		w, proto = p, strings.ToLower(pr)
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("EXPOSE %s: the protocol is tcp, udp or sctp", w)
	}
	lo, hi := w, w
	if a, z, ok := strings.Cut(w, "-"); ok {
		lo, hi = a, z
	}
	var l, h int
	if _, err := fmt.Sscanf(lo, "%d", &l); err != nil || fmt.Sprint(l) != lo || l < 1 || l > 65535 {
		return nil, fmt.Errorf("EXPOSE %s: not a port number (1-65535)", w)
	}
	if _, err := fmt.Sscanf(hi, "%d", &h); err != nil || fmt.Sprint(h) != hi || h < l || h > 65535 {
		return nil, fmt.Errorf("EXPOSE %s: not a port range", w)
	}
	var out []string
	for p := l; p <= h; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

// configBytes is the image configuration as stored; its digest is the image ID.
func configBytes(c *images.Config) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// configID is the image ID a configuration gets.
func configID(c *images.Config) string {
	sum := sha256.Sum256(configBytes(c))
	return hex.EncodeToString(sum[:])
}

// cloneConfig deep-copies a configuration (through JSON).
func cloneConfig(c images.Config) images.Config {
	var out images.Config
	_ = json.Unmarshal(configBytes(&c), &out)
	return out
}

// hashKey is a cache key: sha256 over the parts, each length-prefixed.
func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// createdBy is the history line of an instruction, as Docker's builder writes it.
func createdBy(c instructions.Command) string {
	return "/bin/sh -c #(nop) " + text(c)
}

// text is an instruction as written (its source line).
func text(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return strings.TrimSpace(s.String())
	}
	return c.Name()
}
