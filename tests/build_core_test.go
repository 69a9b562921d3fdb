package tests

// `hutch build` on every storage driver: a Dockerfile FROM a local image with COPY, RUN,
// ENV and CMD builds a tagged image that runs; the rebuild is a full cache hit that runs
// nothing; -q prints only the ID; nothing of the build's containers is left. And FROM
// scratch with a static busybox copied in, exec-form RUN.

import (
	"os"
	"strings"
	"testing"
)

func TestBuildSmoke(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcCleanupContainers(t, sb)
		bdImport(t, sb)
		ctx := bdCtx(t, sb, "ctx", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\n" +
				"COPY greeting.txt /greeting.txt\n" +
				"RUN " + bdMarker("A") + " && cat /greeting.txt > /copied && echo built-by-run > /run.txt\n" +
				"ENV GREET=hello\n" +
				`CMD ["sh", "-c", "cat /copied /run.txt; echo $GREET"]` + "\n",
			"greeting.txt": "greeting-from-context\n",
		})
		base, _ := bdInspectImage(sb, bdBase)

		r, id := bdBuild(sb, "-t", "smoke", ctx)
		bdSteps(t, r, 5)
		assertContains(t, bdOut(r), "STEP 1/5: FROM "+bdBase, "the first step")
		assertContains(t, bdOut(r), "STEP 3/5: RUN ", "the RUN step")
		assertContains(t, bdOut(r), bdRan("A"), "the RUN step's output, streamed")
		assertContains(t, bdOut(r), "Successfully tagged localhost/smoke:latest", "the tag line")
		assertNotContains(t, bdOut(r), "Using cache", "a first build")

		assertEqual(t, bdRun(sb, "smoke"), "greeting-from-context\nbuilt-by-run\nhello\n", "run of the built image")
		in, _ := bdInspectImage(sb, "smoke")
		assertEqual(t, in.ID, "sha256:"+id, "inspect's ID is the ID the build printed")
		// COPY and RUN make a layer each; ENV and CMD none.
		assertEqual(t, len(in.RootFS.Layers), len(base.RootFS.Layers)+2, "layers: the base's + COPY + RUN")
		if findImage(sb.images(false), "localhost/smoke:latest") == nil {
			t.Fatalf("images does not list localhost/smoke:latest")
		}

		// The same build again: every step after FROM is a cache hit, nothing runs, and
		// the image is the same.
		r2, id2 := bdBuild(sb, "-t", "smoke", ctx)
		bdSteps(t, r2, 5)
		if n := strings.Count(bdOut(r2), "--> Using cache "); n != 4 {
			t.Fatalf("a full cache hit should print `--> Using cache <id>` for each of the 4 steps after FROM, printed it %d times:\n%s", n, r2)
		}
		assertNotContains(t, bdOut(r2), bdRan("A"), "a rebuild that hits the cache (the RUN must not run)")
		assertEqual(t, id2, id, "the image ID of the cached rebuild")

		// -q: only the ID.
		r3 := sb.ok("build", "-q", "-t", "smoke", ctx)
		assertEqual(t, r3.stdout, id+"\n", "build -q prints only the image ID")

		// Nothing of the build's containers is left: no process, no mount, no container.
		lcAssertNoProcsNoMounts(t, sb, "three builds")
		if n := sb.df()["Containers"].Total; n != 0 {
			t.Fatalf("after the builds, system df counts %d container(s), want 0", n)
		}
		if ids := strings.TrimSpace(sb.ok("ps", "-a", "-q").stdout); ids != "" {
			t.Fatalf("after the builds, ps -a lists containers: %s", ids)
		}
	})
}

// TestBuildFromScratch copies a static busybox into an empty image and runs it with
// exec-form RUN (there is no /bin/sh for the shell form until the RUN made it).
func TestBuildFromScratch(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	lcCleanupContainers(t, sb)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM scratch\n" +
			"COPY busybox /bin/busybox\n" +
			`RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && echo from-scratch > /made"]` + "\n" +
			"RUN cat /made > /made-by-shell-form\n" +
			`CMD ["cat", "/made-by-shell-form"]` + "\n",
	})
	bdWrite(t, sb, ctx+"/busybox", string(bb), 0o755)
	r, id := bdBuild(sb, "-t", "scratchy", ctx)
	bdSteps(t, r, 5)
	in, _ := bdInspectImage(sb, "scratchy")
	assertEqual(t, in.ID, "sha256:"+id, "inspect's ID")
	assertEqual(t, len(in.RootFS.Layers), 3, "layers of a FROM scratch image with COPY and two RUNs")
	assertEqual(t, bdRun(sb, "scratchy"), "from-scratch\n", "run of the FROM scratch image")
}
