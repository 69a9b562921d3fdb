package tests

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// pruneExamined is the work a prune of the build cache did, as it logs it at
// --log-level debug: what it examined and what it removed.
func pruneExamined(t *testing.T, r result) (examined, removed int) {
	t.Helper()
	m := regexp.MustCompile(`build cache: examined (\d+), removed (\d+) entries`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no build cache line in the debug log:\n%s", r)
	}
	examined, _ = strconv.Atoi(m[1])
	removed, _ = strconv.Atoi(m[2])
	return examined, removed
}

// TestBuildCacheBounded: a Dockerfile of 1000 ENV/LABEL instructions leaves a step cache
// the size of its steps (not of the history each repeats), shown by system df, used by
// the next build, freed by builder prune and system prune; image prune's work does not
// grow with it.
func TestBuildCacheBounded(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	const n = 1000
	var df strings.Builder
	df.WriteString("FROM " + bdBase + "\n")
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&df, "ENV VAR_%d=value-of-variable-%d\n", i, i)
		} else {
			fmt.Fprintf(&df, "LABEL label.%d=value-of-label-%d\n", i, i)
		}
	}
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": df.String()})
	_, id := bdBuild(sb, "-q", "-t", "many", ctx)

	bc := sb.df()["Build Cache"]
	if bc.Total < n || bc.Total > n+5 {
		t.Fatalf("system df shows %d build cache records for %d steps: %+v", bc.Total, n, bc)
	}
	// One step's entry is its own change: about 500 bytes here. (A full copy of the
	// configuration per step made this 65 MB, and 6.9 GB for 10,000 steps.)
	if bc.Size > n*1024 || bc.Size == 0 || bc.Reclaimable != bc.Size {
		t.Fatalf("the build cache of %d ENV/LABEL steps is %d bytes (bound: %d): %+v", n, bc.Size, n*1024, bc)
	}
	r := sb.ok("system", "df")
	if !regexp.MustCompile(`(?m)^Build Cache\s+\d+\s+0\s+\S+\s+\S+ \(100%\)$`).MatchString(r.stdout) {
		t.Fatalf("system df has no Build Cache row:\n%s", r)
	}

	// The next build takes every step from the cache, to the same image.
	r2, id2 := bdBuild(sb, "-t", "many2", ctx)
	bdAllHits(t, r2)
	assertEqual(t, id2, id, "the image of a fully cached build")
	in, _ := bdInspectImage(sb, "many2")
	if !bdHasEnv(in.Config.Env, "VAR_998=value-of-variable-998") || in.Config.Labels["label.999"] != "value-of-label-999" || len(in.Config.Labels) != n/2 {
		t.Fatalf("the cached image's configuration: %d labels, env %d", len(in.Config.Labels), len(in.Config.Env))
	}

	// image prune looks at one index per layer the cache leads to, not at its entries.
	r = sb.ok("--log-level", "debug", "image", "prune", "-f")
	if ex, rm := pruneExamined(t, r); ex > 3 || rm != 0 {
		t.Fatalf("image prune examined %d and removed %d with %d live cache entries: its work grows with the cache", ex, rm, n)
	}
	assertEqual(t, sb.df()["Build Cache"].Total, bc.Total, "the cache after image prune (its layers are there)")

	// builder prune (without -a) keeps what leads to layers that are there; -a frees all.
	r = sb.ok("builder", "prune", "-f")
	assertEqual(t, sb.df()["Build Cache"].Total, bc.Total, "the cache after builder prune")
	r = sb.ok("--log-level", "debug", "builder", "prune", "-a", "-f")
	assertContains(t, r.stdout, "Deleted build cache objects:\n", "builder prune -a")
	assertContains(t, r.stdout, fmt.Sprintf("%d step cache entries", bc.Total), "builder prune -a")
	assertContains(t, r.stdout, "Total reclaimed space: ", "builder prune -a")
	if ex, rm := pruneExamined(t, r); rm != bc.Total || ex != bc.Total {
		t.Fatalf("builder prune -a examined %d and removed %d of %d entries", ex, rm, bc.Total)
	}
	assertEqual(t, sb.df()["Build Cache"], usageJSON{Type: "Build Cache"}, "system df after builder prune -a")
	r3, id3 := bdBuild(sb, "-t", "many3", ctx)
	if _, hit := bdStepHits(r3); hit[len(hit)-1] {
		t.Fatalf("a build after builder prune -a hit the cache:\n%s", r3)
	}
	assertEqual(t, id3 != "", true, "the rebuilt image")

	// system prune -a frees the build cache too.
	sb.ok("system", "prune", "-a", "-f")
	assertEqual(t, sb.df()["Build Cache"], usageJSON{Type: "Build Cache"}, "system df after system prune -a")
}

// TestBuilderPruneLayers: the build cache's layer half (the intermediate images of RUN
// and COPY steps) is counted by system df, kept by builder prune while an image is
// built on it, and removed by builder prune -a; --filter until= ages entries;
// system df -v lists the records.
func TestBuilderPruneLayers(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": "FROM " + bdBase + "\nRUN echo 1 > /one\nRUN echo 2 > /two\nENV X=1\n"})
	bdBuild(sb, "-t", "layered", ctx)
	bc := sb.df()["Build Cache"]
	if bc.Total < 5 || bc.Active < 1 {
		t.Fatalf("the build cache of RUN steps: %+v", bc)
	}
	r := sb.ok("system", "df", "-v")
	assertContains(t, r.stdout, "Build cache usage: ", "system df -v")
	assertContains(t, r.stdout, "CACHE ID", "system df -v")
	if c := strings.Count(r.stdout, " layer "); c < 2 {
		t.Fatalf("system df -v lists %d layer records:\n%s", c, r)
	}
	var v struct {
		BuildCache []struct {
			ID, CacheType string
			Size          int64
		}
	}
	mustJSON(t, sb.ok("system", "df", "-v", "--format", "json"), &v)
	if len(v.BuildCache) != bc.Total {
		t.Fatalf("system df -v --format json lists %d records, df counts %d", len(v.BuildCache), bc.Total)
	}

	// A time long ago keeps everything; one to come takes every entry.
	sb.ok("builder", "prune", "-f", "--filter", "until=2001-01-01T00:00:00Z")
	assertEqual(t, sb.df()["Build Cache"].Total, bc.Total, "builder prune --filter until=(long ago)")
	r = sb.expect(125, "builder", "prune", "-f", "--filter", "label=x")
	assertContains(t, r.stderr, "label", "builder prune --filter label=")

	// The image is built on the intermediate images: builder prune keeps them, -a not.
	sb.ok("builder", "prune", "-f")
	if got := sb.df()["Build Cache"]; got.Total == 0 {
		t.Fatalf("builder prune removed the cache an image is built on: %+v", got)
	}
	sb.ok("builder", "prune", "-a", "-f")
	assertEqual(t, sb.df()["Build Cache"], usageJSON{Type: "Build Cache"}, "system df after builder prune -a")
	assertEqual(t, bdRun(sb, "layered", "cat", "/one", "/two"), "1\n2\n", "the image after builder prune -a")
	in, _ := bdInspectImage(sb, "layered")
	assertEqual(t, bdHasEnv(in.Config.Env, "X=1"), true, "the image's ENV after builder prune -a")
}

// TestSystemPruneParts: system prune removes stopped containers (not running ones),
// dangling images and the build cache; --volumes the unused volumes; --filter narrows
// containers and volumes by label and age.
func TestSystemPruneParts(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	stopped := lcRunD(sb, "--name", "stopped", lcImage, "true")
	kept := lcRunD(sb, "--name", "labelled", "--label", "keep=yes", lcImage, "true")
	sb.ok("wait", "stopped", "labelled")
	running := lcRunReady(sb, "--name", "running", lcImage, "sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait")
	sb.ok("volume", "create", "unused")
	sb.ok("volume", "create", "--label", "keep=yes", "unused-labelled")
	sb.ok("run", "-d", "--name", "user", "-v", "used:/data", lcImage, "sleep", "1000")

	// label!= keeps the labelled container and volume.
	r := sb.ok("system", "prune", "-f", "--volumes", "--filter", "label!=keep")
	assertContains(t, r.stdout, "Deleted Containers:\n"+stopped+"\n", "system prune")
	assertContains(t, r.stdout, "Deleted Volumes:\nunused\n", "system prune --volumes")
	for _, id := range []string{kept, running} {
		if strings.Contains(r.stdout, id) {
			t.Fatalf("system prune removed %s:\n%s", id, r)
		}
	}
	ps := lines(sb.ok("ps", "-a", "--format", "{{.Names}}").stdout)
	assertEqual(t, strings.Join(sortedCopy(ps), ","), "labelled,running,user", "containers after system prune")
	vols := sortedCopy(lines(sb.ok("volume", "ls", "-q").stdout))
	assertEqual(t, strings.Join(vols, ","), "unused-labelled,used", "volumes after system prune --volumes")

	// until= in the past keeps everything; without --volumes no volume goes.
	r = sb.ok("system", "prune", "-f", "--filter", "until=2001-01-01T00:00:00Z")
	if strings.Contains(r.stdout, "Deleted Containers") {
		t.Fatalf("system prune --filter until=(long ago) removed containers:\n%s", r)
	}
	sb.ok("system", "prune", "-f")
	assertEqual(t, strings.Join(sortedCopy(lines(sb.ok("ps", "-a", "--format", "{{.Names}}").stdout)), ","), "running,user", "containers after system prune")
	assertEqual(t, len(lines(sb.ok("volume", "ls", "-q").stdout)), 2, "volumes after system prune without --volumes")
	sb.ok("stop", "running")
	_ = json.Valid
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
