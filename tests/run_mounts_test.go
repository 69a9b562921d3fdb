package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeOwned writes a file owned by the sandbox's user.
func writeOwned(t *testing.T, sb *sandbox, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
}

// TestRunMounts: -v SRC:DST[:ro], --mount type=bind|tmpfs, --tmpfs, --read-only, a file
// over a file (and over a generated /etc file), nested mounts in any order, relative
// sources, and --userns=keep-id.
func TestRunMounts(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		data, ro, m2 := bindDir(t, sb, "data"), bindDir(t, sb, "ro"), bindDir(t, sb, "m2")
		writeOwned(t, sb, filepath.Join(data, "from-host"), "host data\n")
		writeOwned(t, sb, filepath.Join(ro, "keep"), "read only\n")
		hello := sb.path("work", "hello.txt")
		writeOwned(t, sb, hello, "hello from the host\n")
		myHostname := sb.path("work", "my-hostname")
		writeOwned(t, sb, myHostname, "mine\n")

		r := sb.ok("run", "--rm", "--read-only",
			"-v", data+":/data",
			"-v", ro+":/ro:ro",
			"--mount", "type=bind,source="+m2+",target=/m2,readonly",
			"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m",
			"--tmpfs", "/t2:size=2m,mode=1777",
			"--tmpfs", "/t3:exec,suid",
			"-v", hello+":/etc/hello",
			"-v", myHostname+":/etc/hostname",
			imgRun, "sh", "-c", `
echo fromhost=$(cat /data/from-host)
echo fromhostowner=$(stat -c %u:%g /data/from-host)
echo datawrite=$(echo written > /data/written && echo ok)
echo ro=$(cat /ro/keep)
echo rowrite=$( (echo x > /ro/new) 2>&1)
echo m2write=$( (echo x > /m2/new) 2>&1)
echo scratch=$(echo s > /scratch/f && cat /scratch/f)
echo t2=$(stat -c %a /t2)$(echo t > /t2/f && echo -writable)
for d in t2 t3 scratch; do printf '#!/bin/sh\necho ran\n' > /$d/s; chmod +x /$d/s; echo ${d}exec=$(/$d/s 2>&1); done
echo hello=$(cat /etc/hello)
echo hostname=$(cat /etc/hostname)
echo rootwrite=$( (touch /new-in-root) 2>&1)
echo tmpwrite=$( (touch /tmp/new) 2>&1)
echo shmwrite=$(touch /dev/shm/ok && echo ok)
echo '--- mountinfo'
cat /proc/self/mountinfo
echo '--- end'
`)
		m, mounts := splitMountinfo(t, r.stdout)
		requireKeys(t, m, r, "fromhost", "rowrite", "rootwrite")
		assertEqual(t, m["fromhost"], "host data", "a host file through -v")
		assertEqual(t, m["fromhostowner"], "0:0", "the user's file inside (the user is the container's root)")
		assertEqual(t, m["datawrite"], "ok", "writing to a -v mount")
		assertEqual(t, m["ro"], "read only", "reading a :ro mount")
		assertContains(t, m["rowrite"], "Read-only file system", "writing to -v …:ro")
		assertContains(t, m["m2write"], "Read-only file system", "writing to --mount …,readonly")
		assertEqual(t, m["scratch"], "s", "--mount type=tmpfs")
		assertEqual(t, m["t2"], "1777-writable", "--tmpfs /t2:mode=1777")
		// noexec and nosuid by default, as Docker's; exec and suid when asked.
		assertContains(t, m["t2exec"], "Permission denied", "a program on --tmpfs (noexec)")
		assertContains(t, m["scratchexec"], "Permission denied", "a program on --mount type=tmpfs (noexec)")
		assertEqual(t, m["t3exec"], "ran", "a program on --tmpfs …:exec")
		for point, want := range map[string][]string{"/t2": {"noexec", "nosuid", "nodev"}, "/scratch": {"noexec", "nosuid", "nodev"}, "/t3": {"nodev"}} {
			mt := findMount(mounts, point)
			for _, o := range want {
				if mt == nil || !hasOpt(mt.opts, o) {
					t.Fatalf("mount at %s: %+v, want %s", point, mt, o)
				}
			}
			if point == "/t3" && (hasOpt(mt.opts, "noexec") || hasOpt(mt.opts, "nosuid")) {
				t.Fatalf("--tmpfs /t3:exec,suid is mounted %s", mt.opts)
			}
		}
		assertEqual(t, m["hello"], "hello from the host", "a file bound over the image's /etc/hello")
		assertEqual(t, m["hostname"], "mine", "a file bound over the generated /etc/hostname")
		assertContains(t, m["rootwrite"], "Read-only file system", "--read-only: writing to /")
		assertContains(t, m["tmpwrite"], "Read-only file system", "--read-only: writing to /tmp")
		assertEqual(t, m["shmwrite"], "ok", "--read-only: /dev/shm stays writable")
		for point, want := range map[string]struct{ fstype, opt, super string }{
			"/":        {"", "ro", ""},
			"/data":    {"", "rw", ""},
			"/ro":      {"", "ro", ""},
			"/m2":      {"", "ro", ""},
			"/scratch": {"tmpfs", "rw", "size=1024k"},
			"/t2":      {"tmpfs", "rw", "size=2048k"},
		} {
			mt := findMount(mounts, point)
			if mt == nil || (want.fstype != "" && mt.fstype != want.fstype) || !hasOpt(mt.opts, want.opt) ||
				(want.super != "" && !strings.Contains(mt.superOpts, want.super)) {
				t.Fatalf("mount at %s: got %+v, want %+v\n%s", point, mt, want, r)
			}
		}
		// On the host: the write arrived, owned by the user; nothing else changed.
		assertEqual(t, string(readFile(t, filepath.Join(data, "written"))), "written\n", "the container's write on the host")
		if uid, gid := fileOwner(t, filepath.Join(data, "written")); uid != sb.user.uid || gid != sb.user.gid {
			t.Fatalf("the container root's file is %d:%d on the host, want the user's %d:%d", uid, gid, sb.user.uid, sb.user.gid)
		}
		for _, p := range []string{filepath.Join(ro, "new"), filepath.Join(m2, "new")} {
			if _, err := os.Stat(p); err == nil {
				t.Fatalf("%s appeared on the host through a read-only mount", p)
			}
		}
		assertEqual(t, string(readFile(t, hello)), "hello from the host\n", "the host file bound over /etc/hello")
		// The image's own file is untouched underneath.
		assertEqual(t, sb.ok("run", "--rm", imgRun, "cat", "/etc/hello").stdout, helloContent, "/etc/hello without the mount")

		// Nested mounts, the inner one given first; a relative source (from the current
		// directory); a mount point created in the image's tree.
		outer, inner := bindDir(t, sb, "outer"), bindDir(t, sb, "inner")
		writeOwned(t, sb, filepath.Join(outer, "o"), "outer\n")
		writeOwned(t, sb, filepath.Join(inner, "i"), "inner\n")
		r = sb.ok("run", "--rm", "-v", "./inner:/mnt/outer/deeper/inner", "-v", outer+":/mnt/outer", imgRun,
			"sh", "-c", "cat /mnt/outer/o /mnt/outer/deeper/inner/i")
		assertEqual(t, r.stdout, "outer\ninner\n", "nested mounts (inner given first, relative source)")
		if _, err := os.Stat(filepath.Join(outer, "deeper", "inner")); err != nil {
			t.Fatalf("the inner mount point should have been made in the outer mount: %v", err)
		}

		// --userns=keep-id: the user's own ids inside; files written to a bind mount are
		// the user's on the host, and the user's files are the user's inside.
		keep := bindDir(t, sb, "keep")
		writeOwned(t, sb, filepath.Join(keep, "mine"), "mine\n")
		r = sb.ok("run", "--rm", "--userns=keep-id", "-v", keep+":/keep", imgRun, "sh", "-c",
			"echo ids=$(id -u):$(id -g); echo mine=$(stat -c %u:%g /keep/mine); echo by-me > /keep/by-me; echo home=$HOME")
		m = parseKV(r.stdout)
		requireKeys(t, m, r, "ids", "mine")
		ids := strconv.Itoa(sb.user.uid) + ":" + strconv.Itoa(sb.user.gid)
		assertEqual(t, m["ids"], ids, "id -u:id -g with --userns=keep-id")
		assertEqual(t, m["mine"], ids, "the user's file inside with --userns=keep-id")
		if uid, gid := fileOwner(t, filepath.Join(keep, "by-me")); uid != sb.user.uid || gid != sb.user.gid {
			t.Fatalf("a file written with --userns=keep-id is %d:%d on the host, want the user's %d:%d", uid, gid, sb.user.uid, sb.user.gid)
		}
		assertNothingLeft(t, sb, nil, "the mount runs")
	})
}
