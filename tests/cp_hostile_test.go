package tests

// hutch cp against a hostile container, both ways, running and stopped (issue 12, hole
// 2): symlinks that point out of it (absolute and ../..), a destination that is a
// symlink to the host (and whether the host has that path must make no difference),
// hard links, device nodes, fifos (also a file that keeps turning into a fifo) and
// paths deeper than PATH_MAX. Each case asserts that nothing changed outside the
// container's root and the copy's destination, and that an error names the entry.
// The races on directories are in cp_race_test.go.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpDeep is how deep the deep-path cases go: cpDeep directories of 40-byte names make a
// path of 8200 bytes, twice PATH_MAX.
const cpDeep = 200

var cpDeepName = strings.Repeat("d", 40)

// cpGuard snapshots directories outside the container and the copy's destination;
// check fails the test when any of them changed (entries, types, modes, contents).
func cpGuard(t *testing.T, dirs ...string) (check func(after string)) {
	t.Helper()
	snap := func() string {
		var lines []string
		for _, dir := range dirs {
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					lines = append(lines, p+": "+err.Error())
					return nil
				}
				fi, err := os.Lstat(p)
				if err != nil {
					return nil
				}
				line := p + " " + fi.Mode().String()
				if fi.Mode().IsRegular() {
					b, _ := os.ReadFile(p)
					line += " " + string(b)
				} else if fi.Mode()&fs.ModeSymlink != 0 {
					target, _ := os.Readlink(p)
					line += " -> " + target
				}
				lines = append(lines, line)
				return nil
			})
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	before := snap()
	return func(after string) {
		t.Helper()
		if now := snap(); now != before {
			t.Fatalf("after %s, something outside the container and the destination changed:\nbefore:\n%s\nnow:\n%s", after, before, now)
		}
	}
}

// cpMissing fails the test if the host path exists.
func cpMissing(t *testing.T, p, after string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after %s, %s exists (%v)", after, p, err)
	}
}

// cpDeepHostTree makes dir/d…d (cpDeep levels)/leaf on the host, owned by the user,
// by descriptor (the path is too long for the path-based calls).
func cpDeepHostTree(t *testing.T, sb *sandbox, dir string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cpDeep; i++ {
		if err := unix.Mkdirat(fd, cpDeepName, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fchownat(fd, cpDeepName, sb.user.uid, sb.user.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, cpDeepName, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	defer unix.Close(fd)
	lf, err := unix.Openat(fd, "leaf", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(lf, []byte("the bottom\n")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fchown(lf, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	unix.Close(lf)
}

// cpDeepHostLeaf reads dir/d…d/leaf on the host by descriptor ("" when it is not there).
func cpDeepHostLeaf(t *testing.T, dir string) string {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	for i := 0; i < cpDeep; i++ {
		next, err := unix.Openat(fd, cpDeepName, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return ""
		}
		fd = next
	}
	defer unix.Close(fd)
	lf, err := unix.Openat(fd, "leaf", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(lf)
	b := make([]byte, 100)
	n, _ := unix.Read(lf, b)
	return string(b[:max(n, 0)])
}

// cpDeepProbe is the probe command that makes (text given) or reads the deep tree
// below dir in the container (a shell's cd fails past PATH_MAX).
func cpDeepProbe(dir, text string) string {
	if text == "" {
		return fmt.Sprintf("probe deep read %s %d %s", dir, cpDeep, cpDeepName)
	}
	return fmt.Sprintf("probe deep make %s %d %s %s", dir, cpDeep, cpDeepName, text)
}

// TestCopyHostile: see the file's comment.
func TestCopyHostile(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		loadProbe(t, sb)
		lcCleanupContainers(t, sb)
		victim := lcOwnedDir(t, sb, "victim") // a host directory the container names
		sb.writeUserFile(filepath.Join(victim, "secret"), "host secret\n")
		sb.writeUserFile(filepath.Join(victim, "sub", "inner"), "inner\n")
		for _, p := range []string{victim, filepath.Join(victim, "secret")} {
			if err := os.Chmod(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		sb.writeUserFile(sb.path("work", "f.txt"), "host-file\n")
		sb.writeUserFile(sb.path("work", "hostkeep"), "the user's other link\n")
		cpDeepHostTree(t, sb, lcOwnedDir(t, sb, "deepsrc"))
		guard := cpGuard(t, victim, sb.path("home"), sb.path("work", "hostkeep"), sb.path("work", "f.txt"))

		setup := strings.Join([]string{
			"mkdir -p /h/tree /h/two/d /h/hard /h/dev /h/deep",
			"ln -s " + victim + " /h/abs",
			"ln -s ../../../../../../../../.." + victim + " /h/rel",
			"ln -s " + victim + "/secret /h/file",
			"ln -s " + victim + "-missing /h/absmissing",
			"ln -s ../../../../../../../../.." + victim + "-missing /h/relmissing",
			"echo real > /h/tree/real",
			"ln -s " + victim + " /h/tree/abs",
			"ln -s ../../../../../../../../.." + victim + "/secret /h/tree/rel",
			"echo evil > /h/two/d/evil",
			"echo linked > /h/hard/a", "ln /h/hard/a /h/hard/b",
			"echo keep > /h/keep", "ln /h/keep /h/keeplink",
			"mkfifo /h/pipe-running /h/pipe-stopped /h/fifo",
			"echo ok > /h/dev/ok",
			// A device node, where an unprivileged user may make one: the 0:0 whiteout
			// device, on a plain directory (vfs). Tried elsewhere first: on
			// fuse-overlayfs the attempt leaves the directory unreadable.
			"mkdir /h/devtry",
			"if mknod /h/devtry/wh c 0 0 2>/dev/null; then mknod /h/dev/wh c 0 0; fi",
			// fuse-overlayfs cannot make a path longer than PATH_MAX (it works by path
			// in its upper directory): noted, and checked below.
			"if ! " + cpDeepProbe("/h/deep", "bottom") + "; then : > /h/nodeep; fi",
			": > /h/made",
		}, " &&\n")
		// The setup runs once: the container is started again at the end.
		script := "if [ ! -e /h/made ]; then " + setup + " || exit 1; fi\ntrap 'exit 0' TERM\nsleep 1000 & wait"
		lcRunD(sb, "--name", "hostile", "--network", "none", "localhost/probe:1", "sh", "-c", script)
		ready := func() {
			t.Helper()
			lcEventually(t, 30*time.Second, "the container is set up", func() (bool, string) {
				r := sb.run(runOpts{}, "exec", "hostile", "cat", "/h/made")
				return r.code == 0, r.String() + sb.run(runOpts{}, "logs", "hostile").String()
			})
		}
		ready()
		hasDevice := sb.run(runOpts{}, "exec", "hostile", "stat", "/h/dev/wh").code == 0
		deepOK := sb.run(runOpts{}, "exec", "hostile", "stat", "/h/nodeep").code != 0
		t.Logf("the container could make a device node: %v; paths deeper than PATH_MAX: %v", hasDevice, deepOK)

		cat := func(p string) string {
			t.Helper()
			return sb.ok("exec", "hostile", "cat", p).stdout
		}
		for _, state := range []string{"running", "stopped"} {
			if state == "stopped" {
				sb.ok("stop", "hostile")
			}
			out := lcOwnedDir(t, sb, "out-"+state)
			o := func(name string) string { return filepath.Join("out-"+state, name) }
			fail := func(what string, needle string, args ...string) {
				t.Helper()
				r := sb.expect(125, append([]string{"cp"}, args...)...)
				assertOneLineError(t, r, needle)
				guard(what + " (" + state + ")")
			}

			// Symlinks pointing out, read out: copied as the links they are; a path
			// through them leads nowhere inside the container, and says which.
			sb.ok("cp", "hostile:/h/tree", o("tree"))
			for name, want := range map[string]string{"abs": victim, "rel": "../../../../../../../../.." + victim + "/secret"} {
				if got, err := os.Readlink(filepath.Join(out, "tree", name)); err != nil || got != want {
					t.Fatalf("%s: cp out of a link pointing out: %q (%v), want the link to %q", state, got, err, want)
				}
			}
			assertEqual(t, lcReadString(t, filepath.Join(out, "tree", "real")), "real\n", "the tree's file")
			sb.ok("cp", "hostile:/h/file", o("file"))
			if got, _ := os.Readlink(filepath.Join(out, "file")); got != victim+"/secret" {
				t.Fatalf("%s: cp out of /h/file: want the link itself, got %q", state, got)
			}
			for _, src := range []string{"/h/abs/secret", "/h/rel/secret", "/h/abs/.", "/h/rel/sub/inner", "/h/file/", "/h/tree/abs/secret"} {
				fail("cp out of "+src, src, "hostile:"+src, o("x"))
				cpMissing(t, filepath.Join(out, "x"), "cp out of "+src)
			}

			// Symlinks pointing out, written into: followed inside the container only.
			for _, dst := range []string{"/h/abs/x", "/h/rel/x", "/h/abs/", "/h/rel/sub/", "/h/file", "/h/tree/abs/y"} {
				r := sb.run(runOpts{}, "cp", "f.txt", "hostile:"+dst)
				if r.code != 0 {
					assertOneLineError(t, r, strings.TrimSuffix(dst, "/"))
				}
				guard("cp f.txt into " + dst + " (" + state + ")")
			}

			// A destination that is a symlink to a host path: the same outcome whether
			// the host has that path (the victim) or not (victim-missing): nothing on the
			// host is looked at.
			for _, pair := range [][2]string{{"/h/abs", "/h/absmissing"}, {"/h/rel", "/h/relmissing"}, {"/h/abs/", "/h/absmissing/"}, {"/h/abs/sub/x", "/h/absmissing/sub/x"}} {
				a := sb.run(runOpts{}, "cp", "f.txt", "hostile:"+pair[0])
				b := sb.run(runOpts{}, "cp", "f.txt", "hostile:"+pair[1])
				norm := func(s, name, target string) string {
					return strings.ReplaceAll(strings.ReplaceAll(s, target, "TARGET"), name, "LINK")
				}
				na := norm(a.stderr, strings.TrimSuffix(pair[0], "/"), victim)
				nb := norm(b.stderr, strings.TrimSuffix(pair[1], "/"), victim+"-missing")
				if a.code != b.code || na != nb {
					t.Fatalf("%s: cp to a link to an existing host path and to a missing one differ:\n%s\n%s", state, a, b)
				}
				guard("cp f.txt into " + pair[0] + " and " + pair[1] + " (" + state + ")")
			}

			// A symlink to the host that an earlier copy out left in the destination
			// is not followed by the next copy into the same place.
			sb.ok("cp", "hostile:/h/abs", o("d"))
			fail("cp out over a link left by an earlier copy", "out-"+state+"/d", "hostile:/h/two/.", o(""))
			cpMissing(t, filepath.Join(victim, "evil"), "cp out over a link to the host")

			// Hard links: written into, a link is replaced, its other name keeps its
			// content; read out, they stay links; a host destination that is a hard
			// link is replaced, its other name untouched.
			sb.ok("cp", "f.txt", "hostile:/h/keeplink")
			if state == "running" {
				assertEqual(t, cat("/h/keep"), "keep\n", "the other name of a hard link written to")
				assertEqual(t, cat("/h/keeplink"), "host-file\n", "the hard link written to")
			}
			sb.ok("cp", "hostile:/h/hard", o("hard"))
			var sa, sb2 syscall.Stat_t
			if syscall.Lstat(filepath.Join(out, "hard", "a"), &sa) != nil || syscall.Lstat(filepath.Join(out, "hard", "b"), &sb2) != nil || sa.Ino != sb2.Ino {
				t.Fatalf("%s: the hard links in the container are not hard links in the copy", state)
			}
			if err := os.Link(sb.path("work", "hostkeep"), filepath.Join(out, "hostlink")); err != nil {
				t.Fatal(err)
			}
			sb.ok("cp", "hostile:/h/tree/real", o("hostlink"))
			assertEqual(t, lcReadString(t, filepath.Join(out, "hostlink")), "real\n", "a host destination that was a hard link")
			guard("cp out onto a hard link (" + state + ")")

			// Device nodes: never opened, never made; the error names them.
			fail("cp /dev/null in", "/dev/null", "/dev/null", "hostile:/h/null")
			fail("cp /dev/zero in", "/dev/zero", "/dev/zero", "hostile:/h/zero")
			r := sb.run(runOpts{}, "cp", "hostile:/h/dev", o("dev"))
			if hasDevice {
				if r.code != 125 {
					t.Fatalf("%s: cp out of a directory with a device node should fail:\n%s", state, r)
				}
				assertOneLineError(t, r, "/h/dev/wh", "character device")
				cpMissing(t, filepath.Join(out, "dev", "wh"), "cp out of a device node")
			} else if r.code != 0 {
				t.Fatalf("%s: %s", state, r)
			}
			assertEqual(t, lcReadString(t, filepath.Join(out, "dev", "ok")), "ok\n", "the rest of a directory with a device node")
			guard("the device nodes (" + state + ")")

			// Fifos: a fifo at the destination is replaced, not opened (which would wait
			// for a reader for ever); a fifo read out is made as a fifo, not read.
			bg := lcStart(sb, runOpts{}, "cp", "f.txt", "hostile:/h/pipe-"+state)
			if r := bg.wait(t, time.Minute); r.code != 0 {
				t.Fatalf("%s: cp onto a fifo: %s", state, r)
			}
			bg = lcStart(sb, runOpts{}, "cp", "hostile:/h/fifo", o("fifo"))
			if r := bg.wait(t, time.Minute); r.code != 0 {
				t.Fatalf("%s: cp out of a fifo: %s", state, r)
			}
			if fi, err := os.Lstat(filepath.Join(out, "fifo")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
				t.Fatalf("%s: cp out of a fifo made %v (%v)", state, fi.Mode(), err)
			}
			if state == "running" {
				assertEqual(t, cat("/h/pipe-running"), "host-file\n", "the fifo at the destination, replaced")
			}

			// Deeper than PATH_MAX, both ways.
			if deepOK {
				sb.ok("cp", "hostile:/h/deep", o("deep"))
				assertEqual(t, cpDeepHostLeaf(t, filepath.Join(out, "deep")), "bottom\n", "the leaf of the deep tree copied out")
				sb.ok("cp", "deepsrc", "hostile:/h/deepin-"+state)
			} else {
				// The storage refuses the depth: the error says where.
				r := sb.expect(125, "cp", "deepsrc", "hostile:/h/deepin-"+state)
				assertOneLineError(t, r, "/h/deepin-"+state+"/"+cpDeepName, "file name too long")
			}
			guard("the deep trees (" + state + ")")
		}
		sb.ok("start", "hostile")
		ready()
		assertEqual(t, cat("/h/pipe-stopped"), "host-file\n", "the fifo at the destination, replaced while stopped")
		for _, state := range []string{"running", "stopped"} {
			if deepOK {
				r := sb.ok("exec", "hostile", "sh", "-c", cpDeepProbe("/h/deepin-"+state, ""))
				assertEqual(t, r.stdout, "the bottom\n", "the deep tree copied in ("+state+")")
			}
		}
		assertEqual(t, cat("/h/keep"), "keep\n", "the other name of the hard link, in the end")
		guard("the end")
	})
}

// TestCopyFifoRace: a container that keeps exchanging a file and a fifo under the same
// name; hutch cp reading the name out, or writing to it, never blocks on the fifo: each
// copy ends, with the file, the fifo, or an error naming the entry.
func TestCopyFifoRace(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	lcCleanupContainers(t, sb)
	lcRunD(sb, "--name", "fifos", "--network", "none", "localhost/probe:1", "sh", "-c",
		"mkdir /r && echo data > /r/f && mkfifo /r/p && exec probe swap /r f p")
	lcWaitLog(sb, "fifos", "swapping", 30*time.Second)
	sb.writeUserFile(sb.path("work", "f.txt"), "host-file\n")
	outcomes := map[string]int{}
	for round := 0; round < 20; round++ {
		out := fmt.Sprintf("out%02d", round)
		r := lcStart(sb, runOpts{}, "cp", "fifos:/r/f", out).wait(t, time.Minute)
		fi, err := os.Lstat(sb.path("work", out))
		switch {
		case r.code != 0:
			assertOneLineError(t, r, "/r/f")
			outcomes["error: "+strings.TrimPrefix(strings.TrimSpace(r.stderr), "Error: ")]++
			cpMissing(t, sb.path("work", out), "a failed cp")
		case err == nil && fi.Mode()&fs.ModeNamedPipe != 0:
			outcomes["a fifo"]++
		case err == nil && fi.Mode().IsRegular():
			// The container's file, or the one the previous round copied in.
			if got := lcReadString(t, sb.path("work", out)); got != "data\n" && got != "host-file\n" {
				t.Fatalf("the file copied out holds %q", got)
			}
			outcomes["the file"]++
		default:
			t.Fatalf("cp out succeeded and made neither the file nor a fifo (%v):\n%s", err, r)
		}
		r = lcStart(sb, runOpts{}, "cp", "f.txt", "fifos:/r/f").wait(t, time.Minute)
		if r.code != 0 {
			assertOneLineError(t, r, "/r/f")
		}
	}
	sb.ok("stop", "fifos")
	var l []string
	for k, v := range outcomes {
		l = append(l, fmt.Sprintf("%d× %s", v, k))
	}
	sort.Strings(l)
	t.Logf("20 copies out of a name that is a file or a fifo by turns: %s", strings.Join(l, "; "))
}
