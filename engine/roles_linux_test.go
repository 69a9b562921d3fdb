package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRolesTable: every role has a distinct hutch- name, a main function and a line
// saying what it is.
func TestRolesTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Roles {
		if !strings.HasPrefix(r.Name, "hutch-") || seen[r.Name] {
			t.Errorf("role %q: a role's name starts with hutch- and appears once", r.Name)
		}
		seen[r.Name] = true
		if r.Main == nil || r.What == "" {
			t.Errorf("role %q has no main function or no description", r.Name)
		}
	}
	if len(Roles) < 6 {
		t.Errorf("the table lists %d roles; hutch has at least six", len(Roles))
	}
}

// TestRolesRegisteredOnlyHere: roles_linux.go is the one place a role is registered; a
// reexec.Register anywhere else in hutch's code (tests aside) would be a role the table
// does not show.
func TestRolesRegisteredOnlyHere(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if strings.Contains(string(b), "reexec.Register(") && filepath.Base(p) != "roles_linux.go" {
			t.Errorf("%s registers a re-exec role: add it to Roles in engine/roles_linux.go instead", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("walked only %d Go files under %s: not hutch's tree?", n, root)
	}
}
