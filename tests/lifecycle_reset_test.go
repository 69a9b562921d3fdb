package tests

import (
	"testing"
	"time"
)

// TestLifecycleResetStopsContainers: `system reset` stops running containers (and a
// container waiting to be restarted) before it deletes their files, so that no monitor
// or container process outlives the reset.
func TestLifecycleResetStopsContainers(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcRunD(sb, append([]string{"--name", "running", lcImage}, lcSleeper...)...)
	lcRunD(sb, "--name", "restarting", "--restart", "always", lcImage, "sh", "-c", "sleep 0.1")
	// Let the restarting one go round at least once.
	lcEventually(t, 10*time.Second, "a restart", func() (bool, string) {
		c := lcInspect(sb, "restarting")
		return c.RestartCount > 0, ""
	})
	sb.ok("system", "reset", "-f")
	lcAssertNoProcsNoMounts(t, sb, "system reset -f")
	if ps := lcPS(sb, "-a"); len(ps) != 0 {
		t.Fatalf("after reset, ps -a lists %d containers", len(ps))
	}
}
