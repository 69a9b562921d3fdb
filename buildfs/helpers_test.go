package buildfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes files under dir from a spec: "name" -> content; a name ending in "/" is a
// directory; content "->target" makes a symlink.
func tree(t *testing.T, dir string, spec map[string]string) {
	t.Helper()
	for name, content := range spec {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustSources(t *testing.T, ctx string, ign *Ignore, pats ...string) []Source {
	t.Helper()
	srcs, err := Sources(ctx, pats, ign)
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}
