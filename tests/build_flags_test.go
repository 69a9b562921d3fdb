package tests

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestBuildRunFlags: build's --add-host, --ulimit and --shm-size reach every RUN step
// (also one with --network=none); --platform takes this machine's only; --progress
// quiet prints the ID alone, an unknown one is refused.
func TestBuildRunFlags(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"RUN grep db.example /etc/hosts > /hosts && grep '^Max open files' /proc/self/limits > /limits && grep ' /dev/shm ' /proc/self/mounts > /shm\n" +
			"RUN --network=none grep db.example /etc/hosts > /hosts-none\n",
	})
	_, id := bdBuild(sb, "--platform", "linux/"+runtime.GOARCH, "--add-host", "db.example:10.7.7.7", "--ulimit", "nofile=123:456", "--shm-size", "3m", "--no-cache", ctx)
	out := bdRun(sb, id, "sh", "-c", "cat /hosts /hosts-none /limits /shm")
	assertContains(t, out, "10.7.7.7\tdb.example\n10.7.7.7\tdb.example\n", "--add-host in every RUN step")
	assertContains(t, out, "Max open files            123                  456", "--ulimit")
	assertContains(t, out, "size=3072k", "--shm-size")

	r := sb.ok("build", "--progress", "quiet", ctx)
	assertEqual(t, strings.TrimSpace(r.stdout), id, "--progress quiet: the ID alone (from the cache)")
	r = sb.ok("build", "--progress", "plain", ctx)
	assertContains(t, r.stdout, "STEP 1/3: FROM", "--progress plain: the steps")

	// --logfile: the steps and RUN output go to the file; the ID is still printed.
	lf := sb.path("work", "build.log")
	r = sb.ok("build", "--no-cache", "--add-host", "db.example:10.7.7.7", "--logfile", lf, ctx)
	assertEqual(t, len(lines(r.stdout)), 1, "--logfile: stdout has the ID alone:\n"+r.stdout)
	log := string(readFile(t, lf))
	assertContains(t, log, "STEP 2/3: RUN", "--logfile: the steps")

	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	assertOneLineError(t, sb.expect(125, "build", "--platform", other, ctx), other, "linux/"+runtime.GOARCH)
	assertOneLineError(t, sb.expect(125, "build", "--progress", "fancy", ctx), "--progress")
	assertOneLineError(t, sb.expect(125, "build", "--ulimit", "nofile=1:999999999999", ctx), "can only lower")
}

// TestBuildContextStdin: `hutch build -` reads the context as a tar on standard input
// (its Dockerfile and files, COPY from it), or, when stdin is no archive, the Dockerfile
// of a build with an empty context; entries leading out are refused.
func TestBuildContextStdin(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	tarball, err := makeTar([]tarEntry{
		fileEntry("Dockerfile", []byte("FROM "+bdBase+"\nCOPY sub/file /copied\nRUN cat /copied > /ran\n"), 0o644),
		dirEntry("sub/"),
		fileEntry("sub/file", []byte("from-stdin-tar\n"), 0o600),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := sb.expectWith(runOpts{stdin: bytes.NewReader(tarball)}, 0, "build", "-q", "-")
	id := strings.TrimSpace(r.stdout)
	assertEqual(t, bdRun(sb, id, "cat", "/ran"), "from-stdin-tar\n", "a tar context on stdin")

	r = sb.expectWith(runOpts{stdin: strings.NewReader("FROM " + bdBase + "\nRUN echo plain > /p\n")}, 0, "build", "-q", "-")
	assertEqual(t, bdRun(sb, strings.TrimSpace(r.stdout), "cat", "/p"), "plain\n", "a Dockerfile on stdin, empty context")

	evil, err := makeTar([]tarEntry{fileEntry("Dockerfile", []byte("FROM "+bdBase+"\n"), 0o644), fileEntry("../escape", []byte("x"), 0o644)})
	if err != nil {
		t.Fatal(err)
	}
	r = sb.expectWith(runOpts{stdin: bytes.NewReader(evil)}, 125, "build", "-")
	assertContains(t, r.stderr, "..", "an entry leading out is refused, named")
	assertOneLineError(t, sb.expectWith(runOpts{stdin: strings.NewReader("")}, 125, "build", "-f", "-", "-"), "both read standard input")
}

// TestBuildSSH: --ssh default binds the agent socket $SSH_AUTH_SOCK names into a RUN
// step with --mount=type=ssh (the same socket: its inode), SSH_AUTH_SOCK naming it
// there; ID=SOCKET names one by id; a missing or non-socket one is refused saying why.
func TestBuildSSH(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	sock := sb.path("work", "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.Chown(sock, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil {
		t.Fatal(err)
	}
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK $(stat -c %i $SSH_AUTH_SOCK)\" > /agent\n" +
			"RUN --mount=type=ssh,id=work,target=/w.sock,required stat -c %i /w.sock > /work\n" +
			"RUN --mount=type=ssh,id=absent echo skipped > /absent\n",
	})
	_, id := bdBuildWith(sb, runOpts{env: map[string]string{"SSH_AUTH_SOCK": sock}}, "--ssh", "default", "--ssh", "work="+sock, ctx)
	ino := strconv.FormatUint(st.Ino, 10)
	assertEqual(t, bdRun(sb, id, "cat", "/agent", "/work", "/absent"), "/run/buildkit/ssh_agent.0 "+ino+"\n"+ino+"\nskipped\n", "the agent's socket in the steps")

	r := sb.expectWith(runOpts{env: map[string]string{"SSH_AUTH_SOCK": ""}}, 125, "build", "--ssh", "default", ctx)
	assertOneLineError(t, r, "SSH_AUTH_SOCK is not set")
	assertOneLineError(t, sb.expect(125, "build", "--ssh", "work="+sb.path("work", "ctx", "Dockerfile"), ctx), "is not a socket", "ssh-add")
	assertOneLineError(t, sb.expect(125, "build", "--ssh", "default="+sock, bdCtx(t, sb, "ctx2", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\nRUN --mount=type=ssh,id=gh,required true\n"})), "no such SSH agent", "--ssh gh")
}
