package container

import (
	"fmt"

	"hutch.dev/hutch/network"
)

// InspectNetwork is Docker's NetworkSettings block.
type InspectNetwork struct {
	// Ports maps each published container port to its host side ({"80/tcp":
	// [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}), while the container runs.
	Ports     map[string][]network.Binding `json:"Ports"`
	IPAddress string                       `json:"IPAddress"`
	Gateway   string                       `json:"Gateway"`
	// Slirp4netns are the options of its slirp4netns network (absent on none or host).
	Slirp4netns *network.Config `json:"Slirp4netns,omitempty"`
	// Networks is Docker's: the network the container is on (its mode: slirp4netns,
	// none or host), with its addresses while it runs.
	Networks map[string]*EndpointSettings `json:"Networks"`
}

// EndpointSettings is one entry of Docker's NetworkSettings.Networks.
type EndpointSettings struct {
	NetworkID   string   `json:"NetworkID"`
	EndpointID  string   `json:"EndpointID"`
	Gateway     string   `json:"Gateway"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases"`
}

func inspectNetwork(c *Config, st *State) InspectNetwork {
	ep := &EndpointSettings{NetworkID: c.Network.Mode, Aliases: []string{}, MacAddress: c.Network.MACAddress}
	n := InspectNetwork{Ports: map[string][]network.Binding{}, Networks: map[string]*EndpointSettings{c.Network.Mode: ep}}
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
		ep.IPAddress, ep.Gateway, ep.IPPrefixLen = n.IPAddress, n.Gateway, nc.PrefixLen()
		ep.EndpointID = c.ID
	}
	return n
}

// NetworkInspect is Docker's `network inspect` shape for one of hutch's networks: the
// modes of --network (slirp4netns, none, host), each with the containers on it.
type NetworkInspect struct {
	Name       string                        `json:"Name"`
	ID         string                        `json:"Id"`
	Scope      string                        `json:"Scope"`
	Driver     string                        `json:"Driver"`
	EnableIPv6 bool                          `json:"EnableIPv6"`
	Internal   bool                          `json:"Internal"`
	Containers map[string]NetworkContainer   `json:"Containers"`
	Options    map[string]string             `json:"Options"`
	Labels     map[string]string             `json:"Labels"`
	IPAM       struct{ Config []IPAMConfig } `json:"IPAM"`
}

// NetworkContainer is a container on a network, as Docker's network inspect lists it.
type NetworkContainer struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	IPv4Address string `json:"IPv4Address"`
}

// IPAMConfig is a network's subnet and gateway.
type IPAMConfig struct {
	Subnet  string `json:"Subnet,omitempty"`
	Gateway string `json:"Gateway,omitempty"`
}

// InspectNetworkMode describes the network name, a mode of --network, with the
// containers of all that are on it; ok is false for any other name.
func InspectNetworkMode(name string, all []Summary) (*NetworkInspect, bool) {
	drivers := map[string]string{NetworkSlirp: "slirp4netns", NetworkNone: "null", NetworkHost: "host"}
	d, ok := drivers[name]
	if !ok {
		return nil, false
	}
	n := &NetworkInspect{Name: name, ID: name, Scope: "local", Driver: d, Internal: name == NetworkNone,
		Containers: map[string]NetworkContainer{}, Options: map[string]string{}, Labels: map[string]string{}}
	n.IPAM.Config = []IPAMConfig{}
	if name == NetworkSlirp {
		var nc network.Config
		a := nc.Addrs()
		n.IPAM.Config = append(n.IPAM.Config, IPAMConfig{Subnet: network.DefaultCIDR, Gateway: a.Gateway.String()})
	}
	for _, s := range all {
		if s.Config.Network.Mode != name || s.State.Status != StatusRunning {
			continue
		}
		nc := NetworkContainer{Name: s.Config.Name, EndpointID: s.Config.ID}
		if name == NetworkSlirp {
			a := s.Config.Network.Addrs()
			nc.IPv4Address = fmt.Sprintf("%s/%d", a.Container, s.Config.Network.PrefixLen())
		}
		n.Containers[s.Config.ID] = nc
	}
	return n, true
}
