package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
		assertContains(t, r.stderr, "--add-subgids", "first command's stderr")
		assertContains(t, r.stderr, sb.user.name, "first command's stderr")
		assertFreeRangeAdvice(t, r.stderr)
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

// assertFreeRangeAdvice checks the range hutch advises for a user without one: the same
// for uids and gids, of 65536 ids, and free in /etc/subuid and /etc/subgid (not the
// fixed 100000-165535 it used to advise, which is taken on a machine with a user).
func assertFreeRangeAdvice(t *testing.T, text string) {
	t.Helper()
	m := regexp.MustCompile("usermod --add-subuids ([0-9]+)-([0-9]+) --add-subgids ([0-9]+)-([0-9]+) ").FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no `usermod --add-subuids A-B --add-subgids A-B USER` in:\n%s", text)
	}
	start, _ := strconv.Atoi(m[1])
	end, _ := strconv.Atoi(m[2])
	if m[1] != m[3] || m[2] != m[4] || end-start+1 != 65536 {
		t.Fatalf("advised ranges %s-%s and %s-%s: want one range of 65536 ids for both", m[1], m[2], m[3], m[4])
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		for _, line := range strings.Split(string(readFile(t, file)), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			s, _ := strconv.Atoi(f[1])
			c, _ := strconv.Atoi(f[2])
			if start < s+c && s < end+1 {
				t.Fatalf("the advised range %d-%d overlaps %s's %d-%d in %s", start, end, f[0], s, s+c-1, file)
			}
		}
	}
}

// TestSubIDConflicts: a user whose subordinate range overlaps another user's, or holds
// a real user's uid, is warned once by the first command and by every `info`, naming
// the other user and the admin's fix (a free range); the commands still work. The
// host's files are test copies bind-mounted over /etc/subuid, /etc/subgid and
// /etc/passwd in a mount namespace of the commands' own. (Before: nothing was said; a
// user given another's range could kill that user's container processes.)
func TestSubIDConflicts(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	u := sb.user
	etc := sb.path("etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	// mallory's uid range overlaps the test user's; ghost is a user whose uid lies in it.
	overlapStart := u.subUID.start + u.subUID.count/2
	ghostUID := u.subUID.start + 10
	files := map[string]string{
		"subuid": string(readFile(t, "/etc/subuid")) + fmt.Sprintf("mallory:%d:65536\n", overlapStart),
		"subgid": string(readFile(t, "/etc/subgid")),
		"passwd": string(readFile(t, "/etc/passwd")) + fmt.Sprintf("ghost:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", ghostUID, ghostUID),
	}
	ns := newMountNS(t)
	for name, content := range files {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		ns.bind(p, "/etc/"+name)
	}
	inNS := *sb
	inNS.ns = ns
	own := fmt.Sprintf("%d-%d", u.subUID.start, u.subUID.start+u.subUID.count-1)
	r := inNS.run(runOpts{}, "load", "-i", fix.docker.path)
	if r.code != 0 {
		t.Fatalf("load failed:\n%s", r)
	}
	for _, n := range []string{
		"hutch: warning: /etc/subuid: your subordinate uid range " + own + " overlaps mallory's " + fmt.Sprintf("%d-%d", overlapStart, overlapStart+65535),
		fmt.Sprintf("contains the uid %d of ghost (/etc/passwd)", ghostUID),
		"can signal, trace and write as the other",
		"usermod --del-subuids " + own + " --add-subuids ",
	} {
		assertContains(t, r.stderr, n, "the first command's warning")
	}
	r = inNS.run(runOpts{}, "images")
	if r.code != 0 || strings.Contains(r.stderr, "warning") || !strings.Contains(r.stdout, "localhost/bb") {
		t.Fatalf("the second command failed or warned again:\n%s", r)
	}
	r = inNS.run(runOpts{}, "info")
	assertContains(t, r.stdout, "overlaps mallory's", "info")
	assertContains(t, r.stdout, "of ghost (/etc/passwd)", "info")
	// The suggested range is free in the files hutch was shown.
	m := regexp.MustCompile(`--add-subuids ([0-9]+)-([0-9]+) hutch-test`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no free range in:\n%s", r.stdout)
	}
	start, _ := strconv.Atoi(m[1])
	for _, e := range [][2]int{{u.subUID.start, u.subUID.count}, {overlapStart, 65536}} {
		if start < e[0]+e[1] && e[0] < start+65536 {
			t.Fatalf("the advised range %s-%s is not free: it overlaps %d-%d", m[1], m[2], e[0], e[0]+e[1]-1)
		}
	}
	// Without the conflicts (the machine's own files), no such warning.
	for _, w := range sb.info().Warnings {
		if strings.HasSuffix(w.ID, "-conflict") {
			t.Fatalf("a warning about ranges on the real files: %s", w.Text)
		}
	}
}
