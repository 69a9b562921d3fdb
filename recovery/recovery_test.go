package recovery

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	cstorage "go.podman.io/storage"
)

// Explain points errors that meet damage to `system check --repair`, names a full
// disk, and leaves the rest (and what is explained already) alone.
func TestExplain(t *testing.T) {
	err := Explain(fmt.Errorf("removing container x: %w", cstorage.ErrNotAContainer), "/proc")
	if !errors.Is(err, cstorage.ErrNotAContainer) || !strings.Contains(err.Error(), "hutch system check --repair") {
		t.Errorf("damage: %v", err)
	}
	if again := Explain(err, "/proc"); again.Error() != err.Error() {
		t.Errorf("explained twice: %v", again)
	}
	if err := Explain(errors.New("write f: no space left on device"), "/proc"); !strings.Contains(err.Error(), "the disk is full") {
		t.Errorf("full disk: %v", err)
	}
	plain := errors.New("no such container: x")
	if Explain(plain, "/proc") != plain || Explain(nil, "/") != nil { //nolint:errorlint // the very same value: what is neither is returned untouched
		t.Error("Explain changed what is neither damage nor a full disk")
	}
	if err := Explain(syscall.ENOSPC, "/proc"); !strings.Contains(err.Error(), "/proc") {
		t.Errorf("a full disk without a path is not named after the store: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	errs := []error{
		fmt.Errorf("layer 1: %w", cstorage.ErrLayerUnreferenced),
		fmt.Errorf("layer 1: %w", cstorage.ErrLayerUnreferenced),
		fmt.Errorf("layer 2: %w", cstorage.ErrLayerMissing),
		errors.New("something else"),
	}
	got := describe(errs)
	if got != "no image or container uses it; a layer it is built on is missing; something else" {
		t.Errorf("describe = %q", got)
	}
	if !allUnreferenced(errs[:2]) || allUnreferenced(errs) || allUnreferenced(nil) {
		t.Error("allUnreferenced")
	}
}

// A report is clean when nothing was found, or, with a repair, when everything found
// was repaired and the check after it found nothing.
func TestReportClean(t *testing.T) {
	if !(&Report{}).Clean() || (&Report{Problems: []*Problem{{}}}).Clean() {
		t.Error("without repair")
	}
	r := &Report{Repair: true, Problems: []*Problem{{Repaired: true}}}
	if !r.Clean() {
		t.Error("all repaired")
	}
	r.Remaining = 1
	if r.Clean() {
		t.Error("something remains after the repair")
	}
	r = &Report{Repair: true, Problems: []*Problem{{Repaired: true}, {Error: "x"}}}
	if r.Clean() {
		t.Error("a problem not repaired")
	}
	if !sameNames([]string{"b", "a"}, []string{"a", "b"}) || sameNames([]string{"a"}, nil) || !sameNames(nil, nil) {
		t.Error("sameNames")
	}
}
