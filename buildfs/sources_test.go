package buildfs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func rels(srcs []Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Rel)
	}
	return out
}

func TestSources(t *testing.T) {
	outside := t.TempDir()
	tree(t, outside, map[string]string{"secret": "host secret", "d/x": "x"})
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{
		"a.txt":        "a",
		"b.txt":        "b",
		"c.md":         "c",
		".hidden":      "h",
		"dir/one":      "1",
		"dir/two.txt":  "2",
		"dir/sub/deep": "d",
		"dir2/x.txt":   "x",
		"empty/":       "",
		"link-rel":     "->a.txt",
		"link-abs":     "->/a.txt",
		"link-dir":     "->dir",
		"link-up":      "->../../../../a.txt",
		"link-out":     "->" + filepath.Join(outside, "secret"),
		"link-outdir":  "->" + outside,
		"dangling":     "->nothere",
		"chain1":       "->chain2",
		"chain2":       "->/dir/one",
		"weird[1].txt": "w",
	})
	tests := []struct {
		name     string
		patterns []string
		wantRels []string
		check    func(t *testing.T, srcs []Source)
	}{
		{"one file", []string{"a.txt"}, []string{"a.txt"}, nil},
		{"leading ./ and /", []string{"./a.txt", "/b.txt"}, []string{"a.txt", "b.txt"}, nil},
		{"the context", []string{"."}, []string{"."}, func(t *testing.T, s []Source) {
			if !s[0].Info.IsDir() {
				t.Fatal("context is not a dir")
			}
		}},
		{"dir with slash", []string{"dir/"}, []string{"dir"}, nil},
		{"glob", []string{"*.txt"}, []string{"a.txt", "b.txt", "weird[1].txt"}, nil},
		{"glob in a directory", []string{"dir/*.txt"}, []string{"dir/two.txt"}, nil},
		{"glob over directories", []string{"dir*/*.txt"}, []string{"dir/two.txt", "dir2/x.txt"}, nil},
		{"glob matches hidden", []string{".h*"}, []string{".hidden"}, nil},
		{"question mark", []string{"?.md"}, []string{"c.md"}, nil},
		{"escaped bracket", []string{`weird\[1\].txt`}, []string{"weird[1].txt"}, nil},
		{"literal name with brackets", []string{"weird[1].txt"}, nil, nil}, // as Docker: [1] is a class
		{"relative symlink followed", []string{"link-rel"}, []string{"link-rel"}, func(t *testing.T, s []Source) {
			if s[0].Path != filepath.Join(realDir(t, ctx), "a.txt") || !s[0].Info.Mode().IsRegular() {
				t.Fatalf("resolved to %s (%v)", s[0].Path, s[0].Info.Mode())
			}
		}},
		{"absolute symlink means the context", []string{"link-abs"}, []string{"link-abs"}, func(t *testing.T, s []Source) {
			if s[0].Path != filepath.Join(realDir(t, ctx), "a.txt") {
				t.Fatalf("resolved to %s", s[0].Path)
			}
		}},
		{"chain of symlinks", []string{"chain1"}, []string{"chain1"}, func(t *testing.T, s []Source) {
			if s[0].Path != filepath.Join(realDir(t, ctx), "dir/one") {
				t.Fatalf("resolved to %s", s[0].Path)
			}
		}},
		{"symlink climbing out clamps at the context", []string{"link-up"}, []string{"link-up"}, func(t *testing.T, s []Source) {
			if s[0].Path != filepath.Join(realDir(t, ctx), "a.txt") {
				t.Fatalf("resolved to %s", s[0].Path)
			}
		}},
		{"symlinked directory on the way", []string{"link-dir/sub/deep"}, []string{"link-dir/sub/deep"}, func(t *testing.T, s []Source) {
			if s[0].Path != filepath.Join(realDir(t, ctx), "dir/sub/deep") {
				t.Fatalf("resolved to %s", s[0].Path)
			}
		}},
		{"dotdot clamps", []string{"../../a.txt", "dir/../../b.txt"}, []string{"a.txt", "b.txt"}, nil},
		{"several", []string{"a.txt", "dir", "*.md"}, []string{"a.txt", "dir", "c.md"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs, err := Sources(ctx, tt.patterns, nil)
			if tt.wantRels == nil {
				if err == nil {
					t.Fatalf("got %v, want not found", rels(srcs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rels(srcs), tt.wantRels) {
				t.Fatalf("got %v, want %v", rels(srcs), tt.wantRels)
			}
			for _, s := range srcs {
				if !strings.HasPrefix(s.Path, realDir(t, ctx)) {
					t.Fatalf("%s resolved outside the context: %s", s.Rel, s.Path)
				}
			}
			if tt.check != nil {
				tt.check(t, srcs)
			}
		})
	}
}

func realDir(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A symlink to a host file outside the context must never reach it.
func TestSourcesCannotEscape(t *testing.T) {
	outside := t.TempDir()
	tree(t, outside, map[string]string{"secret": "host secret", "d/x": "x"})
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{
		"link-out":    "->" + filepath.Join(outside, "secret"),
		"link-outdir": "->" + outside,
		"rel-out":     "->../../../../../../" + strings.TrimPrefix(outside, "/") + "/secret",
	})
	for _, p := range []string{"link-out", "link-outdir/secret", "link-outdir/d/x", "rel-out", "../" + filepath.Base(outside) + "/secret"} {
		srcs, err := Sources(ctx, []string{p}, nil)
		if err == nil {
			for _, s := range srcs {
				if !strings.HasPrefix(s.Path, realDir(t, ctx)) || readFile(t, s.Path) == "host secret" {
					t.Fatalf("%s reached %s", p, s.Path)
				}
			}
		}
		var nf *NotFoundError
		if err != nil && !errors.As(err, &nf) {
			t.Fatalf("%s: %v is not a NotFoundError", p, err)
		}
	}
	// A symlink to a directory outside, recreated inside the context, is resolved there.
	tree(t, ctx, map[string]string{strings.TrimPrefix(outside, "/") + "/secret": "inside copy"})
	srcs := mustSources(t, ctx, nil, "link-out")
	if got := readFile(t, srcs[0].Path); got != "inside copy" {
		t.Fatalf("read %q", got)
	}
}

func TestSourcesNotFound(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"a.txt": "a", "secret.txt": "s", "dangling": "->nothere", "file": "f",
		".dockerignore": "secret.txt\nlogs\n*.tmp\n"})
	ign, err := LoadIgnore(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern  string
		excluded bool
	}{
		{"missing.txt", false},
		{"*.nothing", false},
		{"dangling", false},
		{"file/below", false},
		{"no/dir/*.txt", false},
		{"secret.txt", true},
		{"secret*", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := Sources(ctx, []string{"a.txt", tt.pattern}, ign)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("got %v, want a NotFoundError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+tt.pattern+`"`) || !strings.Contains(msg, ctx) {
				t.Fatalf("message does not name the source and the context: %s", msg)
			}
			if tt.excluded != strings.Contains(msg, "excluded by "+filepath.Join(ctx, ".dockerignore")) {
				t.Fatalf("excluded=%v but message: %s", tt.excluded, msg)
			}
			if !tt.excluded && !strings.Contains(msg, "check the path and .dockerignore") {
				t.Fatalf("no hint: %s", msg)
			}
		})
	}
	_, err = Sources(ctx, []string{"missing.txt"}, nil)
	want := `COPY source "missing.txt" not found in the build context ` + ctx + ` (check the path and .dockerignore)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var nf *NotFoundError
	errors.As(err, &nf)
	nf.Instruction = "ADD"
	if !strings.HasPrefix(err.Error(), "ADD source") {
		t.Fatal(err)
	}
}

func TestSourcesIgnore(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{
		"a.txt": "a", "b.log": "b", "real/secret": "s", "real/ok": "o", "alias": "->real",
		"docs/a": "a", "docs/keep/b": "b", "onlyignored/x.log": "x",
		".dockerignore": "*.log\nreal/secret\ndocs\n!docs/keep\n**/*.log\n",
	})
	ign, err := LoadIgnore(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := rels(mustSources(t, ctx, ign, "*"))
	want := []string{".dockerignore", "a.txt", "alias", "docs", "onlyignored", "real"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("* gave %v, want %v", got, want)
	}
	// A symlink to an ignored file is as missing as the file itself.
	if _, err := Sources(ctx, []string{"alias/secret"}, ign); err == nil {
		t.Fatal("alias/secret reached an ignored file")
	}
	// An excluded directory whose exception brings a file back is a source.
	if got := rels(mustSources(t, ctx, ign, "docs")); !reflect.DeepEqual(got, []string{"docs"}) {
		t.Fatal(got)
	}
	if got := rels(mustSources(t, ctx, ign, "docs/keep/b")); !reflect.DeepEqual(got, []string{"docs/keep/b"}) {
		t.Fatal(got)
	}
	if _, err := Sources(ctx, []string{"docs/a"}, ign); err == nil {
		t.Fatal("docs/a is excluded")
	}
}

func TestSourcesSymlinkedContext(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	tree(t, real, map[string]string{"a": "A", "abs": "->/a"})
	if err := os.Symlink(real, filepath.Join(base, "ctx")); err != nil {
		t.Fatal(err)
	}
	srcs := mustSources(t, filepath.Join(base, "ctx"), nil, "abs")
	if readFile(t, srcs[0].Path) != "A" {
		t.Fatal(srcs[0].Path)
	}
}

func TestSourcesRelativeContextNamedAbsolute(t *testing.T) {
	ctx := t.TempDir()
	t.Chdir(ctx)
	_, err := Sources(".", []string{"missing"}, nil)
	if err == nil || !strings.Contains(err.Error(), "build context "+ctx+" ") {
		t.Fatalf("got %v", err)
	}
}

func TestSourcesSymlinkLoop(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"a": "->b", "b": "->/a"})
	_, err := Sources(ctx, []string{"a"}, nil)
	if err == nil || !strings.Contains(err.Error(), "loop") || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("got %v", err)
	}
}

func TestSourcesBadGlob(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"a": "a"})
	_, err := Sources(ctx, []string{"[a"}, nil)
	if err == nil || !strings.Contains(err.Error(), `"[a"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := Sources(filepath.Join(ctx, "nope"), []string{"a"}, nil); err == nil {
		t.Fatal("a missing context was accepted")
	}
}
