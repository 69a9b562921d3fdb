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
	pulled := other.pulledID(dest, "--tls-verify=false")
	assertEqual(t, pulled, id, "the ID "+bdSecondUser+" pulled")
	assertEqual(t, bdRun(other, dest), "pushed-and-pulled\nbuilt\n", "run of the pulled image by "+bdSecondUser)
	in, _ := bdInspectImage(other, dest)
	assertEqual(t, in.Config.User, "alice", "the pulled image's USER")
}
