package storage

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.podman.io/storage/pkg/reexec"
)

// A fuse-overlayfs stand-in: the test binary run as "fuse-overlayfs -o lowerdir=…"
// (TestMain's reexec.Init). It says "ready", then "alive" at every SIGUSR1, until killed.
func init() {
	reexec.Register("fuse-overlayfs", func() {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		os.Stdout.WriteString("ready\n")
		for range usr1 {
			os.Stdout.WriteString("alive\n")
		}
	})
}

type standIn struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func startStandIn(t *testing.T, layer string) *standIn {
	t.Helper()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{"fuse-overlayfs", "-o", "lowerdir=/store/overlay/" + layer + "/diff"}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &standIn{cmd: cmd, out: bufio.NewReader(out)}
	if line, err := s.out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("the stand-in said %q, %v", line, err)
	}
	return s
}

func TestKillMountPrograms(t *testing.T) {
	mine := startStandIn(t, "aaaa1111")
	other := startStandIn(t, "bbbb2222")
	KillMountPrograms("", "aaaa1111")
	done := make(chan error, 1)
	go func() { done <- mine.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the mount program of the layer ended with %v, want SIGKILL", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the mount program of the layer was not killed")
	}
	// The other layer's still answers (a SIGKILL sent to it would have made it exit
	// before it could handle another signal).
	if err := other.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if line, err := other.out.ReadString('\n'); line != "alive\n" {
		t.Fatalf("the mount program of another layer was killed: %q, %v", line, err)
	}
}

func TestUsesMountProgram(t *testing.T) {
	if UsesMountProgram([]string{"overlay.ignore_chown_errors=true"}) {
		t.Error("no mount_program: true")
	}
	if !UsesMountProgram([]string{"overlay.mount_program=/usr/bin/fuse-overlayfs"}) {
		t.Error("mount_program: false")
	}
}
