package buildfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func digestOf(t *testing.T, ctx string, ign *Ignore, pats ...string) string {
	t.Helper()
	d, err := Digest(mustSources(t, ctx, ign, pats...), ign)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "sha256:") || len(d) != 71 {
		t.Fatalf("bad digest %q", d)
	}
	return d
}

func TestDigestChanges(t *testing.T) {
	base := map[string]string{"a.txt": "A", "d/x": "x", "d/y": "y", "d/l": "->x", "d/sub/z": "z"}
	mk := func(t *testing.T) string {
		ctx := t.TempDir()
		tree(t, ctx, base)
		return ctx
	}
	ref := digestOf(t, mk(t), nil, "a.txt", "d")
	tests := []struct {
		name    string
		mutate  func(t *testing.T, ctx string)
		changed bool
	}{
		{"nothing", func(t *testing.T, ctx string) {}, false},
		{"mtime and atime", func(t *testing.T, ctx string) {
			old := time.Unix(1000, 0)
			if err := os.Chtimes(filepath.Join(ctx, "d/x"), old, old); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(ctx, "d"), old, old); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"host owner", func(t *testing.T, ctx string) {
			if err := os.Lchown(filepath.Join(ctx, "d/x"), 4321, 4321); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(filepath.Join(ctx, "d/l"), 4321, 4321); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"content", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "d/sub/z"), []byte("Z"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"content same size top file", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "a.txt"), []byte("B"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"mode", func(t *testing.T, ctx string) {
			if err := os.Chmod(filepath.Join(ctx, "d/x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"setuid", func(t *testing.T, ctx string) {
			if err := unix.Chmod(filepath.Join(ctx, "d/x"), 0o4644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"dir mode", func(t *testing.T, ctx string) {
			if err := os.Chmod(filepath.Join(ctx, "d/sub"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"symlink target", func(t *testing.T, ctx string) {
			os.Remove(filepath.Join(ctx, "d/l"))
			if err := os.Symlink("y", filepath.Join(ctx, "d/l")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"symlink to file with same content", func(t *testing.T, ctx string) {
			os.Remove(filepath.Join(ctx, "d/l"))
			if err := os.WriteFile(filepath.Join(ctx, "d/l"), []byte("x"), 0o777); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"new empty file", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "d/new"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"new empty dir", func(t *testing.T, ctx string) {
			if err := os.Mkdir(filepath.Join(ctx, "d/newdir"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"rename", func(t *testing.T, ctx string) {
			if err := os.Rename(filepath.Join(ctx, "d/y"), filepath.Join(ctx, "d/w")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"move between dirs", func(t *testing.T, ctx string) {
			if err := os.Rename(filepath.Join(ctx, "d/sub/z"), filepath.Join(ctx, "d/z")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"content moved between files", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "d/x"), []byte("xy"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ctx, "d/y"), []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"file outside the sources", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "other"), []byte("o"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mk(t)
			tt.mutate(t, ctx)
			got := digestOf(t, ctx, nil, "a.txt", "d")
			if (got != ref) != tt.changed {
				t.Fatalf("changed=%v, want %v", got != ref, tt.changed)
			}
		})
	}
}

func TestDigestNamesAndIgnore(t *testing.T) {
	ctx := t.TempDir()
	tree(t, ctx, map[string]string{"a": "same", "b": "same", "d/keep": "k", "d/skip.log": "s1"})
	if digestOf(t, ctx, nil, "a") == digestOf(t, ctx, nil, "b") {
		t.Fatal("the source name is not part of the digest")
	}
	if digestOf(t, ctx, nil, "a", "b") == digestOf(t, ctx, nil, "b", "a") {
		t.Fatal("the source order is not part of the digest")
	}
	ign, _ := NewIgnore("test", []string{"**/*.log"})
	before := digestOf(t, ctx, ign, "d")
	if err := os.WriteFile(filepath.Join(ctx, "d/skip.log"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "d/more.log"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if digestOf(t, ctx, ign, "d") != before {
		t.Fatal("an ignored file changed the digest")
	}
	if digestOf(t, ctx, nil, "d") == before {
		t.Fatal("without the ignore file the logs do not count")
	}
}

// Two contexts made at different times, with different owners, digest alike.
func TestDigestStableAcrossCopies(t *testing.T) {
	spec := map[string]string{}
	for i := 0; i < 50; i++ {
		spec[fmt.Sprintf("d/%02d/f%d", i%7, i)] = strings.Repeat("x", i*100)
	}
	c1, c2 := t.TempDir(), t.TempDir()
	tree(t, c1, spec)
	time.Sleep(10 * time.Millisecond)
	tree(t, c2, spec)
	if err := filepath.Walk(c2, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, 99, 99) }); err != nil {
		t.Fatal(err)
	}
	if digestOf(t, c1, nil, "d") != digestOf(t, c2, nil, "d") {
		t.Fatal("same content, different digests")
	}
}

func BenchmarkDigest3000(b *testing.B) {
	ctx := b.TempDir()
	for i := 0; i < 3000; i++ {
		p := filepath.Join(ctx, fmt.Sprintf("src/%02d/%03d/file%d.go", i%20, i%150, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("package main\n", 300)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srcs, err := Sources(ctx, []string{"."}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Digest(srcs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopyInto3000(b *testing.B) {
	ctx := b.TempDir()
	for i := 0; i < 3000; i++ {
		p := filepath.Join(ctx, fmt.Sprintf("src/%02d/%03d/file%d.go", i%20, i%150, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("package main\n", 300)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srcs, err := Sources(ctx, []string{"."}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := CopyInto(b.TempDir(), "/app", srcs, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
