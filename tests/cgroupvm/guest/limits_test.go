//go:build cgroupvm

package guest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The limits, asked for with Docker's flags, checked against the kernel's own files in
// the container's cgroup, never against hutch's report of them.

// seenCgroups are the container cgroups the checks found; TestVMCgroupsRemoved insists
// that none is left once the containers are removed.
var seenCgroups = map[string]string{} // dir → container name

// containerCgroup finds the cgroup of container name by its full ID under the delegated
// subtree (independently of what hutch says), and checks it against inspect's
// .Resources.Cgroup when hutch reports one.
func containerCgroup(t *testing.T, name string) string {
	t.Helper()
	id := strings.TrimSpace(ok(t, "inspect", "--format", "{{.Id}}", name))
	if len(id) != 64 {
		t.Fatalf("hutch inspect --format '{{.Id}}' %s printed %q, not a full ID", name, id)
	}
	var found []string
	for _, d := range cgroupDirs(t) {
		if strings.Contains(filepath.Base(d), id) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("container %s (%s): want exactly one cgroup named after its ID under %s, found %v", name, id[:12], delegated, found)
	}
	var in []struct {
		Resources struct{ Cgroup string }
	}
	if err := json.Unmarshal([]byte(ok(t, "inspect", name)), &in); err == nil && len(in) == 1 && in[0].Resources.Cgroup != "" &&
		filepath.Clean(in[0].Resources.Cgroup) != found[0] {
		t.Errorf("hutch inspect %s says its cgroup is %s, but the kernel's tree has it at %s", name, in[0].Resources.Cgroup, found[0])
	}
	seenCgroups[found[0]] = name
	return found[0]
}

// inCgroup checks that the container's main process lives in dir, as the kernel says.
func inCgroup(t *testing.T, name, dir string) {
	t.Helper()
	pid := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Pid}}", name))
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatalf("container %s's pid %q: %v", name, pid, err)
	}
	if want := "0::" + strings.TrimPrefix(dir, "/sys/fs/cgroup") + "\n"; string(b) != want {
		t.Errorf("container %s's process %s is in cgroup %q, want %q", name, pid, strings.TrimSpace(string(b)), strings.TrimSpace(want))
	}
}

// removed removes the container and checks that its cgroup goes with it.
func removed(t *testing.T, name, dir string) {
	t.Helper()
	ok(t, "rm", "-f", name)
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("hutch rm %s left its cgroup %s", name, dir)
}

// waitEvent waits until the cgroup's cgroup.events holds line ("frozen 1", …).
func waitEvent(t *testing.T, dir, line string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if strings.Contains("\n"+readFile(t, dir+"/cgroup.events")+"\n", "\n"+line+"\n") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/cgroup.events never showed %q: %s", dir, line, readFile(t, dir+"/cgroup.events"))
}

func usageUsec(t *testing.T, dir string) int64 { return keyed(t, dir+"/cpu.stat")["usage_usec"] }

// TestVMMemoryOOMKilled: --memory 32m against a process building a 128 MiB string.
func TestVMMemoryOOMKilled(t *testing.T) {
	ensureImage(t)
	const alloc = `BEGIN { s = "0123456789abcdef"; while (length(s) < 100 * 1024 * 1024) s = s s; print "allocated", length(s) }`
	r := hutch(t, "run", "--name", "oom", "--memory", "32m", image, "awk", alloc)
	t.Logf("%s", r)
	dir := containerCgroup(t, "oom")
	ev := keyed(t, dir+"/memory.events")
	t.Logf("%s: memory.max=%s memory.peak=%s memory.events: oom=%d oom_kill=%d max=%d", dir,
		readFile(t, dir+"/memory.max"), readFile(t, dir+"/memory.peak"), ev["oom"], ev["oom_kill"], ev["max"])
	if got := readFile(t, dir+"/memory.max"); got != "33554432" {
		t.Errorf("memory.max = %s, want 33554432 (32 MiB)", got)
	}
	if r.code != 137 || strings.Contains(r.stdout, "allocated") {
		t.Errorf("allocating 100 MiB under --memory 32m: exit %d (want 137, SIGKILL), output %q", r.code, r.stdout)
	}
	if ev["oom_kill"] < 1 {
		t.Errorf("memory.events oom_kill = %d, want ≥ 1", ev["oom_kill"])
	}
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.OOMKilled}}", "oom")); got != "true" {
		t.Errorf("hutch inspect --format '{{.State.OOMKilled}}' oom = %q, want true", got)
	}
	// inspect shows what was asked and what was written, and that is what the kernel has.
	if applied := appliedLimit(t, "oom", "--memory"); !contains(applied, "memory.max="+readFile(t, dir+"/memory.max")) {
		t.Errorf("hutch inspect oom: --memory applied as %v, the kernel's memory.max is %s", applied, readFile(t, dir+"/memory.max"))
	}
	removed(t, "oom", dir)
}

// TestVMMemorySwap: --memory 32m alone lets the container swap as much again (Docker's
// default --memory-swap is twice --memory). awk doubling a string to 16 MiB needs about
// 40 MiB at its peak (the old string, the new one and a copy of it): it survives on the
// VM's zram swap, and the same program is OOM-killed with --memory-swap 32m (no swap).
func TestVMMemorySwap(t *testing.T) {
	ensureImage(t)
	const hold = `BEGIN { s = "0123456789abcdef"; while (length(s) < 16 * 1024 * 1024) s = s s; print "allocated", length(s); fflush(); system("sleep 600") }`
	if _, err := os.Stat("/dev/zram0"); err != nil || !strings.Contains(readFile(t, "/proc/swaps"), "zram0") {
		t.Fatalf("the VM has no zram swap (/proc/swaps: %s)", readFile(t, "/proc/swaps"))
	}
	ok(t, "run", "-d", "--name", "swap", "--memory", "32m", image, "awk", hold)
	dir := containerCgroup(t, "swap")
	for i := 0; i < 600 && !strings.Contains(hutch(t, "logs", "swap").stdout, "allocated"); i++ {
		if strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Running}}", "swap")) != "true" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	running := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", "swap"))
	t.Logf("--memory 32m: %s; memory.max=%s memory.swap.max=%s memory.current=%s memory.swap.current=%s; logs %q",
		running, readFile(t, dir+"/memory.max"), readFile(t, dir+"/memory.swap.max"), readFile(t, dir+"/memory.current"),
		readFile(t, dir+"/memory.swap.current"), hutch(t, "logs", "swap").stdout)
	if got := readFile(t, dir+"/memory.swap.max"); got != "33554432" {
		t.Errorf("--memory 32m: memory.swap.max = %s, want 33554432 (--memory-swap defaults to twice --memory)", got)
	}
	if running != "true 0" {
		t.Errorf("--memory 32m, a 40 MiB peak with 32 MiB of swap allowed: the container is not running (State.Running ExitCode = %q)", running)
	} else if sw, _ := strconv.Atoi(readFile(t, dir+"/memory.swap.current")); sw == 0 {
		t.Errorf("the container went past memory.max=32M but memory.swap.current is 0")
	}
	removed(t, "swap", dir)

	r := hutch(t, "run", "--name", "noswap", "--memory", "32m", "--memory-swap", "32m", image, "awk", strings.Replace(hold, `system("sleep 600")`, "", 1))
	t.Logf("%s", r)
	dir = containerCgroup(t, "noswap")
	t.Logf("--memory 32m --memory-swap 32m: memory.swap.max=%s memory.events: %s", readFile(t, dir+"/memory.swap.max"),
		strings.ReplaceAll(readFile(t, dir+"/memory.events"), "\n", ", "))
	if got := readFile(t, dir+"/memory.swap.max"); got != "0" {
		t.Errorf("--memory-swap equal to --memory: memory.swap.max = %s, want 0", got)
	}
	if r.code != 137 || keyed(t, dir+"/memory.events")["oom_kill"] < 1 {
		t.Errorf("a 40 MiB peak under --memory 32m --memory-swap 32m: exit %d, oom_kill %d; want 137 and ≥ 1", r.code, keyed(t, dir+"/memory.events")["oom_kill"])
	}
	removed(t, "noswap", dir)
}

// TestVMPidsLimit: --pids-limit 8; the shell (1 task) starts sleepers until the 9th task
// is refused.
func TestVMPidsLimit(t *testing.T) {
	ensureImage(t)
	const forks = `i=0; while [ $i -lt 20 ]; do sleep 120 & i=$((i+1)); echo "forked $i"; done; echo all-forked`
	r := hutch(t, "run", "--name", "pids", "--pids-limit", "8", image, "sh", "-c", forks)
	t.Logf("%s", r)
	dir := containerCgroup(t, "pids")
	ev := keyed(t, dir+"/pids.events")
	t.Logf("%s: pids.max=%s pids.events max=%d", dir, readFile(t, dir+"/pids.max"), ev["max"])
	if got := readFile(t, dir+"/pids.max"); got != "8" {
		t.Errorf("pids.max = %s, want 8", got)
	}
	forked := regexp.MustCompile(`(?m)^forked (\d+)$`).FindAllStringSubmatch(r.stdout, -1)
	last := 0
	if len(forked) > 0 {
		last, _ = strconv.Atoi(forked[len(forked)-1][1])
	}
	if last != 7 || strings.Contains(r.stdout, "all-forked") {
		t.Errorf("under --pids-limit 8 the shell started %d sleepers (want 7: with the shell, 8 tasks; the 9th refused)", last)
	}
	if !strings.Contains(r.stderr+r.stdout, "can't fork") || r.code == 0 {
		t.Errorf("the 9th fork did not fail with \"can't fork\" (exit %d)", r.code)
	}
	if ev["max"] < 1 {
		t.Errorf("pids.events max = %d, want ≥ 1 (a fork refused by pids.max)", ev["max"])
	}
	removed(t, "pids", dir)
}

// TestVMCPUQuota: --cpus 0.2 holds a busy loop to about 20 % of one CPU.
func TestVMCPUQuota(t *testing.T) {
	ensureImage(t)
	ok(t, "run", "-d", "--name", "cpu", "--cpus", "0.2", image, "sh", "-c", "while :; do :; done")
	dir := containerCgroup(t, "cpu")
	defer removed(t, "cpu", dir)
	inCgroup(t, "cpu", dir)
	// The container sees its own cgroup as the root (cgroup namespace), exec'd processes too.
	if out := ok(t, "exec", "cpu", "cat", "/proc/self/cgroup"); out != "0::/\n" {
		t.Errorf("hutch exec cpu cat /proc/self/cgroup printed %q, want \"0::/\" (a cgroup namespace rooted at the container's cgroup)", out)
	}
	if got := readFile(t, dir+"/cpu.max"); got != "20000 100000" {
		t.Errorf("cpu.max = %q, want \"20000 100000\"", got)
	}
	time.Sleep(time.Second)
	u0, t0 := usageUsec(t, dir), time.Now()
	time.Sleep(4 * time.Second)
	u1, t1 := usageUsec(t, dir), time.Now()
	st := keyed(t, dir+"/cpu.stat")
	frac := float64(u1-u0) / float64(t1.Sub(t0).Microseconds())
	t.Logf("%s: %.1f%% of one CPU over %s; nr_periods=%d nr_throttled=%d throttled_usec=%d", dir, 100*frac,
		t1.Sub(t0).Round(time.Millisecond), st["nr_periods"], st["nr_throttled"], st["throttled_usec"])
	if st["nr_throttled"] == 0 || st["throttled_usec"] == 0 {
		t.Errorf("cpu.stat shows no throttling under --cpus 0.2")
	}
	if frac < 0.10 || frac > 0.26 {
		t.Errorf("a busy loop under --cpus 0.2 used %.1f%% of one CPU, want about 20%%", 100*frac)
	}
}

// The container TestVMStats and TestVMPauseUnpause share: awk holding 16 MiB and
// spinning, next to two sleepers.
const busyScript = `sleep 600 & sleep 600 & awk 'BEGIN { s = "0123456789abcdef"; while (length(s) < 16 * 1024 * 1024) s = s s; while (1) n++ }'`

func startBusy(t *testing.T) string {
	t.Helper()
	if hutch(t, "inspect", "--format", "{{.State.Running}}", "busy").stdout == "true\n" {
		return containerCgroup(t, "busy")
	}
	ensureImage(t)
	ok(t, "run", "-d", "--name", "busy", "--memory", "64m", "--pids-limit", "20", image, "sh", "-c", busyScript)
	dir := containerCgroup(t, "busy")
	inCgroup(t, "busy", dir)
	// until awk holds its string
	for i := 0; i < 100 && keyed(t, dir+"/memory.stat")["anon"] < 16<<20; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return dir
}

// memUsage is what Docker shows as memory usage: memory.current less inactive file pages.
func memUsage(t *testing.T, dir string) float64 {
	cur, _ := strconv.ParseFloat(readFile(t, dir+"/memory.current"), 64)
	return cur - float64(keyed(t, dir+"/memory.stat")["inactive_file"])
}

// parseSize reads "15.9MiB", "64MiB", "512kB", "3B" (Docker's units).
func parseSize(t *testing.T, s string) float64 {
	t.Helper()
	m := regexp.MustCompile(`^([0-9.]+)\s*([KMGT]i?B|[kMGT]B|B)$`).FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("cannot read the size %q", s)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m[2]]
	return n * mult
}

// within says whether got is within 10 % of want.
func within(got, want float64) bool { return math.Abs(got-want) <= 0.10*math.Abs(want) }

// TestVMStats: `hutch stats --no-stream --format json` against the cgroup's files, read
// just before and just after it. Memory and PIDs hold still; CPU is a rate over a short
// window on a VM whose virtual CPUs the host may preempt, so it gets three tries.
func TestVMStats(t *testing.T) {
	dir := startBusy(t)
	time.Sleep(time.Second)
	for try := 1; ; try++ {
		mem0, u0, t0 := memUsage(t, dir), usageUsec(t, dir), time.Now()
		out := ok(t, "stats", "--no-stream", "--format", "json", "busy")
		mem1, u1, t1 := memUsage(t, dir), usageUsec(t, dir), time.Now()
		pids := readFile(t, dir+"/pids.current")
		kernelCPU := 100 * float64(u1-u0) / float64(t1.Sub(t0).Microseconds())
		t.Logf("hutch stats: %s", strings.TrimSpace(out))
		t.Logf("kernel: memory %.0f..%.0f bytes (memory.current %s), cpu %.1f%%, pids.current %s, memory.max %s",
			mem0, mem1, readFile(t, dir+"/memory.current"), kernelCPU, pids, readFile(t, dir+"/memory.max"))
		var row struct{ Name, CPUPerc, MemUsage, PIDs string }
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
			t.Fatalf("hutch stats --format json: %v: %q", err, out)
		}
		if row.Name != "busy" {
			t.Errorf("stats row Name = %q, want busy", row.Name)
		}
		usage, limit, found := strings.Cut(row.MemUsage, "/")
		if !found {
			t.Fatalf("MemUsage %q is not \"USAGE / LIMIT\"", row.MemUsage)
		}
		if got := parseSize(t, usage); !within(got, mem0) && !within(got, mem1) {
			t.Errorf("stats memory usage %s (%.0f bytes) is not within 10%% of the kernel's %.0f..%.0f", usage, got, mem0, mem1)
		}
		if got := parseSize(t, limit); got != 64<<20 {
			t.Errorf("stats memory limit %s, want 64MiB (memory.max)", limit)
		}
		if strings.TrimSpace(row.PIDs) != pids {
			t.Errorf("stats PIDs %q, kernel pids.current %s", row.PIDs, pids)
		}
		cpu, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(row.CPUPerc), "%"), 64)
		if err != nil {
			t.Fatalf("CPUPerc %q: %v", row.CPUPerc, err)
		}
		if within(cpu, kernelCPU) || t.Failed() {
			return
		}
		if try == 3 {
			t.Errorf("stats CPU %.1f%% is not within 10%% of the kernel's %.1f%% over the same time (third try)", cpu, kernelCPU)
			return
		}
		t.Logf("try %d: stats CPU %.1f%% is not within 10%% of the kernel's %.1f%%; again", try, cpu, kernelCPU)
	}
}

// TestVMUpdate: `hutch update` changes the limits of the running container at once.
func TestVMUpdate(t *testing.T) {
	dir := startBusy(t)
	ok(t, "update", "--memory", "48m", "--cpus", "0.5", "--pids-limit", "30", "busy")
	for file, want := range map[string]string{"memory.max": "50331648", "cpu.max": "50000 100000", "pids.max": "30"} {
		if got := readFile(t, dir+"/"+file); got != want {
			t.Errorf("after hutch update: %s = %q, want %q", file, got, want)
		}
	}
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", "busy")); got != "50331648 500000000" {
		t.Errorf("after hutch update: inspect HostConfig.Memory NanoCpus = %q, want \"50331648 500000000\"", got)
	}
}

// TestVMPauseUnpause: pause freezes the cgroup (no CPU time advances), unpause thaws it.
func TestVMPauseUnpause(t *testing.T) {
	dir := startBusy(t)
	defer removed(t, "busy", dir)
	ok(t, "pause", "busy")
	waitEvent(t, dir, "frozen 1")
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Paused}} {{.State.Status}}", "busy")); got != "true paused" {
		t.Errorf("hutch inspect of a paused container: State.Paused State.Status = %q, want \"true paused\"", got)
	}
	u0 := usageUsec(t, dir)
	time.Sleep(time.Second)
	u1 := usageUsec(t, dir)
	t.Logf("frozen: usage_usec %d → %d over 1 s (cgroup.freeze=%s)", u0, u1, readFile(t, dir+"/cgroup.freeze"))
	if u1 != u0 {
		t.Errorf("a paused container used %d µs of CPU in 1 s", u1-u0)
	}
	ok(t, "unpause", "busy")
	waitEvent(t, dir, "frozen 0")
	u2 := usageUsec(t, dir)
	time.Sleep(time.Second)
	u3 := usageUsec(t, dir)
	t.Logf("thawed: usage_usec %d → %d over 1 s", u2, u3)
	if u3-u2 < 100_000 {
		t.Errorf("after unpause the busy loop used only %d µs of CPU in 1 s", u3-u2)
	}
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Paused}} {{.State.Status}}", "busy")); got != "false running" {
		t.Errorf("after unpause: State.Paused State.Status = %q, want \"false running\"", got)
	}
}

// TestPartialNotDelegated: in a subtree whose parent delegates only cpu and pids, a limit
// needing memory or io is refused with exit 125 naming the controller; pids still works.
func TestPartialNotDelegated(t *testing.T) {
	ensureImage(t)
	for _, c := range []struct {
		flags      []string
		controller string
	}{
		{[]string{"--memory", "32m"}, "memory"},
		{[]string{"--blkio-weight", "300"}, "io"},
	} {
		r := hutch(t, append(append([]string{"run", "--rm"}, c.flags...), image, "true")...)
		t.Logf("%s", r)
		if r.code != 125 {
			t.Errorf("hutch run %s with %s not delegated: exit %d, want 125", strings.Join(c.flags, " "), c.controller, r.code)
		}
		if !strings.Contains(r.stderr, c.controller) || !strings.Contains(r.stderr, c.flags[0]) || !strings.Contains(r.stderr, "Delegate=") {
			t.Errorf("hutch run %s: the error does not name %s, the missing %s controller and the fix (Delegate=…): %s",
				strings.Join(c.flags, " "), c.flags[0], c.controller, r.stderr)
		}
	}
	// pids is delegated here: the same engine applies it.
	r := hutch(t, "run", "--rm", "--pids-limit", "8", image, "cat", "/proc/self/cgroup")
	t.Logf("%s", r)
	if r.code != 0 || r.stdout != "0::/\n" {
		t.Errorf("--pids-limit 8 with pids delegated: exit %d, /proc/self/cgroup %q; want 0 and \"0::/\"", r.code, r.stdout)
	}
}

// appliedLimit is what hutch inspect says it wrote into the cgroup for flag.
func appliedLimit(t *testing.T, name, flag string) []string {
	t.Helper()
	var in []struct {
		Resources struct {
			Limits []struct {
				Flag    string
				Applied []string
				Status  string
			}
		}
	}
	out := ok(t, "inspect", name)
	if err := json.Unmarshal([]byte(out), &in); err != nil || len(in) != 1 {
		t.Fatalf("hutch inspect %s: %v\n%s", name, err, out)
	}
	for _, l := range in[0].Resources.Limits {
		if l.Flag == flag {
			if l.Status != "applied" {
				t.Errorf("hutch inspect %s: %s has status %q, want applied", name, flag, l.Status)
			}
			return l.Applied
		}
	}
	t.Errorf("hutch inspect %s: no %s among .Resources.Limits", name, flag)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// busybox time's report: "real\t0m 3.01s".
var ddSeconds = regexp.MustCompile(`real\s+(\d+)m\s*([0-9.]+)s`)

// ddTime runs dd with O_DIRECT writes of 3 MiB into the container's own root (overlay
// upper on the ext4 disk /dev/vda) and returns how long the kernel let it take.
func ddTime(t *testing.T, r result) float64 {
	t.Helper()
	m := ddSeconds.FindStringSubmatch(r.stderr)
	if r.code != 0 || m == nil {
		t.Fatalf("dd in the container: %s", r)
	}
	mins, _ := strconv.ParseFloat(m[1], 64)
	secs, _ := strconv.ParseFloat(m[2], 64)
	return 60*mins + secs
}

// TestVMIOAndOtherLimits: --device-write-bps really slows direct writes to the disk, and
// --cpuset-cpus, --cpu-shares, --memory-reservation and --oom-score-adj reach the kernel.
func TestVMIOAndOtherLimits(t *testing.T) {
	ensureImage(t)
	const write = "time dd if=/dev/zero of=/ddtest bs=256k count=12 oflag=direct"
	free := ddTime(t, hutch(t, "run", "--rm", image, "sh", "-c", write))
	majmin := readFile(t, "/sys/class/block/vda/dev")
	r := hutch(t, "run", "--name", "io", "--device-write-bps", "/dev/vda:1mb", "--cpuset-cpus", "1", "--cpu-shares", "512",
		"--memory-reservation", "16m", "--oom-score-adj", "500", image,
		"sh", "-c", "cat /proc/self/oom_score_adj; grep Cpus_allowed_list /proc/self/status; "+write)
	t.Logf("%s", r)
	limited := ddTime(t, r)
	dir := containerCgroup(t, "io")
	defer removed(t, "io", dir)
	ioStat := ""
	for _, line := range strings.Split(readFile(t, dir+"/io.stat"), "\n") {
		if strings.HasPrefix(line, majmin+" ") {
			ioStat = line
		}
	}
	t.Logf("3 MiB O_DIRECT: %.2f s free, %.2f s under --device-write-bps /dev/vda:1mb; io.max %q; io.stat %q",
		free, limited, readFile(t, dir+"/io.max"), ioStat)
	if !strings.HasPrefix(readFile(t, dir+"/io.max"), majmin+" ") || !strings.Contains(readFile(t, dir+"/io.max"), "wbps=1048576") {
		t.Errorf("io.max = %q, want %s wbps=1048576", readFile(t, dir+"/io.max"), majmin)
	}
	if limited < 2.0 || limited < 2*free {
		t.Errorf("3 MiB of direct writes took %.2f s under 1 MiB/s (%.2f s without): not throttled", limited, free)
	}
	wbytes := int64(0)
	for _, f := range strings.Fields(ioStat) {
		if v, found := strings.CutPrefix(f, "wbytes="); found {
			wbytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if wbytes < 3<<20 {
		t.Errorf("io.stat of the container's cgroup counts %d bytes written to %s, want ≥ 3 MiB", wbytes, majmin)
	}
	if lines := strings.Split(r.stdout, "\n"); len(lines) < 2 || lines[0] != "500" || strings.Join(strings.Fields(lines[1]), " ") != "Cpus_allowed_list: 1" {
		t.Errorf("in the container: oom_score_adj and Cpus_allowed_list = %q, want 500 and 1", r.stdout)
	}
	if got := readFile(t, dir+"/cpuset.cpus"); got != "1" {
		t.Errorf("cpuset.cpus = %q, want 1", got)
	}
	if got := readFile(t, dir+"/memory.low"); got != "16777216" {
		t.Errorf("memory.low = %q, want 16777216 (--memory-reservation 16m)", got)
	}
	weight := readFile(t, dir+"/cpu.weight")
	if n, _ := strconv.Atoi(weight); n < 1 || n >= 100 || !contains(appliedLimit(t, "io", "--cpu-shares"), "cpu.weight="+weight) {
		t.Errorf("--cpu-shares 512: cpu.weight = %s (want below the default 100, as hutch inspect reports: %v)", weight, appliedLimit(t, "io", "--cpu-shares"))
	}
}
