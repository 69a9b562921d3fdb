package security

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.bpf"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCacheHit: the first use compiles and writes one file; the second reads it back
// (the same program) without compiling.
func TestCacheHit(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "seccomp")}
	p1, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	files := cacheFiles(t, c.Dir)
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	fi, _ := os.Stat(files[0])
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", fi.Mode())
	}
	// Mark the file: a hit must return exactly what it holds.
	b, _ := os.ReadFile(files[0])
	p2, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.Bytes(), p2.Bytes()) || p1.Flags != p2.Flags {
		t.Fatal("the cached program differs from the compiled one")
	}
	after, _ := os.ReadFile(files[0])
	fi2, _ := os.Stat(files[0])
	if !bytes.Equal(b, after) || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("a cache hit rewrote the file")
	}
	// Another set of capabilities is another program, another file.
	if _, err := c.Program(Seccomp{Mode: SeccompBuiltin}, append(defaultCaps, "CAP_SYS_ADMIN")); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheFiles(t, c.Dir)); n != 2 {
		t.Errorf("%d cache files after a second capability set, want 2", n)
	}
}

// TestCacheDigestChange: a profile file whose content changes is compiled again.
func TestCacheDigestChange(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{Dir: filepath.Join(dir, "seccomp")}
	file := filepath.Join(dir, "p.json")
	write := func(errno int) *Seccomp {
		t.Helper()
		body := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO","errnoRet":` + string(rune('0'+errno)) + `}]}`
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := ReadProfile(file)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := write(1)
	p1, err := c.Program(*s1, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2 := write(5)
	if s1.Digest == s2.Digest {
		t.Fatal("the digest did not change with the content")
	}
	p2, err := c.Program(*s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p1.Bytes(), p2.Bytes()) {
		t.Fatal("a changed profile gave the same program")
	}
	if n := len(cacheFiles(t, c.Dir)); n != 2 {
		t.Errorf("%d cache files, want 2", n)
	}
}

// TestCacheDamaged: a truncated, corrupted or foreign cache file is compiled again
// and replaced.
func TestCacheDamaged(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "seccomp")}
	good, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	file := cacheFiles(t, c.Dir)[0]
	orig, _ := os.ReadFile(file)
	for name, damage := range map[string]func([]byte) []byte{
		"truncated":   func(b []byte) []byte { return b[:len(b)-5] },
		"flipped bit": func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-3] ^= 0x40; return b },
		"header only": func(b []byte) []byte { return b[:headerSize] },
		"empty":       func(b []byte) []byte { return nil },
		"foreign":     func(b []byte) []byte { return []byte("not a program at all, but long enough to have a header.....") },
	} {
		if err := os.WriteFile(file, damage(orig), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		_ = os.Chtimes(file, old, old)
		p, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(p.Bytes(), good.Bytes()) {
			t.Errorf("%s: the program differs from a fresh compile", name)
		}
		now, _ := os.ReadFile(file)
		if !bytes.Equal(now, orig) {
			t.Errorf("%s: the damaged file was not replaced", name)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := &Cache{Dir: b.TempDir()}
	if _, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	for b.Loop() {
		r, err := resolve(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(r); err != nil {
			b.Fatal(err)
		}
	}
}
