package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// parseIDMap reads /proc/self/{uid,gid}_map output into rows of three numbers.
func parseIDMap(t *testing.T, r result) [][3]int {
	t.Helper()
	var rows [][3]int
	for _, l := range lines(r.stdout) {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("not an id map line %q:\n%s", l, r)
		}
		var row [3]int
		for i := range f {
			n, err := strconv.Atoi(f[i])
			if err != nil {
				t.Fatalf("not an id map line %q:\n%s", l, r)
			}
			row[i] = n
		}
		rows = append(rows, row)
	}
	return rows
}

// TestUserNamespaceMapping: a user with a range is root in hutch's namespace, with the
// own id at 0 and the subordinate range from 1.
func TestUserNamespaceMapping(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	u := sb.user

	for _, m := range []struct {
		file string
		own  int
		sub  *subRange
	}{{"/proc/self/uid_map", u.uid, u.subUID}, {"/proc/self/gid_map", u.gid, u.subGID}} {
		r := sb.ok("unshare", "cat", m.file)
		got := parseIDMap(t, r)
		want := [][3]int{{0, m.own, 1}, {1, m.sub.start, m.sub.count}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: got %v, want %v:\n%s", m.file, got, want, r)
		}
	}
	r := sb.ok("unshare", "id", "-u")
	assertEqual(t, strings.TrimSpace(r.stdout), "0", "id -u inside the namespace")
	r = sb.ok("unshare", "id", "-g")
	assertEqual(t, strings.TrimSpace(r.stdout), "0", "id -g inside the namespace")

	in := sb.info()
	assertEqual(t, in.IDMappings.Source, "/etc/subuid and /etc/subgid", "info: id source")
	assertEqual(t, in.IDMappings.SingleID, false, "info: singleID")
	assertEqual(t, in.IDMappings.IgnoreChownErrors, false, "info: ignoreChownErrors")
	assertEqual(t, in.User.UID, u.uid, "info: user uid")
	if len(in.IDMappings.Helpers) != 2 {
		t.Fatalf("info lists %d helpers, want newuidmap and newgidmap: %+v", len(in.IDMappings.Helpers), in.IDMappings.Helpers)
	}
	for _, h := range in.IDMappings.Helpers {
		if !h.OK || h.Problem != "" || !strings.HasPrefix(h.Path, "/usr/bin/") {
			t.Fatalf("info: helper %s not reported usable: %+v", h.Name, h)
		}
	}
	if len(in.IDMappings.UIDMap) != 2 || in.IDMappings.UIDMap[1].HostID != u.subUID.start || in.IDMappings.UIDMap[1].Size != u.subUID.count {
		t.Fatalf("info: uid map %+v does not show the range %+v", in.IDMappings.UIDMap, *u.subUID)
	}
	for _, w := range in.Warnings {
		if w.ID == "single-id" || strings.Contains(w.Text, "single-id") {
			t.Fatalf("info warns about a single-id namespace for a user with a range: %s", w.Text)
		}
	}
	text := sb.ok("info").stdout
	assertContains(t, text, "id source: /etc/subuid and /etc/subgid", "info text")
	assertContains(t, text, fmt.Sprintf("uid map: 1 -> %d (%d ids)", u.subUID.start, u.subUID.count), "info text")
	assertNotContains(t, text, "single-id namespace: yes", "info text")
}

// layerFile finds a file of an image layer in the store, as root, whatever the driver.
func layerFile(t *testing.T, sb *sandbox, rel string) string {
	t.Helper()
	var hits []string
	for _, pattern := range []string{"overlay/*/diff/", "vfs/dir/*/"} {
		m, _ := filepath.Glob(filepath.Join(sb.graphRoot(), pattern, rel))
		hits = append(hits, m...)
	}
	if len(hits) == 0 {
		t.Fatalf("no layer in %s holds %s", sb.graphRoot(), rel)
	}
	return hits[0]
}

func fileOwner(t *testing.T, path string) (int, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid), int(st.Gid)
}

// TestLoadedFileOwnership: a file owned by 1000 in an image lands in the store owned by
// the matching subordinate id on the host, on every driver.
func TestLoadedFileOwnership(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("load", "-i", fix.docker.path)
		uid, gid := fileOwner(t, layerFile(t, sb, "home/user/owned"))
		wantUID, wantGID := sb.user.subUID.start+ownedUID-1, sb.user.subGID.start+ownedUID-1
		if uid != wantUID || gid != wantGID {
			t.Fatalf("home/user/owned is %d:%d on the host, want %d:%d (container 1000 in the range %+v)", uid, gid, wantUID, wantGID, *sb.user.subUID)
		}
		// Inside the namespace the owner reads as 1000 again.
		r := sb.ok("unshare", "stat", "-c", "%u:%g", layerFile(t, sb, "home/user/owned"))
		assertEqual(t, strings.TrimSpace(r.stdout), "1000:1000", "owner inside the namespace")
		uid, _ = fileOwner(t, layerFile(t, sb, "etc/hello"))
		assertEqual(t, uid, sb.user.uid, "owner of etc/hello (container root) on the host")
	})
}

// TestNoSubIDUser: without a range hutch still works, in a single-id namespace, warns
// once with the fix, and stores files of other owners as the user's own.
func TestNoSubIDUser(t *testing.T) {
	t.Parallel()
	forEachDriverAs(t, userNoRange, func(t *testing.T, sb *sandbox) {
		r := sb.ok("images")
		assertContains(t, r.stderr, "hutch: warning: ", "first command's stderr")
		assertContains(t, r.stderr, "single-id", "first command's stderr")
		assertContains(t, r.stderr, "usermod --add-subuids", "first command's stderr")
		assertContains(t, r.stderr, "usermod --add-subgids", "first command's stderr")
		assertContains(t, r.stderr, sb.user.name, "first command's stderr")
		r = sb.ok("images")
		assertNotContains(t, r.stderr, "warning", "second command's stderr (the warning is shown once)")

		r = sb.ok("unshare", "cat", "/proc/self/uid_map")
		got := parseIDMap(t, r)
		if fmt.Sprint(got) != fmt.Sprint([][3]int{{0, sb.user.uid, 1}}) {
			t.Fatalf("uid map %v, want only the user's own id:\n%s", got, r)
		}

		in := sb.info()
		assertEqual(t, in.IDMappings.SingleID, true, "info: singleID")
		assertEqual(t, in.IDMappings.IgnoreChownErrors, true, "info: ignoreChownErrors")
		found := false
		for _, w := range in.Warnings {
			if w.ID == "single-id" && strings.Contains(w.Text, "usermod --add-subuids") {
				found = true
			}
		}
		if !found {
			t.Fatalf("info --format json does not list the single-id warning: %+v", in.Warnings)
		}
		text := sb.ok("info")
		assertContains(t, text.stdout, "single-id namespace: yes", "info text")
		assertContains(t, text.stdout, "usermod --add-subuids", "info text warnings")
		assertNotContains(t, text.stderr, "warning", "info's stderr after the first command")

		// The image has a file owned by 1000; it loads, stored as the user's own.
		r = sb.ok("load", "-i", fix.docker.path)
		assertContains(t, r.stdout, "Loaded image: "+fix.docker.name, "load output")
		if img := findImage(sb.images(false), fix.docker.name); img == nil || img.ID != fix.docker.id {
			t.Fatalf("images does not list %s with ID %s: %+v", fix.docker.name, fix.docker.id, sb.images(false))
		}
		uid, _ := fileOwner(t, layerFile(t, sb, "home/user/owned"))
		assertEqual(t, uid, sb.user.uid, "owner of home/user/owned on the host (single-id)")
		sb.ok("import", fix.rootfs, "nosub-import")
		assertContains(t, sb.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout, "localhost/nosub-import:latest", "images")
	})
}

// TestUnusableHelperFallsBack: a newuidmap that cannot map ids, first on PATH, makes
// hutch fall back to a single-id namespace and name the file and both fixes.
func TestUnusableHelperFallsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		owner     int // of the fake helper
		mentionFn func(path string) []string
	}{
		{"not-setuid", 0, func(p string) []string {
			return []string{p, "chmod u+s " + p, "setcap cap_setuid+ep " + p}
		}},
		{"not-root-owned", -1, func(p string) []string {
			return []string{p, "not root", "apt-get install uidmap"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			bin := sb.path("fakebin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			fake := filepath.Join(bin, "newuidmap")
			if err := copyFile("/usr/bin/newuidmap", fake, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.owner < 0 {
				if err := os.Chown(fake, sb.user.uid, sb.user.gid); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"PATH": bin + ":/usr/local/bin:/usr/bin:/bin"}
			sb.env = env
			r := sb.ok("images")
			assertContains(t, r.stderr, "hutch: warning: ", "stderr")
			assertContains(t, r.stderr, "single-id", "stderr")
			for _, m := range tc.mentionFn(fake) {
				assertContains(t, r.stderr, m, "the warning")
			}
			r = sb.ok("unshare", "cat", "/proc/self/uid_map")
			if got := parseIDMap(t, r); fmt.Sprint(got) != fmt.Sprint([][3]int{{0, sb.user.uid, 1}}) {
				t.Fatalf("uid map %v, want the single id only:\n%s", got, r)
			}
			in := sb.info()
			assertEqual(t, in.IDMappings.SingleID, true, "info: singleID")
			var helper string
			for _, h := range in.IDMappings.Helpers {
				if h.Name == "newuidmap" {
					if h.OK || h.Path != fake {
						t.Fatalf("info reports newuidmap %+v, want %s not usable", h, fake)
					}
					helper = h.Problem
				}
			}
			assertContains(t, helper, fake, "info: newuidmap problem")
			// Images still load: files of other owners become the user's.
			sb.ok("load", "-i", fix.docker.path)
			assertContains(t, sb.ok("images").stdout, "localhost/bb", "images")
			// With the real helper back, the full mapping returns.
			sb.env = map[string]string{}
			r = sb.ok("unshare", "cat", "/proc/self/uid_map")
			if got := parseIDMap(t, r); len(got) != 2 {
				t.Fatalf("with /usr/bin/newuidmap the map should have the range again: %v", got)
			}
		})
	}
}
