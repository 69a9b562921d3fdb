package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBuildBindSourceInside: a RUN --mount=type=bind source is resolved inside the build
// context: an absolute symlink names the context's own path, and a link (absolute or
// `../..`) to a host directory the context does not have fails the build, naming the
// source, without the step seeing the host's files. The source is bound from the
// descriptor it was resolved to (builder/mounts_linux.go; the race with the context's
// owner swapping a component after the check is TestBindSourceIsWhatWasResolved).
func TestBuildBindSourceInside(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	host := lcOwnedDir(t, sb, "hostdir")
	sb.writeUserFile(filepath.Join(host, "secret"), "host secret\n")
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"sub/own": "context file\n",
		"Dockerfile": "FROM " + bdBase + "\n" +
			"RUN --mount=type=bind,source=abssub,target=/m cat /m/own > /own\n" +
			`CMD ["cat", "/own"]` + "\n",
	})
	for link, target := range map[string]string{"abssub": "/sub", "abs": host, "rel": "../../../../../../../.." + host} {
		if err := os.Symlink(target, filepath.Join(ctx, link)); err != nil {
			t.Fatal(err)
		}
	}
	bdBuild(sb, "-t", "bindinside", ctx)
	assertEqual(t, bdRun(sb, "bindinside"), "context file\n", "source=abssub (-> /sub: the context's own)")
	for _, src := range []string{"abs", "rel"} {
		df := filepath.Join(sb.path("work"), "Dockerfile."+src)
		sb.writeUserFile(df, "FROM "+bdBase+"\nRUN --mount=type=bind,source="+src+",target=/m cat /m/secret\n")
		r := sb.expect(anyFailure, "build", "-f", df, ctx)
		assertContains(t, r.stderr, "source="+src, "the error of a bind source leading out of the context")
		assertNotContains(t, r.stdout+r.stderr, "host secret", "the build of a bind source leading out of the context")
	}
}
