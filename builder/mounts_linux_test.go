package builder

import (
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
