package tests

// The hostile-input corpus (tests/hostile): layers that try to write outside the store,
// read the host through links, or exhaust disk, memory or time, fed to every way hutch
// unpacks a layer (load, import, pull, build ADD); build contexts whose Dockerfile,
// ignore file or COPY sources lead out of the context or into devices; and the other
// files hutch parses, made devices. For each case: nothing outside the store or the
// destination changes (a snapshot of the sandbox, which holds the targets, the user's
// home and the inputs, taken before and after), and a refusal names the entry.

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hutch.dev/hutch/tests/hostile"
)

// hostileHost makes, in the sandbox's home and owned by its user, what the cases aim at:
// a naive unpacker running as the user could write there.
func hostileHost(t *testing.T, sb *sandbox) hostile.Host {
	t.Helper()
	h := hostile.Host{Target: sb.path("home", "target"), Secret: sb.path("home", "secret"), Victim: sb.path("home", "target", "victim")}
	sb.writeUserFile(h.Secret, hostile.SecretContent)
	sb.writeUserFile(h.Victim, hostile.SecretContent)
	sb.writeUserFile(sb.path("work", "secret.txt"), hostile.SecretContent) // ../secret.txt of a context
	// hutch's own directories exist before the snapshots (which leave them out), so that
	// making them does not count as a change of their parents.
	for _, d := range []string{sb.path("data", "hutch"), sb.path("cache", "hutch")} {
		sb.writeUserFile(filepath.Join(d, ".made"), "")
		if err := os.Remove(filepath.Join(d, ".made")); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// hostTree describes every file below root, but for the skipped subtrees (the store, the
// runtime dir, the cache): type, mode, owner, size, link count, modification time, link
// target, and the content's digest for files up to 1 MiB.
func hostTree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return nil
		}
		desc := fmt.Sprintf("%o %d:%d size=%d nlink=%d mtime=%d.%09d", st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Sec, st.Mtim.Nsec)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case syscall.S_IFREG:
			if st.Size <= 1<<20 {
				if b, err := os.ReadFile(p); err == nil {
					sum := sha256.Sum256(b)
					desc += " sha256=" + hex.EncodeToString(sum[:8])
				}
			}
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", root, err)
	}
	return out
}

// sandboxTree is hostTree of the whole sandbox but hutch's own directories.
func (sb *sandbox) tree(t *testing.T) map[string]string {
	t.Helper()
	return hostTree(t, sb.dir, sb.path("data", "hutch"), sb.path("run"), sb.path("cache", "hutch"))
}

func assertSameTree(t *testing.T, before, after map[string]string, what string) {
	t.Helper()
	var diff []string
	for p, d := range before {
		if a, ok := after[p]; !ok {
			diff = append(diff, "- "+p+" "+d)
		} else if a != d {
			diff = append(diff, "~ "+p+" "+d+"  =>  "+a)
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, "+ "+p+" "+a)
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		t.Fatalf("%s changed files outside the store:\n%s", what, strings.Join(diff, "\n"))
	}
}

// hostileInput is one layer case written for one sandbox: the layer blob, a
// docker-archive holding it, and a build context that ADDs it.
type hostileInput struct {
	layer   hostile.Layer
	blob    hostile.Blob
	archive string
	ctx     string
	mention string
}

func writeHostileInput(t *testing.T, dir string, l hostile.Layer, h hostile.Host) hostileInput {
	t.Helper()
	d := filepath.Join(dir, l.Name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := hostile.WriteBlob(d, l.Gzip, func(w io.Writer) error { return l.Tar(w, h) })
	if err != nil {
		t.Fatalf("%s: %v", l.Name, err)
	}
	return finishHostileInput(t, d, l, b, h)
}

func finishHostileInput(t *testing.T, d string, l hostile.Layer, b hostile.Blob, h hostile.Host) hostileInput {
	t.Helper()
	in := hostileInput{layer: l, blob: b, archive: filepath.Join(d, "image.tar"), ctx: filepath.Join(d, "ctx")}
	if err := hostile.DockerArchive(in.archive, "localhost/hostile-"+l.Name+":1", b); err != nil {
		t.Fatal(err)
	}
	// The context: the layer as ADD's archive.
	if err := os.MkdirAll(in.ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	name := "layer.tar"
	if l.Gzip {
		name += ".gz"
	}
	if err := os.Link(b.Path, filepath.Join(in.ctx, name)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.ctx, "Dockerfile"), []byte("FROM "+bdBase+"\nADD "+name+" /unpacked/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := hostile.Public(d); err != nil {
		t.Fatal(err)
	}
	if l.Mention != nil {
		in.mention = l.Mention(h)
	}
	return in
}

// hostileRoute feeds one input to hutch one way and returns what happened, and the
// name of the image it makes when it accepts the input.
type hostileRoute struct {
	name string
	run  func(sb *sandbox, in hostileInput) result
	ref  func(in hostileInput) string
	prep func(sb *sandbox, in hostileInput) // before the snapshot and the clock
}

var (
	routeLoad = hostileRoute{"load",
		func(sb *sandbox, in hostileInput) result { return sb.run(runOpts{}, "load", "-i", in.archive) },
		func(in hostileInput) string { return "localhost/hostile-" + in.layer.Name + ":1" }, nil}
	routeImport = hostileRoute{"import",
		func(sb *sandbox, in hostileInput) result {
			return sb.run(runOpts{}, "import", in.blob.Path, "localhost/hostile-import-"+in.layer.Name)
		},
		func(in hostileInput) string { return "localhost/hostile-import-" + in.layer.Name }, nil}
	routeAdd = hostileRoute{"add",
		func(sb *sandbox, in hostileInput) result {
			return sb.run(runOpts{}, "build", "--pull=never", "-t", "localhost/hostile-add-"+in.layer.Name, in.ctx)
		},
		func(in hostileInput) string { return "localhost/hostile-add-" + in.layer.Name }, nil}
)

func routePull(reg *regServer) hostileRoute {
	ref := func(in hostileInput) string { return reg.host + "/hostile/" + in.layer.Name + ":1" }
	return hostileRoute{"pull", func(sb *sandbox, in hostileInput) result {
		return sb.run(runOpts{}, "pull", "--tls-verify=false", ref(in))
	}, ref, func(sb *sandbox, in hostileInput) {
		reg.seed(sb.t, in.archive, "docker-archive", "hostile/"+in.layer.Name+":1")
	}}
}

// checkHostile runs one input one way and checks the outcome.
func checkHostile(t *testing.T, sb *sandbox, in hostileInput, route hostileRoute) result {
	t.Helper()
	if route.prep != nil {
		route.prep(sb, in)
	}
	storeBefore := sb.state()
	before := sb.tree(t)
	start := time.Now()
	r := route.run(sb, in)
	took := time.Since(start)
	assertSameTree(t, before, sb.tree(t), route.name+" of "+in.layer.Name)
	what := fmt.Sprintf("%s of %s (%s)", route.name, in.layer.Name, in.layer.Doc)
	mustRefuse := in.layer.Refuse == hostile.RefuseAll || (in.layer.Refuse == hostile.RefuseStore && route.name != "add") ||
		(in.layer.Refuse == hostile.RefuseImport && route.name == "import")
	if r.code == 0 {
		if mustRefuse {
			t.Fatalf("%s was accepted:\n%s", what, r)
		}
		// Accepted: the layer is in the image, whatever it held stayed inside, and no host
		// file got in. (The heavy layers are generated without the host's paths.)
		if !in.layer.Heavy {
			saved := string(bdSaved(sb, route.ref(in)))
			if strings.Contains(saved, strings.TrimSpace(hostile.SecretContent)) {
				t.Fatalf("%s: the image holds the host's secret:\n%s", what, r)
			}
			for _, name := range []string{"from-layer", in.layer.Lands} {
				if name != "" && !strings.Contains(saved, name) {
					t.Fatalf("%s: accepted, but %s is nowhere in the image (nor on the host): where did it go?\n%s", what, name, r)
				}
			}
		}
		t.Logf("%s: accepted in %s", what, took.Round(time.Millisecond))
		return r
	}
	if r.code != 125 && r.code != 1 {
		t.Fatalf("%s: exit status %d, want 125 (or 1 for build):\n%s", what, r.code, r)
	}
	if in.mention != "" && !strings.Contains(r.stderr, in.mention) {
		t.Fatalf("%s: the error does not name the entry %q:\n%s", what, in.mention, r)
	}
	if route.name == "load" || route.name == "import" {
		assertOneLineError(t, r)
		assertSameState(t, storeBefore, sb.state(), what)
	}
	t.Logf("%s: refused in %s: %s", what, took.Round(time.Millisecond), lastLine(r.stderr))
	return r
}

func lastLine(s string) string {
	ls := lines(s)
	if len(ls) == 0 {
		return ""
	}
	l := ls[len(ls)-1]
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}

// TestHostileLayers: every light layer case through load and import, on every driver.
func TestHostileLayers(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		h := hostileHost(t, sb)
		sb.ok("images") // the first command's warnings, if any, are out of the way
		for _, l := range hostile.Layers() {
			if l.Heavy || l.Bomb {
				continue
			}
			in := writeHostileInput(t, sb.path("work", "hostile"), l, h)
			for _, route := range []hostileRoute{routeLoad, routeImport} {
				checkHostile(t, sb, in, route)
			}
		}
	})
}

// TestHostileLayersPullAndAdd: every light layer case pulled from a registry and ADDed
// in a build (the probed driver).
func TestHostileLayersPullAndAdd(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	sb := bdSandbox(t)
	h := hostileHost(t, sb)
	for _, l := range hostile.Layers() {
		if l.Heavy || l.Bomb {
			continue
		}
		in := writeHostileInput(t, sb.path("work", "hostile"), l, h)
		for _, route := range []hostileRoute{routePull(reg), routeAdd} {
			checkHostile(t, sb, in, route)
		}
	}
}

// The inputs that do not depend on a sandbox and are slow to write, made once.
var (
	heavyOnce   sync.Once
	heavyBlobs  map[string]hostile.Blob
	heavyBomb   string // a gzip'd docker-archive whose inner layer is 2 GiB of zeros
	heavyErr    error
	heavyTiming string
)

func heavyInputs(t *testing.T) (map[string]hostile.Blob, string) {
	t.Helper()
	heavyOnce.Do(func() {
		dir := filepath.Join(baseDir, "hostile-heavy")
		if heavyErr = os.MkdirAll(dir, 0o755); heavyErr != nil {
			return
		}
		heavyBlobs = map[string]hostile.Blob{}
		var times []string
		for _, l := range hostile.Layers() {
			if !l.Heavy {
				continue
			}
			start := time.Now()
			b, err := hostile.WriteBlob(dir, l.Gzip, func(w io.Writer) error { return l.Tar(w, hostile.Host{}) })
			if err != nil {
				heavyErr = fmt.Errorf("%s: %w", l.Name, err)
				return
			}
			heavyBlobs[l.Name] = b
			times = append(times, fmt.Sprintf("%s %s (%d bytes)", l.Name, time.Since(start).Round(time.Millisecond), b.Size))
		}
		heavyBomb = filepath.Join(dir, "archive-bomb.tar.gz")
		if heavyErr = writeArchiveBomb(heavyBomb); heavyErr != nil {
			return
		}
		heavyTiming = strings.Join(times, ", ")
		heavyErr = hostile.Public(dir)
	})
	if heavyErr != nil {
		t.Fatalf("writing the heavy hostile inputs: %v", heavyErr)
	}
	return heavyBlobs, heavyBomb
}

// writeArchiveBomb writes a gzip-compressed docker-archive whose manifest comes first
// and whose layer member is BombSize bytes of zeros: the archive itself expands beyond
// the store (go.podman.io/image would decompress it whole into a temporary file).
func writeArchiveBomb(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	layer := strings.Repeat("0", 64) + "/layer.tar"
	manifest := `[{"Config":"` + strings.Repeat("1", 64) + `.json","RepoTags":["localhost/archive-bomb:1"],"Layers":["` + layer + `"]}]`
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: int64(len(manifest)), Mode: 0o644}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(manifest)); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: layer, Typeflag: tar.TypeReg, Size: hostile.BombSize, Mode: 0o644}); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for n := int64(0); n < hostile.BombSize; n += int64(len(buf)) {
		if _, err := tw.Write(buf); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// TestHostileBombs: layers that expand beyond the store's file system (a gzip bomb, a
// sparse file, an archive that is itself a bomb, the same on standard input) are refused
// at the header that declares them, naming it, through every route, quickly, and the
// store is as before. The store lives on a 256 MiB tmpfs, so "beyond" is 2 GiB.
func TestHostileBombs(t *testing.T) {
	t.Parallel()
	blobs, archiveBomb := heavyInputs(t)
	reg := startRegistry(t, false)
	// The store's tmpfs is mounted in a mount namespace of the test's own, which every
	// command of the sandbox runs in (made first: the sandbox's reset runs in it too).
	ns := newMountNS(t)
	sb := newSandbox(t, userWithRange)
	ns.mount("-t", "tmpfs", "-o", fmt.Sprintf("size=256m,nosuid,nodev,mode=0755,uid=%d,gid=%d", sb.user.uid, sb.user.gid), "tmpfs", sb.path("data"))
	sb.ns = ns
	lcCleanupContainers(t, sb)
	bdImport(t, sb)
	h := hostileHost(t, sb)
	for _, l := range hostile.Layers() {
		if !l.Bomb {
			continue
		}
		var in hostileInput
		if b, ok := blobs[l.Name]; ok {
			d := sb.path("work", "hostile", l.Name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			in = finishHostileInput(t, d, l, b, h)
		} else {
			in = writeHostileInput(t, sb.path("work", "hostile"), l, h)
		}
		for _, route := range []hostileRoute{routeLoad, routeImport, routePull(reg), routeAdd} {
			r := checkHostile(t, sb, in, route)
			assertContains(t, r.stderr, "expands to 2.0 GiB", route.name+" of "+l.Name)
			assertContains(t, r.stderr, "min(1 GiB, 5%)", route.name+" of "+l.Name)
		}
	}
	// An archive that is itself a bomb: the outer decompression stops at the store's limit.
	before := sb.state()
	tree := sb.tree(t)
	start := time.Now()
	r := sb.expect(125, "load", "-i", archiveBomb)
	assertOneLineError(t, r, archiveBomb+" (decompressed): it expands to more than")
	t.Logf("load of the archive bomb: refused in %s: %s", time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
	f, err := os.Open(archiveBomb)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r = sb.expectWith(runOpts{stdin: f}, 125, "load")
	assertOneLineError(t, r, "standard input")
	assertSameState(t, before, sb.state(), "the archive bomb")
	assertSameTree(t, tree, sb.tree(t), "the archive bomb")
	tmp := sb.seen(filepath.Join(sb.graphRoot(), "tmp"))
	if entries, err := os.ReadDir(tmp); err != nil || len(entries) != 0 {
		t.Fatalf("the refused bombs left %d file(s) in the store's tmp %s (%v)", len(entries), tmp, err)
	}
	// The store really was the small tmpfs.
	var st syscall.Statfs_t
	if err := syscall.Statfs(sb.seen(sb.graphRoot()), &st); err != nil || st.Blocks*uint64(st.Bsize) > 256<<20 {
		t.Fatalf("the store is not on the 256 MiB tmpfs: %v, %d bytes", err, st.Blocks*uint64(st.Bsize))
	}
}

// TestHostileManyFiles: a layer of 100 000 files loads and ADDs, every file there (a
// layer 4096 directories deep is refused at once, by TestHostileLayers). Each command
// has 10 minutes (not the harness's 3): the ADD takes ~40 s on a 2-core machine with
// one suite, and took over 3 minutes at load 40 (two suites and builds beside it);
// a hang still fails the test.
func TestHostileManyFiles(t *testing.T) {
	t.Parallel()
	blobs, _ := heavyInputs(t)
	t.Logf("written once: %s", heavyTiming)
	sb := bdSandbox(t)
	sb.timeout = 10 * time.Minute
	h := hostileHost(t, sb)
	for _, l := range hostile.Layers() {
		if !l.Heavy || l.Bomb {
			continue
		}
		d := sb.path("work", "hostile", l.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		in := finishHostileInput(t, d, l, blobs[l.Name], h)
		// Each command is bounded by sb.timeout; the times are logged (docs/security.md
		// states them).
		for _, route := range []hostileRoute{routeLoad, routeAdd} {
			if r := checkHostile(t, sb, in, route); r.code != 0 {
				t.Fatalf("%s of %s failed:\n%s", route.name, l.Name, r)
			}
		}
		n := strings.TrimSpace(bdRun(sb, routeAdd.ref(in), "sh", "-c", "find /unpacked/many -type f | wc -l"))
		assertEqual(t, n, fmt.Sprint(hostile.ManyFiles), "files of the loaded image")
	}
}

// TestHostileContexts: build contexts whose Dockerfile, Containerfile or ignore file is
// a device, a FIFO, a symlink to one or to a file outside the context, or too big, are
// refused at once naming the file (before: a Dockerfile linked to /dev/zero was read
// until the machine ran out of memory); COPY sources that lead out of the context are
// refused naming the source and the context, or copy nothing of the host.
func TestHostileContexts(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	h := hostileHost(t, sb)
	for _, c := range hostile.Contexts() {
		t.Run(c.Name, func(t *testing.T) {
			sb := lcAt(sb, t)
			ctx := sb.path("work", "ctx-"+c.Name)
			for p, content := range c.Files {
				sb.writeUserFile(filepath.Join(ctx, p), strings.ReplaceAll(content, "{base}", bdBase))
			}
			for p, target := range c.Links {
				bdSymlink(t, sb, c.Expand(target, ctx, h), filepath.Join(ctx, p))
			}
			for _, p := range c.Fifos {
				if err := syscall.Mkfifo(filepath.Join(ctx, p), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(filepath.Join(ctx, p), sb.user.uid, sb.user.gid); err != nil {
					t.Fatal(err)
				}
			}
			tag := "localhost/hostile-ctx-" + c.Name
			args := []string{"build", "--pull=never", "-t", tag}
			for _, a := range c.Args {
				args = append(args, c.Expand(a, ctx, h))
			}
			before := sb.tree(t)
			start := time.Now()
			r := sb.run(runOpts{}, append(args, ctx)...)
			took := time.Since(start)
			assertSameTree(t, before, sb.tree(t), "build of "+c.Name)
			if took > 30*time.Second {
				t.Fatalf("%s: the build took %s: it read a device or waited on a FIFO", c.Doc, took)
			}
			if r.code == 0 {
				if !c.Accept {
					t.Fatalf("%s: the build succeeded:\n%s", c.Doc, r)
				}
				if strings.Contains(string(bdSaved(sb, tag)), strings.TrimSpace(hostile.SecretContent)) {
					t.Fatalf("%s copied a file from outside the context into the image:\n%s", c.Doc, r)
				}
				t.Logf("%s: built in %s, nothing of the host in it", c.Doc, took.Round(time.Millisecond))
				return
			}
			assertContains(t, r.stderr, "Error: ", c.Doc)
			assertContains(t, r.stderr, c.Expand(c.Mention, ctx, h), c.Doc)
			if c.Accept { // a refused COPY names the context too
				assertContains(t, r.stderr, ctx, c.Doc)
			}
			t.Logf("%s: refused in %s: %s", c.Doc, took.Round(time.Millisecond), lastLine(r.stderr))
		})
	}
}

// TestHostileFiles: the other files hutch parses, made devices or FIFOs (as a mistake or
// a trap would make them), are refused at once naming them: config.toml, --env-file,
// auth.json, a build secret, standard input for -f - and --password-stdin, and an
// image's /etc/passwd (run -u) or a running container's (exec -u).
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	quick := func(what string, o runOpts, mention string, args ...string) {
		t.Helper()
		start := time.Now()
		r := sb.expectWith(o, 125, args...)
		if took := time.Since(start); took > 30*time.Second {
			t.Fatalf("%s took %s", what, took)
		}
		assertOneLineError(t, r, mention)
	}
	zero := func() *os.File {
		f, err := os.Open("/dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	// config.toml, a symlink to /dev/zero.
	sb.writeConfig("")
	if err := os.Remove(sb.configFile()); err != nil {
		t.Fatal(err)
	}
	bdSymlink(t, sb, "/dev/zero", sb.configFile())
	quick("config.toml -> /dev/zero", runOpts{}, "config file "+sb.configFile()+": is a character device (a symbolic link to /dev/zero)", "images")
	if err := os.Remove(sb.configFile()); err != nil {
		t.Fatal(err)
	}
	quick("--env-file /dev/zero", runOpts{}, "--env-file: env file /dev/zero: is a character device", "run", "--rm", "--env-file", "/dev/zero", bdBase, "true")
	// auth.json, a FIFO: refused before any registry is contacted.
	auth := sb.path("config", "hutch", "auth.json")
	if err := syscall.Mkfifo(auth, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(auth, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	quick("auth.json as a FIFO", runOpts{}, "registry configuration file "+auth+": is a named pipe (FIFO)", "pull", "--tls-verify=false", "127.0.0.1:9/x:1")
	if err := os.Remove(auth); err != nil {
		t.Fatal(err)
	}
	quick("--password-stdin < /dev/zero", runOpts{stdin: zero()}, "password (standard input): is larger than 1 MiB", "login", "-u", "me", "--password-stdin", "127.0.0.1:9")
	ctx := bdCtx(t, sb, "ctx-stdin", map[string]string{"ok.txt": "x\n"})
	quick("build -f - < /dev/zero", runOpts{stdin: zero()}, "Dockerfile (standard input): is larger than 4 MiB", "build", "-f", "-", ctx)
	// An image whose /etc/passwd is a FIFO: run -u reads it from the image, and must not
	// wait on it.
	layer := sb.path("work", "fifo-passwd.tar")
	f, err := os.OpenFile(layer, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostile.WriteTar(f, []hostile.Entry{hostile.Dir("etc/"), {Name: "etc/passwd", Type: tar.TypeFifo, Mode: 0o644}, hostile.File("etc/group", "root:x:0:\n")}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chmod(layer, 0o644); err != nil {
		t.Fatal(err)
	}
	sb.ok("import", layer, "fifo-passwd")
	quick("run -u with a FIFO as the image's /etc/passwd", runOpts{}, "user database", "run", "--rm", "-u", "nobody", "fifo-passwd", "true")
	r := sb.run(runOpts{}, "run", "--rm", "-u", "nobody", "fifo-passwd", "true")
	assertContains(t, r.stderr, "/etc/passwd: is a named pipe (FIFO)", "run -u with a FIFO passwd")
	// exec -u reads the running container's /etc/passwd inside it, through the same
	// reader: a FIFO put there by the container's own processes is refused, not waited on.
	id := lcRunReady(sb, append([]string{bdBase}, lcSleeper...)...)
	r = sb.expect(125, "exec", "-u", "mallory", id, "true")
	assertContains(t, r.stderr, `-u "mallory": no such user or group in the container's /etc/passwd and /etc/group`, "exec -u of an unknown name")
	sb.ok("exec", id, "sh", "-c", "rm /etc/passwd && mkfifo /etc/passwd")
	for _, u := range []string{"nobody", "1000", "0:0"} {
		quick("exec -u "+u+" with a FIFO as the container's /etc/passwd", runOpts{}, "user database /etc/passwd: is a named pipe (FIFO)", "exec", "-u", u, id, "true")
	}
}
