package tests

// --device as the test user: binds of host nodes the user may open, CDI devices from a
// spec the test writes, and --gpus refused with the reason on a host without a GPU spec.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDevices(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	t.Run("host-nodes", func(t *testing.T) {
		sb := lcAt(sb, t)
		// /dev/zero under another name, /dev/full where it is: both character devices
		// the user may open, read (zeros) and written (ENOSPC) as on the host.
		r := sb.ok("run", "--rm", "--device", "/dev/zero:/dev/myzero", "--device", "/dev/full:/dev/xfull:rw", lcImage, "sh", "-c",
			"test -c /dev/myzero && head -c 4 /dev/myzero | od -An -tx1 && (echo x > /dev/xfull) 2>&1; true")
		assertContains(t, r.stdout, "00 00 00 00", "reading the bound /dev/zero")
		assertContains(t, r.stdout, "No space left on device", "writing the bound /dev/full")
		in := lcInspect(sb, strings.TrimSpace(sb.ok("create", "--device", "/dev/zero:/dev/myzero:r", lcImage, "true").stdout))
		var full []struct {
			HostConfig struct {
				Devices []struct{ PathOnHost, PathInContainer, CgroupPermissions string }
			}
		}
		mustJSON(t, sb.ok("inspect", in.ID), &full)
		if d := full[0].HostConfig.Devices; len(d) != 1 || d[0].PathOnHost != "/dev/zero" || d[0].PathInContainer != "/dev/myzero" || d[0].CgroupPermissions != "r" {
			t.Fatalf("inspect's HostConfig.Devices: %+v", d)
		}
		sb.ok("rm", in.ID)
		// A node the user may read but not write: refused as asked (rwm), taken for reading.
		r = sb.expect(125, "run", "--rm", "--device", "/dev/kmsg", lcImage, "true")
		assertContains(t, r.stderr, "you may not read and write it", "a device the user may not write")
		assertContains(t, r.stderr, "usermod", "the fix")
		sb.ok("run", "--rm", "--device", "/dev/kmsg:/dev/kmsg:r", lcImage, "test", "-c", "/dev/kmsg")
		// Not a device, not absolute, bad permissions, missing.
		for _, c := range []struct{ arg, want string }{
			{"/etc/passwd", "not a device node"},
			{"dev/zero", "must be absolute"},
			{"/dev/zero:/dev/z:rx", "permissions"},
			{"/dev/nonexistent-device", "no such file"},
		} {
			r := sb.expect(125, "run", "--rm", "--device", c.arg, lcImage, "true")
			assertContains(t, strings.ToLower(r.stderr), strings.ToLower(c.want), "--device "+c.arg)
		}
	})

	t.Run("cdi", func(t *testing.T) {
		sb := lcAt(sb, t)
		dir := sb.path("work", "cdi")
		share := sb.path("work", "cdi-share")
		sb.writeUserFile(filepath.Join(share, "hello"), "from the spec\n")
		sb.writeUserFile(filepath.Join(dir, "test.yaml"), `cdiVersion: "0.6.0"
kind: example.com/test
containerEdits:
  env: ["CDI_SPEC=yes"]
devices:
  - name: zero
    containerEdits:
      env: ["CDI_DEVICE=zero"]
      deviceNodes:
        - path: /dev/cdizero
          hostPath: /dev/zero
      mounts:
        - hostPath: `+share+`
          containerPath: /cdi
          options: ["ro", "bind"]
  - name: hooked
    containerEdits:
      hooks:
        - hookName: createContainer
          path: /bin/true
`)
		sb.writeUserFile(filepath.Join(dir, "other.json"), `{"cdiVersion": "0.6.0", "kind": "example.com/other", "devices": [{"name": "full", "containerEdits": {"deviceNodes": [{"path": "/dev/full"}]}}]}`)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		sb.writeConfig("[engine]\ncdi_spec_dirs = [\"" + dir + "\"]\n")
		r := sb.ok("run", "--rm", "--device", "example.com/test=zero", "--device", "example.com/other=full", lcImage, "sh", "-c",
			"echo $CDI_SPEC $CDI_DEVICE; head -c 2 /dev/cdizero | od -An -tx1; cat /cdi/hello; test -c /dev/full && echo full; touch /cdi/x 2>/dev/null || echo read-only")
		assertEqual(t, r.stdout, "yes zero\n 00 00\nfrom the spec\nfull\nread-only\n", "a container with CDI devices")
		r = sb.expect(125, "run", "--rm", "--device", "example.com/test=nope", lcImage, "true")
		assertContains(t, r.stderr, "example.com/test=zero", "an unknown CDI device names those there are")
		r = sb.expect(125, "run", "--rm", "--device", "example.com/test=hooked", lcImage, "true")
		assertContains(t, r.stderr, "hooks", "a CDI device with hooks")
		// No NVIDIA spec here: --gpus is refused with the reason and the fix.
		r = sb.expect(125, "run", "--rm", "--gpus", "all", lcImage, "true")
		assertContains(t, r.stderr, "no CDI spec for NVIDIA GPUs", "--gpus without a spec")
		assertContains(t, r.stderr, "nvidia-ctk cdi generate", "--gpus: the fix")
		r = sb.expect(125, "run", "--rm", "--gpus", "2", lcImage, "true")
		assertContains(t, r.stderr, "all or device=", "--gpus with a count")
	})
}
