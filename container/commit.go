package container

import (
	"maps"
	"slices"
	"strings"

	"hutch.dev/hutch/images"
)

// CommitConfig is the run-time configuration an image committed from the container
// carries, as Docker's commit makes it: the image's, with what the container was
// created with on top (its command, environment, working directory, user, stop
// signal, labels, and the ports it published as exposed ports). What hutch itself
// added to the environment (HOSTNAME, and PATH where the image set none) is left out.
func (c *Config) CommitConfig(ic images.ContainerConfig) images.ContainerConfig {
	out := ic
	if c.Entrypoint != nil {
		out.Entrypoint = slices.Clone(*c.Entrypoint)
		out.Cmd = slices.Clone(c.Cmd)
	} else if len(c.Cmd) > 0 {
		out.Cmd = slices.Clone(c.Cmd)
	}
	var env []string
	for _, e := range c.Env {
		k, _, _ := strings.Cut(e, "=")
		if (k == "HOSTNAME" && e == "HOSTNAME="+c.Hostname || e == defaultPath) && !hasEnv(ic.Env, k) {
			continue
		}
		env = append(env, e)
	}
	out.Env = env
	if c.Cwd != "/" || ic.WorkingDir != "" {
		out.WorkingDir = c.Cwd
	}
	if c.Userns != "keep-id" {
		out.User = c.User
	}
	out.StopSignal = c.StopSignal
	if len(c.Labels) > 0 {
		out.Labels = maps.Clone(ic.Labels)
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		maps.Copy(out.Labels, c.Labels)
	}
	if len(c.Ports) > 0 {
		out.ExposedPorts = maps.Clone(ic.ExposedPorts)
		if out.ExposedPorts == nil {
			out.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			out.ExposedPorts[p.Key()] = struct{}{}
		}
	}
	return out
}
