package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// storeMeta is the driver's metadata directory prefix in the graph root.
func storeMeta(driver string) string {
	if driver == "vfs" {
		return "vfs"
	}
	return "overlay"
}

// TestSystemDF: df counts images and their layers' sizes, each shared layer once.
func TestSystemDF(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		df := sb.df()
		assertEqual(t, df["Images"], usageJSON{Type: "Images"}, "df of an empty store")
		assertEqual(t, df["Containers"], usageJSON{Type: "Containers"}, "df of an empty store")

		sb.ok("load", "-i", fix.docker.path)
		df = sb.df()
		assertEqual(t, df["Images"], usageJSON{Type: "Images", Total: 1, Size: fix.docker.size, Reclaimable: fix.docker.size}, "df after one image")

		// The oci image and the layered images share the busybox layer.
		sb.ok("load", "-i", fix.oci.path)
		sb.ok("load", "-i", fix.layered.path)
		df = sb.df()
		wantSize := fix.layered.size // busybox layer + the child layer
		assertEqual(t, df["Images"], usageJSON{Type: "Images", Total: 4, Size: wantSize, Reclaimable: wantSize}, "df with a shared layer")
		assertEqual(t, df["Containers"].Total, 0, "containers")

		r := sb.ok("system", "df")
		ls := lines(r.stdout)
		if len(ls) != 5 {
			t.Fatalf("system df: want a header and four rows (Images, Containers, Local Volumes, Build Cache):\n%s", r)
		}
		f := strings.Fields(ls[1])
		if len(f) < 4 || f[0] != "Images" || f[1] != "4" || f[2] != "0" {
			t.Fatalf("system df Images row %q:\n%s", ls[1], r)
		}
		assertContains(t, ls[1], "(100%)", "system df Images row")
		assertContains(t, ls[2], "Containers", "system df")
		r = sb.ok("system", "df", "--format", "{{.Type}}={{.Total}}")
		assertEqual(t, r.stdout, "Images=4\nContainers=0\nLocal Volumes=0\nBuild Cache=0\n", "system df --format")
	})
}

// TestSystemPrune: prune removes dangling images only; -a every unused image.
func TestSystemPrune(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("load", "-i", fix.docker.path)
		sb.ok("load", "-i", fix.layered.path) // an intermediate unnamed base + a named child
		// An unnamed import of a tree no other image builds on: dangling. (The plain
		// busybox rootfs would make the very layer the layered image builds on, and so an
		// intermediate image, which prune keeps.)
		dangling := strings.TrimSpace(sb.expectWith(runOpts{stdin: openFile(t, fix.rootfsWithDev)}, 0, "import", "-q", "-").stdout)
		sb.ok("tag", "bb:1", "keep")
		assertEqual(t, len(sb.images(true)), 4, "images before prune")

		// Without -f and a "no", nothing happens.
		r := sb.expectWith(runOpts{stdin: strings.NewReader("n\n")}, 0, "system", "prune")
		assertContains(t, r.stderr, "Are you sure", "prune's question")
		assertEqual(t, len(sb.images(true)), 4, "images after answering no")

		r = sb.ok("system", "prune", "-f")
		assertContains(t, r.stdout, "Deleted: sha256:"+dangling+"\n", "prune -f")
		assertEqual(t, strings.Count(r.stdout, "Deleted:"), 1, "prune -f removes only the dangling image")
		assertContains(t, r.stdout, "Total reclaimed space:", "prune -f")
		list := sb.images(true)
		if len(list) != 3 || findImageID(list, dangling) != nil || findImageID(list, fix.base.id) == nil {
			t.Fatalf("after prune -f: want bb, layered and its intermediate base: %+v", list)
		}
		r = sb.ok("image", "prune", "-f")
		assertNotContains(t, r.stdout, "Deleted:", "a second prune")

		r = sb.expectWith(runOpts{stdin: strings.NewReader("y\n")}, 0, "system", "prune", "-a")
		for _, id := range []string{fix.docker.id, fix.layered.id, fix.base.id} {
			assertContains(t, r.stdout, "Deleted: sha256:"+id+"\n", "prune -a")
		}
		assertEqual(t, len(sb.images(true)), 0, "images after prune -a")
		df := sb.df()
		assertEqual(t, df["Images"], usageJSON{Type: "Images"}, "df after prune -a")
		// The layers are gone from the disk too.
		pattern := "overlay/*/diff"
		if sb.driver == "vfs" {
			pattern = "vfs/dir/*"
		}
		layers, _ := filepath.Glob(filepath.Join(sb.graphRoot(), pattern))
		if len(layers) != 0 {
			t.Fatalf("prune -a left layer directories: %v", layers)
		}
	})
}

// TestSystemResetBrokenStore: reset works when the store's metadata is garbage.
func TestSystemResetBrokenStore(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("load", "-i", fix.docker.path)
		meta := storeMeta(sb.driver) + "-images/images.json"
		sb.ok("unshare", "sh", "-c", `echo 'garbage{' > "$HUTCH_GRAPHROOT/`+meta+`"`)
		if b := readFile(t, filepath.Join(sb.graphRoot(), meta)); string(b) != "garbage{\n" {
			t.Fatalf("could not break the store: %q", b)
		}
		for _, args := range [][]string{{"images"}, {"system", "df"}, {"load", "-i", fix.oci.path}} {
			r := sb.expect(125, args...)
			assertContains(t, r.stderr, "Error: ", "broken store")
			assertContains(t, r.stderr, "images.json", "broken store")
		}
		// info still answers and shows the error.
		in := sb.ok("info", "--format", "json")
		assertContains(t, in.stdout, "images.json", "info on a broken store")

		r := sb.expectWith(runOpts{stdin: strings.NewReader("no\n")}, 0, "system", "reset")
		assertContains(t, r.stderr, sb.graphRoot(), "reset's question names the store")
		if _, err := os.Stat(filepath.Join(sb.graphRoot(), meta)); err != nil {
			t.Fatal("reset answered with no deleted the store")
		}
		sb.ok("system", "reset", "-f")
		if _, err := os.Stat(sb.graphRoot()); err == nil {
			t.Fatalf("reset left the store %s", sb.graphRoot())
		}
		if entries, _ := os.ReadDir(sb.runtimeDir()); len(entries) != 0 {
			t.Fatalf("reset left %d entries in the runtime dir", len(entries))
		}
		assertEqual(t, len(sb.images(true)), 0, "images after reset")
		sb.ok("load", "-i", fix.docker.path)
		if findImage(sb.images(false), fix.docker.name) == nil {
			t.Fatal("the store does not work after reset")
		}

		// A broken layer store as well, and the store record itself.
		sb.ok("unshare", "sh", "-c", `echo '[{' > "$HUTCH_GRAPHROOT/`+storeMeta(sb.driver)+`-layers/layers.json"; echo '{' > "$HUTCH_GRAPHROOT/hutch-store.json"`)
		r = sb.expect(125, "images")
		assertOneLineError(t, r, "hutch-store.json", "hutch system reset")
		sb.ok("system", "reset", "-f")
		assertEqual(t, len(sb.images(true)), 0, "images after the second reset")
	})
}

// TestUnshare: `hutch unshare` runs a command as root of the namespace, where files of
// subordinate ids can be deleted; it passes the exit status on.
func TestUnshare(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	sb.ok("unshare", "sh", "-c", "mkdir d && touch d/f && chown -R 1000:1000 d")
	uid, _ := fileOwner(t, sb.path("work", "d", "f"))
	assertEqual(t, uid, sb.user.subUID.start+999, "owner of d/f on the host")

	r := sb.shell("rm -rf d")
	if r.code == 0 {
		t.Fatalf("the plain user could delete a directory of a subordinate id:\n%s", r)
	}
	assertContains(t, r.stderr, "Permission denied", "plain rm")
	if _, err := os.Stat(sb.path("work", "d", "f")); err != nil {
		t.Fatal("d/f is gone after the refused rm")
	}
	sb.ok("unshare", "rm", "-rf", "d")
	if _, err := os.Lstat(sb.path("work", "d")); err == nil {
		t.Fatal("hutch unshare rm -rf d left d")
	}

	r = sb.ok("unshare", "sh", "-c", `echo "$HUTCH_GRAPHROOT|$HUTCH_RUNROOT|$(pwd)"; env | grep -c '^_HUTCH' || true`)
	assertEqual(t, r.stdout, sb.graphRoot()+"|"+filepath.Join(sb.runtimeDir(), "storage")+"|"+sb.path("work")+"\n0\n", "unshare environment")
	for _, code := range []int{1, 3, 42} {
		sb.expect(code, "unshare", "sh", "-c", "exit "+strconv.Itoa(code))
	}
	r = sb.expect(127, "unshare", "no-such-command-xyz")
	assertContains(t, r.stderr, "no-such-command-xyz", "unshare of a missing command")
	// Without a command: the shell from $SHELL (here /bin/sh), reading stdin.
	r = sb.expectWith(runOpts{stdin: strings.NewReader("id -u\n")}, 0, "unshare")
	assertEqual(t, r.stdout, "0\n", "unshare with a script on stdin")
	r = sb.ok("unshare", "--help")
	assertContains(t, r.stdout, "Examples:", "unshare --help")
}
