package tests

// `hutch build --output` (-o): the final stage's files written to a directory on the
// host or as a tar archive (to a file or standard output), with no image made unless
// -t names one, the steps still cached; on the host, files are the user's, symlinks
// are written as symlinks and nothing outside the directory is touched.

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// bdOutputDockerfile: a build stage that makes files (a setuid one, one owned by 1000,
// a symlink to the host's /etc/passwd), a scratch stage that takes them, and a stage
// after it that --target leaves out.
const bdOutputDockerfile = "FROM " + bdBase + " AS build\n" +
	"RUN mkdir -p /out/sub && echo app > /out/app && chmod 4755 /out/app && echo f > /out/sub/f && " +
	"chown 1000:1000 /out/sub/f && chmod 640 /out/sub/f && ln -s /etc/passwd /out/pw && ln -s ../app /out/sub/rel\n" +
	"FROM scratch AS bin\n" +
	"COPY --from=build /out/ /\n" +
	"FROM build AS never\n" +
	"RUN " + `echo "NEVER-$((40+2))" > /never` + "\n"

// TestBuildOutputLocal: -o type=local,dest=DIR (and -o DIR) of a multi-stage build with
// --target writes the scratch stage's files into DIR — made when missing, merged with
// what is there, a symlink of DIR's in the way replaced and never written through, one
// where the image has a directory refused — owned by the user; no image is made or
// tagged, yet the steps are cached; with -t the image is made as well. Bad values are
// refused with 125, naming the accepted forms.
func TestBuildOutputLocal(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": bdOutputDockerfile})
	outside := sb.path("work", "outside")
	sb.writeUserFile(filepath.Join(outside, "victim"), "victim\n")
	before := sb.ok("images", "-q").stdout

	// DIR exists, with a file of its own and a symlink where the image has the file app.
	dir := sb.path("work", "out")
	sb.writeUserFile(filepath.Join(dir, "keep"), "keep\n")
	bdSymlink(t, sb, filepath.Join(outside, "victim"), filepath.Join(dir, "app"))
	r := sb.ok("build", "--target", "bin", "-o", "type=local,dest="+dir, ctx)
	assertContains(t, r.stdout, "STEP 4/4: COPY --from=build /out/ /", "four steps: the stage after the target is not built")
	assertNotContains(t, bdOut(r), "NEVER-42", "the stage after --target did not run")
	for _, l := range lines(r.stdout) {
		if bdHex64.MatchString(strings.TrimSpace(l)) {
			t.Fatalf("--output without -t printed an image ID:\n%s", r)
		}
	}
	assertEqual(t, sb.ok("images", "-q").stdout, before, "--output without -t: no image made or named")
	bdCheckExported(t, sb, dir)
	assertEqual(t, string(readFile(t, filepath.Join(dir, "keep"))), "keep\n", "what DIR held is kept")
	assertEqual(t, string(readFile(t, filepath.Join(outside, "victim"))), "victim\n", "the symlink in DIR was replaced, not written through")

	// -o DIR: the same files into a directory made with its parents; every step cached.
	dir2 := sb.path("work", "a", "b", "bin")
	r = sb.ok("build", "--target", "bin", "-o", dir2, ctx)
	assertEqual(t, strings.Count(r.stdout, "--> Using cache "), 2, "the RUN and COPY steps from the cache:\n"+r.stdout)
	bdCheckExported(t, sb, dir2)

	// A symlink of DIR's where the image has a directory: refused, nothing written there.
	dir3 := sb.path("work", "out3")
	sb.writeUserFile(filepath.Join(dir3, "x"), "")
	bdSymlink(t, sb, outside, filepath.Join(dir3, "sub"))
	r = sb.expect(125, "build", "--target", "bin", "-o", dir3, ctx)
	assertContains(t, r.stderr, "symlink", "a symlink in the way of a directory is named")
	ents, err := os.ReadDir(outside)
	if err != nil || len(ents) != 1 {
		t.Fatalf("the directory a symlink in DIR names was written to: %v %v\n%s", ents, err, r)
	}

	// -t as well: the image is made and named, its ID the last line.
	dir4 := sb.path("work", "out4")
	r, id := bdBuild(sb, "--target", "bin", "-o", dir4, "-t", "withname", ctx)
	bdCheckExported(t, sb, dir4)
	assertContains(t, sb.ok("images", "--no-trunc", "-q", "withname").stdout, id, "-t with --output: the image is made and named")

	for _, bad := range []string{"type=oci,dest=x", "type=local", "type=local,dest=-", "type=tar", "type=tar,dest=x,compression=gzip", "a,b"} {
		assertOneLineError(t, sb.expect(125, "build", "-o", bad, ctx), "--output", "type=local,dest=DIR", "type=tar,dest=FILE")
	}
	assertOneLineError(t, sb.expect(125, "build", "-o", dir, "-o", dir2, ctx), "--output given 2 times")
	assertOneLineError(t, sb.expect(125, "build", "-o", dir, "--iidfile", sb.path("work", "iid"), ctx), "--iidfile", "-t")
}

// bdCheckExported checks the files of the bin stage in dir: contents, modes (setuid
// dropped), symlinks as written in the image, everything owned by the user.
func bdCheckExported(t *testing.T, sb *sandbox, dir string) {
	t.Helper()
	assertEqual(t, string(readFile(t, filepath.Join(dir, "app"))), "app\n", "app")
	assertEqual(t, string(readFile(t, filepath.Join(dir, "sub", "f"))), "f\n", "sub/f")
	for name, want := range map[string]string{"pw": "/etc/passwd", "sub/rel": "../app"} {
		got, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || got != want {
			t.Fatalf("%s: a symlink to %s expected, got %q, %v", name, want, got, err)
		}
	}
	for name, mode := range map[string]os.FileMode{"app": 0o755, "sub/f": 0o640, "sub": os.ModeDir | 0o755, "pw": os.ModeSymlink | 0o777} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v (setuid is dropped on the host)", name, fi.Mode(), mode)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != sb.user.uid || int(st.Gid) != sb.user.gid {
			t.Errorf("%s: owned by %d:%d, not the user %d:%d", name, st.Uid, st.Gid, sb.user.uid, sb.user.gid)
		}
	}
}

// TestBuildOutputTar: -o type=tar,dest=FILE writes the stage's files as a tar with the
// image's owners and modes (setuid kept, 1000:1000 kept, symlinks as symlinks), as a
// file of the user's; -o - writes it to standard output (tar t lists it) and the
// steps to stderr, and is refused when standard output is a terminal.
func TestBuildOutputTar(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": bdOutputDockerfile})
	file := sb.path("work", "build.tar")
	sb.ok("build", "--target", "build", "-o", "type=tar,dest="+file, ctx)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != sb.user.uid {
		t.Errorf("the tar is owned by %d, not the user %d", st.Uid, sb.user.uid)
	}
	hdrs := bdTarHeaders(t, readFile(t, file))
	for name, want := range map[string]struct {
		typ      byte
		mode     int64
		uid, gid int
		link     string
	}{
		"out/app":     {tar.TypeReg, 0o4755, 0, 0, ""},
		"out/sub/f":   {tar.TypeReg, 0o640, 1000, 1000, ""},
		"out/pw":      {tar.TypeSymlink, 0o777, 0, 0, "/etc/passwd"},
		"bin/busybox": {tar.TypeReg, 0o755, 0, 0, ""},
	} {
		h, ok := hdrs[name]
		if !ok {
			t.Fatalf("%s is not in the tar (it has %d entries)", name, len(hdrs))
		}
		if h.Typeflag != want.typ || h.Mode&0o7777 != want.mode || h.Uid != want.uid || h.Gid != want.gid || h.Linkname != want.link {
			t.Errorf("%s: type %c mode %o owner %d:%d link %q; want type %c mode %o owner %d:%d link %q",
				name, h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid, h.Linkname, want.typ, want.mode, want.uid, want.gid, want.link)
		}
	}

	r := sb.ok("build", "--target", "bin", "-o", "-", ctx)
	assertNotContains(t, r.stdout, "STEP", "the steps go to stderr when the tar is on stdout")
	assertContains(t, r.stderr, "STEP 4/4: COPY", "the steps, on stderr")
	cmd := exec.Command("tar", "tf", "-")
	cmd.Stdin = strings.NewReader(r.stdout)
	listed, err := cmd.Output()
	if err != nil {
		t.Fatalf("tar t of standard output: %v\n%s", err, r)
	}
	names := lines(strings.ReplaceAll(string(listed), "./", ""))
	sort.Strings(names)
	assertEqual(t, strings.Join(names, " "), "app pw sub/ sub/f sub/rel", "tar t of -o -")

	// Standard output a terminal: refused, as Docker does.
	text, code := lcOnTerminal(sb, 24, 200, "", "build", "--target", "bin", "-o", "-", ctx)
	assertEqual(t, code, 125, "-o - to a terminal: status")
	assertContains(t, text, "standard output is a terminal", "-o - to a terminal")

	// type=tar,dest=-: the same; -q: nothing but the tar.
	r = sb.ok("build", "-q", "--target", "bin", "-o", "type=tar,dest=-", ctx)
	assertEqual(t, len(bdTarHeaders(t, []byte(r.stdout))), 5, "-q -o type=tar,dest=-: the tar alone on stdout")
}

// bdTarHeaders reads a tar's headers by name (without a leading "./" or trailing "/").
func bdTarHeaders(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = h
	}
}
