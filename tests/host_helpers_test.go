package tests

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// mountNS is a mount namespace of a test's own, held by a process the test started:
// mounts made there (a fake /tmp or /etc/subuid bound over the host's, a small tmpfs
// for a store) are seen by the commands the test runs in it, and by no other process
// of the machine — other tests' hutch commands copy the host's mount table, and a
// mount there would tie their processes to this test's sandbox.
type mountNS struct {
	t   *testing.T
	pid int
}

// newMountNS starts the holder (unshare --mount, private propagation) and stops it, by
// its PID, when the test ends.
func newMountNS(t *testing.T) *mountNS {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", "echo ready; exec sleep infinity")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a mount namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("the mount namespace did not start: %q %v", line, err)
	}
	return &mountNS{t: t, pid: cmd.Process.Pid}
}

// mount runs mount(8) with args inside the namespace.
func (m *mountNS) mount(args ...string) {
	m.t.Helper()
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(m.pid), "-m", "mount"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		m.t.Fatalf("mount %s in the test's mount namespace: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// bind binds src over dst inside the namespace.
func (m *mountNS) bind(src, dst string) { m.mount("--bind", src, dst) }

// args are nsenter's arguments that run hutch with args as the sandbox's user inside
// the namespace (sandbox.command uses them when the sandbox has one).
func (m *mountNS) args(sb *sandbox, args []string) []string {
	return append([]string{"-t", strconv.Itoa(m.pid), "-m", "setpriv", "--reuid=" + strconv.Itoa(sb.user.uid),
		"--regid=" + strconv.Itoa(sb.user.gid), "--clear-groups", "--", hutchBin}, args...)
}

// seen is where the test process finds path as the sandbox's commands see it: through
// the holder's root when the sandbox runs in a mount namespace of its own.
func (sb *sandbox) seen(path string) string {
	if sb.ns == nil {
		return path
	}
	return "/proc/" + strconv.Itoa(sb.ns.pid) + "/root" + path
}
