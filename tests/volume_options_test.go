package tests

// The volume flags Docker and Podman users reach for: -v's options (U, nocopy, z/Z and
// the file-sharing hints), --mount type=volume's options, --volumes-from and
// --image-volume, as the test user.

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestVolumeOptions(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	t.Run("v-options", func(t *testing.T) {
		sb := lcAt(sb, t)
		dir := lcOwnedDir(t, sb, "vopts")
		sb.writeUserFile(filepath.Join(dir, "f"), "host\n")
		// Accepted, and meaningless here: SELinux labels, Docker Desktop's hints.
		for _, o := range []string{"z", "Z", "cached", "delegated", "consistent", "ro,cached"} {
			r := sb.ok("run", "--rm", "-v", dir+":/d:"+o, lcImage, "cat", "/d/f")
			assertEqual(t, r.stdout, "host\n", "-v …:"+o)
		}
		// :U gives the directory to the container's user (1000 here), all the way down.
		r := sb.ok("run", "--rm", "-u", "1000:1000", "-v", dir+":/d:U", lcImage, "sh", "-c", "stat -c %u:%g /d /d/f; echo mine > /d/new && cat /d/new")
		assertEqual(t, r.stdout, "1000:1000\n1000:1000\nmine\n", "-v …:U")
		// On the host, the file belongs to one of the user's subordinate ids now.
		fi, err := os.Stat(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid == sb.user.uid || uid == 0 {
			t.Fatalf("after :U the file belongs to uid %d on the host, want a subordinate id", uid)
		}
	})

	t.Run("mount-volume-options", func(t *testing.T) {
		sb := lcAt(sb, t)
		// The image has /home/alice: a new volume gets it, unless volume-nocopy.
		r := sb.ok("run", "--rm", "--mount", "type=volume,source=copied,target=/home", lcImage, "ls", "/home")
		assertEqual(t, r.stdout, "alice\n", "a new volume filled from the image")
		r = sb.ok("run", "--rm", "--mount", "type=volume,source=nocopy,target=/home,volume-nocopy", lcImage, "ls", "-A", "/home")
		assertEqual(t, r.stdout, "", "volume-nocopy")
		r = sb.ok("run", "--rm", "-v", "nocopy2:/home:nocopy", lcImage, "ls", "-A", "/home")
		assertEqual(t, r.stdout, "", "-v …:nocopy")
		r = sb.expect(125, "run", "--rm", "--mount", "type=volume,source=x,target=/x,volume-opt=type=nfs", lcImage, "true")
		assertContains(t, r.stderr, "volume-opt", "volume-opt refused")
		// type=image works (image_mount_test.go); without an image it is refused.
		r = sb.expect(125, "run", "--rm", "--mount", "type=image,target=/img", lcImage, "true")
		assertContains(t, r.stderr, "source=IMAGE", "type=image without source=")
		r = sb.expect(125, "run", "--rm", "--mount", "type=bind,source=/tmp,target=/img,subpath=x", lcImage, "true")
		assertContains(t, r.stderr, "type=image", "subpath= of another type")
	})

	t.Run("volumes-from", func(t *testing.T) {
		sb := lcAt(sb, t)
		dir := lcOwnedDir(t, sb, "vfrom")
		sb.writeUserFile(filepath.Join(dir, "b"), "bound\n")
		sb.ok("create", "--name", "vsrc", "-v", "shared:/vol", "-v", dir+":/b", "--tmpfs", "/t", lcImage, "true")
		sb.ok("run", "--rm", "-v", "shared:/vol", lcImage, "sh", "-c", "echo in-volume > /vol/f")
		r := sb.ok("run", "--rm", "--volumes-from", "vsrc", lcImage, "sh", "-c", "cat /vol/f /b/b; echo more >> /vol/f && echo wrote; grep -q ' /t ' /proc/mounts || echo no-tmpfs")
		assertEqual(t, r.stdout, "in-volume\nbound\nwrote\nno-tmpfs\n", "--volumes-from")
		r = sb.ok("run", "--rm", "--volumes-from", "vsrc:ro", lcImage, "sh", "-c", "cat /vol/f; touch /vol/g 2>/dev/null || echo read-only")
		assertEqual(t, r.stdout, "in-volume\nmore\nread-only\n", "--volumes-from …:ro")
		// An anonymous volume is named when its container first starts.
		sb.ok("create", "--name", "vanon", "-v", "/anon", lcImage, "true")
		r = sb.expect(125, "run", "--rm", "--volumes-from", "vanon", lcImage, "true")
		assertContains(t, r.stderr, "start it once", "--volumes-from a container never started")
		sb.ok("start", "-a", "vanon")
		sb.ok("run", "--rm", "--volumes-from", "vanon", lcImage, "grep", "-q", " /anon ", "/proc/mounts")
		r = sb.expect(125, "run", "--rm", "--volumes-from", "nosuch", lcImage, "true")
		assertContains(t, r.stderr, "nosuch", "--volumes-from an unknown container")
		sb.ok("rm", "vsrc", "vanon")
	})

	t.Run("image-volume", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "ivol", map[string]string{"Dockerfile": "FROM " + lcImage + "\nRUN mkdir /data && echo img > /data/f\nVOLUME /data\n"})
		sb.ok("build", "-t", "ivol", ctx)
		script := "cat /data/f 2>/dev/null || echo empty; grep ' /data ' /proc/mounts | cut -d' ' -f1,3 | grep -c tmpfs; grep -q ' /data ' /proc/mounts && echo mounted || echo not-mounted"
		for _, c := range []struct{ mode, want string }{
			{"bind", "img\n0\nmounted\n"},
			{"tmpfs", "empty\n1\nmounted\n"},
			{"ignore", "img\n0\nnot-mounted\n"},
		} {
			r := sb.run(runOpts{}, "run", "--rm", "--image-volume", c.mode, "ivol", "sh", "-c", script)
			assertEqual(t, r.stdout, c.want, "--image-volume "+c.mode+" (exit "+strconv.Itoa(r.code)+")")
		}
		r := sb.expect(125, "run", "--rm", "--image-volume", "copy", "ivol", "true")
		assertContains(t, r.stderr, "bind", "--image-volume with an unknown mode")
	})
}

// TestVolumeOverlay is -v DIR:DST:O on each storage driver: an overlay with the
// container's own upper layer where the kernel's overlay is the store's, refused with the
// reason where it is not.
func TestVolumeOverlay(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		dir := lcOwnedDir(t, sb, "low,er") // a comma, escaped in the overlay's options
		sb.writeUserFile(filepath.Join(dir, "f"), "host\n")
		d := sb.info().Store.Driver
		if d.Name != "overlay" || d.MountProgram != "" {
			r := sb.expect(125, "run", "--rm", "-v", dir+":/d:O", lcImage, "true")
			assertContains(t, r.stderr, "needs the kernel's own overlay", "-v …:O without native overlay")
			return
		}
		sb.ok("create", "--name", "ov", "-v", dir+":/d:O", lcImage, "sh", "-c", "cat /d/f; echo changed > /d/f; echo new > /d/new; cat /d/f /d/new")
		r := sb.ok("start", "-a", "ov")
		assertEqual(t, r.stdout, "host\nchanged\nnew\n", "writing through the overlay")
		if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "host\n" {
			t.Fatalf("the host directory changed under :O: %q %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
			t.Fatal("a file written under :O reached the host directory")
		}
		// The container's upper layer lasts as long as it does.
		r = sb.ok("start", "-a", "ov")
		assertEqual(t, r.stdout, "changed\nchanged\nnew\n", "the overlay on the second start")
		sb.ok("rm", "ov")
		lcAssertNoProcsNoMounts(t, sb, "rm of a container with :O")
		r = sb.expect(125, "run", "--rm", "-v", "vol:/d:O", lcImage, "true")
		assertContains(t, r.stderr, "overlay over a host directory", "-v NAME:DST:O")
	})
}
