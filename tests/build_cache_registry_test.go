package tests

// --cache-to / --cache-from: the step cache in a registry, as Buildah keeps it. One
// user's build pushes the image of each layer step tagged with its cache key; another
// user's build of the same Dockerfile takes those steps from the registry instead of
// running them, and gets the same image.

import (
	"strings"
	"testing"
)

func TestBuildCacheRegistry(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	repo := reg.host + "/cache/app"
	// FROM scratch: the keys do not depend on a base image each store imported itself.
	files := map[string]string{
		"Dockerfile": "FROM scratch\n" +
			"COPY busybox /bin/busybox\n" +
			`RUN ["/bin/busybox", "sh", "-c", "echo \"RAN-A-$((40+2))\"; echo one > /one"]` + "\n" +
			"ENV K=v\n" +
			`RUN ["/bin/busybox", "sh", "-c", "echo \"RAN-B-$((40+2))\"; /bin/busybox cat /one > /two"]` + "\n" +
			`CMD ["/bin/busybox", "cat", "/two"]` + "\n",
	}
	context := func(sb *sandbox) string {
		ctx := bdCtx(t, sb, "ctx", files)
		bdWrite(t, sb, ctx+"/busybox", string(readFile(t, "/bin/busybox")), 0o755)
		return ctx
	}

	sb := newSandbox(t, userWithRange)
	lcCleanupContainers(t, sb)
	ctx := context(sb)
	r, id := bdBuild(sb, "--cache-to", repo, "--tls-verify=false", "--timestamp", "0", "-t", "one", ctx)
	assertContains(t, r.stdout, bdRan("A"), "the first build runs its steps")
	assertEqual(t, strings.Count(r.stdout, "--> Pushing cache "+repo+":"), 3, "COPY and the two RUNs pushed:\n"+r.stdout)
	tags := reg.tags(t, "cache/app")
	if len(tags) != 3 {
		t.Fatalf("the registry has tags %v, want the three steps' keys", tags)
	}
	for _, tag := range tags {
		if !bdHex64.MatchString(tag) {
			t.Fatalf("tag %q is not a cache key", tag)
		}
	}

	// Another user, an empty store: every layer step from the registry, nothing run.
	other := bdSecond(t)
	lcCleanupContainers(t, other)
	octx := context(other)
	r, oid := bdBuild(other, "--cache-from", repo, "--tls-verify=false", "--timestamp", "0", "-t", "two", octx)
	assertNotContains(t, r.stdout, bdRan("A"), "no step ran: they came from the registry")
	assertNotContains(t, r.stdout, bdRan("B"), "no step ran: they came from the registry")
	assertEqual(t, strings.Count(r.stdout, " from "+repo+":"), 3, "three steps from the registry:\n"+r.stdout)
	assertEqual(t, oid, id, "the image built from the registry's cache is the same image")
	assertEqual(t, bdRun(other, "two"), "one\n", "the image runs")
	assertNotContains(t, other.ok("images", "-a").stdout, "cache/app", "the cache's images are kept unnamed")
	// Taken into the local cache too: without --cache-from, every step hits.
	r, again := bdBuild(other, "--timestamp", "0", octx)
	bdAllHits(t, r)
	assertEqual(t, again, id, "the same image from the local cache")

	// A registry that cannot be reached: a warning, once, and the steps run; a
	// repository without the keys: the steps run.
	third := newSandbox(t, userWithRange)
	lcCleanupContainers(t, third)
	tctx := context(third)
	r, _ = bdBuild(third, "--cache-from", "127.0.0.1:1/nothing", "--tls-verify=false", tctx)
	assertContains(t, r.stdout, bdRan("B"), "the steps run")
	assertEqual(t, strings.Count(r.stderr, "warning: --cache-from 127.0.0.1:1/nothing"), 1, "one warning for a registry that cannot be reached:\n"+r.stderr)
	// Another first step: every key changes, and none is in the registry.
	bdWrite(t, third, tctx+"/Dockerfile", strings.Replace(files["Dockerfile"], "FROM scratch\n", "FROM scratch\nENV Z=1\n", 1), 0o644)
	r, _ = bdBuild(third, "--cache-from", repo, "--tls-verify=false", tctx)
	assertContains(t, r.stdout, bdRan("B"), "a miss in the registry runs the step")
	assertNotContains(t, r.stderr, "warning", "a tag the registry lacks is a miss, not trouble")

	// A push that fails fails the build, naming the repository and the step.
	r = third.expect(125, "build", "--no-cache", "--cache-to", "127.0.0.1:1/nothing", "--tls-verify=false", tctx)
	assertContains(t, r.stderr, "--cache-to 127.0.0.1:1/nothing: pushing the image of step \"COPY busybox /bin/busybox\"", "a failed push")

	for _, bad := range [][]string{
		{"--cache-from", "type=registry,ref=" + repo},
		{"--cache-to", repo + ":latest"},
		{"--cache-to", "localhost/app"},
		{"--cache-to", repo, "--cache-to", repo + "2"},
		{"--cache-to", repo, "--layers=false"},
	} {
		assertOneLineError(t, third.expect(125, append(append([]string{"build"}, bad...), tctx)...), bad[0])
	}
}
