package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A Debian 10-style hybrid host: every controller on v1, cgroup2 beside them.
const hybridMountinfo = `22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
37 31 0:34 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
`

const v1Mountinfo = `31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup ro,nosuid,memory
`

func readerOf(s string) *strings.Reader { return strings.NewReader(s) }

func procCgroupText(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func TestParseMountinfoHybrid(t *testing.T) {
	v2, v1 := parseMountinfo(readerOf(hybridMountinfo))
	if v2 != "/sys/fs/cgroup/unified" {
		t.Errorf("v2 mount = %q", v2)
	}
	want := []string{"xattr", "name=systemd", "cpu", "cpuacct", "memory", "pids"}
	if !reflect.DeepEqual(v1, want) {
		t.Errorf("v1 = %v, want %v", v1, want)
	}
}

func TestDetectHybrid(t *testing.T) {
	l := detect(readerOf(hybridMountinfo), procCgroupText("1:name=systemd:/user.slice\n0::/hutch-test-no-such-cgroup\n"))
	if l.Mode != "hybrid" || l.V2Mount != "/sys/fs/cgroup/unified" {
		t.Fatalf("layout = %+v, want hybrid with cgroup2 at /sys/fs/cgroup/unified", l)
	}
	if l.Own != "/hutch-test-no-such-cgroup" {
		t.Errorf("own cgroup = %q", l.Own)
	}
	if l.Delegated || len(l.Controllers) != 0 || l.Controllers == nil {
		t.Errorf("a missing cgroup: delegated %v controllers %#v", l.Delegated, l.Controllers)
	}
	for _, want := range []string{"unavailable: the host's cgroups are hybrid", "cgroup2 at /sys/fs/cgroup/unified", "memory, pids, cpu, io", "systemd.unified_cgroup_hierarchy=1"} {
		if !strings.Contains(l.Limits, want) {
			t.Errorf("limits %q does not contain %q", l.Limits, want)
		}
	}
}

func TestDetectV1Only(t *testing.T) {
	called := false
	l := detect(readerOf(v1Mountinfo), func() ([]byte, error) { called = true; return nil, nil })
	if l.Mode != "v1" || l.V2Mount != "" {
		t.Fatalf("layout = %+v, want v1 without a cgroup2 mount", l)
	}
	if !reflect.DeepEqual(l.V1, []string{"cpu", "memory"}) {
		t.Errorf("v1 controllers = %v, want [cpu memory] (mount flags left out)", l.V1)
	}
	if !strings.HasPrefix(l.Limits, "unavailable: no cgroup2 file system is mounted") || !strings.Contains(l.Limits, "systemd.unified_cgroup_hierarchy=1") {
		t.Errorf("limits = %q", l.Limits)
	}
	if called {
		t.Error("/proc/self/cgroup was read although there is no cgroup2")
	}
}

func TestDetectNone(t *testing.T) {
	l := detect(readerOf("22 27 0:20 / /sys rw - sysfs sysfs rw\nshort line\n"), procCgroupText(""))
	if l.Mode != "none" || !strings.HasPrefix(l.Limits, "unavailable:") {
		t.Errorf("layout = %+v", l)
	}
}

// v2Fixture makes a cgroup2 tree in a temporary directory whose name has a space (as
// mountinfo escapes it), with our cgroup offering the given controllers.
func v2Fixture(t *testing.T, controllers string) (root, own, mountinfo string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "cg root")
	own = "/user.slice/user-1000.slice/user@1000.service"
	dir := filepath.Join(root, own)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(controllers+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	escaped := strings.ReplaceAll(root, " ", `\040`)
	mountinfo = "22 27 0:20 / /sys rw - sysfs sysfs rw\n" +
		"30 22 0:26 / " + escaped + " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n" +
		"31 22 0:27 / /elsewhere rw - cgroup2 cgroup2 rw\n"
	return root, own, mountinfo
}

func TestDetectV2Delegated(t *testing.T) {
	root, own, mi := v2Fixture(t, "cpuset cpu io memory pids")
	l := detect(readerOf(mi), procCgroupText("0::"+own+"\n"))
	if l.Mode != "v2" || l.V2Mount != root || len(l.V1) != 0 {
		t.Fatalf("layout = %+v, want v2 at %q (the first cgroup2 mount, unescaped)", l, root)
	}
	if l.Own != own || !l.Delegated {
		t.Errorf("own %q delegated %v", l.Own, l.Delegated)
	}
	if !reflect.DeepEqual(l.Controllers, []string{"cpuset", "cpu", "io", "memory", "pids"}) {
		t.Errorf("controllers = %v", l.Controllers)
	}
	if l.Limits != "available" {
		t.Errorf("limits = %q, want available", l.Limits)
	}
}

func TestDetectV2MissingControllers(t *testing.T) {
	root, own, mi := v2Fixture(t, "cpu pids")
	l := detect(readerOf(mi), procCgroupText("0::"+own+"\n"))
	if l.Mode != "v2" || !l.Delegated {
		t.Fatalf("layout = %+v", l)
	}
	want := "unavailable: your cgroup " + filepath.Join(root, own) + " offers the controllers [cpu pids] but not memory, io; "
	if !strings.HasPrefix(l.Limits, want) || !strings.Contains(l.Limits, "Delegate=cpu cpuset io memory pids") {
		t.Errorf("limits = %q, want it to start with %q and give the Delegate= fix", l.Limits, want)
	}
}

func TestDetectV2NotDelegated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test chowns a directory to another uid and must run as root (as CI does)")
	}
	root, own, mi := v2Fixture(t, "cpu io memory pids")
	dir := filepath.Join(root, own)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	l := detect(readerOf(mi), procCgroupText("0::"+own+"\n"))
	if l.Delegated {
		t.Fatalf("a cgroup of uid 65534 counts as delegated: %+v", l)
	}
	if !strings.HasPrefix(l.Limits, "unavailable: your cgroup "+dir+" is not delegated to you") {
		t.Errorf("limits = %q", l.Limits)
	}
}

func TestDetectV2UnreadableProcCgroup(t *testing.T) {
	root, _, mi := v2Fixture(t, "cpu io memory pids")
	// Without /proc/self/cgroup the root cgroup is looked at.
	l := detect(readerOf(mi), func() ([]byte, error) { return nil, errors.New("no") })
	if l.Own != "" || l.V2Mount != root || l.Mode != "v2" {
		t.Errorf("layout = %+v", l)
	}
	if l.Controllers == nil {
		t.Error("controllers is nil; JSON would show null")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"/sys/fs/cgroup":     "/sys/fs/cgroup",
		`/mnt/a\040b`:        "/mnt/a b",
		`/a\011tab\012nl`:    "/a\ttab\nnl",
		`/back\134slash`:     `/back\slash`,
		`\040lead`:           " lead",
		`/x\040`:             "/x ",
		`/two\040\040spaces`: "/two  spaces",
		`/not\9octal`:        `/not\9octal`,
		`/short\04`:          `/short\04`,
		`/end\`:              `/end\`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDetectOnThisHost(t *testing.T) {
	l := Detect()
	switch l.Mode {
	case "v1", "v2", "hybrid":
	default:
		t.Fatalf("mode %q on a Linux host with cgroups", l.Mode)
	}
	if l.Limits == "" {
		t.Error("no Limits verdict")
	}
	if l.Mode != "v1" && l.V2Mount == "" {
		t.Errorf("mode %s without a cgroup2 mount", l.Mode)
	}
	if l.Controllers == nil && l.V2Mount != "" {
		t.Error("controllers is nil")
	}
}
