package tests

// The local volume driver's options, as the test user: `volume create -o` and
// `--mount volume-opt=` make tmpfs volumes and bind volumes (a host directory); the
// kinds that need root on the host are refused with the way around.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVolumeDriverOptions(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	t.Run("tmpfs", func(t *testing.T) {
		sb := lcAt(sb, t)
		sb.ok("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0770,uid=1000", "scratch")
		r := sb.ok("volume", "inspect", "--format", "{{.Driver}} {{.Options.type}} {{.Options.o}}", "scratch")
		assertEqual(t, r.stdout, "local tmpfs size=1m,mode=0770,uid=1000\n", "the options in volume inspect")
		// A tmpfs of the size asked, owned as asked; writing more than it holds fails.
		r = sb.ok("run", "--rm", "-v", "scratch:/s", lcImage, "sh", "-c",
			"grep ' /s ' /proc/mounts | cut -d' ' -f3,4; stat -c '%a %u' /s; dd if=/dev/zero of=/s/big bs=1k count=2048 2>/dev/null || echo full")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "tmpfs ") {
			t.Fatalf("the volume's mount, owner and a 2 MiB write: %q, want a tmpfs", r.stdout)
		}
		assertContains(t, lines[0], "size=1024k", "the tmpfs size")
		assertEqual(t, lines[1], "770 1000", "mode and owner of the tmpfs")
		assertEqual(t, lines[2], "full", "a write larger than size=")
		// One running container at a time: a second is refused rather than given a
		// different, empty tmpfs under the same name.
		sb.ok("run", "-d", "--name", "holder", "-v", "scratch:/s", lcImage, "sleep", "600")
		sb.ok("exec", "holder", "sh", "-c", "echo kept > /s/f")
		r = sb.expect(125, "run", "--rm", "-v", "scratch:/s", lcImage, "true")
		assertContains(t, r.stderr, "container holder uses it", "a second container on a tmpfs volume")
		r = sb.ok("exec", "holder", "cat", "/s/f")
		assertEqual(t, r.stdout, "kept\n", "the holder's tmpfs")
		sb.ok("rm", "-f", "holder")
		// Its content went with the container that had it mounted, as Docker's.
		r = sb.ok("run", "--rm", "-v", "scratch:/s", lcImage, "ls", "-A", "/s")
		assertEqual(t, r.stdout, "", "a tmpfs volume after its container ended")
	})

	t.Run("bind", func(t *testing.T) {
		sb := lcAt(sb, t)
		dir := lcOwnedDir(t, sb, "bindvol")
		sb.writeUserFile(filepath.Join(dir, "f"), "host\n")
		sb.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dir, "src")
		r := sb.ok("run", "--rm", "-v", "src:/src", lcImage, "sh", "-c", "cat /src/f; echo from-ctr > /src/g")
		assertEqual(t, r.stdout, "host\n", "a bind volume shows the host directory")
		b, err := os.ReadFile(filepath.Join(dir, "g"))
		if err != nil || string(b) != "from-ctr\n" {
			t.Fatalf("the container's write in the bound directory: %q, %v", b, err)
		}
		// Removing the volume leaves the directory it bound alone.
		sb.ok("volume", "rm", "src")
		if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
			t.Fatalf("volume rm of a bind volume touched the host directory: %v", err)
		}
		// Made before its directory exists (as Docker's); the start names what is missing.
		sb.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dir+"/later", "later")
		r = sb.expect(125, "run", "--rm", "-v", "later:/l", lcImage, "true")
		assertContains(t, r.stderr, dir+"/later", "a bind volume whose directory is missing")
	})

	t.Run("mount-volume-opt", func(t *testing.T) {
		sb := lcAt(sb, t)
		// A value with a comma is quoted, as in Docker's CSV --mount.
		r := sb.ok("run", "--rm", "--mount", `type=volume,source=mt,target=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=2m,mode=1777"`,
			lcImage, "sh", "-c", "grep ' /m ' /proc/mounts | cut -d' ' -f3; stat -c %a /m")
		assertEqual(t, r.stdout, "tmpfs\n1777\n", "--mount volume-opt makes a tmpfs volume")
		r = sb.ok("volume", "inspect", "--format", "{{.Options.o}}", "mt")
		assertEqual(t, r.stdout, "size=2m,mode=1777\n", "the volume --mount made")
		r = sb.expect(125, "run", "--rm", "--mount", "type=bind,source=/tmp,target=/t,volume-opt=type=tmpfs", lcImage, "true")
		assertContains(t, r.stderr, "volume-opt= is for type=volume", "volume-opt on a bind")
	})

	t.Run("refused", func(t *testing.T) {
		sb := lcAt(sb, t)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"-o", "type=nfs", "-o", "device=:/export", "-o", "o=addr=192.0.2.1", "nfs"}, "needs root on the host"},
			{[]string{"-o", "type=ext4", "-o", "device=/dev/sdb1", "disk"}, "-o type=none -o o=bind"},
			{[]string{"-o", "size=10m", "sized"}, "type, device and o"},
			{[]string{"-o", "type=tmpfs", "-o", "o=size=1m,exec", "t1"}, `"exec" is not a tmpfs option`},
			{[]string{"-o", "type=none", "-o", "device=/tmp", "t2"}, "o=bind"},
			{[]string{"-d", "nfsplugin", "t3"}, "local driver"},
		} {
			r := sb.expect(125, append([]string{"volume", "create"}, c.args...)...)
			assertContains(t, r.stderr, c.want, strings.Join(c.args, " "))
		}
		r := sb.ok("volume", "ls", "-q")
		for _, name := range []string{"nfs", "disk", "sized", "t1", "t2", "t3"} {
			if strings.Contains("\n"+r.stdout, "\n"+name+"\n") {
				t.Errorf("a refused create made volume %s: volume ls says %q", name, r.stdout)
			}
		}
	})
}
