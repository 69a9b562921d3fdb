package container

import "hutch.dev/hutch/network"

// InspectNetwork is Docker's NetworkSettings block.
type InspectNetwork struct {
	// Ports maps each published container port to its host side ({"80/tcp":
	// [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}), while the container runs.
	Ports     map[string][]network.Binding `json:"Ports"`
	IPAddress string                       `json:"IPAddress"`
	Gateway   string                       `json:"Gateway"`
	// Slirp4netns are the options of its slirp4netns network (absent on none or host).
	Slirp4netns *network.Config `json:"Slirp4netns,omitempty"`
}

func inspectNetwork(c *Config, st *State) InspectNetwork {
	n := InspectNetwork{Ports: map[string][]network.Binding{}}
	if c.Network.Mode != NetworkSlirp {
		return n
	}
	nc := c.Network
	// The names and DNS are HostConfig's (ExtraHosts, Dns …), not slirp4netns's.
	nc.ExtraHosts, nc.DNS, nc.DNSSearch, nc.DNSOptions = nil, nil, nil, nil
	n.Slirp4netns = &nc
	if st.Status == StatusRunning {
		a := nc.Addrs()
		n.IPAddress, n.Gateway = a.Container.String(), a.Gateway.String()
		n.Ports = network.Bindings(st.Ports)
	}
	return n
}
