package fsutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A scratch directory is its maker's while the maker runs, and left over once it ended,
// also while the ended maker is a zombie nobody reaped yet (a killed command's
// namespaced child, reparented to a slow init).
func TestOwnedTempAndDeadOwners(t *testing.T) {
	dir := t.TempDir()
	mine, err := MkdirTempOwned(dir, ".hutch-save-")
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := OwnerPID(filepath.Base(mine), ".hutch-save-"); !ok || pid != os.Getpid() {
		t.Fatalf("OwnerPID(%s) = %d, %v; want this process, %d", mine, pid, ok, os.Getpid())
	}
	if !ProcessAlive(os.Getpid()) || OwnerGone(filepath.Base(mine), ".hutch-save-") {
		t.Fatal("this process counts as gone")
	}

	// A child that has exited and is not reaped (until cmd.Wait): a zombie.
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d never became a zombie", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ProcessAlive(pid) {
		t.Fatalf("zombie %d counts as alive", pid)
	}
	left := filepath.Join(dir, ".hutch-save-"+strconv.Itoa(pid)+"-123")
	if err := os.Mkdir(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "archive.tar"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "not-ours")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	removed := RemoveDeadOwned(dir, ".hutch-save-")
	if len(removed) != 1 || removed[0] != left {
		t.Fatalf("RemoveDeadOwned removed %v, want only %s", removed, left)
	}
	for _, p := range []string{mine, other} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RemoveDeadOwned removed %s: %v", p, err)
		}
	}
}
