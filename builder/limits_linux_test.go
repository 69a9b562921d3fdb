package builder

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/internal/fsutil"
)

func TestOOMFailureNamesTheLimit(t *testing.T) {
	r := &cgroups.Resources{}
	for _, kv := range [][2]string{{"memory", "32m"}, {"memory-swap", "64m"}} {
		if err := r.Parse(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	b := &Builder{o: Options{Resources: r}}
	if got, want := b.oomFailure(), "RUN step was killed: out of memory (--memory 32m, --memory-swap 64m)"; got != want {
		t.Errorf("oomFailure() = %q, want %q", got, want)
	}
	b = &Builder{}
	if got, want := b.oomFailure(), "RUN step was killed: out of memory"; got != want {
		t.Errorf("without limits: oomFailure() = %q, want %q", got, want)
	}
}

func TestCheckLimitsValidatesFirst(t *testing.T) {
	if err := CheckLimits(cgroups.Options{}, nil); err != nil {
		t.Errorf("no limits: %v", err)
	}
	r := &cgroups.Resources{}
	if err := r.Parse("memory", "4m"); err != nil {
		t.Fatal(err)
	}
	// Docker's value rule, even in warn mode (where availability is only warned about).
	err := CheckLimits(cgroups.Options{OnUnavailable: "warn"}, r)
	if err == nil || !strings.Contains(err.Error(), "minimum memory limit allowed is 6MB") {
		t.Errorf("--memory 4m: %v", err)
	}
}

// TestSweepStepCgroups: the sweep at a build's first RUN step removes the empty step
// cgroups of builds that are gone, and leaves those of a build that runs — also while
// one is still empty (made, its init not yet cloned into it: up to 7da392a a parallel
// build's sweep removed it there, and the step failed) — and populated ones. A fake
// delegated directory; the owners are real processes: this one (running), a child that
// has exited (gone), and this pid with another start time (the pid reused).
func TestSweepStepCgroups(t *testing.T) {
	own, err := stepCgroupName()
	if err != nil {
		t.Fatal(err)
	}
	start, ok := fsutil.ProcessStart(os.Getpid())
	if !ok {
		t.Fatal("no start time for this process")
	}
	if want := fmt.Sprintf("%s%d-%d-", stepCgroupPrefix, os.Getpid(), start); !strings.HasPrefix(own, want) || len(own) != len(want)+16 {
		t.Fatalf("stepCgroupName() = %q, want %s and 16 hex digits", own, want)
	}
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	dead := child.Process.Pid
	base := t.TempDir()
	cg := func(name string, populated bool) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if populated {
			if err := os.WriteFile(filepath.Join(d, "cgroup.events"), []byte("populated 1\nfrozen 0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	self := fmt.Sprintf("%s%d-%d-", stepCgroupPrefix, os.Getpid(), start)
	keep := []string{
		cg(own, false),                     // this build's, still empty
		cg(self+"00112233aabbccdd", false), // another step of this build, empty
		cg(self+"0123456789abcdef", true),  // running
		cg(fmt.Sprintf("%s%d-1-%s", stepCgroupPrefix, dead, "feedfacefeedface"), true), // populated: never removed
		cg(cgroups.Prefix+"abcdef", false),                                             // a container's
		cg(stepCgroupPrefix+"not-a-name", false),                                       // not a name hutch makes
		cg(stepCgroupPrefix+"0-1-00", false),
	}
	gone := []string{
		cg(fmt.Sprintf("%s%d-%d-%s", stepCgroupPrefix, dead, start, "0011223344556677"), false),          // owner exited
		cg(fmt.Sprintf("%s%d-%d-%s", stepCgroupPrefix, os.Getpid(), start+1, "8899aabbccddeeff"), false), // pid reused
		cg(stepCgroupPrefix+"0123456789abcdef0123456789abcdef", false),                                   // the former names
	}
	sweepStepCgroups(base)
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(base, n)); err != nil {
			t.Errorf("%s was swept: %v", n, err)
		}
	}
	for _, n := range gone {
		if _, err := os.Stat(filepath.Join(base, n)); err == nil {
			t.Errorf("%s (its build gone, empty) was not swept", n)
		}
	}
}
