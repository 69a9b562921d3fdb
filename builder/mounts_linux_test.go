package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// TestWritableBindKeepsToItsSource: a RUN --mount=type=bind,rw is an overlay over its
// source, whose path goes into the overlay's options. A source named with ':' or ','
// (the build context's own names: `source=x:/home`) must stay one lower directory: not
// add the host's /home as a second one (':' separates lower directories), nor another
// option (',' separates options).
func TestWritableBindKeepsToItsSource(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts an overlay: run as root (as CI does)")
	}
	tmp := t.TempDir()
	secret := filepath.Join(tmp, "secret")
	if err := os.MkdirAll(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "key"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := filepath.Join(tmp, "ctx")
	for i, name := range []string{"x:" + secret, "y,lowerdir=" + secret, `z\:` + secret} {
		src := filepath.Join(ctx, name) // what SecureJoin makes of the context and source
		// The context has the directories the names start with, too (an attacker's
		// context has whatever it needs).
		for _, d := range []string{src, filepath.Join(ctx, name[:1]), filepath.Join(ctx, name[:2])} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(src, "own"), []byte("context file"), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		r := &mountsMade{dir: tmp}
		p := &mountPlan{Mount: &instructions.Mount{Type: instructions.MountTypeBind, Source: name}}
		out, err := writableFor(p, src, fi, filepath.Join(tmp, "work"+string(rune('0'+i))), r)
		if err != nil {
			t.Fatalf("source %q: %v", name, err)
		}
		_, errKey := os.Stat(filepath.Join(out, "key"))
		_, errOwn := os.Stat(filepath.Join(out, "own"))
		r.release()
		if errKey == nil {
			t.Errorf("source %q: the step sees the host's %s/key", name, secret)
		}
		if errOwn != nil {
			t.Errorf("source %q: the step does not see the source's own file: %v", name, errOwn)
		}
	}
}

// TestBindSourceIsWhatWasResolved: a RUN --mount=type=bind's source is resolved inside
// the build context once, and the step's mount is made from what was resolved, not from
// the path again: the context's owner swapping the source (or a directory on its way)
// for a symlink that leads out of the context after the check — before the step's init
// binds it — changes nothing the step sees. Up to 7da392a the source was checked with
// SecureJoin and handed to the init by path, which then walked the planted symlink.
// Symlinks that lead out of the context are resolved inside it, as before.
func TestBindSourceIsWhatWasResolved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test bind-mounts: run as root (as CI does)")
	}
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	ctx := filepath.Join(tmp, "ctx")
	for p, content := range map[string]string{
		filepath.Join(outside, "own"):         "host secret",
		filepath.Join(outside, "sub", "own"):  "host secret",
		filepath.Join(ctx, "sub", "own"):      "context file",
		filepath.Join(ctx, "dir", "sub", "f"): "context file",
		filepath.Join(ctx, "file"):            "context file",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"abs": outside, "rel": "../../../../../../.." + outside, "abssub": "/sub"} {
		if err := os.Symlink(target, filepath.Join(ctx, link)); err != nil {
			t.Fatal(err)
		}
	}
	b := &Builder{o: Options{Context: ctx}}
	st := &state{}
	bind := func(i int, source string, readOnly bool) (string, *mountsMade, error) {
		t.Helper()
		dir := filepath.Join(tmp, fmt.Sprintf("step%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		r := &mountsMade{dir: dir}
		p := &mountPlan{Mount: &instructions.Mount{Type: instructions.MountTypeBind, Source: source, ReadOnly: readOnly}, target: "/m"}
		mt, err := b.bindMount(st, p, i, r)
		if err != nil {
			r.release()
			return "", nil, err
		}
		t.Cleanup(r.release)
		return mt.Source, r, nil
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	// Resolved inside the context: an absolute link to a path the context has.
	src, _, err := bind(0, "abssub", true)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, read(filepath.Join(src, "own")), "context file", "source=abssub (-> /sub, inside the context)")
	// Links that lead out name what the context has there: nothing.
	for i, s := range []string{"abs", "rel", "abs/own", "rel/sub/own"} {
		if src, _, err := bind(1+i, s, true); err == nil {
			t.Errorf("source=%s (out of the context): bound %s: %q", s, src, read(filepath.Join(src, "own")))
		}
	}
	// Swapped after the check: the source directory itself, a directory on its way, a
	// file; read-only and writable (an overlay over the bound source, a copy of a file).
	swap := func(name, target string) {
		t.Helper()
		p := filepath.Join(ctx, name)
		if err := os.Rename(p, p+".old"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for i, rw := range []bool{false, true} {
		what := fmt.Sprintf("(rw=%v)", rw)
		subSrc, _, err := bind(10+3*i, "sub", !rw)
		if err != nil {
			t.Fatal(err)
		}
		deepSrc, _, err := bind(11+3*i, "dir/sub", !rw)
		if err != nil {
			t.Fatal(err)
		}
		fileSrc, _, err := bind(12+3*i, "file", !rw)
		if err != nil {
			t.Fatal(err)
		}
		swap("sub", filepath.Join(outside, "sub"))
		swap("dir", outside)
		swap("file", filepath.Join(outside, "own"))
		assertSame(t, read(filepath.Join(subSrc, "own")), "context file", "source=sub, swapped for a link out after the check "+what)
		assertSame(t, read(filepath.Join(deepSrc, "f")), "context file", "source=dir/sub, dir swapped for a link out after the check "+what)
		assertSame(t, read(fileSrc), "context file", "source=file, swapped for a link out after the check "+what)
		for _, p := range []string{"sub", "dir", "file"} {
			_ = os.Remove(filepath.Join(ctx, p))
			if err := os.Rename(filepath.Join(ctx, p+".old"), filepath.Join(ctx, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func assertSame(t *testing.T, got, want, what string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}
