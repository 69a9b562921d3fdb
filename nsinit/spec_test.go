package nsinit

import (
	"slices"
	"testing"
)

func TestMasks(t *testing.T) {
	m, r := Masks(nil, nil)
	if !slices.Equal(m, MaskedPaths) || !slices.Equal(r, ReadonlyPaths) {
		t.Fatalf("defaults: %v %v", m, r)
	}
	m, r = Masks([]string{"/proc/cmdline", "/proc/kcore"}, []string{"/proc/keys", "/sys/*", "/proc/sys"})
	if !slices.Contains(m, "/proc/cmdline") || slices.Contains(m, "/proc/keys") || slices.Contains(m, "/sys/firmware") ||
		slices.Contains(r, "/proc/sys") || !slices.Contains(r, "/proc/bus") {
		t.Errorf("mask and unmask: %v %v", m, r)
	}
	if n := len(slices.DeleteFunc(slices.Clone(m), func(p string) bool { return p != "/proc/kcore" })); n != 1 {
		t.Errorf("/proc/kcore listed %d times", n)
	}
	m, r = Masks([]string{"/proc/cmdline"}, []string{"ALL"})
	if len(m) != 0 || len(r) != 0 {
		t.Errorf("unmask=ALL: %v %v", m, r)
	}
}
