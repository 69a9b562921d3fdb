package builder

import (
	"strings"
	"testing"

	"hutch.dev/hutch/cgroups"
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
