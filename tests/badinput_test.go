package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// storeState is everything a refused input must leave exactly as it was.
type storeState struct {
	images string // images -a --no-trunc --format json
	df     string // system df --format json
	files  string // the store's metadata and layer directories, read as root
}

func (sb *sandbox) state() storeState {
	sb.t.Helper()
	st := storeState{
		images: sb.ok("images", "-a", "--no-trunc", "--format", "json").stdout,
		df:     sb.ok("system", "df", "--format", "json").stdout,
	}
	meta := storeMeta(sb.driver)
	var b strings.Builder
	for _, f := range []string{meta + "-images/images.json", meta + "-layers/layers.json"} {
		data, err := os.ReadFile(sb.seen(filepath.Join(sb.graphRoot(), f)))
		fmt.Fprintf(&b, "== %s (%v)\n%s\n", f, err, data)
	}
	for _, pattern := range []string{meta + "/*", meta + "/dir/*", meta + "-images/*", meta + "-layers/*", "tmp/*"} {
		all, _ := filepath.Glob(sb.seen(filepath.Join(sb.graphRoot(), pattern)))
		var m []string
		for _, p := range all {
			// An empty directory holds no state (the store makes scratch dirs lazily).
			if entries, err := os.ReadDir(p); err == nil && len(entries) == 0 {
				continue
			}
			m = append(m, p)
		}
		sort.Strings(m)
		fmt.Fprintf(&b, "== %s\n%s\n", pattern, strings.Join(m, "\n"))
	}
	st.files = b.String()
	return st
}

func assertSameState(t *testing.T, before, after storeState, what string) {
	t.Helper()
	if before.images != after.images {
		t.Fatalf("%s changed `images -a`:\nbefore:\n%s\nafter:\n%s", what, before.images, after.images)
	}
	if before.df != after.df {
		t.Fatalf("%s changed `system df`:\nbefore:\n%s\nafter:\n%s", what, before.df, after.df)
	}
	if before.files != after.files {
		t.Fatalf("%s changed the store's files:\n%s", what, lineDiff(before.files, after.files))
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "- "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestBadInput: every malformed or hostile input is refused with one line naming it, and
// the store is exactly as before — on every driver.
func TestBadInput(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("load", "-i", fix.docker.path)
		sb.ok("import", fix.rootfs, "before")
		before := sb.state()

		refuse := func(what string, o runOpts, args []string, mention ...string) {
			t.Helper()
			r := sb.expectWith(o, anyFailure, args...)
			assertOneLineError(t, r, mention...)
			if r.stdout != "" {
				t.Fatalf("%s: a refused command printed on stdout:\n%s", what, r)
			}
			assertSameState(t, before, sb.state(), what)
		}
		for _, b := range fix.badLoad {
			refuse("load -i "+b.name, runOpts{}, []string{"load", "-i", b.path}, b.mention...)
			refuse("load < "+b.name, runOpts{stdin: openFile(t, b.path)}, []string{"load"})
		}
		for _, b := range fix.badImport {
			mention := append([]string{b.path}, b.mention...)
			if b.name == "truncated" || b.name == "random-bytes" {
				mention = b.mention
			}
			refuse("import "+b.name, runOpts{}, []string{"import", b.path, "bad-" + b.name}, mention...)
			stdinMention := b.mention
			if b.name == "truncated" || b.name == "random-bytes" {
				stdinMention = nil // the file has no name on stdin
			}
			refuse("import - < "+b.name, runOpts{stdin: openFile(t, b.path)}, []string{"import", "-", "bad-" + b.name}, stdinMention...)
		}
		refuse("bad name", runOpts{}, []string{"import", fix.rootfs, "Bad:Name"}, `"Bad:Name"`)
		refuse("bad name with -", runOpts{stdin: openFile(t, fix.rootfs)}, []string{"import", "-", "UPPER/case"}, `"UPPER/case"`)
		missing := sb.path("work", "missing.tar")
		refuse("import of a missing file", runOpts{}, []string{"import", missing, "x"}, missing)
		refuse("load of a missing file", runOpts{}, []string{"load", "-i", missing}, missing)
		refuse("load of a directory", runOpts{}, []string{"load", "-i", fix.dir}, fix.dir)
		refuse("import of a directory", runOpts{}, []string{"import", fix.dir, "x"}, fix.dir)
		refuse("load of empty stdin", runOpts{}, []string{"load"})
		refuse("import of empty stdin", runOpts{}, []string{"import", "-", "x"})

		// None of the refused entries reached the disk anywhere near the store.
		for _, p := range []string{filepath.Join(sb.graphRoot(), "x"), filepath.Join(filepath.Dir(sb.graphRoot()), "x"), sb.path("data", "x")} {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%s exists: an escaping entry was written", p)
			}
		}
		// An archive whose busybox layer was altered: the store already has the genuine
		// layer (same digest), reuses it, and the altered bytes never get in.
		sb.ok("load", "-i", fix.tamperedShared.path)
		hellos, _ := filepath.Glob(filepath.Join(sb.graphRoot(), "*", "*", "*", "etc", "hello"))
		for _, h := range hellos {
			if b := readFile(t, h); string(b) != helloContent {
				t.Fatalf("%s holds %q: tampered bytes reached the store", h, b)
			}
		}
		if len(hellos) == 0 {
			t.Fatal("no etc/hello in the store")
		}
		sb.ok("rmi", "tampered-shared:1")
		assertSameState(t, before, sb.state(), "loading and removing tampered-shared")

		// And the store still works.
		sb.ok("load", "-i", fix.oci.path)
		assertEqual(t, len(sb.images(true)), 3, "images after the refusals and one more load")
	})
}

// TestImportDeviceNodes: device nodes are left out of an import, with a warning naming
// them; the rest of the tree is imported.
func TestImportDeviceNodes(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		r := sb.ok("import", fix.rootfsWithDev, "withdev")
		assertContains(t, r.stderr, "hutch: warning: left out 2 device node(s)", "import with device nodes")
		assertContains(t, r.stderr, "dev/null", "import with device nodes")
		assertContains(t, r.stderr, "dev/sda", "import with device nodes")
		if findImage(sb.images(false), "localhost/withdev:latest") == nil {
			t.Fatal("the image with device nodes left out was not stored")
		}
		layerFile(t, sb, "etc/hello")
		if m, _ := filepath.Glob(filepath.Join(sb.graphRoot(), "*", "*", "*", "dev", "null")); len(m) != 0 {
			t.Fatalf("a device node reached the store: %v", m)
		}
	})
}

// Hostile layers (entries that climb out, links out of the layer, bombs …) are the
// corpus of tests/hostile, run by hostile_test.go.
