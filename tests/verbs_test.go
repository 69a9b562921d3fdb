package tests

// System tests of the verbs issue 14 added for images and containers' file systems
// (diff, export, history, untag, exists), images' --filter/--sort/--noheading, rmi -a
// and --no-prune, image prune --filter, the global store flags (--root, --runroot,
// --storage-driver, --storage-opt), --authfile, and info --format's Docker and Podman
// fields: as the test user, through the real binary.

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarList reads a tar archive: its member names (without a leading "./"), and the
// content of its regular files.
func tarList(t *testing.T, b []byte) (names []string, files map[string]string) {
	t.Helper()
	files = map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, files
		}
		if err != nil {
			t.Fatalf("reading the tar (%d members so far): %v", len(names), err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		names = append(names, name)
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = string(body)
		}
	}
}

func hasName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// TestDiffAndExport: diff shows what a container changed (A/C/D, Docker's lines;
// Podman's JSON), hutch's own mount points left out, and what an image's top layer
// added; export writes the container's files as a tar, to standard output or -o, and
// refuses a terminal. Stopped and running containers, on every driver.
func TestDiffAndExport(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		sb.ok("run", "--name", "c1", lcImage, "sh", "-c", "echo x > /etc/new && rm /etc/hello && mkdir /data && touch /tmp/t")
		want := "A /data\nC /etc\nD /etc/hello\nA /etc/new\nC /tmp\nA /tmp/t\n"
		assertEqual(t, sb.ok("diff", "c1").stdout, want, "diff c1")
		assertEqual(t, sb.ok("container", "diff", "c1").stdout, want, "container diff c1")
		var j map[string][]string
		mustJSON(t, sb.ok("diff", "--format", "json", "c1"), &j)
		assertEqual(t, strings.Join(j["changed"], " ")+"|"+strings.Join(j["added"], " ")+"|"+strings.Join(j["deleted"], " "),
			"/etc /tmp|/data /etc/new /tmp/t|/etc/hello", "diff --format json")
		if len(j) != 3 {
			t.Fatalf("diff --format json has keys %v", j)
		}
		r := sb.expect(125, "diff", "--format", "table", "c1")
		assertOneLineError(t, r, "--format", "json")

		// An image: its top layer against the one below (here: none, all added).
		img := sb.ok("image", "diff", lcImage).stdout
		for _, l := range []string{"A /bin/busybox\n", "A /etc/hello\n", "A /home/alice\n"} {
			assertContains(t, img, l, "image diff")
		}
		for _, l := range lines(img) {
			if !strings.HasPrefix(l, "A /") {
				t.Fatalf("image diff of a one-layer image: %q is not an addition", l)
			}
		}
		assertEqual(t, sb.ok("diff", lcImage).stdout, img, "diff of a name no container has")
		r = sb.expect(125, "container", "diff", lcImage)
		assertOneLineError(t, r, "no such container", lcImage)
		r = sb.expect(125, "diff", "nothing-by-this-name")
		assertOneLineError(t, r, "nothing-by-this-name")

		// export: the container's files, its changes included.
		out := sb.ok("export", "c1")
		names, files := tarList(t, []byte(out.stdout))
		assertEqual(t, files["etc/new"], "x\n", "etc/new in the export")
		if !hasName(names, "bin/busybox") || !hasName(names, "data") || hasName(names, "etc/hello") {
			t.Fatalf("export of c1 lists %v", names)
		}
		dest := sb.path("work", "c1.tar")
		if r := sb.ok("container", "export", "-o", dest, "c1"); r.stdout != "" {
			t.Fatalf("export -o printed:\n%s", r)
		}
		b := readFile(t, dest)
		if !bytes.Equal(b, []byte(out.stdout)) {
			names2, _ := tarList(t, b)
			if strings.Join(names2, " ") != strings.Join(names, " ") {
				t.Fatalf("export -o holds %v, export to stdout %v", names2, names)
			}
		}
		if fi, err := os.Stat(dest); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(sb.user.uid) {
			t.Fatalf("export -o %s: %v (it must be the user's)", dest, err)
		}
		text, code := lcOnTerminal(sb, 24, 200, "", "export", "c1")
		assertEqual(t, code, 125, "export to a terminal: status")
		assertContains(t, text, "refusing to write a tar archive to a terminal", "export to a terminal")
		r = sb.expect(125, "export", "nothing-by-this-name")
		assertOneLineError(t, r, "nothing-by-this-name")

		// A running container: read where it is mounted, while it runs.
		lcRunD(sb, "--name", "r1", lcImage, "sh", "-c", "echo y > /y && echo ready && exec sleep 600")
		lcWaitLog(sb, "r1", "ready", 30*time.Second)
		assertEqual(t, sb.ok("diff", "r1").stdout, "A /y\n", "diff of a running container")
		_, files = tarList(t, []byte(sb.ok("export", "r1").stdout))
		assertEqual(t, files["y"], "y\n", "export of a running container")
		if st := lcInspect(sb, "r1").State.Status; st != "running" {
			t.Fatalf("r1 is %s after diff and export", st)
		}
		sb.ok("rm", "-f", "r1", "c1")
		lcAssertClean(t, sb, "diff and export")
	})
}

// TestHistory: an image's steps newest first, in Docker's columns, with -q, --no-trunc,
// -H=false, templates and JSON; the image a step ended is shown where the store has it.
func TestHistory(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.layered.path)
	childSize := fix.layered.size - fix.rootfsSize

	r := sb.ok("history", fix.layered.name)
	rows := lines(r.stdout)
	if len(rows) != 3 {
		t.Fatalf("history: want a header and two steps:\n%s", r)
	}
	assertEqual(t, strings.Join(lcColumns(rows[0]), "|"), "IMAGE|CREATED|CREATED BY|SIZE|COMMENT", "history's header")
	first := lcColumns(rows[1])
	assertEqual(t, first[0], fix.layered.id[:12], "the newest step's image")
	assertContains(t, first[1], "ago", "CREATED")
	assertEqual(t, first[2], "hutch test fixture layer 1", "CREATED BY")
	assertEqual(t, lcColumns(rows[2])[0], fix.base.id[:12], "the older step: the unnamed base image it ended")

	assertEqual(t, sb.ok("image", "history", "-q", fix.layered.name).stdout, fix.layered.id[:12]+"\n"+fix.base.id[:12]+"\n", "history -q")
	r = sb.ok("history", "--no-trunc", "-H=false", "--format", "{{.ID}}|{{.CreatedSince}}|{{.CreatedAt}}|{{.Size}}", fix.layered.name)
	for i, want := range []struct {
		id   string
		size int64
	}{{fix.layered.id, childSize}, {fix.base.id, fix.rootfsSize}} {
		f := strings.Split(lines(r.stdout)[i], "|")
		assertEqual(t, f[0], "sha256:"+want.id, "history --no-trunc: ID")
		created, err := time.Parse(time.RFC3339, f[1])
		if err != nil || !created.Equal(fixtureTime) || f[2] != f[1] {
			t.Fatalf("history -H=false: CREATED %q, CREATED AT %q; want %s", f[1], f[2], fixtureTime)
		}
		assertEqual(t, f[3], strconv.FormatInt(want.size, 10), "history -H=false: SIZE in bytes")
	}
	var js []struct {
		ID        string `json:"Id"`
		Created   time.Time
		CreatedBy string
		Size      int64
		Tags      []string
	}
	mustJSON(t, sb.ok("history", "--format", "json", fix.layered.name), &js)
	if len(js) != 2 || js[0].ID != fix.layered.id || js[0].Size != childSize || js[0].Tags[0] != fix.layered.name ||
		js[1].ID != fix.base.id || js[1].CreatedBy != "hutch test fixture layer 0" || !js[1].Created.Equal(fixtureTime) {
		t.Fatalf("history --format json: %+v", js)
	}

	// Without the base image in the store, its step is <missing>, as Docker shows it.
	sb.ok("rmi", "--no-prune", fix.layered.name)
	sb.ok("load", "-i", fix.layered.path)
	sb.ok("untag", fix.layered.name)
	sb.ok("tag", fix.layered.id, "again:1")
	sb.ok("rmi", "--no-prune", fix.base.id)
	assertEqual(t, sb.ok("history", "-q", "again:1").stdout, fix.layered.id[:12]+"\n<missing>\n", "history -q without the base")
	r = sb.expect(125, "history", "nothing-by-this-name")
	assertOneLineError(t, r, "nothing-by-this-name", "hutch images")
}

// TestUntagAndExists: untag removes the names given (all without any) and keeps the
// image; container/image/volume exists answer by their status alone, and an engine
// error is 125.
func TestUntagAndExists(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	id := strings.TrimSpace(sb.ok("images", "-q", "--no-trunc", lcImage).stdout)
	sb.ok("tag", lcImage, "x:1", "quay.io/me/y:2")
	if r := sb.ok("untag", lcImage, "x:1", "me/y:2"); r.stdout != "" || r.stderr != "" {
		t.Fatalf("untag printed:\n%s", r)
	}
	img := findImageID(sb.images(false), strings.TrimPrefix(id, "sha256:"))
	if img == nil || strings.Join(img.Names, " ") != "localhost/lc:latest" {
		t.Fatalf("after untag x:1 me/y:2: %+v", img)
	}
	r := sb.expect(125, "untag", lcImage, "never-had-it")
	assertOneLineError(t, r, "never-had-it", "is not a name of image", "localhost/lc:latest")
	sb.ok("image", "untag", lcImage)
	assertEqual(t, sb.ok("images", "--filter", "dangling=true", "-q", "--no-trunc").stdout, id+"\n", "the untagged image is dangling")

	sb.ok("tag", id, lcImage)
	sb.ok("create", "--name", "here", lcImage)
	sb.ok("volume", "create", "vol")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"image", "exists", lcImage}, 0}, {[]string{"image", "exists", id[7:19]}, 0},
		{[]string{"image", "exists", "nope"}, 1},
		{[]string{"container", "exists", "here"}, 0}, {[]string{"container", "exists", "nope"}, 1},
		{[]string{"container", "exists", lcImage}, 1},
		{[]string{"volume", "exists", "vol"}, 0}, {[]string{"volume", "exists", "nope"}, 1},
	} {
		r := sb.expect(c.code, c.args...)
		if r.stdout != "" || r.stderr != "" {
			t.Fatalf("%s printed something:\n%s", strings.Join(c.args, " "), r)
		}
	}
	r = sb.expect(125, "image", "exists", "Bad:Name:x")
	assertOneLineError(t, r, "Bad:Name:x")
	// A config hutch cannot read is an engine error, not "does not exist".
	sb.writeConfig("[storage]\nnot_a_key = 1\n")
	for _, what := range []string{"container", "image", "volume"} {
		r = sb.expect(125, what, "exists", "here")
		assertOneLineError(t, r, "not_a_key")
	}
	os.Remove(sb.configFile())
	sb.ok("rm", "here")
}

// TestImagesFilterSort: images --filter with Docker's keys (different keys ANDed, one
// key's values ORed, labels ANDed), --sort, --noheading.
func TestImagesFilterSort(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)  // localhost/bb:1, label fixture=docker
	sb.ok("load", "-i", fix.oci.path)     // localhost/bbo:1, label fixture=oci
	sb.ok("load", "-i", fix.layered.path) // localhost/layered:1 (fixture=layered) on an unnamed base
	ids := map[string]string{}
	for _, n := range []string{"i1", "i2", "i3"} {
		ids[n] = strings.TrimSpace(sb.ok("import", "-q", fix.rootfs, n).stdout)
	}
	// Of a layer of its own (an unnamed image on a layer under another is intermediate).
	ids["gone"] = strings.TrimSpace(sb.ok("import", "-q", lcRootfs(t), "gone").stdout)
	sb.ok("untag", "gone") // dangling now
	list := func(args ...string) string {
		t.Helper()
		r := sb.ok(append(append([]string{"images"}, args...), "--format", "{{.Repository}}:{{.Tag}}")...)
		return strings.Join(sortedLines(r.stdout), " ")
	}
	assertEqual(t, sb.ok("images", "--filter", "dangling=true", "-q", "--no-trunc").stdout, "sha256:"+ids["gone"]+"\n", "dangling=true")
	assertEqual(t, list("--filter", "dangling=false", "--filter", "reference=i*"), "localhost/i1:latest localhost/i2:latest localhost/i3:latest", "dangling=false, reference=i*")
	assertEqual(t, list("--filter", "label=fixture=oci"), "localhost/bbo:1", "label=fixture=oci")
	assertEqual(t, list("--filter", "label=fixture"), "localhost/bb:1 localhost/bbo:1 localhost/layered:1", "label=fixture")
	assertEqual(t, list("--filter", "label=fixture", "--filter", "label!=fixture=docker"), "localhost/bbo:1 localhost/layered:1", "label!=")
	assertEqual(t, list("--filter", "label=fixture=oci", "--filter", "label=fixture=docker"), "", "two label= must both hold")
	assertEqual(t, list("-f", "reference=bb*"), "localhost/bb:1 localhost/bbo:1", "reference=bb*")
	assertEqual(t, list("--filter", "reference=bb", "--filter", "reference=localhost/layered"), "localhost/bb:1 localhost/layered:1", "two reference= (OR)")
	assertEqual(t, list("--filter", "reference=bb*", "--filter", "label=fixture=docker"), "localhost/bb:1", "reference and label (AND)")
	assertEqual(t, list("--filter", "since=i1", "--filter", "reference=i*"), "localhost/i2:latest localhost/i3:latest", "since=i1")
	assertEqual(t, list("--filter", "before=i3", "--filter", "reference=i*"), "localhost/i1:latest localhost/i2:latest", "before=i3")
	assertEqual(t, list("--filter", "id="+ids["i2"][:10]), "localhost/i2:latest", "id=")
	assertEqual(t, list("--filter", "until=2025-01-01T00:00:00Z"), "localhost/bb:1 localhost/bbo:1 localhost/layered:1", "until= (the fixtures are from 2024)")
	for _, c := range [][]string{{"--filter", "colour=red"}, {"--filter", "dangling=maybe"}, {"--filter", "before=nope"}, {"--sort", "name"}} {
		r := sb.expect(125, append([]string{"images"}, c...)...)
		assertOneLineError(t, r, strings.SplitN(c[1], "=", 2)[0])
	}

	order := func(args ...string) string {
		t.Helper()
		r := sb.ok(append(append([]string{"images"}, args...), "--format", "{{.Repository}}:{{.Tag}}")...)
		return strings.Join(lines(r.stdout), " ")
	}
	assertEqual(t, order("--filter", "reference=localhost/*", "--sort", "repository"), "localhost/bb:1 localhost/bbo:1 localhost/i1:latest localhost/i2:latest localhost/i3:latest localhost/layered:1", "--sort repository")
	assertEqual(t, order("--filter", "reference=i*", "--sort", "created"), "localhost/i3:latest localhost/i2:latest localhost/i1:latest", "--sort created: newest first")
	assertEqual(t, order("--filter", "reference=i*", "--sort", "id"), strings.Join(byID(ids["i1"], ids["i2"], ids["i3"]), " "), "--sort id")
	bySize := lines(sb.ok("images", "--filter", "dangling=false", "--sort", "size", "--format", "{{.Repository}}").stdout)
	assertEqual(t, bySize[len(bySize)-1], "localhost/layered", "--sort size: the largest last")

	table := lines(sb.ok("images", "--filter", "reference=i1").stdout)
	if len(table) != 2 || !strings.HasPrefix(table[0], "REPOSITORY") {
		t.Fatalf("images with a header:\n%s", strings.Join(table, "\n"))
	}
	for _, flag := range []string{"--noheading", "-n"} {
		rows := lines(sb.ok("images", flag, "--filter", "reference=i1").stdout)
		if len(rows) != 1 || !strings.HasPrefix(rows[0], "localhost/i1") {
			t.Fatalf("images %s: %q", flag, rows)
		}
	}
}

// byID names i1, i2, i3 (localhost/iN:latest) in the order of their IDs.
func byID(i1, i2, i3 string) []string {
	type ni struct{ name, id string }
	l := []ni{{"localhost/i1:latest", i1}, {"localhost/i2:latest", i2}, {"localhost/i3:latest", i3}}
	sort.Slice(l, func(a, b int) bool { return l[a].id < l[b].id })
	return []string{l[0].name, l[1].name, l[2].name}
}

// TestRmiAllAndPruneFilter: rmi -a removes every image a container does not hold (and
// refuses that one, status 1); image prune -a --filter until=/label= removes only what
// the filter lets through.
func TestRmiAllAndPruneFilter(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sb.ok("load", "-i", fix.docker.path)
	sb.ok("load", "-i", fix.layered.path)
	sb.ok("create", "--name", "holder", lcImage)
	r := sb.expect(125, "rmi", "-a", "bb:1")
	assertOneLineError(t, r, "-a")
	r = sb.expect(1, "rmi", "-a")
	assertContains(t, r.stderr, "used by container", "rmi -a with a container")
	for _, id := range []string{fix.docker.id, fix.layered.id, fix.base.id} {
		assertContains(t, r.stdout, "Deleted: sha256:"+id+"\n", "rmi -a")
	}
	if l := sb.images(true); len(l) != 1 || l[0].Names[0] != "localhost/lc:latest" {
		t.Fatalf("after rmi -a: %+v", l)
	}
	sb.ok("rm", "holder")
	sb.ok("image", "rm", "-a")
	if l := sb.images(true); len(l) != 0 {
		t.Fatalf("after the second rmi -a: %+v", l)
	}

	// Prune with filters: the fixtures are from 2024, the imported image from now.
	sb.ok("load", "-i", fix.docker.path)
	sb.ok("load", "-i", fix.oci.path)
	sb.ok("import", fix.rootfs, "fresh")
	r = sb.ok("image", "prune", "-a", "-f", "--filter", "until=24h", "--filter", "label!=fixture=oci")
	assertContains(t, r.stdout, "Deleted: sha256:"+fix.docker.id, "prune until=24h label!=fixture=oci")
	assertEqual(t, strings.Join(sortedLines(sb.ok("images", "--format", "{{.Repository}}").stdout), " "), "localhost/bbo localhost/fresh", "images after the filtered prune")
	sb.ok("image", "prune", "-a", "-f", "--filter", "label=fixture")
	assertEqual(t, sb.ok("images", "--format", "{{.Repository}}").stdout, "localhost/fresh\n", "images after prune --filter label=fixture")
	r = sb.expect(125, "image", "prune", "-f", "--filter", "reference=x")
	assertOneLineError(t, r, "reference")
}

// TestStoreFlags: --root, --runroot and --storage-driver choose another store for one
// command (images, containers and volumes), which a container's monitor keeps using;
// a driver other than the store's is refused with the fix; the store must be the
// user's own; system reset of it leaves the user's own store alone.
func TestStoreFlags(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	root, run := sb.path("work", "other-store"), sb.path("work", "other-run")
	o := []string{"--root", root, "--runroot", run, "--storage-driver", "vfs"}
	at := func(args ...string) []string { return append(append([]string{}, o...), args...) }

	sb.ok(at("import", "--change", `CMD ["sh"]`, lcRootfs(t), "elsewhere")...)
	assertEqual(t, sb.ok(at("images", "--format", "{{.Repository}}")...).stdout, "localhost/elsewhere\n", "images of the other store")
	assertEqual(t, sb.ok("images", "--format", "{{.Repository}}").stdout, "localhost/lc\n", "images of the user's store")
	assertEqual(t, sb.ok(at("info", "--format", "{{.Store.GraphRoot}} {{.Store.RunRoot}} {{.Store.Driver.Name}} {{.Store.VolumePath}}")...).stdout,
		root+" "+run+" vfs "+filepath.Join(root, "volumes")+"\n", "info of the other store")
	// --root alone: a run root of the store's own, not the user's store's.
	alone := strings.TrimSpace(sb.ok("--root", sb.path("work", "third"), "info", "--format", "{{.Store.RunRoot}}").stdout)
	if own := strings.TrimSpace(sb.ok("info", "--format", "{{.Store.RunRoot}}").stdout); alone == own || filepath.Dir(alone) != filepath.Dir(own) {
		t.Fatalf("--root alone: run root %s; the user's store's %s", alone, own)
	}
	// The flags name the store; the driver is recorded with it.
	assertEqual(t, sb.ok("--root", root, "--runroot", run, "info", "--format", "{{.Driver}}").stdout, "vfs\n", "the recorded driver")

	lcCleanupContainersAt(t, sb, o)
	id := strings.TrimSpace(sb.ok(at("run", "-d", "--name", "svc", "-v", "data:/data", "elsewhere", "sh", "-c", "echo up > /data/f && echo ready && exec sleep 600")...).stdout)
	lcEventually(t, 30*time.Second, "svc's log", func() (bool, string) {
		r := sb.ok(at("logs", "svc")...)
		return strings.Contains(r.stdout, "ready"), r.String()
	})
	assertEqual(t, sb.ok(at("ps", "-q", "--no-trunc")...).stdout, id+"\n", "ps of the other store")
	assertEqual(t, sb.ok("ps", "-aq").stdout, "", "ps of the user's store")
	assertEqual(t, sb.ok(at("volume", "ls", "-q")...).stdout, "data\n", "volumes of the other store")
	assertEqual(t, sb.ok("volume", "ls", "-q").stdout, "", "volumes of the user's store")
	if _, err := os.Stat(filepath.Join(root, "volumes", "data")); err != nil {
		t.Fatalf("the volume is not in the other store: %v", err)
	}
	assertEqual(t, sb.ok(at("exec", "svc", "cat", "/data/f")...).stdout, "up\n", "exec in the other store's container")
	sb.ok(at("stop", "-t", "0", "svc")...)
	assertEqual(t, lcInspectAt(sb, o, "svc"), "exited", "svc after stop")
	sb.ok(at("rm", "svc")...)

	// Another driver for this store: refused, with the fix for this store.
	r := sb.expect(125, "--root", root, "--runroot", run, "--storage-driver", "overlay", "images")
	assertOneLineError(t, r, "created with the vfs driver", "--storage-driver asks for overlay", "hutch --root "+root+" --runroot "+run+" --storage-driver overlay system reset")
	r = sb.expect(125, at("--storage-opt", "overlay.mountopt=nodev", "images")...)
	assertOneLineError(t, r, "overlay.mountopt=nodev", "vfs")
	r = sb.expect(125, at("--storage-opt", "mountopt=nodev", "images")...)
	assertOneLineError(t, r, "overlay.mountopt or vfs.mountopt")
	r = sb.expect(125, "--storage-driver", "zfs", "images")
	assertOneLineError(t, r, "zfs", "overlay, fuse-overlayfs or vfs")
	sb.ok(at("--storage-opt", "vfs.ignore_chown_errors=false", "images")...)

	// A store in another user's directory is refused.
	foreign := filepath.Join(baseDir, "foreign-"+strconv.Itoa(int(sbSeq.Add(1))))
	if err := os.Mkdir(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(foreign) })
	if err := os.Chown(foreign, users[userNoRange].uid, users[userNoRange].gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	r = sb.expect(125, "--root", filepath.Join(foreign, "store"), "images")
	assertOneLineError(t, r, "refusing the store (graph root)", "give --root a directory of your own")
	r = sb.expect(125, "--runroot", filepath.Join(foreign, "run"), "images")
	assertOneLineError(t, r, "refusing the run root", "give --runroot a directory of your own")

	// Reset of the other store: it goes, the user's own stays.
	sb.ok(at("system", "reset", "-f")...)
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the other store survived its reset: %v", err)
	}
	assertEqual(t, sb.ok("images", "--format", "{{.Repository}}").stdout, "localhost/lc\n", "the user's store after the other's reset")
}

// lcCleanupContainersAt is lcCleanupContainers for a store the flags choose.
func lcCleanupContainersAt(t *testing.T, sb *sandbox, flags []string) {
	t.Cleanup(func() {
		if ids := lines(sb.run(runOpts{}, append(append([]string{}, flags...), "ps", "-aq", "--no-trunc")...).stdout); len(ids) > 0 {
			sb.run(runOpts{}, append(append(append([]string{}, flags...), "rm", "-f"), ids...)...)
		}
	})
}

func lcInspectAt(sb *sandbox, flags []string, ref string) string {
	sb.t.Helper()
	return strings.TrimSpace(sb.ok(append(append([]string{}, flags...), "inspect", "-f", "{{.State.Status}}", ref)...).stdout)
}

// TestAuthFile: --authfile and REGISTRY_AUTH_FILE choose where login keeps the
// credentials and where pull, push, run and build read them.
func TestAuthFile(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, true)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)
	ref := reg.host + "/private/bb:1"
	mine := sb.path("work", "creds.json")
	def := sb.path("config", "hutch", "auth.json")

	sb.ok("login", "--authfile", mine, "--tls-verify=false", "-u", regUser, "-p", regPassword, reg.host)
	assertContains(t, string(readFile(t, mine)), reg.host, "the --authfile")
	if _, err := os.Stat(def); err == nil {
		t.Fatalf("login --authfile wrote %s too", def)
	}
	sb.ok("push", "-q", "--authfile", mine, "--tls-verify=false", fix.docker.name, ref)
	r := sb.expect(125, "pull", "-q", "--tls-verify=false", ref)
	assertOneLineError(t, r, "hutch login "+reg.host)
	assertEqual(t, sb.pulledID(ref, "--tls-verify=false", "--authfile", mine), fix.docker.id, "pull --authfile")
	env := runOpts{env: map[string]string{"REGISTRY_AUTH_FILE": mine}}
	r = sb.expectWith(env, 0, "pull", "-q", "--tls-verify=false", ref)
	assertEqual(t, strings.TrimSpace(r.stdout), fix.docker.id, "pull with REGISTRY_AUTH_FILE")
	r = sb.expectWith(env, 0, "run", "--rm", "--pull", "always", "--tls-verify=false", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "run --pull always with REGISTRY_AUTH_FILE")
	ctx := bdCtx(t, sb, "authctx", map[string]string{"Dockerfile": "FROM " + ref + "\nRUN true\n"})
	r = sb.expect(125, "build", "-q", "--pull=always", "--tls-verify=false", ctx)
	assertContains(t, r.stderr, reg.host, "build without the credentials")
	sb.ok("build", "-q", "--pull=always", "--tls-verify=false", "--authfile", mine, ctx)
	// The flag wins over the variable.
	sb.writeUserFile(sb.path("work", "empty.json"), "{}")
	r = sb.expectWith(runOpts{env: map[string]string{"REGISTRY_AUTH_FILE": sb.path("work", "empty.json")}}, 0, "pull", "-q", "--tls-verify=false", "--authfile", mine, ref)
	assertEqual(t, strings.TrimSpace(r.stdout), fix.docker.id, "--authfile over REGISTRY_AUTH_FILE")
	sb.expectWith(env, 0, "logout", reg.host)
	assertNotContains(t, string(readFile(t, mine)), reg.host, "the --authfile after logout with REGISTRY_AUTH_FILE")
	r = sb.expect(125, "pull", "-q", "--tls-verify=false", "--authfile", mine, ref)
	assertOneLineError(t, r, "hutch login "+reg.host)
}

// TestInfoFormat: info --format answers Docker's and Podman's field names with what
// hutch's own JSON says, and hutch's names keep working.
func TestInfoFormat(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sb.ok("create", "--name", "one", lcImage)
	in := sb.info()
	r := sb.ok("info", "--format", "{{.Driver}}|{{.DockerRootDir}}|{{.Images}}|{{.Containers}}|{{.ContainersRunning}}|{{.ContainersStopped}}|{{.NCPU}}|{{.OSType}}|{{.ServerVersion}}")
	want := in.Store.Driver.Name
	if want == "fuse-overlayfs" {
		want = "overlay" // go.podman.io/storage's driver: overlay with a mount program
	}
	ver := strings.TrimSpace(sb.ok("version", "--format", "{{.Client.Version}}").stdout)
	assertEqual(t, r.stdout, want+"|"+in.Paths.GraphRoot+"|1|1|0|1|"+strconv.Itoa(runtime.NumCPU())+"|linux|"+ver+"\n", "Docker's fields")
	r = sb.ok("info", "--format", "{{.Host.Arch}}|{{.Host.OCIRuntime.Name}}|{{.Store.GraphDriverName}}|{{.Store.GraphRoot}}|{{.Store.RunRoot}}|{{.Version.Version}}|{{.Host.Rootless}}")
	assertEqual(t, r.stdout, runtime.GOARCH+"|hutch|"+want+"|"+in.Paths.GraphRoot+"|"+in.Paths.RunRoot+"|"+ver+"|true\n", "Podman's fields")
	r = sb.ok("info", "--format", "{{.KernelVersion}} {{.Host.Kernel}}")
	if f := strings.Fields(r.stdout); len(f) != 2 || f[0] != f[1] || f[0] == "" {
		t.Fatalf("kernel versions: %q", r.stdout)
	}
	for _, tmpl := range []string{"{{.OperatingSystem}}", "{{.MemTotal}}", "{{.CgroupVersion}}", "{{.CgroupDriver}}", "{{.Architecture}}", "{{.SecurityOptions}}"} {
		if out := strings.TrimSpace(sb.ok("info", "--format", tmpl).stdout); out == "" || strings.Contains(out, "no value") {
			t.Fatalf("info --format %s: %q", tmpl, out)
		}
	}
	assertContains(t, sb.ok("info", "--format", "{{.SecurityOptions}}").stdout, "name=rootless", "SecurityOptions")
	// hutch's own.
	assertEqual(t, sb.ok("info", "--format", "{{.Store.Driver.Name}} {{.Paths.GraphRoot}}").stdout, in.Store.Driver.Name+" "+in.Paths.GraphRoot+"\n", "hutch's fields")
	r = sb.expect(125, "info", "--format", "{{.NoSuchField}}")
	assertOneLineError(t, r, "NoSuchField")
	sb.ok("rm", "one")
}
