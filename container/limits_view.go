package container

import (
	"strings"

	"hutch.dev/hutch/cgroups"
)

// StateText is Docker's State word: created, running, paused or exited.
func (s Summary) StateText() string {
	if Paused(s.State) {
		return "paused"
	}
	return s.State.Status
}

// InspectLimits are the limits in Docker's HostConfig names and units.
type InspectLimits struct {
	Memory               int64                    `json:"Memory"`
	MemoryReservation    int64                    `json:"MemoryReservation"`
	MemorySwap           int64                    `json:"MemorySwap"`
	NanoCpus             int64                    `json:"NanoCpus"`
	CpuShares            int64                    `json:"CpuShares"`
	CpuPeriod            int64                    `json:"CpuPeriod"`
	CpuQuota             int64                    `json:"CpuQuota"`
	CpusetCpus           string                   `json:"CpusetCpus"`
	CpusetMems           string                   `json:"CpusetMems"`
	PidsLimit            *int64                   `json:"PidsLimit"`
	BlkioWeight          uint16                   `json:"BlkioWeight"`
	BlkioDeviceReadBps   []cgroups.ThrottleDevice `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []cgroups.ThrottleDevice `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []cgroups.ThrottleDevice `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []cgroups.ThrottleDevice `json:"BlkioDeviceWriteIOps"`
	OomScoreAdj          int                      `json:"OomScoreAdj"`
}

func inspectLimits(r *cgroups.Resources) InspectLimits {
	if r == nil {
		return InspectLimits{}
	}
	return InspectLimits{Memory: r.Memory, MemoryReservation: r.MemoryReservation, MemorySwap: r.MemorySwap,
		NanoCpus: r.NanoCPUs, CpuShares: r.CPUShares, CpuPeriod: r.CPUPeriod, CpuQuota: r.CPUQuota,
		CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, PidsLimit: r.PidsLimit, BlkioWeight: r.BlkioWeight,
		BlkioDeviceReadBps: r.BlkioDeviceReadBps, BlkioDeviceWriteBps: r.BlkioDeviceWriteBps,
		BlkioDeviceReadIOps: r.BlkioDeviceReadIOps, BlkioDeviceWriteIOps: r.BlkioDeviceWriteIOps, OomScoreAdj: r.OomScoreAdj}
}

// InspectResources is, for every limit asked, what was asked and what was written
// into the container's cgroup at its last start.
type InspectResources struct {
	Cgroup     string         `json:"Cgroup"` // the container's cgroup directory ("" without one)
	Limits     []InspectLimit `json:"Limits"`
	NotApplied string         `json:"NotApplied,omitempty"` // why (on_unavailable = "warn")
}

// InspectLimit is one flag: Requested as typed, Applied as the cgroup files got it.
type InspectLimit struct {
	Flag      string   `json:"Flag"`
	Requested string   `json:"Requested"`
	Applied   []string `json:"Applied"` // "memory.max=33554432"
	Status    string   `json:"Status"`  // applied, not applied, not started yet
}

func inspectResources(c *Config, st *State) InspectResources {
	out := InspectResources{Cgroup: st.Cgroup, Limits: []InspectLimit{}, NotApplied: st.NotApplied}
	started := st.Status != StatusCreated
	seen := map[string]bool{}
	add := func(flag, requested string) {
		l := InspectLimit{Flag: flag, Requested: requested, Applied: []string{}, Status: "not started yet"}
		for _, s := range st.Applied {
			if s.Flag == flag {
				l.Applied = append(l.Applied, s.File+"="+s.Value)
			}
		}
		switch {
		case len(l.Applied) > 0:
			l.Status = "applied"
		case started:
			l.Status = "not applied"
		}
		out.Limits = append(out.Limits, l)
		seen[flag] = true
	}
	r := c.Resources
	for _, flag := range r.RequestedFlags() {
		add(flag, r.Requested[flag])
	}
	for _, s := range st.Applied { // defaults hutch added (the implicit swap limit)
		if !seen[s.Flag] {
			add(s.Flag, s.Requested)
		}
	}
	if out.NotApplied != "" {
		out.NotApplied = strings.TrimPrefix(out.NotApplied, "cannot apply ")
	}
	return out
}
