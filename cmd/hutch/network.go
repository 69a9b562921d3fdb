package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/network"
)

// networkOptions reads --network (with config.toml's [network] defaults), -p and -P.
func (a *app) networkOptions(f *createFlags, o *container.Options) error {
	var c network.Config
	if name, ok := strings.CutPrefix(f.network, "container:"); ok {
		// resolved to its ID by the manager's Check
		c = network.Config{Mode: network.ModeContainer, Container: name}
	} else {
		var err error
		if c, err = network.Parse(f.network, a.sess.NetworkDefaults()); err != nil {
			return err
		}
	}
	for _, h := range f.addHost {
		e, err := container.ParseAddHost(h)
		if err != nil {
			return err
		}
		c.ExtraHosts = append(c.ExtraHosts, e)
	}
	if err := container.ParseDNS(&c, f.dns, f.dnsSearch, f.dnsOption); err != nil {
		return err
	}
	if f.mac != "" {
		if err := network.CheckMAC(f.mac, c.Mode); err != nil {
			return err
		}
		c.MACAddress = f.mac
	}
	o.Network = c
	for _, p := range f.publish {
		ms, err := network.ParsePublish(p)
		if err != nil {
			return err
		}
		o.Ports = append(o.Ports, ms...)
	}
	o.PublishAll = f.publishAll
	return nil
}

// portsOf are the ports a container publishes: the ones it got while it runs, else none
// (as Docker: a stopped container publishes nothing).
func portsOf(s container.Summary) []network.PortMapping {
	if s.State.Status == container.StatusRunning {
		return s.State.Ports
	}
	return nil
}

func newPortCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:   "List a container's published ports, or the host address of one",
		Example: "  hutch port web\n  hutch port web 80/tcp",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.sess.Records().Get(args[0])
			if err != nil {
				return err
			}
			st, err := a.sess.Records().Current(c.ID)
			if err != nil {
				return err
			}
			ports := portsOf(container.Summary{Config: c, State: st})
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				for _, p := range ports {
					fmt.Fprintf(out, "%s -> %s\n", p.Key(), p.HostAddr())
				}
				return nil
			}
			want := args[1]
			if !strings.Contains(want, "/") {
				want += "/tcp"
			}
			found := false
			for _, p := range ports {
				if p.Key() == want {
					fmt.Fprintln(out, p.HostAddr())
					found = true
				}
			}
			if !found {
				have := "none (it is not running, or was run without -p/-P)"
				if len(ports) > 0 {
					keys := make([]string, len(ports))
					for i, p := range ports {
						keys[i] = p.Key()
					}
					have = strings.Join(keys, ", ")
				}
				return fmt.Errorf("no public port %s published for %s: it publishes %s", want, c.Name, have)
			}
			return nil
		},
	}
}
