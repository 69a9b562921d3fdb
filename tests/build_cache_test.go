package tests

// The build cache and the layers: a rebuild hits the cache and runs nothing; changing
// one source file (its content or its mode, not its time) invalidates from that COPY
// on; a build arg in scope is part of the key; one layer per RUN/COPY/ADD, history
// marks the metadata steps as empty layers. And the flags: --target (an unknown one
// lists the stages), --iidfile, -q, --label, --no-cache, several -t, `image build`.

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestBuildCache(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"COPY a.txt /a.txt\n" +
			"RUN " + bdMarker("ONE") + " && cat /a.txt > /one\n" +
			"ENV STAGE=two\n" +
			"COPY b.txt /b.txt\n" +
			"RUN " + bdMarker("TWO") + " && cat /b.txt > /two\n" +
			"ARG V=v0\n" +
			"RUN " + bdMarker("THREE") + " && echo $V > /three\n" +
			`CMD ["cat", "/one", "/two", "/three"]` + "\n",
		"a.txt": "a1\n",
		"b.txt": "b1\n",
	})
	const steps = 9
	base, _ := bdInspectImage(sb, bdBase)
	r1, id1 := bdBuild(sb, "-t", "cached", ctx)
	bdSteps(t, r1, steps)
	for _, w := range []string{"ONE", "TWO", "THREE"} {
		assertContains(t, bdOut(r1), bdRan(w), "the first build runs every RUN")
	}
	assertEqual(t, bdRun(sb, "cached"), "a1\nb1\nv0\n", "the first image")

	// Layers: one per COPY and RUN (5), none for ENV, ARG, CMD; history has one entry
	// per instruction after FROM, the metadata ones marked empty.
	in, _ := bdInspectImage(sb, "cached")
	assertEqual(t, len(in.RootFS.Layers), len(base.RootFS.Layers)+5, "layers of the image")
	// (Errorf: the cache checks below are worth running when the history is wrong.)
	hist := in.History[len(base.History):]
	wantEmpty := []bool{false, false, true, false, false, true, false, true}
	if len(hist) != steps-1 {
		t.Errorf("history has %d entries after the base's, want %d (one per instruction after FROM, ARG included, as Docker and Podman): %+v", len(hist), steps-1, hist)
	} else {
		for i, h := range hist {
			if h.EmptyLayer != wantEmpty[i] {
				t.Errorf("history entry %d (%q): empty_layer %v, want %v", i, h.CreatedBy, h.EmptyLayer, wantEmpty[i])
			}
		}
	}
	nonEmpty := 0
	for _, h := range hist {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	assertEqual(t, nonEmpty, len(in.RootFS.Layers)-len(base.RootFS.Layers), "history entries with a layer vs the image's new layers")

	// A full cache hit: nothing runs, the same image.
	r2, id2 := bdBuild(sb, "-t", "cached", ctx)
	bdAllHits(t, r2)
	for _, w := range []string{"ONE", "TWO", "THREE"} {
		assertNotContains(t, bdOut(r2), bdRan(w), "a full cache hit runs no RUN")
	}
	assertEqual(t, id2, id1, "the image of a full cache hit")

	// A new time on a source file is no change.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(ctx+"/a.txt", later, later); err != nil {
		t.Fatal(err)
	}
	r3, id3 := bdBuild(sb, "-t", "cached", ctx)
	assertNotContains(t, bdOut(r3), bdRan("ONE"), "a rebuild after touching a.txt")
	assertEqual(t, id3, id1, "the image after touching a.txt")

	// New content in b.txt: steps 2–4 hit, COPY b.txt and everything after it run.
	bdWrite(t, sb, ctx+"/b.txt", "b2\n", 0o644)
	r4, id4 := bdBuild(sb, "-t", "cached", ctx)
	assertEqual(t, strings.Count(bdOut(r4), "--> Using cache "), 3, "cache hits before the changed COPY")
	assertNotContains(t, bdOut(r4), bdRan("ONE"), "the RUN before the changed COPY")
	assertContains(t, bdOut(r4), bdRan("TWO"), "the RUN after the changed COPY")
	assertContains(t, bdOut(r4), bdRan("THREE"), "the last RUN")
	if id4 == id1 {
		t.Fatalf("the image did not change with b.txt")
	}
	assertEqual(t, bdRun(sb, "cached"), "a1\nb2\nv0\n", "the image after changing b.txt")

	// A new mode on b.txt invalidates from its COPY on too.
	if err := os.Chmod(ctx+"/b.txt", 0o755); err != nil {
		t.Fatal(err)
	}
	r5, _ := bdBuild(sb, "-t", "cached", ctx)
	assertContains(t, bdOut(r5), bdRan("TWO"), "the RUN after a COPY whose source changed mode")
	assertNotContains(t, bdOut(r5), bdRan("ONE"), "the RUN before it")

	// A build arg in scope is part of the key of the steps that see it.
	r6, _ := bdBuild(sb, "-t", "cached", "--build-arg", "V=v1", ctx)
	assertNotContains(t, bdOut(r6), bdRan("TWO"), "the RUN before ARG V")
	assertContains(t, bdOut(r6), bdRan("THREE"), "the RUN after ARG V, with another --build-arg V")
	assertEqual(t, bdRun(sb, "cached"), "a1\nb2\nv1\n", "the image built with V=v1")

	// --no-cache runs everything again.
	r7, _ := bdBuild(sb, "-t", "cached", "--no-cache", "--build-arg", "V=v1", ctx)
	assertNotContains(t, bdOut(r7), "Using cache", "a --no-cache build")
	for _, w := range []string{"ONE", "TWO", "THREE"} {
		assertContains(t, bdOut(r7), bdRan(w), "a --no-cache build runs every RUN")
	}
	lcAssertNoProcsNoMounts(t, sb, "seven builds")
	if n := sb.df()["Containers"].Total; n != 0 {
		t.Fatalf("after the builds, system df counts %d container(s), want 0", n)
	}
}

func TestBuildFlags(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + " AS base\n" +
			"RUN echo base > /stage\n" +
			"FROM base AS middle\n" +
			"RUN " + bdMarker("MIDDLE") + " && echo middle > /stage\n" +
			"FROM middle AS final\n" +
			"RUN " + bdMarker("FINAL") + " && echo final > /stage\n" +
			`CMD ["cat", "/stage"]` + "\n",
	})
	iid := sb.path("work", "iid")
	r, id := bdBuild(sb, "--layers=true", "--pull=never", "--target", "middle", "--iidfile", iid, "--label", "built.by=test", "--label", "other=x y",
		"-t", "flags-a", "-t", "localhost/flags-b:2", ctx)
	assertContains(t, bdOut(r), bdRan("MIDDLE"), "the target stage's RUN")
	assertNotContains(t, bdOut(r), bdRan("FINAL"), "a stage after --target")
	assertEqual(t, bdRun(sb, "flags-a", "cat", "/stage"), "middle\n", "the --target image")
	b, err := os.ReadFile(iid)
	if err != nil {
		t.Fatalf("--iidfile: %v\n%s", err, r)
	}
	assertEqual(t, strings.TrimPrefix(strings.TrimSpace(string(b)), "sha256:"), id, "the --iidfile's content")
	in, _ := bdInspectImage(sb, "localhost/flags-b:2")
	assertEqual(t, in.ID, "sha256:"+id, "the second -t names the same image")
	assertEqual(t, in.Config.Labels["built.by"], "test", "--label built.by")
	assertEqual(t, in.Config.Labels["other"], "x y", "--label other")

	// An unknown --target fails and lists the stages.
	r = sb.expect(anyFailure, "build", "--target", "midle", ctx)
	for _, s := range []string{"midle", "base", "middle", "final"} {
		assertContains(t, r.stderr, s, "the error of an unknown --target")
	}

	// -q: the ID alone on stdout, even with RUN output; `hutch image build` is the same.
	r = sb.ok("image", "build", "-q", "-t", "quiet", ctx)
	ls := lines(r.stdout)
	if len(ls) != 1 || !bdHex64.MatchString(ls[0]) {
		t.Fatalf("build -q should print the image ID and nothing else on stdout:\n%s", r)
	}
	assertNotContains(t, r.stdout, "STEP", "build -q")
	assertEqual(t, bdRun(sb, "quiet"), "final\n", "the image of `image build -q`")
}
