package tests

// Bad input: a failing RUN (exit 1, the Dockerfile's line), a misspelled instruction or
// stage (file:line, "did you mean"), a missing COPY source (the path and the context).

import (
	"strings"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	before := bdImageIDs(sb)
	t.Run("failing-run", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "fail", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nRUN echo fine > /fine\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
		})
		r := sb.expect(1, "build", "-t", "failing", ctx)
		assertContains(t, r.stderr, "Dockerfile:3", "the error of a failing RUN names the Dockerfile's line")
		assertContains(t, bdOut(r), "about-to-fail", "the failing RUN's output")
		if findImage(sb.images(true), "localhost/failing:latest") != nil {
			t.Fatalf("a failed build tagged its image")
		}
		if n := sb.df()["Containers"].Total; n != 0 {
			t.Fatalf("a failed build left %d container(s)", n)
		}
	})
	t.Run("misspelled-instruction", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "typo", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nRUN true\nCOPPY a /a\n",
			"a":          "a\n",
		})
		r := sb.expect(anyFailure, "build", ctx)
		assertContains(t, r.stderr, "Dockerfile:3", "the error names the file and line")
		assertContains(t, r.stderr, "COPPY", "the error names the unknown instruction")
		assertContains(t, strings.ToLower(r.stderr), "did you mean copy", "the error suggests COPY")
	})
	t.Run("misspelled-stage", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "stagetypo", map[string]string{
			"Dockerfile": "FROM " + bdBase + " AS builder\nRUN echo x > /x\nFROM " + bdBase + "\nCOPY --from=buidler /x /x\n",
		})
		r := sb.expect(anyFailure, "build", "--pull=never", ctx)
		assertContains(t, r.stderr, "buidler", "the error names the unknown stage")
		assertContains(t, r.stderr, "builder", "the error suggests the stage")
	})
	t.Run("missing-source", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "missing", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nCOPY not-there.txt /x\n",
		})
		r := sb.expect(anyFailure, "build", ctx)
		assertContains(t, r.stderr, "not-there.txt", "the error names the missing source")
		assertContains(t, r.stderr, ctx, "the error names the context")
	})
	// The step before the failing RUN may stay in the cache, as an unnamed image; no
	// other image is left, and none is named.
	var added []imageJSON
	for _, i := range sb.images(true) {
		if !before[strings.TrimPrefix(i.ID, "sha256:")] {
			added = append(added, i)
		}
	}
	if len(added) > 1 || (len(added) == 1 && len(added[0].Names) > 0) {
		t.Fatalf("failed builds left images: %+v", added)
	}
	lcAssertNoProcsNoMounts(t, sb, "failed builds")
}

// COPY sources that leave the context and ADD archives that try to write outside the
// root file system are the corpus of tests/hostile (TestHostileContexts, and the "add"
// route of TestHostileLayersPullAndAdd).
