package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parsed(t *testing.T, kv ...string) *Resources {
	t.Helper()
	r := &Resources{}
	for i := 0; i < len(kv); i += 2 {
		if err := r.Parse(kv[i], kv[i+1]); err != nil {
			t.Fatalf("Parse(%s, %s): %v", kv[i], kv[i+1], err)
		}
	}
	return r
}

func TestParseUnits(t *testing.T) {
	r := parsed(t, "memory", "32m", "memory-reservation", "1.5g", "cpus", "0.25", "pids-limit", "-1", "cpu-shares", "512", "blkio-weight", "300", "oom-score-adj", "500")
	if r.Memory != 32<<20 || r.MemoryReservation != 3<<29 || r.NanoCPUs != 25e7 || *r.PidsLimit != -1 || r.CPUShares != 512 || r.BlkioWeight != 300 || r.OomScoreAdj != 500 {
		t.Errorf("parsed %+v", r)
	}
	if r.Requested["--memory"] != "32m" || r.Requested["--cpus"] != "0.25" {
		t.Errorf("requested %v", r.Requested)
	}
	r = parsed(t, "memory", "1g", "memory-swap", "-1")
	if r.MemorySwap != -1 {
		t.Errorf("--memory-swap -1 = %d", r.MemorySwap)
	}
	for _, c := range [][3]string{
		{"memory", "12q", "expected a size"},
		{"cpus", "abc", "expected a number of CPUs"},
		{"cpus", "0.0000000001", "too precise"},
		{"pids-limit", "x", "expected an integer"},
		{"oom-score-adj", "-1001", "range for oom score adj is [-1000, 1000]"},
		{"cpuset-cpus", "1-0", "not a list"},
		{"device-read-bps", "/dev/null:1m", "not a block device"},
		{"device-read-bps", "sda:1m", "expected PATH:RATE"},
		{"device-write-iops", "/dev/null:0", "positive integer"},
		{"blkio-weight", "x", "from 10 to 1000"},
	} {
		err := (&Resources{}).Parse(c[0], c[1])
		if err == nil || !strings.Contains(err.Error(), c[2]) || !strings.Contains(err.Error(), "--"+c[0]) {
			t.Errorf("Parse(%s, %s) = %v, want an error naming the flag and %q", c[0], c[1], err, c[2])
		}
	}
}

func TestValidateDockerRules(t *testing.T) {
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"memory", "5m"}, "minimum memory limit allowed is 6MB"},
		{[]string{"memory-reservation", "1m"}, "minimum memory reservation allowed is 6MB"},
		{[]string{"memory-swap", "64m"}, "always set the memory limit"},
		{[]string{"memory", "64m", "memory-swap", "32m"}, "larger than the memory limit"},
		{[]string{"memory", "32m", "memory-reservation", "64m"}, "memory reservation"},
		{[]string{"cpus", "1", "cpu-quota", "5000"}, "--cpus and --cpu-quota"},
		{[]string{"cpus", "3"}, "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{[]string{"cpus", "0.001"}, "range of CPUs"},
		{[]string{"cpu-period", "2000000"}, "larger than 1s"},
		{[]string{"cpu-quota", "999"}, "less than 1ms"},
		{[]string{"blkio-weight", "1001"}, "from 10 to 1000"},
	} {
		err := parsed(t, c.kv...).Validate(2)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: Validate = %v, want %q", c.kv, err, c.want)
		}
	}
	for _, ok := range [][]string{
		{"memory", "6m"}, {"memory", "64m", "memory-swap", "64m"}, {"memory", "64m", "memory-swap", "-1"},
		{"cpus", "2"}, {"cpus", "0.01"}, {"cpu-period", "50000", "cpu-quota", "-1"}, {"blkio-weight", "10"},
	} {
		if err := parsed(t, ok...).Validate(2); err != nil {
			t.Errorf("%v: Validate = %v", ok, err)
		}
	}
}

func TestConversions(t *testing.T) {
	for shares, w := range map[int64]uint64{2: 1, 1024: 39, 262144: 10000, 1: 1, 500000: 10000} {
		if got := SharesToWeight(shares); got != w {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, w)
		}
	}
	for bw, w := range map[uint16]uint64{10: 1, 500: 4950, 1000: 10000} {
		if got := BlkioToIOWeight(bw); got != w {
			t.Errorf("BlkioToIOWeight(%d) = %d, want %d", bw, got, w)
		}
	}
	got, err := ParseList("0-2,5,7-8")
	if err != nil || !reflect.DeepEqual(got, []int{0, 1, 2, 5, 7, 8}) {
		t.Errorf("ParseList = %v, %v", got, err)
	}
	got, err = ParseList("70,3,1-2,1,0-130")
	if err != nil || len(got) != 131 || got[0] != 0 || got[130] != 130 {
		t.Errorf("ParseList of overlapping ranges = %v, %v (want 0…130, each once)", got, err)
	}
	// Found by FuzzLimitFlags: a huge range took minutes and gigabytes.
	began := time.Now()
	if _, err := ParseList("0-444444447"); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("ParseList of a range beyond any CPU number: %v", err)
	}
	if _, err := ParseList(strings.Repeat("0-65535,", 20000) + "1"); err != nil || time.Since(began) > 10*time.Second {
		t.Errorf("a long list of whole ranges: %v after %s", err, time.Since(began))
	}
}

// fakeCgroup is a directory with the files a cgroup v2 directory has, empty.
func fakeCgroup(t *testing.T, dir string, files ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{"cgroup.procs", "cgroup.subtree_control", "cgroup.controllers", "cgroup.events", "cgroup.freeze", "cgroup.kill", "cgroup.threads"}, files...) {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplyWritesFiles checks the file and value written for every flag, in a fake
// cgroup directory.
func TestApplyWritesFiles(t *testing.T) {
	all := []string{"memory.max", "memory.low", "memory.swap.max", "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max"}
	for _, c := range []struct {
		kv   []string
		want map[string]string
	}{
		{[]string{"memory", "32m"}, map[string]string{"memory.max": "33554432", "memory.swap.max": "33554432"}},
		{[]string{"memory", "32m", "memory-swap", "48m"}, map[string]string{"memory.max": "33554432", "memory.swap.max": "16777216"}},
		{[]string{"memory", "32m", "memory-swap", "-1"}, map[string]string{"memory.swap.max": "max"}},
		{[]string{"memory-reservation", "16m"}, map[string]string{"memory.low": "16777216"}},
		{[]string{"cpus", "0.2"}, map[string]string{"cpu.max": "20000 100000"}},
		{[]string{"cpus", "1.5"}, map[string]string{"cpu.max": "150000 100000"}},
		{[]string{"cpus", "0"}, map[string]string{"cpu.max": "max 100000"}},
		{[]string{"cpu-quota", "25000", "cpu-period", "50000"}, map[string]string{"cpu.max": "25000 50000"}},
		{[]string{"cpu-period", "50000"}, map[string]string{"cpu.max": "max 50000"}},
		{[]string{"cpu-shares", "1024"}, map[string]string{"cpu.weight": "39"}},
		{[]string{"cpuset-cpus", "0", "cpuset-mems", "0"}, map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"}},
		{[]string{"pids-limit", "8"}, map[string]string{"pids.max": "8"}},
		{[]string{"pids-limit", "0"}, map[string]string{"pids.max": "max"}},
		{[]string{"blkio-weight", "500"}, map[string]string{"io.weight": "default 4950"}},
	} {
		dir := fakeCgroup(t, filepath.Join(t.TempDir(), "ctr"), all...)
		applied, err := At(dir).Apply(parsed(t, c.kv...), "")
		if err != nil {
			t.Fatalf("%v: %v", c.kv, err)
		}
		for f, v := range c.want {
			if got := read(t, filepath.Join(dir, f)); got != v {
				t.Errorf("%v: %s = %q, want %q", c.kv, f, got, v)
			}
		}
		if len(applied) < len(c.want) {
			t.Errorf("%v: applied %+v", c.kv, applied)
		}
	}
	// io.bfq.weight wins when it exists, with the weight as given.
	dir := fakeCgroup(t, filepath.Join(t.TempDir(), "ctr"), "io.bfq.weight", "io.weight")
	if _, err := At(dir).Apply(parsed(t, "blkio-weight", "300"), ""); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir+"/io.bfq.weight"); got != "300" {
		t.Errorf("io.bfq.weight = %q", got)
	}
	// The implicit swap limit is skipped where swap is not accounted; an explicit one
	// is an error naming the flag and the file.
	dir = fakeCgroup(t, filepath.Join(t.TempDir(), "ctr"), "memory.max")
	if applied, err := At(dir).Apply(parsed(t, "memory", "32m"), ""); err != nil || len(applied) != 1 {
		t.Errorf("implicit swap without memory.swap.max: %+v, %v", applied, err)
	}
	_, err := At(dir).Apply(parsed(t, "memory", "32m", "memory-swap", "64m"), "")
	if err == nil || !strings.Contains(err.Error(), "--memory-swap 64m") || !strings.Contains(err.Error(), "memory.swap.max") {
		t.Errorf("explicit swap without memory.swap.max: %v", err)
	}
	// A missing controller file names the flag.
	dir = fakeCgroup(t, filepath.Join(t.TempDir(), "ctr"))
	_, err = At(dir).Apply(parsed(t, "pids-limit", "8"), "")
	if err == nil || !strings.Contains(err.Error(), "--pids-limit 8") || !strings.Contains(err.Error(), "pids.max") {
		t.Errorf("missing pids.max: %v", err)
	}
	// --cpuset-cpus outside the parent's effective set.
	base := fakeCgroup(t, filepath.Join(t.TempDir(), "base"), "cpuset.cpus.effective")
	if err := os.WriteFile(base+"/cpuset.cpus.effective", []byte("0-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = fakeCgroup(t, filepath.Join(base, "ctr"), "cpuset.cpus")
	_, err = At(dir).Apply(parsed(t, "cpuset-cpus", "0-3"), base)
	if err == nil || !strings.Contains(err.Error(), "requested CPUs are not available - requested 0-3, available: 0-1") {
		t.Errorf("cpuset outside the parent's: %v", err)
	}
}

func TestMergeUpdate(t *testing.T) {
	r := parsed(t, "memory", "32m", "cpus", "0.5")
	r.Merge(parsed(t, "memory", "64m", "cpu-quota", "30000"))
	if r.Memory != 64<<20 || r.NanoCPUs != 0 || r.CPUQuota != 30000 || r.Requested["--memory"] != "64m" {
		t.Errorf("merged %+v", r)
	}
	// The replaced --cpus is no longer asked: the next start writes the quota, not
	// "0 100000" (which the kernel refuses).
	if _, ok := r.Requested["--cpus"]; ok {
		t.Errorf("--cpus still requested after --cpu-quota replaced it: %v", r.Requested)
	}
	if got := cpuMax(t, r); got != "30000 100000" {
		t.Errorf("cpu.max after update --cpu-quota = %q", got)
	}
	// And the other way round.
	r = parsed(t, "cpu-quota", "30000", "cpu-period", "50000")
	r.Merge(parsed(t, "cpus", "0.5"))
	if got := cpuMax(t, r); got != "50000 100000" || len(r.Requested) != 1 {
		t.Errorf("cpu.max after update --cpus = %q, requested %v", got, r.Requested)
	}
}

// TestForUpdate: what `update` writes into a running cgroup.
func TestForUpdate(t *testing.T) {
	swapMax := func(r *Resources) string {
		settings, err := r.Settings(func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range settings {
			if s.File == "memory.swap.max" {
				return s.Value
			}
		}
		return ""
	}
	for _, c := range []struct {
		run, update []string
		want        string
	}{
		// An explicit --memory-swap follows the new memory limit (1g - 200m).
		{[]string{"memory", "100m", "memory-swap", "1g"}, []string{"memory", "200m"}, "864026624"},
		// Unlimited swap stays unlimited.
		{[]string{"memory", "100m", "memory-swap", "-1"}, []string{"memory", "200m"}, "max"},
		// Without one, Docker's default: as much swap as memory.
		{[]string{"memory", "100m"}, []string{"memory", "200m"}, "209715200"},
		// A new --memory-swap against the memory limit already set.
		{[]string{"memory", "100m"}, []string{"memory-swap", "300m"}, "209715200"},
	} {
		r, u := parsed(t, c.run...), parsed(t, c.update...)
		r.Merge(u)
		if got := swapMax(r.ForUpdate(u)); got != c.want {
			t.Errorf("run %v, update %v: memory.swap.max = %q, want %q", c.run, c.update, got, c.want)
		}
	}
	// Only the flags the update names are written.
	r, u := parsed(t, "memory", "100m", "pids-limit", "8"), parsed(t, "cpus", "1")
	r.Merge(u)
	if got := r.ForUpdate(u).RequestedFlags(); !reflect.DeepEqual(got, []string{"--cpus"}) {
		t.Errorf("update --cpus writes %v", got)
	}
}

func cpuMax(t *testing.T, r *Resources) string {
	t.Helper()
	settings, err := r.Settings(func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if s.File == "cpu.max" {
			return s.Value
		}
	}
	return ""
}

// fakeHost is a cgroup2 mount in a temporary directory with a mountinfo naming it.
func fakeHost(t *testing.T) (mount string, mountinfo string) {
	t.Helper()
	mount = fakeCgroup(t, filepath.Join(t.TempDir(), "cg2"))
	return mount, "32 31 0:29 / " + mount + " rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
}

func TestDiscoverOwnDelegatedCgroup(t *testing.T) {
	mount, mi := fakeHost(t)
	own := fakeCgroup(t, filepath.Join(mount, "user", "deleg"))
	if err := os.WriteFile(own+"/cgroup.controllers", []byte("cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := discover(detect(readerOf(mi), procCgroupText("0::/user/deleg\n")), Options{})
	if d.Base != own || d.Why != "" {
		t.Fatalf("base %q why %q", d.Base, d.Why)
	}
	if err := d.Check(parsed(t, "memory", "32m", "pids-limit", "8", "cpus", "1")); err != nil {
		t.Errorf("Check: %v", err)
	}
	err := d.Check(parsed(t, "cpuset-cpus", "0"))
	if err == nil || !strings.Contains(err.Error(), "--cpuset-cpus 0 (needs the cpuset controller)") || !strings.Contains(err.Error(), "offers the controllers [cpu io memory pids] but not cpuset") {
		t.Errorf("cpuset not offered: %v", err)
	}
	// An earlier hutch moved into the leaf: the base is still the delegated parent.
	fakeCgroup(t, filepath.Join(own, LeafName))
	d = discover(detect(readerOf(mi), procCgroupText("0::/user/deleg/"+LeafName+"\n")), Options{})
	if d.Base != own {
		t.Errorf("from the leaf: base %q, want %q", d.Base, own)
	}
	// Warn mode keeps only what can be applied.
	a := d.Applicable(parsed(t, "memory", "32m", "cpuset-cpus", "0", "oom-score-adj", "10"))
	if _, ok := a.Requested["--cpuset-cpus"]; ok || a.Requested["--memory"] != "32m" || a.Requested["--oom-score-adj"] != "10" {
		t.Errorf("Applicable = %v", a.Requested)
	}
}

func TestDiscoverNotDelegated(t *testing.T) {
	mount, mi := fakeHost(t)
	own := fakeCgroup(t, filepath.Join(mount, "session"))
	if err := os.Chown(own+"/cgroup.procs", 12345, 12345); err != nil {
		t.Fatal(err)
	}
	d := discover(detect(readerOf(mi), procCgroupText("0::/session\n")), Options{})
	if d.Base != "" || !strings.Contains(d.Why, "no cgroup is delegated to you: your cgroup /session") || !strings.Contains(d.Why, "Delegate=cpu cpuset io memory pids") {
		t.Errorf("base %q why %q", d.Base, d.Why)
	}
	err := d.Check(parsed(t, "pids-limit", "8"))
	if err == nil || !strings.Contains(err.Error(), "--pids-limit 8 (needs the pids controller)") || !strings.Contains(err.Error(), `on_unavailable = "warn"`) {
		t.Errorf("Check: %v", err)
	}
	if d.Check(parsed(t, "oom-score-adj", "100")) != nil {
		t.Error("--oom-score-adj needs no controller")
	}
	// [cgroups] parent: a delegated directory hutch runs inside.
	parent := fakeCgroup(t, filepath.Join(mount, "deleg"))
	fakeCgroup(t, filepath.Join(parent, "inner"))
	d = discover(detect(readerOf(mi), procCgroupText("0::/deleg/inner\n")), Options{Parent: parent})
	if d.Base != parent {
		t.Errorf("parent: base %q why %q", d.Base, d.Why)
	}
	d = discover(detect(readerOf(mi), procCgroupText("0::/session\n")), Options{Parent: parent})
	if d.Base != "" || !strings.Contains(d.Why, "outside the delegated [cgroups] parent") {
		t.Errorf("outside the parent: base %q why %q", d.Base, d.Why)
	}
	d = discover(detect(readerOf(mi), procCgroupText("0::/deleg/inner\n")), Options{Parent: "/elsewhere"})
	if d.Base != "" || !strings.Contains(d.Why, "is not under the cgroup2 mount") {
		t.Errorf("parent elsewhere: base %q why %q", d.Base, d.Why)
	}
}

func TestEvacuateMovesProcessesIntoLeaf(t *testing.T) {
	mount, _ := fakeHost(t)
	base := fakeCgroup(t, filepath.Join(mount, "deleg"))
	if err := os.WriteFile(base+"/cgroup.procs", []byte("101\n102\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fake leaf's cgroup.procs collects what is written (one write per pid).
	leaf := fakeCgroup(t, filepath.Join(base, LeafName))
	if err := evacuate(base); err != nil {
		t.Fatal(err)
	}
	// A plain file keeps the last write: the last pid was moved.
	if got := read(t, leaf+"/cgroup.procs"); got != "102" {
		t.Errorf("leaf cgroup.procs = %q", got)
	}
}

func TestStatsFromFiles(t *testing.T) {
	dir := fakeCgroup(t, filepath.Join(t.TempDir(), "ctr"), "cpu.stat", "memory.current", "memory.max", "memory.stat", "pids.current", "io.stat", "memory.events")
	if err := os.WriteFile(dir+"/cpu.stat", []byte("usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/memory.current", []byte("10485760\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/memory.max", []byte("33554432\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/memory.stat", []byte("anon 1\ninactive_file 1048576\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/pids.current", []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/io.stat", []byte("8:0 rbytes=100 wbytes=200 rios=1 wios=2\n254:0 rbytes=1 wbytes=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/memory.events", []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := At(dir).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUUsec != 5000 || s.Throttled != 4 || s.MemUsage != 9<<20 || s.MemLimit != 32<<20 || s.Pids != 3 || s.ReadBytes != 101 || s.WriteBytes != 202 || s.OOMKills != 1 {
		t.Errorf("stats %+v", s)
	}
	prev := s
	s.CPUUsec += 50000
	s.Time = prev.Time.Add(100e6) // 100 ms later, 50 ms of CPU
	if p := CPUPercent(prev, s); p < 49.9 || p > 50.1 {
		t.Errorf("CPUPercent = %f, want 50", p)
	}
	// Without the pids controller the tasks are counted.
	dir = fakeCgroup(t, filepath.Join(t.TempDir(), "ctr2"))
	if err := os.WriteFile(dir+"/cgroup.threads", []byte("7\n8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := At(dir).Stats(); s.Pids != 2 || s.MemKnown {
		t.Errorf("stats without controllers: %+v", s)
	}
}

func TestSplit(t *testing.T) {
	r := parsed(t, "memory", "32m", "pids-limit", "8")
	now, later := r.Split("--pids-limit")
	if _, ok := now.Requested["--pids-limit"]; ok || now.Requested["--memory"] != "32m" || later.Requested["--pids-limit"] != "8" || len(later.Requested) != 1 {
		t.Errorf("Split = %v / %v", now.Requested, later.Requested)
	}
	if _, later := parsed(t, "memory", "32m").Split("--pids-limit"); later != nil {
		t.Errorf("Split without pids: later = %v", later)
	}
	var none *Resources
	if now, later := none.Split("--pids-limit"); now != nil || later != nil {
		t.Error("Split of nil")
	}
}

func TestPreparePolicy(t *testing.T) {
	mount, mi := fakeHost(t)
	fakeCgroup(t, filepath.Join(mount, "session"))
	if err := os.Chown(filepath.Join(mount, "session", "cgroup.procs"), 12345, 12345); err != nil {
		t.Fatal(err)
	}
	l := detect(readerOf(mi), procCgroupText("0::/session\n"))
	r := parsed(t, "memory", "32m", "oom-score-adj", "100")
	var warned []error
	warn := func(err error) { warned = append(warned, err) }
	if _, err := discover(l, Options{}).Prepare("hutch-x", r, warn); err == nil || !strings.Contains(err.Error(), "cannot apply --memory 32m") || len(warned) != 0 {
		t.Errorf("fail mode: %v (warned %v)", err, warned)
	}
	lim, err := discover(l, Options{OnUnavailable: "warn"}).Prepare("hutch-x", r, warn)
	if err != nil || lim.Cgroup != nil || len(warned) != 1 || !strings.Contains(lim.NotApplied, "--memory 32m") {
		t.Fatalf("warn mode: %+v, %v (warned %v)", lim, err, warned)
	}
	// Without a cgroup, Started still writes --oom-score-adj (our own process here).
	if err := lim.Started(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(read(t, "/proc/self/oom_score_adj")); got != "100" {
		t.Errorf("oom_score_adj = %s", got)
	}
	if len(lim.Applied) != 1 || lim.Applied[0].Flag != "--oom-score-adj" {
		t.Errorf("applied %+v", lim.Applied)
	}
	if oom, err := lim.Done(); oom || err != nil {
		t.Errorf("Done without a cgroup: %v %v", oom, err)
	}
	// Nothing asked, nothing delegated: no cgroup, no warning.
	warned = nil
	if lim, err := discover(l, Options{}).Prepare("hutch-x", nil, warn); err != nil || lim.Cgroup != nil || len(warned) != 0 {
		t.Errorf("no limits: %+v %v %v", lim, err, warned)
	}
}

// TestDeviceNumber: io.max's MAJ:MIN of a block device is the one sysfs gives it.
func TestDeviceNumber(t *testing.T) {
	devs, _ := filepath.Glob("/sys/class/block/*/dev")
	checked := 0
	for _, f := range devs {
		node := "/dev/" + filepath.Base(filepath.Dir(f))
		if _, err := os.Stat(node); err != nil {
			continue
		}
		got, err := deviceNumber(node)
		if err != nil {
			t.Fatalf("deviceNumber(%s): %v", node, err)
		}
		if want := strings.TrimSpace(read(t, f)); got != want {
			t.Errorf("deviceNumber(%s) = %s, sysfs says %s", node, got, want)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no block device under /dev with a /sys/class/block entry to check against")
	}
	if _, err := deviceNumber("/dev/null"); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("deviceNumber(/dev/null) = %v, want \"not a block device\"", err)
	}
}
