package tests

// --mount type=image (Podman's): an image's root file system mounted in a container,
// read-only (rw=true: a writable layer thrown away), a subpath= of it resolved inside
// the image; the image pulled as run's own is, in use while a container mounts it, and
// its mount counted by the store and given back however the container ends.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storeMounts reads the store's mount counts (RUNROOT/DRIVER-layers/mountpoints.json): layer ID
// → count, the layers counted as mounted only.
func storeMounts(t *testing.T, sb *sandbox) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sb.info().Paths.RunRoot, sb.storeDriver()+"-layers", "mountpoints.json"))
	if os.IsNotExist(err) {
		return map[string]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var ms []struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(b, &ms); err != nil {
		t.Fatalf("mountpoints.json: %v\n%s", err, b)
	}
	out := map[string]int{}
	for _, m := range ms {
		if m.Count > 0 {
			out[m.ID] = m.Count
		}
	}
	return out
}

// imageMountCount is how many times the store counts layers that are no container's as
// mounted: the image mounts (the tests mount one image at a time).
func imageMountCount(t *testing.T, sb *sandbox) int {
	t.Helper()
	var ctrs []struct {
		Layer string `json:"layer"`
	}
	// --rm containers are in volatile-containers.json (not synced to disk).
	for _, f := range []string{"containers.json", "volatile-containers.json"} {
		b, err := os.ReadFile(filepath.Join(sb.graphRoot(), sb.storeDriver()+"-containers", f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var some []struct {
			Layer string `json:"layer"`
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &some); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		ctrs = append(ctrs, some...)
	}
	n := 0
	for id, k := range storeMounts(t, sb) {
		own := false
		for _, c := range ctrs {
			own = own || c.Layer == id
		}
		if !own {
			n += k
		}
	}
	return n
}

// waitNoStoreMounts waits until the store counts nothing as mounted (a container's owner
// gives its mounts back right after recording its end).
func waitNoStoreMounts(t *testing.T, sb *sandbox, after string) {
	t.Helper()
	lcEventually(t, 20*time.Second, "no mount counted after "+after, func() (bool, string) {
		m := storeMounts(t, sb)
		return len(m) == 0, fmt.Sprint(m)
	})
}

func TestImageMount(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		// The image to mount: lcImage with /data (a file, a symlink to /etc and one
		// climbing above the root).
		sb.ok("run", "--name", "mk", lcImage, "sh", "-c", "mkdir -p /data/sub && echo hi > /data/sub/f && ln -s /etc /data/etc && ln -s ../../../../.. /data/up")
		sb.ok("commit", "mk", "extra")
		sb.ok("rm", "mk")

		// Read-only by default; subpath= resolved inside the image.
		r := sb.ok("run", "--rm", "--mount", "type=image,source=extra,target=/m", lcImage, "sh", "-c", "cat /m/data/sub/f; touch /m/x 2>/dev/null || echo read-only")
		assertEqual(t, r.stdout, "hi\nread-only\n", "an image mount")
		r = sb.ok("run", "--rm", "--mount", "type=image,src=extra,dst=/m,subpath=/data/sub", lcImage, "ls", "/m")
		assertEqual(t, r.stdout, "f\n", "subpath=")
		r = sb.ok("run", "--rm", "--mount", "type=image,source=extra,target=/m/f,subpath=data/sub/f", lcImage, "cat", "/m/f")
		assertEqual(t, r.stdout, "hi\n", "subpath= of a file")
		// A symlink is followed inside the image, never out of it.
		r = sb.ok("run", "--rm", "--mount", "type=image,source=extra,target=/m,subpath=data/up", lcImage, "cat", "/m/data/sub/f")
		assertEqual(t, r.stdout, "hi\n", "subpath= through a symlink above the root stays in the image")
		hostOnly := sb.path("work", "host-only")
		sb.writeUserFile(hostOnly, "host\n")
		r = sb.ok("run", "--rm", "--mount", "type=image,source=extra,target=/m,subpath=data/etc", lcImage, "sh", "-c", "grep -c alice /m/passwd; ls /m"+hostOnly+" 2>/dev/null || echo not-host")
		assertEqual(t, r.stdout, "1\nnot-host\n", "subpath= through an absolute symlink: the image's /etc")
		r = sb.expect(125, "run", "--rm", "--mount", "type=image,source=extra,target=/m,subpath=data/../../etc", lcImage, "true")
		assertOneLineError(t, r, "subpath=", "..")
		r = sb.expect(125, "run", "--rm", "--mount", "type=image,source=extra,target=/m,subpath=nosuch", lcImage, "true")
		assertOneLineError(t, r, "nosuch")
		r = sb.expect(125, "run", "--rm", "--pull", "never", "--mount", "type=image,source=missing,target=/m", lcImage, "true")
		assertContains(t, r.stderr, "missing", "an image mount of an image not there, --pull never")
		waitNoStoreMounts(t, sb, "foreground runs")

		// rw=true: a writable layer over the kernel's overlay, thrown away at each start.
		if sb.driver == "overlay" {
			sb.ok("create", "--name", "rw", "--mount", "type=image,source=extra,target=/m,rw=true", lcImage, "sh", "-c", "cat /m/data/new 2>/dev/null || echo fresh; echo w > /m/data/new; cat /m/data/new")
			assertEqual(t, sb.ok("start", "-a", "rw").stdout, "fresh\nw\n", "rw=true: the first run")
			assertEqual(t, sb.ok("start", "-a", "rw").stdout, "fresh\nw\n", "rw=true: the writes are thrown away")
			sb.ok("rm", "rw")
			r = sb.ok("run", "--rm", "--mount", "type=image,source=extra,target=/m", lcImage, "sh", "-c", "ls /m/data")
			assertEqual(t, r.stdout, "etc\nsub\nup\n", "rw=true left the image as it was")
		} else {
			r = sb.expect(125, "run", "--rm", "--mount", "type=image,source=extra,target=/m,rw=true", lcImage, "true")
			assertOneLineError(t, r, "rw=true", "read-only")
		}

		// Two detached containers mount it: counted twice, in use, named in inspect.
		a := lcRunD(sb, "--name", "ma", "--mount", "type=image,source=extra,target=/m", lcImage, "sleep", "1000")
		lcRunD(sb, "--name", "mb", "--mount", "type=image,source=extra,target=/m,subpath=data", lcImage, "sleep", "1000")
		assertEqual(t, imageMountCount(t, sb), 2, "two containers mount the image")
		assertEqual(t, sb.ok("exec", "mb", "cat", "/m/sub/f").stdout, "hi\n", "the second container's mount")
		var in []struct {
			Mounts []struct {
				Type, Source, Destination, SubPath string
				RW                                 bool
			}
		}
		mustJSON(t, sb.ok("inspect", "mb"), &in)
		if len(in) != 1 || len(in[0].Mounts) != 1 || in[0].Mounts[0].Type != "image" || in[0].Mounts[0].Source != "extra" ||
			in[0].Mounts[0].Destination != "/m" || in[0].Mounts[0].SubPath != "data" || in[0].Mounts[0].RW {
			t.Fatalf("inspect's Mounts of an image mount: %+v", in)
		}
		r = sb.expect(1, "rmi", "extra")
		assertContains(t, r.stderr, "ma", "rmi of a mounted image names a container that mounts it")
		assertContains(t, r.stderr, "mounts it", "rmi of a mounted image says why")
		sb.ok("image", "prune", "-a", "-f")
		sb.ok("image", "inspect", "extra") // prune kept it
		sb.ok("stop", "-t", "1", "ma")
		assertEqual(t, imageMountCount(t, sb), 1, "the stopped container gave its count back")
		assertEqual(t, sb.ok("exec", "mb", "cat", "/m/sub/f").stdout, "hi\n", "the other container's mount after the first stopped")
		sb.ok("rm", "-f", "mb")
		waitNoStoreMounts(t, sb, "stop and rm -f")
		r = sb.expect(1, "rmi", "extra") // ma, stopped, still mounts it when started
		assertContains(t, r.stderr, a[:12], "rmi of an image a stopped container mounts")

		// A foreground run and a detached container mount it at once, the foreground one
		// ending first (its mount is in hutch's mount namespace, which the monitor's
		// copies): nothing stays mounted anywhere after both.
		fgIn, fgInW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		fg := sb.command(runOpts{stdin: fgIn}, "run", "--rm", "-i", "--mount", "type=image,source=extra,target=/m", lcImage, "sh", "-c", "cat /m/data/sub/f; read line; exit 0")
		fgOut, err := fg.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := fg.Start(); err != nil {
			t.Fatal(err)
		}
		fgIn.Close()
		if line, err := bufio.NewReader(fgOut).ReadString('\n'); line != "hi\n" {
			t.Fatalf("the foreground run printed %q (%v)", line, err)
		}
		assertEqual(t, imageMountCount(t, sb), 1, "a foreground run mounts the image")
		lcRunD(sb, "--name", "mixed", "--mount", "type=image,source=extra,target=/m", lcImage, "sleep", "1000")
		assertEqual(t, imageMountCount(t, sb), 2, "a foreground run and a detached container mount the image")
		fgInW.Close()
		if err := fg.Wait(); err != nil {
			t.Fatalf("the foreground run: %v", err)
		}
		assertEqual(t, sb.ok("exec", "mixed", "cat", "/m/data/sub/f").stdout, "hi\n", "the detached container's mount after the foreground run ended")
		sb.ok("rm", "-f", "mixed")
		waitNoStoreMounts(t, sb, "a foreground run and a detached container")
		lcAssertNoProcsNoMounts(t, sb, "a foreground run and a detached container")

		// --rm, and restarts: each run mounts, each end gives back.
		lcRunD(sb, "--rm", "--name", "gone", "--mount", "type=image,source=extra,target=/m", lcImage, "sleep", "1000")
		sb.ok("stop", "-t", "1", "gone")
		lcRunD(sb, "--name", "again", "--restart", "on-failure:2", "--mount", "type=image,source=extra,target=/m", lcImage, "sh", "-c", "cat /m/data/sub/f; exit 1")
		lcEventually(t, 30*time.Second, "on-failure:2 done", func() (bool, string) {
			in := lcInspect(sb, "again")
			mon := lcAlive(lcRecord(sb, in.ID).State.MonitorPid)
			return in.State.Status == "exited" && in.RestartCount == 2 && !mon, sb.ok("logs", "again").stdout
		})
		assertEqual(t, sb.ok("logs", "again").stdout, "hi\nhi\nhi\n", "three runs, each with the image mounted")
		waitNoStoreMounts(t, sb, "--rm and restarts")
		sb.ok("rm", "again")

		// A monitor killed outright: system check finds the count, --repair gives it back.
		k := lcRunD(sb, "--name", "killed", "--mount", "type=image,source=extra,target=/m", lcImage, "sleep", "1000")
		mon := lcRecord(sb, k).State.MonitorPid
		if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		lcEventually(t, 20*time.Second, "the killed monitor's container gone", func() (bool, string) {
			var left []lcProc // fuse-overlayfs outlives its killed owner: the repair ends it
			for _, p := range lcProcs(sb) {
				if !strings.Contains(p.args, "fuse-overlayfs") {
					left = append(left, p)
				}
			}
			return !lcAlive(mon) && len(left) == 0, lcProcList(left)
		})
		assertEqual(t, imageMountCount(t, sb), 1, "a killed monitor's image mount is still counted")
		c, _ := sb.check()
		if !c.has("container", "killed") {
			t.Fatalf("system check should find the killed container:\n%s", c)
		}
		sb.check("--repair")
		assertCheckClean(t, sb, "the repair of a killed monitor's image mount")
		waitNoStoreMounts(t, sb, "system check --repair")

		// An image mount's count that no record names (the owner killed between the
		// mount and its record, faked by removing the record's file) is found too.
		h := lcRunD(sb, "--name", "held", "--mount", "type=image,source=extra,target=/m", lcImage, "sleep", "1000")
		hmon := lcRecord(sb, h).State.MonitorPid
		if err := os.Remove(filepath.Join(sb.recordsDir(), h, "image-mounts")); err != nil {
			t.Fatal(err)
		}
		c, _ = sb.check()
		if !c.has("mount", "image layer") {
			t.Fatalf("system check should find an image mount nothing records:\n%s", c)
		}
		sb.check("--repair")
		assertEqual(t, imageMountCount(t, sb), 0, "the repair gave back the count nothing recorded")
		_ = syscall.Kill(hmon, syscall.SIGKILL)
		sb.check("--repair")
		assertCheckClean(t, sb, "the second repair")

		// rmi -f removes the containers that mount the image, as those made from it.
		r = sb.ok("rmi", "-f", "extra")
		assertContains(t, r.stdout, "Deleted:", "rmi -f of a mounted image")
		if out := sb.ok("ps", "-a", "-q").stdout; strings.TrimSpace(out) != "" {
			t.Fatalf("rmi -f should have removed the containers mounting the image: %s", out)
		}
		lcAssertNoProcsNoMounts(t, sb, "the image mount tests")
	})
}

// TestImageMountPull: the image of an image mount is pulled when missing, as the
// container's own is (--pull missing, never).
func TestImageMountPull(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	reg.seedDocker(t, fix.docker, "mnt/img:1")
	ref := reg.host + "/mnt/img:1"
	sb := lcSandbox(t)
	r := sb.expect(125, "run", "--rm", "--pull", "never", "--mount", "type=image,source="+ref+",target=/m", lcImage, "true")
	assertContains(t, r.stderr, ref, "--pull never of an image mount's missing image")
	r = sb.ok("run", "--rm", "--tls-verify=false", "--mount", "type=image,source="+ref+",target=/m", lcImage, "cat", "/m/etc/hello")
	assertEqual(t, r.stdout, helloContent, "the pulled image mounted")
	assertContains(t, r.stderr, "Pulled "+ref+"\n", "an image mount's image pulled")
}
