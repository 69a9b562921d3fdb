package tests

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// hostCgroups reads, as root and independently of hutch, what /proc/self/mountinfo says
// about the cgroup layout: where cgroup2 is mounted and whether v1 hierarchies exist.
func hostCgroups(t *testing.T) (v2Mount string, v1 bool) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, x := range fields {
			if x != "-" || i+1 >= len(fields) {
				continue
			}
			switch fields[i+1] {
			case "cgroup2":
				if v2Mount == "" {
					v2Mount = fields[4]
				}
			case "cgroup":
				v1 = true
			}
		}
	}
	return v2Mount, v1
}

// TestInfoCgroups checks that `hutch info` reports the host's cgroup layout as the
// mount table has it, and says why resource limits are (un)available, with a fix.
func TestInfoCgroups(t *testing.T) {
	sb := newSandbox(t, userWithRange)
	var in struct {
		Cgroups struct {
			Mode        string   `json:"mode"`
			V2Mount     string   `json:"v2Mount"`
			Own         string   `json:"ownCgroup"`
			Delegated   bool     `json:"delegated"`
			Controllers []string `json:"controllers"`
			Limits      string   `json:"limits"`
		} `json:"cgroups"`
		Warnings []struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"warnings"`
	}
	mustJSON(t, sb.ok("info", "--format", "json"), &in)
	v2, v1 := hostCgroups(t)
	want := "none"
	switch {
	case v2 != "" && !v1:
		want = "v2"
	case v2 != "" && v1:
		want = "hybrid"
	case v1:
		want = "v1"
	}
	cg := in.Cgroups
	assertEqual(t, cg.Mode, want, "cgroup layout")
	assertEqual(t, cg.V2Mount, v2, "cgroup2 mount")
	if v2 != "" {
		b, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "0::"+cg.Own) {
			t.Errorf("own cgroup %q is not the one /proc/self/cgroup names:\n%s", cg.Own, b)
		}
	}
	if cg.Limits == "available" {
		for _, c := range []string{"memory", "pids", "cpu", "io"} {
			assertContains(t, strings.Join(cg.Controllers, " "), c, "controllers when limits are available")
		}
		return
	}
	// Limits unavailable: the reason names what is missing and what an admin can do,
	// and the same verdict is among the warnings.
	assertContains(t, cg.Limits, "unavailable: ", "limits verdict")
	if !strings.Contains(cg.Limits, "Delegate=") && !strings.Contains(cg.Limits, "systemd.unified_cgroup_hierarchy") {
		t.Errorf("limits verdict %q gives no fix", cg.Limits)
	}
	found := false
	for _, w := range in.Warnings {
		if w.ID == "cgroup-limits" && strings.Contains(w.Text, "--memory") {
			found = true
		}
	}
	if !found {
		t.Errorf("no cgroup-limits warning among %+v", in.Warnings)
	}
	text := sb.ok("info").stdout
	assertContains(t, text, "layout: "+want, "info text")
	assertContains(t, text, "resource limits: unavailable", "info text")
}
