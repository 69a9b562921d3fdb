package tests

// Reproducible builds: the same Dockerfile and context, built with --timestamp 0 (or
// SOURCE_DATE_EPOCH) by two users from two copies of the context whose files have other
// times, give the same image ID.

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBuildReproducible(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"Dockerfile": "FROM " + fix.docker.name + "\n" +
			"COPY dir /dir/\n" +
			"COPY top.txt /top.txt\n" +
			"RUN echo made-by-run > /run.txt && cat /dir/a.txt /dir/sub/b.txt > /dir/joined\n" +
			"ENV K=v\n" +
			`CMD ["cat", "/run.txt"]` + "\n",
		"dir/a.txt":     "a\n",
		"dir/sub/b.txt": "b\n",
		"top.txt":       "top\n",
	}
	// build makes a sandbox of the user, loads the base (byte-for-byte the same
	// archive), writes the context with every time set to mtime, and builds it.
	build := func(sb *sandbox, mtime time.Time, env map[string]string, args ...string) string {
		lcCleanupContainers(sb.t, sb)
		sb.ok("load", "-i", fix.docker.path)
		ctx := bdCtx(sb.t, sb, "ctx", files)
		if err := filepath.Walk(ctx, func(p string, _ os.FileInfo, _ error) error {
			return os.Chtimes(p, mtime, mtime)
		}); err != nil {
			sb.t.Fatal(err)
		}
		_, id := bdBuildWith(sb, runOpts{env: env}, append(append([]string{}, args...), ctx)...)
		return id
	}
	sb1 := newSandbox(t, userWithRange)
	sb2 := bdSecond(t)
	// Both times after SOURCE_DATE_EPOCH below: normalised whether the builder sets
	// every time to the epoch or clamps later ones to it, as BuildKit does.
	t1 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	t2 := time.Now().Add(-time.Minute)

	id1 := build(sb1, t1, nil, "--timestamp", "0", "-t", "repro")
	time.Sleep(1100 * time.Millisecond) // another second on the clock for the second build
	id2 := build(sb2, t2, nil, "--timestamp", "0", "-t", "repro")
	assertEqual(t, id2, id1, "image ID of the --timestamp 0 build by "+bdSecondUser+" vs "+userWithRange)
	in, _ := bdInspectImage(sb1, "repro")
	if in.Created != "1970-01-01T00:00:00Z" {
		t.Fatalf("the image of --timestamp 0 was created %s, want 1970-01-01T00:00:00Z", in.Created)
	}
	assertEqual(t, bdRun(sb2, "repro"), "made-by-run\n", "the reproducible image runs")

	// SOURCE_DATE_EPOCH does the same, without the flag, with --no-cache.
	sde := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	sb3 := newSandbox(t, userWithRange)
	sb4 := bdSecond(t)
	id3 := build(sb3, t2, sde, "--no-cache", "-t", "repro-sde")
	time.Sleep(1100 * time.Millisecond)
	id4 := build(sb4, t1, sde, "--no-cache", "-t", "repro-sde")
	assertEqual(t, id4, id3, "image ID of the SOURCE_DATE_EPOCH build by "+bdSecondUser+" vs "+userWithRange)
	if id3 == id1 {
		t.Fatalf("SOURCE_DATE_EPOCH=1700000000 and --timestamp 0 gave the same image: the time is not in it")
	}
}
