package tests

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNetworkTunUnusable: when /dev/net/tun is missing or not accessible, run with the
// default network fails before making a container, naming the device and the fix, and
// --network none still works. The machine's device is never changed: root gives one
// hutch command a private mount namespace in which /dev/net/tun is replaced.
func TestNetworkTunUnusable(t *testing.T) {
	sb := netSandbox(t)
	dir := t.TempDir()
	locked := filepath.Join(dir, "tun")
	if err := unix.Mknod(locked, unix.S_IFCHR|0o600, int(unix.Mkdev(10, 200))); err != nil {
		t.Fatalf("mknod %s: %v", locked, err)
	}
	for _, c := range []struct {
		name  string
		setup string // run as root in the private mount namespace, before hutch
		want  []string
	}{
		{"not accessible", "mount --bind " + locked + " /dev/net/tun",
			[]string{"/dev/net/tun is not accessible to you", "sudo chmod 0666 /dev/net/tun", "--network none"}},
		{"missing", "mount -t tmpfs tmpfs /dev/net",
			[]string{"/dev/net/tun does not exist", "sudo modprobe tun", "mknod -m 0666 /dev/net/tun c 10 200"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runInPrivateDev(t, sb, c.setup, "run", "--rm", netImage, "true")
			if r.code != 125 {
				t.Fatalf("expected exit status 125:\n%s", r)
			}
			assertOneLineError(t, r, c.want...)
			if r := runInPrivateDev(t, sb, c.setup, "run", "--rm", "--network", "none", netImage, "echo", "fine"); r.code != 0 || r.stdout != "fine\n" {
				t.Fatalf("--network none without a usable tun device:\n%s", r)
			}
			r = runInPrivateDev(t, sb, c.setup, "info")
			assertContains(t, r.stdout, c.want[0], "info names the tun device's problem")
		})
	}
	assertEqual(t, sb.ok("ps", "-a", "-q").stdout, "", "containers left")
	if fi, err := os.Stat("/dev/net/tun"); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("the machine's /dev/net/tun changed: %v %v", fi.Mode(), err)
	}
}

// runInPrivateDev runs hutch as the sandbox's user inside a mount namespace of its own,
// prepared by root with setup.
func runInPrivateDev(t *testing.T, sb *sandbox, setup string, args ...string) result {
	t.Helper()
	script := "mount --make-rprivate / && " + setup + ` && exec setpriv --reuid="$U" --regid="$G" --init-groups "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--", "sh", "-c", script, "sh", hutchBin}, args...)...)
	cmd.Env = append(sb.environ(nil), "U="+strconv.Itoa(sb.user.uid), "G="+strconv.Itoa(sb.user.gid))
	cmd.Dir = sb.path("work")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatalf("unshare: %v", err)
	}
	return r
}
