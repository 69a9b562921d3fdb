package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cgLimitFamilies are the limit flags of run and create, one case per family, each with
// the controller it needs.
func cgLimitFamilies(t *testing.T) []struct {
	name, controller string
	args             []string
	mention          string
} {
	dev := cgBlockDevice(t)
	return []struct {
		name, controller string
		args             []string
		mention          string
	}{
		{"memory", "memory", []string{"--memory", "32m"}, "--memory 32m"},
		{"memory-short", "memory", []string{"-m", "64m"}, "--memory 64m"},
		{"memory-reservation", "memory", []string{"--memory-reservation", "16m"}, "--memory-reservation 16m"},
		{"memory-swap", "memory", []string{"--memory", "32m", "--memory-swap", "64m"}, "--memory-swap 64m"},
		{"cpus", "cpu", []string{"--cpus", "0.5"}, "--cpus 0.5"},
		{"cpu-shares", "cpu", []string{"--cpu-shares", "512"}, "--cpu-shares 512"},
		{"cpu-period-quota", "cpu", []string{"--cpu-period", "50000", "--cpu-quota", "20000"}, "--cpu-quota 20000"},
		{"cpuset-cpus", "cpuset", []string{"--cpuset-cpus", "0"}, "--cpuset-cpus 0"},
		{"cpuset-mems", "cpuset", []string{"--cpuset-mems", "0"}, "--cpuset-mems 0"},
		{"pids-limit", "pids", []string{"--pids-limit", "8"}, "--pids-limit 8"},
		{"blkio-weight", "io", []string{"--blkio-weight", "300"}, "--blkio-weight 300"},
		{"device-read-bps", "io", []string{"--device-read-bps", dev + ":1mb"}, "--device-read-bps " + dev + ":1mb"},
		{"device-write-bps", "io", []string{"--device-write-bps", dev + ":1mb"}, "--device-write-bps " + dev + ":1mb"},
		{"device-read-iops", "io", []string{"--device-read-iops", dev + ":100"}, "--device-read-iops " + dev + ":100"},
		{"device-write-iops", "io", []string{"--device-write-iops", dev + ":100"}, "--device-write-iops " + dev + ":100"},
	}
}

// cgBlockDevice is a block device node of this machine, for the --device-* flags.
func cgBlockDevice(t *testing.T) string {
	t.Helper()
	ents, _ := os.ReadDir("/sys/class/block")
	for _, e := range ents {
		p := "/dev/" + e.Name()
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			return p
		}
	}
	t.Fatal("no block device under /dev to name in --device-read-bps")
	return ""
}

// cgHostHasControllers reports whether the host's cgroup2 root offers the resource
// controllers (a cgroup v2 host); this test machine's hybrid layout does not.
func cgHostHasControllers(t *testing.T) bool {
	v2, _ := hostCgroups(t)
	if v2 == "" {
		return false
	}
	b, _ := os.ReadFile(filepath.Join(v2, "cgroup.controllers"))
	return strings.Contains(string(b), "memory")
}

// TestCgroupsLimitsRefused: on a host whose cgroup2 has no resource controllers (this
// hybrid machine), and with no delegated cgroup, every limit flag makes run and create
// fail with 125, naming the limit, the controller and the admin's fixes — never a
// container that runs unlimited. Nothing is left behind.
func TestCgroupsLimitsRefused(t *testing.T) {
	if cgHostHasControllers(t) {
		t.Skip("the host's cgroup2 offers resource controllers: the refusal is for hosts without them (the cgroup VM tests cover real limits)")
	}
	t.Parallel()
	sb := lcSandbox(t)
	for _, fam := range cgLimitFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			for _, verb := range []string{"run", "create"} {
				args := append([]string{verb}, fam.args...)
				if verb == "run" {
					args = append(args, "--rm")
				}
				r := sb.expect(125, append(args, lcImage, "echo", "ran-unlimited")...)
				if strings.Contains(r.stdout, "ran-unlimited") {
					t.Fatalf("the container ran although its limit could not be applied:\n%s", r)
				}
				for _, want := range []string{fam.mention, "the " + fam.controller + " controller",
					"Delegate=cpu cpuset io memory pids", "user@.service.d/delegate.conf",
					"systemd.unified_cgroup_hierarchy=1", "[cgroups] parent", `on_unavailable = "warn"`} {
					assertContains(t, r.stderr, want, verb+" "+strings.Join(fam.args, " "))
				}
			}
		})
	}
	if ps := sb.ok("ps", "-aq").stdout; ps != "" {
		t.Errorf("refused runs and creates left containers behind:\n%s", ps)
	}
}

// TestCgroupsLimitsValidated: Docker's value rules, checked before anything else.
func TestCgroupsLimitsValidated(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "4m"}, "minimum memory limit allowed is 6MB"},
		{[]string{"--memory", "lots"}, `--memory "lots": expected a size`},
		{[]string{"--memory-swap", "64m"}, "always set the memory limit"},
		{[]string{"--memory", "64m", "--memory-swap", "32m"}, "should be larger than the memory limit"},
		{[]string{"--memory", "32m", "--memory-reservation", "64m"}, "can not be less than memory reservation"},
		{[]string{"--cpus", "0.5", "--cpu-period", "50000"}, "--cpus and --cpu-period cannot both be set"},
		{[]string{"--cpus", "9999"}, "range of CPUs is from 0.01"},
		{[]string{"--cpu-period", "100"}, "can not be less than 1ms"},
		{[]string{"--cpu-quota", "500"}, "can not be less than 1ms"},
		{[]string{"--blkio-weight", "5"}, "range of blkio weight is from 10 to 1000"},
		{[]string{"--oom-score-adj", "1001"}, "range for oom score adj is [-1000, 1000]"},
		{[]string{"--cpuset-cpus", "3-1"}, "not a list of numbers"},
		{[]string{"--device-read-bps", "/dev/null:1mb"}, "is not a block device"},
		{[]string{"--device-write-iops", "/dev/sda"}, "expected PATH:RATE"},
	} {
		r := sb.expect(125, append(append([]string{"run", "--rm"}, c.args...), lcImage, "true")...)
		assertContains(t, r.stderr, c.want, strings.Join(c.args, " "))
	}
}

// TestCgroupsWarnMode: with [cgroups] on_unavailable = "warn" a limit that cannot be
// applied is said once on stderr and the container runs; inspect shows it asked and
// not applied.
func TestCgroupsWarnMode(t *testing.T) {
	if cgHostHasControllers(t) {
		t.Skip("the host's cgroup2 offers resource controllers: warn mode matters where they are missing")
	}
	t.Parallel()
	sb := lcSandbox(t)
	sb.writeConfig("[cgroups]\non_unavailable = \"warn\"\n")
	r := sb.ok("run", "--rm", "--memory", "32m", "--pids-limit", "8", lcImage, "echo", "ran")
	assertEqual(t, r.stdout, "ran\n", "output")
	assertContains(t, r.stderr, "Warning: running without --memory 32m (needs the memory controller), --pids-limit 8 (needs the pids controller)", "warning")
	if n := strings.Count(r.stderr, "Warning:"); n != 1 {
		t.Errorf("%d warnings, want exactly one:\n%s", n, r.stderr)
	}
	id := strings.TrimSpace(sb.ok("create", "--name", "warned", "--memory", "32m", "--cpus", "0.5", lcImage, "true").stdout)
	sb.ok("start", "-a", "warned")
	var in []struct {
		State      struct{ Status string }
		HostConfig struct {
			Memory   int64
			NanoCpus int64
		}
		Resources struct {
			Cgroup string
			Limits []struct {
				Flag, Requested, Status string
				Applied                 []string
			}
			NotApplied string
		}
	}
	mustJSON(t, sb.ok("inspect", id), &in)
	got := in[0]
	assertEqual(t, got.HostConfig.Memory, int64(32<<20), "HostConfig.Memory")
	assertEqual(t, got.HostConfig.NanoCpus, int64(5e8), "HostConfig.NanoCpus")
	assertEqual(t, got.Resources.Cgroup, "", "Resources.Cgroup (no delegated cgroup here)")
	if len(got.Resources.Limits) != 2 {
		t.Fatalf("Resources.Limits = %+v, want --memory and --cpus", got.Resources.Limits)
	}
	for i, want := range [][2]string{{"--memory", "32m"}, {"--cpus", "0.5"}} {
		l := got.Resources.Limits[i]
		assertEqual(t, l.Flag, want[0], "limit flag")
		assertEqual(t, l.Requested, want[1], "requested")
		assertEqual(t, l.Status, "not applied", "status of "+want[0])
		assertEqual(t, len(l.Applied), 0, "applied files of "+want[0])
	}
	assertContains(t, got.Resources.NotApplied, "--memory 32m", "NotApplied")
}
