package buildfs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadIgnoreHostile: an ignore file in the context that is a device, a FIFO, a
// symlink to one, or a symlink out of the context is refused with its name, at once;
// a symlink that stays in the context is read.
func TestLoadIgnoreHostile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "patterns")
	if err := os.WriteFile(outside, []byte("secret-pattern\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		plant func(p string) error
		want  string
	}{
		{"symlink to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "leads out of"},
		{"symlink out", func(p string) error { return os.Symlink(outside, p) }, "leads out of"},
		{"relative symlink out", func(p string) error { return os.Symlink("../../../../../../../.."+outside, p) }, "leads out of"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "a named pipe (FIFO)"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "a directory"},
		{"too big", func(p string) error { return os.WriteFile(p, []byte(strings.Repeat("#\n", 3<<20)), 0o644) }, "larger than 4 MiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.TempDir()
			p := filepath.Join(ctx, ".dockerignore")
			if err := c.plant(p); err != nil {
				t.Fatal(err)
			}
			_, err := LoadIgnore(ctx, filepath.Join(ctx, "Dockerfile"))
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q naming %s", err, c.want, p)
			}
		})
	}
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"ignore/patterns": "*.log\n"})
	if err := os.Symlink("ignore/patterns", filepath.Join(ctx, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
	ign, err := LoadIgnore(ctx, "")
	if err != nil || len(ign.Patterns) != 1 || ign.Patterns[0] != "*.log" {
		t.Fatalf("a symlink inside the context: %+v, %v", ign, err)
	}
}

func TestLoadIgnoreOrder(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		dockerfile string // relative to the context; "" and "-" are literal
		wantFile   string // relative to the context, "" for none
	}{
		{"none", nil, "Dockerfile", ""},
		{"dockerignore", map[string]string{".dockerignore": "a"}, "Dockerfile", ".dockerignore"},
		{"containerignore", map[string]string{".containerignore": "a"}, "Dockerfile", ".containerignore"},
		{"dockerignore wins over containerignore", map[string]string{".dockerignore": "a", ".containerignore": "b"}, "Dockerfile", ".dockerignore"},
		{"per-dockerfile wins", map[string]string{".dockerignore": "a", "Containerfile.dockerignore": "b"}, "Containerfile", "Containerfile.dockerignore"},
		{"per-dockerfile in a subdirectory", map[string]string{".dockerignore": "a", "build/app.Dockerfile.dockerignore": "b"}, "build/app.Dockerfile", "build/app.Dockerfile.dockerignore"},
		{"stdin dockerfile", map[string]string{".dockerignore": "a", "-.dockerignore": "b"}, "-", ".dockerignore"},
		{"no dockerfile", map[string]string{".dockerignore": "a", ".dockerignore.dockerignore": "b"}, "", ".dockerignore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.TempDir()
			tree(t, ctx, tt.files)
			df := tt.dockerfile
			if df != "" && df != "-" {
				df = filepath.Join(ctx, df)
			}
			ign, err := LoadIgnore(ctx, df)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tt.wantFile != "" {
				want = filepath.Join(ctx, tt.wantFile)
			}
			if ign.File != want {
				t.Fatalf("read %q, want %q", ign.File, want)
			}
		})
	}
}

func TestIgnoreExcluded(t *testing.T) {
	tests := []struct {
		name    string
		content string
		yes     []string
		no      []string
	}{
		{"plain and comments", "# comment\nsecret.txt\n\n  # not a comment?\n", []string{"secret.txt", "secret.txt/inner"}, []string{"secret.txtx", "a/secret.txt", "."}},
		{"directory excludes its contents", "node_modules\n", []string{"node_modules", "node_modules/x/y.js"}, []string{"src/node_modules"}},
		{"double star", "**/*.log\n", []string{"a.log", "x/y/z.log"}, []string{"a.txt", "log"}},
		{"exception", "*.md\n!README.md\n", []string{"CHANGES.md"}, []string{"README.md", "doc/x.md"}},
		{"exception then re-exclude", "docs\n!docs/keep\ndocs/keep/private\n", []string{"docs/a", "docs/keep/private"}, []string{"docs/keep", "docs/keep/b"}},
		{"leading slash and dot-slash stripped", "/build\n./dist\n", []string{"build/a", "dist"}, []string{"x/build"}},
		{"trailing slash", "cache/\n", []string{"cache", "cache/a"}, []string{"cachex"}},
		{"question mark and class", "file?.[ch]\n", []string{"file1.c", "filea.h"}, []string{"file10.c", "file1.o"}},
		{"everything but", "*\n!src\n", []string{"a", "Dockerfile"}, []string{"src", "src/x"}},
		{"rel is cleaned", "a/b\n", []string{"./a/b", "/a/b", "a//b/c"}, []string{"a"}},
		{"utf8 bom", "\ufeffsecret\n", []string{"secret"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.TempDir()
			tree(t, ctx, map[string]string{".dockerignore": tt.content})
			ign, err := LoadIgnore(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.yes {
				if ex, err := ign.Excluded(p); err != nil || !ex {
					t.Errorf("%q: excluded=%v err=%v, want excluded", p, ex, err)
				}
			}
			for _, p := range tt.no {
				if ex, err := ign.Excluded(p); err != nil || ex {
					t.Errorf("%q: excluded=%v err=%v, want kept", p, ex, err)
				}
			}
		})
	}
}

func TestIgnoreNilAndEmpty(t *testing.T) {
	var nilIgn *Ignore
	if ex, err := nilIgn.Excluded("a"); ex || err != nil {
		t.Fatal(ex, err)
	}
	ign, err := LoadIgnore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if ex, err := ign.Excluded("anything/at/all"); ex || err != nil {
		t.Fatal(ex, err)
	}
}

func TestIgnoreBadPattern(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{".dockerignore": "!\n"})
	if _, err := LoadIgnore(ctx, ""); err == nil {
		t.Fatal("a lone ! was accepted")
	}
	ctx2 := t.TempDir()
	tree(t, ctx2, map[string]string{".dockerignore": "a[\n"})
	ign, err := LoadIgnore(ctx2, "")
	if err == nil {
		_, err = ign.Excluded("a")
	}
	if err == nil {
		t.Fatal("an unterminated class was accepted")
	}
}

func TestLoadIgnoreUnreadable(t *testing.T) {
	ctx := t.TempDir()
	if err := os.Mkdir(filepath.Join(ctx, ".dockerignore"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIgnore(ctx, ""); err == nil {
		t.Fatal("a .dockerignore directory was read as an ignore file")
	}
}
