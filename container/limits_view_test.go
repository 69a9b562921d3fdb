package container

import (
	"reflect"
	"testing"

	"hutch.dev/hutch/cgroups"
)

func TestInspectResourcesAskedAndApplied(t *testing.T) {
	r := &cgroups.Resources{}
	for _, kv := range [][2]string{{"memory", "32m"}, {"pids-limit", "8"}, {"cpus", "0.5"}} {
		if err := r.Parse(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	c := &Config{Settings: Settings{Resources: r}}
	// Created, never started.
	got := inspectResources(c, &State{Status: StatusCreated})
	for _, l := range got.Limits {
		if l.Status != "not started yet" {
			t.Errorf("%s: status %q before any start", l.Flag, l.Status)
		}
	}
	// Started: memory and pids written (and the default swap), cpu not (warn mode).
	st := &State{Status: StatusRunning, Cgroup: "/cg/hutch-x", NotApplied: "cannot apply --cpus 0.5 (needs the cpu controller): …", Applied: []cgroups.Setting{
		{Flag: "--memory", Requested: "32m", File: "memory.max", Value: "33554432"},
		{Flag: "--memory-swap", Requested: "(default: twice --memory)", File: "memory.swap.max", Value: "33554432"},
		{Flag: "--pids-limit", Requested: "8", File: "pids.max", Value: "8"},
	}}
	got = inspectResources(c, st)
	want := []InspectLimit{
		{Flag: "--memory", Requested: "32m", Applied: []string{"memory.max=33554432"}, Status: "applied"},
		{Flag: "--cpus", Requested: "0.5", Applied: []string{}, Status: "not applied"},
		{Flag: "--pids-limit", Requested: "8", Applied: []string{"pids.max=8"}, Status: "applied"},
		{Flag: "--memory-swap", Requested: "(default: twice --memory)", Applied: []string{"memory.swap.max=33554432"}, Status: "applied"},
	}
	if !reflect.DeepEqual(got.Limits, want) {
		t.Errorf("limits:\n got %+v\nwant %+v", got.Limits, want)
	}
	if got.Cgroup != "/cg/hutch-x" || got.NotApplied != "--cpus 0.5 (needs the cpu controller): …" {
		t.Errorf("cgroup %q, not applied %q", got.Cgroup, got.NotApplied)
	}
	h := inspectLimits(r)
	if h.Memory != 32<<20 || h.NanoCpus != 5e8 || h.PidsLimit == nil || *h.PidsLimit != 8 {
		t.Errorf("HostConfig limits %+v", h)
	}
}
