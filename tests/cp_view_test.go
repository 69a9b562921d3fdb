package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCopyHostView: the host side of `hutch cp` is the files as the user who runs it sees
// them, also when that user's mount namespace is not the one the container's monitor
// was made in (a systemd service with PrivateTmp=, an `unshare -m`): here root's
// `unshare -m` binds a directory only it sees over priv. hutch at 7da392a ran the whole
// copy into and out of a running container in the monitor's mount namespace, and so read
// and wrote the bare priv directory there instead (docs/security.md, "Copying files").
func TestCopyHostView(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	lcCleanupContainers(t, sb)
	priv := lcOwnedDir(t, sb, "priv")     // what the monitor's namespace has at that path
	other := lcOwnedDir(t, sb, "private") // what the copying command sees there
	sb.writeUserFile(filepath.Join(priv, "f"), "monitor-view\n")
	sb.writeUserFile(filepath.Join(other, "f"), "user-view\n")
	setup := "mount --bind " + other + " " + priv
	for _, state := range []string{"running", "stopped"} {
		t.Run(state, func(t *testing.T) {
			sb := lcAt(sb, t)
			name := "view-" + state
			sb.ok("run", "-d", "--name", name, imgRun, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
			if state == "stopped" {
				sb.ok("stop", name)
			}
			// Into the container: the file the user sees (by a relative path, from the
			// working directory, and by an absolute one).
			for i, src := range []string{"priv/f", priv + "/f"} {
				dst := name + ":/in" + string(rune('0'+i))
				if r := runInPrivateDev(t, sb, setup, "cp", src, dst); r.code != 0 {
					t.Fatalf("cp %s %s from another mount namespace:\n%s", src, dst, r)
				}
			}
			// Out of the container: into the directory the user sees.
			out := "out-" + state
			if r := runInPrivateDev(t, sb, setup, "cp", name+":/in0", priv+"/"+out); r.code != 0 {
				t.Fatalf("cp out of the container from another mount namespace:\n%s", r)
			}
			if state == "stopped" {
				sb.ok("start", name)
			}
			for _, p := range []string{"/in0", "/in1"} {
				assertEqual(t, sb.ok("exec", name, "cat", p).stdout, "user-view\n", "the file copied into the "+state+" container, "+p)
			}
			b, err := os.ReadFile(filepath.Join(other, out))
			if err != nil {
				t.Fatalf("cp out of the %s container did not write where the user sees %s/%s: %v", state, priv, out, err)
			}
			assertEqual(t, string(b), "user-view\n", "the file copied out of the "+state+" container")
			if _, err := os.Lstat(filepath.Join(priv, out)); err == nil {
				t.Fatalf("cp out of the %s container wrote %s/%s in the monitor's view of the files", state, priv, out)
			}
			sb.ok("rm", "-f", name)
		})
	}
}

// TestCopyHostViewLaterMount: the same from the mount namespace the kept one was made
// from, for a mount made there after the kept namespace's holder started, on a mount
// point that does not propagate (the test's namespace has private propagation, as a
// host without systemd does): the kept namespace, and the monitors' below it, show
// the bare directory there. hutch at 7da392a copied that directory's file into the
// container and wrote there, running or stopped (only a working directory under such
// a mount was noticed, and the command then given a view of its own).
func TestCopyHostViewLaterMount(t *testing.T) {
	t.Parallel()
	ns := newMountNS(t) // made first: the sandbox's reset runs in it too
	sb := newSandbox(t, userWithRange)
	sb.ns = ns
	importRunImages(t, sb, imgRun)
	lcCleanupContainers(t, sb)
	priv := lcOwnedDir(t, sb, "priv")
	other := lcOwnedDir(t, sb, "private")
	sb.writeUserFile(filepath.Join(priv, "f"), "kept-view\n")
	sb.writeUserFile(filepath.Join(other, "f"), "user-view\n")
	sb.ok("run", "-d", "--name", "running", imgRun, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
	sb.ok("create", "--name", "stopped", imgRun, "sleep", "1000")
	sb.holder(t) // the kept namespace is there, copied from ns before the mount
	ns.bind(other, priv)
	for _, name := range []string{"running", "stopped"} {
		sb.ok("cp", priv+"/f", name+":/in") // absolute: nsenter leaves the working directory at /
		sb.ok("cp", name+":/in", priv+"/out-"+name)
	}
	sb.ok("start", "stopped")
	for _, name := range []string{"running", "stopped"} {
		if got := sb.ok("exec", name, "cat", "/in").stdout; got != "user-view\n" {
			t.Errorf("the file copied into the %s container: %q, want the user's view", name, got)
		}
		if b, err := os.ReadFile(filepath.Join(other, "out-"+name)); err != nil || string(b) != "user-view\n" {
			t.Errorf("cp out of the %s container: %q, %v where the user sees %s", name, b, err, priv)
		}
	}
	sb.ok("rm", "-f", "running", "stopped")
}
