package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stepKeyPart is what the cache key holds of a stage's first instruction beyond its
// parent: the instruction as written, the ARGs in scope and keyExtra.
func stepKeyPart(t *testing.T, ctx, df string, args map[string]string) string {
	t.Helper()
	f := mustParse(t, df)
	b := New(rootOnlyStore{root: t.TempDir()}, Options{Context: ctx, File: f})
	st := &state{args: newVars()}
	for k, v := range args {
		st.args.set(k, &v)
	}
	c := f.Stages[0].Commands[0]
	p, err := b.planStep(st, c)
	if err != nil {
		t.Fatalf("%q: %v", df, err)
	}
	return text(c) + "\x00" + strings.Join(p.key, "\n")
}

// Everything that changes a COPY's or a RUN's result changes its key.
func TestStepKeyCoversInputs(t *testing.T) {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "a"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, a, b string }{
		{"COPY heredoc body", "FROM x\nCOPY <<EOF /f\none\nEOF\n", "FROM x\nCOPY <<EOF /f\ntwo\nEOF\n"},
		{"RUN heredoc body", "FROM x\nRUN <<EOF\necho one\nEOF\n", "FROM x\nRUN <<EOF\necho two\nEOF\n"},
		{"--chmod", "FROM x\nCOPY --chmod=644 a /a\n", "FROM x\nCOPY --chmod=755 a /a\n"},
		{"--chown", "FROM x\nCOPY --chown=1:1 a /a\n", "FROM x\nCOPY --chown=2:2 a /a\n"},
		{"RUN --network", "FROM x\nRUN --network=none true\n", "FROM x\nRUN --network=host true\n"},
	} {
		if stepKeyPart(t, ctx, c.a, nil) == stepKeyPart(t, ctx, c.b, nil) {
			t.Errorf("%s: the two steps have the same key", c.what)
		}
	}
	// An ARG's value in --chmod, and a source's content.
	df := "FROM x\nCOPY --chmod=$M a /a\n"
	if stepKeyPart(t, ctx, df, map[string]string{"M": "644"}) == stepKeyPart(t, ctx, df, map[string]string{"M": "755"}) {
		t.Errorf("COPY --chmod=$M: the key does not change with M")
	}
	df = "FROM x\nCOPY a /a\n"
	before := stepKeyPart(t, ctx, df, nil)
	if err := os.WriteFile(filepath.Join(ctx, "a"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stepKeyPart(t, ctx, df, nil) == before {
		t.Errorf("COPY a: the key does not change with a's content")
	}
}
