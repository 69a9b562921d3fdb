package tests

// A container's processes start with every signal at its default, whatever hutch was
// started with: under nohup (SIGHUP ignored) a container's shell must still be able to
// trap SIGHUP, and `stop --stop-signal HUP` must reach it.

import (
	"strings"
	"testing"
	"time"
)

func TestSignalsDefaultUnderNohup(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	nohup := runOpts{bin: "/usr/bin/nohup"}
	sigIgn := func(status string) string {
		for _, l := range strings.Split(status, "\n") {
			if strings.HasPrefix(l, "SigIgn:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "SigIgn:"))
			}
		}
		t.Fatalf("no SigIgn line in /proc/self/status:\n%s", status)
		return ""
	}
	// The harness's own check that nohup does ignore SIGHUP for what it runs.
	if r := sb.run(nohup, "/bin/grep", "SigIgn", "/proc/self/status"); !strings.HasSuffix(strings.TrimSpace(r.stdout), "1") {
		t.Fatalf("nohup should ignore SIGHUP (bit 1): %s", r)
	}
	r := sb.expectWith(nohup, 0, hutchBin, "run", "--rm", lcImage, "cat", "/proc/self/status")
	assertEqual(t, sigIgn(r.stdout), "0000000000000000", "signals ignored in a container run under nohup")
	r = sb.expectWith(nohup, 0, hutchBin, "run", "--rm", lcImage, "sh", "-c", "trap 'echo trapped' HUP; kill -HUP $$; echo after")
	assertEqual(t, r.stdout, "trapped\nafter\n", "a shell's HUP trap under nohup")

	// A container started under nohup: its monitor and init inherit the ignored SIGHUP.
	sb.expectWith(nohup, 0, hutchBin, "run", "-d", "--name", "sig", "--stop-signal", "HUP", lcImage, "sh", "-c", "trap 'exit 11' HUP; echo ready; sleep 1000 & wait")
	r = sb.expectWith(nohup, 0, hutchBin, "exec", "sig", "cat", "/proc/self/status")
	assertEqual(t, sigIgn(r.stdout), "0000000000000000", "signals ignored in an exec under nohup")
	lcWaitLog(sb, "sig", "ready", 10*time.Second)
	began := time.Now()
	sb.expectWith(nohup, 0, hutchBin, "stop", "sig")
	if el := time.Since(began); el > 5*time.Second {
		t.Fatalf("stop --stop-signal HUP under nohup took %s: the trap did not run", el)
	}
	assertEqual(t, lcInspect(sb, "sig").State.ExitCode, 11, "the HUP trap's status")
}
