package tests

// COPY and ADD: directories' contents, globs, --chown, --chmod, --from a stage, an
// index or an image, heredocs; ADD of local archives (gz, bz2, xz, zst) unpacked, of a
// URL from a local HTTP server with a good and a bad --checksum; .dockerignore with `!`
// and `**`; Containerfile with Containerfile.dockerignore; -f - and -f outside the
// context.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

func TestBuildCopy(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	bdImport(t, sb, bdBase2)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + " AS stage\n" +
			"RUN echo staged > /staged\n" +
			"FROM " + bdBase + "\n" +
			"COPY file.txt /dst/file.txt\n" +
			"COPY dir /dstdir/\n" +
			"COPY dir/ /dstdir2\n" +
			"COPY *.conf /confs/\n" +
			"COPY --chown=1000:1000 owned.txt /owned-ids.txt\n" +
			"COPY --chown=alice owned.txt /owned-name.txt\n" +
			"COPY --chmod=0755 script.sh /script.sh\n" +
			"COPY --from=stage /staged /from-stage\n" +
			"COPY --from=0 /staged /from-index\n" +
			"COPY --from=" + bdBase2 + " /etc/hello /from-image\n" +
			"COPY <<EOF /heredoc.txt\nheredoc-content\nEOF\n" +
			`CMD ["sh"]` + "\n",
		"file.txt":      "file-content\n",
		"dir/a.txt":     "a\n",
		"dir/sub/b.txt": "b\n",
		"one.conf":      "one\n",
		"two.conf":      "two\n",
		"three.txt":     "not a conf\n",
		"owned.txt":     "owned\n",
		"script.sh":     "#!/bin/sh\necho script-ran\n",
	})
	bdBuild(sb, "-t", "copies", ctx)
	script := strings.Join([]string{
		"cat /dst/file.txt",
		"stat -c '%u:%g %a' /dst/file.txt",
		"cd /dstdir && find . | sort | tr '\\n' ' '; echo",
		"cd /dstdir2 && find . | sort | tr '\\n' ' '; echo",
		"cd /confs && ls | tr '\\n' ' '; echo",
		"stat -c '%u:%g' /owned-ids.txt /owned-name.txt",
		"stat -c '%a' /script.sh; /script.sh",
		"cat /from-stage /from-index /from-image /heredoc.txt",
	}, "; ")
	want := "file-content\n" +
		"0:0 644\n" +
		". ./a.txt ./sub ./sub/b.txt \n" +
		". ./a.txt ./sub ./sub/b.txt \n" +
		"one.conf two.conf \n" +
		"1000:1000\n1000:1000\n" +
		"755\nscript-ran\n" +
		"staged\nstaged\n" + helloContent + "heredoc-content\n"
	assertEqual(t, bdRun(sb, "copies", "sh", "-c", script), want, "what COPY put in the image")
}

// bdArchive writes a tar with one file, NAME/inside.txt, compressed by the program
// (gzip in Go; bzip2, xz, zstd by their commands), as a file of the context.
func bdArchive(t *testing.T, sb *sandbox, path, name, compressor string) {
	t.Helper()
	raw, err := makeTar([]tarEntry{dirEntry(name + "/"), fileEntry(name+"/inside.txt", []byte("inside-"+name+"\n"), 0o644)})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	switch compressor {
	case "gzip":
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(raw); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		out = b.Bytes()
	default:
		cmd := exec.Command(compressor, "-c")
		cmd.Stdin = bytes.NewReader(raw)
		if out, err = cmd.Output(); err != nil {
			t.Fatalf("%s -c: %v (hack/install-deps.sh installs it)", compressor, err)
		}
	}
	sb.writeUserFile(path, string(out))
}

// bdHTTP serves files on 127.0.0.1 for ADD URL, until the test ends.
func bdHTTP(t *testing.T, files map[string]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

func TestBuildAdd(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	const served = "served-over-http\n"
	base := bdHTTP(t, map[string]string{"/file.txt": served})
	sum := sha256.Sum256([]byte(served))
	good := "sha256:" + hex.EncodeToString(sum[:])
	bad := "sha256:" + strings.Repeat("0", 64)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"ADD a.tar.gz b.tar.bz2 c.tar.xz d.tar.zst /x/\n" +
			"ADD plain.txt /plain.txt\n" +
			"ADD " + base + "/file.txt /url.txt\n" +
			"ADD --checksum=" + good + " " + base + "/file.txt /checked.txt\n" +
			`CMD ["sh"]` + "\n",
		"plain.txt": "plain\n",
	})
	bdArchive(t, sb, ctx+"/a.tar.gz", "gz", "gzip")
	bdArchive(t, sb, ctx+"/b.tar.bz2", "bz2", "bzip2")
	bdArchive(t, sb, ctx+"/c.tar.xz", "xz", "xz")
	bdArchive(t, sb, ctx+"/d.tar.zst", "zst", "zstd")
	bdBuild(sb, "-t", "adds", ctx)
	got := bdRun(sb, "adds", "sh", "-c", "cat /x/gz/inside.txt /x/bz2/inside.txt /x/xz/inside.txt /x/zst/inside.txt /plain.txt /url.txt /checked.txt; ls /x | tr '\\n' ' '")
	want := "inside-gz\ninside-bz2\ninside-xz\ninside-zst\nplain\n" + served + served + "bz2 gz xz zst "
	assertEqual(t, got, want, "archives unpacked, the plain file and the URLs added")

	// A wrong checksum fails the build, naming the URL or the checksum.
	badCtx := bdCtx(t, sb, "bad", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\nADD --checksum=" + bad + " " + base + "/file.txt /checked.txt\n",
	})
	r := sb.expect(anyFailure, "build", "-t", "badsum", badCtx)
	if !strings.Contains(r.stderr, "checksum") && !strings.Contains(r.stderr, bad) {
		t.Fatalf("a failed --checksum should say so:\n%s", r)
	}
	if findImage(sb.images(true), "localhost/badsum:latest") != nil {
		t.Fatalf("a build whose ADD --checksum failed left an image tagged badsum")
	}

	// With --network none nothing is downloaded: the URL is refused, with the way out.
	noNetCtx := bdCtx(t, sb, "nonet", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\nADD " + base + "/file.txt /url.txt\n",
	})
	r = sb.expect(125, "build", "--network", "none", "-t", "nonet", noNetCtx)
	assertContains(t, r.stderr, "--network none, so nothing is downloaded", "ADD URL with --network none")
	assertContains(t, r.stderr, "--network slirp4netns", "the way out")
	if findImage(sb.images(true), "localhost/nonet:latest") != nil {
		t.Fatalf("a build whose ADD URL was refused left an image")
	}
}

func TestBuildDockerignore(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	list := `CMD ["sh", "-c", "cd /ctx && find . -type f | sort | tr '\\n' ' '"]` + "\n"
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\nCOPY . /ctx/\n" +
			// A bind mount of the context shows what COPY sees, nothing more.
			"RUN --mount=type=bind,target=/mnt/ctx cd /mnt/ctx && find . -type f | sort | tr '\\n' ' ' > /bound\n" +
			"RUN --mount=type=bind,source=keep.txt,target=/mnt/k.txt cat /mnt/k.txt > /k-bound\n" + list,
		".dockerignore":       "**/*.log\n!sub/keep.log\n*.tmp\nsecret/\n",
		"keep.txt":            "k\n",
		"top.log":             "l\n",
		"sub/keep.log":        "k\n",
		"sub/drop.log":        "d\n",
		"sub/deep/x.tmp":      "*.tmp matches at the top only\n",
		"sub/deep/y.txt":      "y\n",
		"a.tmp":               "t\n",
		"secret/password.txt": "p\n",
	})
	bdBuild(sb, "-t", "ignored", ctx)
	got := bdRun(sb, "ignored")
	for _, f := range []string{"./keep.txt", "./sub/keep.log", "./sub/deep/x.tmp", "./sub/deep/y.txt"} {
		assertContains(t, got, f+" ", "files copied from the context")
	}
	for _, f := range []string{"./top.log", "./sub/drop.log", "./a.tmp", "./secret/password.txt"} {
		assertNotContains(t, got, f+" ", "files .dockerignore excludes")
	}
	assertEqual(t, bdRun(sb, "ignored", "cat", "/bound"), got, "the files a RUN --mount=type=bind of the context sees")
	assertEqual(t, bdRun(sb, "ignored", "cat", "/k-bound"), "k\n", "a file bound from the context")

	// Containerfile, and its own ignore file, which wins over .dockerignore.
	cf := bdCtx(t, sb, "cf", map[string]string{
		"Containerfile":              "FROM " + bdBase + "\nCOPY . /ctx/\n" + list,
		"Containerfile.dockerignore": "skip.txt\n",
		".dockerignore":              "keep.txt\n",
		"keep.txt":                   "k\n",
		"skip.txt":                   "s\n",
	})
	bdBuild(sb, "-t", "cfile", cf)
	got = bdRun(sb, "cfile")
	assertContains(t, got, "./keep.txt ", "Containerfile.dockerignore wins over .dockerignore")
	assertNotContains(t, got, "./skip.txt ", "Containerfile.dockerignore excludes skip.txt")

	// -f -: the Dockerfile on stdin; -f FILE outside the context.
	stdinCtx := bdCtx(t, sb, "stdin", map[string]string{"in.txt": "from-stdin-build\n"})
	df := "FROM " + bdBase + "\nCOPY in.txt /in.txt\nCMD [\"cat\", \"/in.txt\"]\n"
	bdBuildWith(sb, runOpts{stdin: strings.NewReader(df)}, "-t", "stdin", "-f", "-", stdinCtx)
	assertEqual(t, bdRun(sb, "stdin"), "from-stdin-build\n", "a build with -f -")
	outside := sb.path("work", "elsewhere.Dockerfile")
	sb.writeUserFile(outside, df)
	bdBuild(sb, "-t", "elsewhere", "-f", outside, stdinCtx)
	assertEqual(t, bdRun(sb, "elsewhere"), "from-stdin-build\n", "a build with -f outside the context")
}
