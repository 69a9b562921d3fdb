package container

import (
	"encoding/json"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/security"
)

// recordV1 is what config.json held before recordVersion 2: the command line's options
// in an "Options" object, several of them (the name, the environment, the mounts, the
// working directory, the user, the hostname, the stop signal) a second time beside the
// record's own. Containers created then still list, start, stop and are removed: Load
// reads them through migrate, and the next Save writes them anew.
type recordV1 struct {
	Options *optionsV1 `json:"Options"`
}

type optionsV1 struct {
	Entrypoint      *[]string             `json:"Entrypoint"`
	Cmd             []string              `json:"Cmd"`
	CapAdd          []string              `json:"CapAdd"`
	CapDrop         []string              `json:"CapDrop"`
	Privileged      bool                  `json:"Privileged"`
	NoNewPrivileges bool                  `json:"NoNewPrivileges"`
	SecurityOpt     []string              `json:"SecurityOpt"`
	ReadOnly        bool                  `json:"ReadonlyRootfs"`
	Network         string                `json:"NetworkMode"`
	NetworkOptions  *network.Config       `json:"NetworkOptions"`
	Ports           []network.PortMapping `json:"PortBindings"`
	PublishAll      bool                  `json:"PublishAllPorts"`
	Init            bool                  `json:"Init"`
	AutoRemove      bool                  `json:"AutoRemove"`
	Interactive     bool                  `json:"OpenStdin"`
	TTY             bool                  `json:"Tty"`
	Labels          map[string]string     `json:"Labels"`
	Restart         string                `json:"RestartPolicy"`
	StopTimeout     *int                  `json:"StopTimeout"`
	Userns          string                `json:"UsernsMode"`
	Resources       *cgroups.Resources    `json:"Resources"`
	ByRun           bool                  `json:"ByRun"`
}

// decodeRecord reads a config.json of either layout into c.
func decodeRecord(b []byte, c *Config) error {
	if err := json.Unmarshal(b, c); err != nil {
		return err
	}
	if c.Version >= recordVersion {
		return nil
	}
	var old recordV1
	if err := json.Unmarshal(b, &old); err != nil {
		return err
	}
	migrate(c, old.Options)
	return nil
}

// migrate moves what a version-1 record kept in its Options into c.
func migrate(c *Config, o *optionsV1) {
	c.Version = recordVersion
	if o == nil {
		o = &optionsV1{}
	}
	c.Settings = Settings{
		Entrypoint: o.Entrypoint, Cmd: o.Cmd, CapAdd: o.CapAdd, CapDrop: o.CapDrop,
		Privileged: o.Privileged, ReadOnly: o.ReadOnly, Ports: o.Ports, PublishAll: o.PublishAll,
		Init: o.Init, AutoRemove: o.AutoRemove, Interactive: o.Interactive, TTY: o.TTY,
		Labels: o.Labels, Restart: o.Restart, StopTimeout: o.StopTimeout, Userns: o.Userns,
		Resources: o.Resources, ByRun: o.ByRun,
	}
	// The network: its options as parsed then, else (records older than those) the mode
	// with slirp4netns's own defaults, as those containers were started.
	if o.NetworkOptions != nil && (o.Network == "" || o.NetworkOptions.Mode == o.Network) {
		c.Network = *o.NetworkOptions
	} else if n, err := network.Parse(o.Network, network.Defaults{}); err == nil {
		c.Network = n
	} else {
		c.Network, _ = network.Parse("", network.Defaults{})
	}
	// --security-opt: the parsed options keep the raw values too; the oldest records
	// had no-new-privileges alone.
	if c.Security == nil && (o.NoNewPrivileges || len(o.SecurityOpt) > 0) {
		c.Security = &security.Options{Seccomp: security.Seccomp{Mode: security.SeccompBuiltin}}
	}
	if c.Security != nil {
		if o.NoNewPrivileges {
			c.Security.NoNewPrivileges = true
		}
		if len(c.Security.Raw) == 0 {
			c.Security.Raw = o.SecurityOpt
		}
	}
}
