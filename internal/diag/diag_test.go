package diag

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrintOnce(t *testing.T) {
	dir := t.TempDir()
	ws := []Warning{{ID: "a", Text: "first problem"}, {ID: "b", Text: "second problem"}}

	var out bytes.Buffer
	PrintOnce(&out, dir, ws)
	want := "hutch: warning: first problem (shown once; `hutch info` lists it)\n" +
		"hutch: warning: second problem (shown once; `hutch info` lists it)\n"
	if out.String() != want {
		t.Fatalf("first call printed %q, want %q", out.String(), want)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(dir, "warned-"+id)); err != nil {
			t.Errorf("no marker for %s: %v", id, err)
		}
	}

	out.Reset()
	PrintOnce(&out, dir, ws)
	if out.Len() != 0 {
		t.Errorf("second call printed %q", out.String())
	}

	// A new warning among old ones: only it is printed.
	out.Reset()
	PrintOnce(&out, dir, append(ws, Warning{ID: "c", Text: "third"}))
	if out.String() != "hutch: warning: third (shown once; `hutch info` lists it)\n" {
		t.Errorf("with a new warning printed %q", out.String())
	}

	// Another directory (another login session) shows them again.
	out.Reset()
	PrintOnce(&out, t.TempDir(), ws[:1])
	if !strings.Contains(out.String(), "first problem") {
		t.Errorf("a fresh directory printed %q", out.String())
	}
}

func TestPrintOnceSameIDTwiceInOneCall(t *testing.T) {
	var out bytes.Buffer
	PrintOnce(&out, t.TempDir(), []Warning{{ID: "x", Text: "one"}, {ID: "x", Text: "one again"}})
	if strings.Count(out.String(), "hutch: warning:") != 1 {
		t.Errorf("printed %q, want one warning", out.String())
	}
}

func TestPrintOnceUnusableDirPrintsNothing(t *testing.T) {
	var out bytes.Buffer
	PrintOnce(&out, filepath.Join(t.TempDir(), "missing"), []Warning{{ID: "x", Text: "t"}})
	if out.Len() != 0 {
		t.Errorf("printed %q with an unusable directory", out.String())
	}
}

func TestFirstInSession(t *testing.T) {
	dir := t.TempDir()
	if !FirstInSession(dir, "x") {
		t.Fatal("the first call said the check had run")
	}
	if FirstInSession(dir, "x") {
		t.Fatal("the second call said the check had not run")
	}
	if !FirstInSession(dir, "y") {
		t.Fatal("another check was marked too")
	}
	if !FirstInSession("", "x") || !FirstInSession(filepath.Join(dir, "missing"), "x") {
		t.Fatal("without a usable directory the check must run")
	}
}
