//go:build cgroupvm

package guest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// This file's name starts with zz_ because go test runs the files in name order: this
// check must come after every check that makes containers.

// TestVMCgroupsRemoved: once the containers are gone, so are their cgroups, and no
// process is left in the delegated subtree but ours and hutch's own.
func TestVMCgroupsRemoved(t *testing.T) {
	if len(seenCgroups) == 0 {
		t.Fatalf("no container cgroup was found by the checks before: nothing to check")
	}
	for dir, name := range seenCgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("container %s's cgroup %s is still there (%v)", name, dir, err)
		}
	}
	var left []string
	for _, d := range cgroupDirs(t) {
		if procs := readFile(t, d+"/cgroup.procs"); procs != "" {
			left = append(left, fmt.Sprintf("%s: %s", d, strings.ReplaceAll(procs, "\n", " ")))
		}
	}
	t.Logf("cgroups still holding processes: %v", left)
	if len(left) > 1 {
		t.Errorf("processes are left in %d cgroups of the delegated subtree, want only this test's own: %v", len(left), left)
	}
}
