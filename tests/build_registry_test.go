package tests

// A built image is an image like any other: it runs, it pushes to a registry, and
// another user pulls it back, as the same image, and runs it.

import (
	"testing"
)

func TestBuildPushPull(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"COPY msg.txt /msg.txt\n" +
			"RUN cat /msg.txt > /out && echo built >> /out\n" +
			"USER alice\n" +
			`CMD ["cat", "/out"]` + "\n",
		"msg.txt": "pushed-and-pulled\n",
	})
	_, id := bdBuild(sb, "-t", "shipped", ctx)
	assertEqual(t, bdRun(sb, "shipped"), "pushed-and-pulled\nbuilt\n", "run of the built image")
	dest := reg.host + "/build/shipped:1"
	d := sb.pushed("shipped", dest)
	assertEqual(t, reg.digest(t, "build/shipped:1"), d, "the registry's digest of the pushed image")

	other := bdSecond(t)
	lcCleanupContainers(t, other)
	// FROM an image the user does not have yet: --pull=never refuses, the default
	// (missing) pulls it, --pull=always asks the registry again; all as the same image.
	child := bdCtx(t, other, "child", map[string]string{
		"Dockerfile": "FROM " + dest + "\nUSER root\nRUN echo child >> /out\n",
	})
	r := other.expect(125, "build", "--pull=never", "-t", "child", child)
	assertContains(t, r.stderr, dest, "--pull=never names the missing base")
	assertContains(t, r.stderr, "--pull never", "--pull=never says why it did not pull")
	if findImage(other.images(true), dest) != nil {
		t.Fatalf("--pull=never pulled %s", dest)
	}
	bdBuild(other, "--tls-verify=false", "-t", "child", child)
	base := findImage(other.images(false), dest)
	if base == nil {
		t.Fatalf("the default --pull=missing did not pull %s", dest)
	}
	assertEqual(t, base.ID, id, "the ID of the base the build pulled")
	assertEqual(t, bdRun(other, "child"), "pushed-and-pulled\nbuilt\nchild\n", "run of the child image")
	r, _ = bdBuild(other, "--pull=always", "--tls-verify=false", "-t", "child", child)
	assertContains(t, r.stdout, "Using cache", "--pull=always with the same base keeps the cache")
	other.ok("rmi", "child", dest)

	pulled := other.pulledID(dest, "--tls-verify=false")
	assertEqual(t, pulled, id, "the ID "+bdSecondUser+" pulled")
	assertEqual(t, bdRun(other, dest), "pushed-and-pulled\nbuilt\n", "run of the pulled image by "+bdSecondUser)
	in, _ := bdInspectImage(other, dest)
	assertEqual(t, in.Config.User, "alice", "the pulled image's USER")
}
