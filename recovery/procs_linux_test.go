package recovery

import (
	"os/exec"
	"syscall"
	"testing"

	"hutch.dev/hutch/internal/fsutil"
)

// TestStrayKillChecksStart: a stray mount program is ended only while its pid is still
// the process the check found (its start time): between the check and the repair (the
// store's repair may take minutes) the pid may have gone to another process of the
// user's, which must not be killed.
func TestStrayKillChecksStart(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	start, ok := fsutil.ProcessStart(cmd.Process.Pid)
	if !ok {
		t.Fatalf("no start time for %d", cmd.Process.Pid)
	}
	// Another process now has the pid the check found.
	if err := (stray{pid: cmd.Process.Pid, start: start + 1}).kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("a process that took over the stray's pid was signalled: %v", err)
	}
	// The process found.
	if err := (stray{pid: cmd.Process.Pid, start: start}).kill(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the stray was not killed: %v", err)
	}
}
