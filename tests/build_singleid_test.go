package tests

// A user without a subordinate id range (one id mapped) builds too: RUN steps run as
// root of the build's user namespace, and owners that cannot be mapped (COPY --chown,
// the owners in an ADD archive) stay root's instead of failing the build; --output
// writes files of the user's.

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestBuildSingleID(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userNoRange)
	lcCleanupContainers(t, sb)
	bdImport(t, sb)
	owned := fileEntry("owned.txt", []byte("from-archive\n"), 0o640)
	owned.uid, owned.gid = 1000, 1000
	raw, err := makeTar([]tarEntry{owned})
	if err != nil {
		t.Fatal(err)
	}
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"COPY --chown=1000:1000 a.txt /a.txt\n" +
			"ADD owned.tar /x/\n" +
			"RUN id -u > /uid && cat /a.txt /x/owned.txt > /both\n" +
			`CMD ["sh", "-c", "cat /uid /both; stat -c '%u:%g %a' /a.txt /x/owned.txt"]` + "\n",
		"a.txt": "copied\n",
	})
	sb.writeUserFile(ctx+"/owned.tar", string(raw))
	bdBuild(sb, "-t", "single", ctx)
	assertEqual(t, bdRun(sb, "single"), "0\ncopied\nfrom-archive\n0:0 644\n0:0 640\n", "a build by a user with one id: RUN as root, unmappable owners left root's")

	// --output: the files, written on the host, are the user's.
	out := sb.path("work", "out")
	sb.ok("build", "-o", out, ctx)
	assertEqual(t, string(readFile(t, filepath.Join(out, "both"))), "copied\nfrom-archive\n", "--output of a user with one id")
	for _, name := range []string{"both", "x/owned.txt", "bin/busybox"} {
		fi, err := os.Lstat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != sb.user.uid {
			t.Errorf("--output: %s is owned by %d, not the user %d", name, st.Uid, sb.user.uid)
		}
	}
}
