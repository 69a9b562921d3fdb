//go:build cgroupvm

package guest

import (
	"strings"
	"testing"
)

// TestVMCreateUpdateRestart: limits asked at create reach the cgroup when the container
// is started; an update replacing --cpus by --cpu-quota, and a new --memory next to an
// explicit --memory-swap -1, hold in the running cgroup and through a restart (a fresh
// cgroup written from the recorded limits).
func TestVMCreateUpdateRestart(t *testing.T) {
	ensureImage(t)
	ok(t, "create", "--name", "upd", "--cpus", "0.5", "--memory", "32m", "--memory-swap", "-1", image, "sleep", "1000")
	ok(t, "start", "upd")
	dir := containerCgroup(t, "upd")
	defer removed(t, "upd", dir)
	inCgroup(t, "upd", dir)
	expect := func(when string, want map[string]string) {
		t.Helper()
		for file, v := range want {
			if got := readFile(t, dir+"/"+file); got != v {
				t.Errorf("%s: %s = %q, want %q", when, file, got, v)
			}
		}
	}
	expect("created with --cpus 0.5 --memory 32m --memory-swap -1, then started",
		map[string]string{"cpu.max": "50000 100000", "memory.max": "33554432", "memory.swap.max": "max"})
	ok(t, "update", "--cpu-quota", "30000", "--memory", "48m", "upd")
	after := map[string]string{"cpu.max": "30000 100000", "memory.max": "50331648", "memory.swap.max": "max"}
	expect("after update --cpu-quota 30000 --memory 48m", after)
	ok(t, "restart", "-t", "0", "upd")
	if got := strings.TrimSpace(ok(t, "inspect", "--format", "{{.State.Status}}", "upd")); got != "running" {
		t.Fatalf("after hutch restart upd: status %q, want running", got)
	}
	inCgroup(t, "upd", dir)
	expect("after the restart", after)
}
