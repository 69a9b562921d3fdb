package tests

import (
	"strings"
	"testing"
)

// loadProbe loads localhost/probe:1 (busybox + /bin/probe, see tests/probe) into sb.
func loadProbe(t *testing.T, sb *sandbox) {
	t.Helper()
	probe, err := fix.probeArchive()
	if err != nil {
		t.Fatal(err)
	}
	sb.ok("load", "-i", probe.path)
}

// TestProbeImage: the probe image loads and its static program runs in a container.
func TestProbeImage(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	r := sb.ok("run", "--rm", "--network", "none", "localhost/probe:1", "probe", "echo", "probe", "runs")
	if got := strings.TrimSpace(r.stdout); got != "probe runs" {
		t.Fatalf("probe echo printed %q, want %q", got, "probe runs")
	}
}
