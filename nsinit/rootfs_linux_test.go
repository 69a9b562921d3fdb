package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The plan a spec turns into: setupRootfs runs against a directory of the test's, as a
// normal user, with the mounts, read-only remounts and the pivot recorded instead of
// made (the directories and files it creates for them are real).

type op struct {
	what, source, target, fstype string
	flags                        uintptr
	data                         string
}

func (o op) String() string {
	return fmt.Sprintf("%s %s %s %s %#x %s", o.what, o.source, o.target, o.fstype, o.flags, o.data)
}

// recordRootfs runs setupRootfs on spec with a fresh root (prepared by setup) and
// returns what it asked of the kernel, targets relative to the root.
func recordRootfs(t *testing.T, spec *Spec, setup func(root string)) []op {
	t.Helper()
	root := t.TempDir()
	if setup != nil {
		setup(root)
	}
	spec.Rootfs = root
	var ops []op
	// Paths in the root are written as the container sees them; a target anywhere else
	// (but the mount namespace's own "/") is marked.
	rel := func(p string) (string, bool) {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return "/" + strings.TrimPrefix(r, "."), true
		}
		return p, p == "/"
	}
	target := func(p string) string {
		r, in := rel(p)
		if !in {
			return "OUTSIDE:" + r
		}
		return r
	}
	saved := []any{mount, readOnly, pivot}
	t.Cleanup(func() {
		mount = saved[0].(func(string, string, string, uintptr, string) error)
		readOnly = saved[1].(func(string, bool) error)
		pivot = saved[2].(func(string) error)
	})
	mount = func(source, dst, fstype string, flags uintptr, data string) error {
		if flags&unix.MS_BIND != 0 {
			source, _ = rel(source)
		}
		ops = append(ops, op{"mount", source, target(dst), fstype, flags, data})
		return nil
	}
	readOnly = func(path string, recursive bool) error {
		ops = append(ops, op{what: "read-only", target: target(path), data: fmt.Sprint(recursive)})
		return nil
	}
	pivot = func(r string) error {
		ops = append(ops, op{what: "pivot", target: target(r)})
		return nil
	}
	if err := setupRootfs(spec); err != nil {
		t.Fatal(err)
	}
	return ops
}

func find(ops []op, match func(op) bool) int {
	return slices.IndexFunc(ops, match)
}

func mounted(ops []op, target string) (op, bool) {
	i := find(ops, func(o op) bool { return o.what == "mount" && o.target == target })
	if i < 0 {
		return op{}, false
	}
	return ops[i], true
}

// mkfiles makes paths under root: a trailing "/" makes a directory.
func mkfiles(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRootfsPlan(t *testing.T) {
	hostFile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostFile, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostDir := t.TempDir()
	spec := &Spec{NewNetwork: true, TTYGroup: true, ReadOnly: true,
		Mounts: []Mount{
			{Type: "bind", Source: hostFile, Destination: "/etc/hosts", File: true},
			{Type: "bind", Source: hostDir, Destination: "/data", ReadOnly: true},
			{Type: "tmpfs", Destination: "/scratch", Options: []string{"size=1m"}},
		},
		Mask: []string{"/secret"}, Unmask: []string{"/proc/timer_list"}}
	// What the kernel would show under /proc and /sys; the image's own /secret.
	ops := recordRootfs(t, spec, func(root string) {
		mkfiles(t, root, "proc/kcore", "proc/keys", "proc/timer_list", "proc/asound/", "proc/sys/", "sys/firmware/", "secret/")
	})

	// The order: nothing propagates back, the root a mount of its own; then proc, dev,
	// sys; the user's mounts; masks; the read-only root; the pivot last.
	if ops[0].target != "/" || ops[0].flags != unix.MS_REC|unix.MS_PRIVATE ||
		ops[1].source != "/" || ops[1].target != "/" || ops[1].flags != unix.MS_BIND|unix.MS_REC ||
		ops[2].target != "/proc" || ops[2].fstype != "proc" || ops[3].target != "/dev" || ops[3].fstype != "tmpfs" {
		t.Errorf("the first steps:\n%v", ops[:4])
	}
	if last := ops[len(ops)-1]; last.what != "pivot" || last.target != "/" {
		t.Errorf("the last step is %v, want the pivot", last)
	}
	if before := ops[len(ops)-2]; before.what != "read-only" || before.target != "/" || before.data != "false" {
		t.Errorf("--read-only: %v before the pivot, want the root (alone) read-only", before)
	}

	// /dev: the host's nodes bound, devpts with the tty group, shm, mqueue.
	for _, d := range hostDevices {
		if o, ok := mounted(ops, "/dev/"+d); !ok || o.source != "/dev/"+d || o.flags != unix.MS_BIND {
			t.Errorf("/dev/%s: %v", d, o)
		}
	}
	if o, _ := mounted(ops, "/dev/pts"); o.fstype != "devpts" || !strings.Contains(o.data, "gid=5") || !strings.Contains(o.data, "newinstance") {
		t.Errorf("devpts: %v", o)
	}
	for _, d := range []string{"/dev/shm", "/dev/mqueue"} {
		if _, ok := mounted(ops, d); !ok {
			t.Errorf("%s not mounted", d)
		}
	}
	// A network namespace of its own: a sysfs of its own, read-only.
	if o, _ := mounted(ops, "/sys"); o.fstype != "sysfs" || o.flags&unix.MS_RDONLY == 0 {
		t.Errorf("/sys: %v", o)
	}

	// The user's mounts, in order, after the standard ones; read-only ones made so.
	hosts := find(ops, func(o op) bool { return o.target == "/etc/hosts" })
	data := find(ops, func(o op) bool { return o.what == "mount" && o.target == "/data" })
	scratch := find(ops, func(o op) bool { return o.target == "/scratch" })
	if hosts < find(ops, func(o op) bool { return o.target == "/sys" }) || !(hosts < data && data < scratch) {
		t.Errorf("user mounts out of order: %d %d %d\n%v", hosts, data, scratch, ops)
	}
	if ops[hosts].source != hostFile || ops[hosts].flags != unix.MS_BIND|unix.MS_REC {
		t.Errorf("/etc/hosts: %v", ops[hosts])
	}
	if fi, err := os.Stat(filepath.Join(spec.Rootfs, "etc/hosts")); err != nil || fi.IsDir() {
		t.Errorf("the mount point of a file bind must be a file: %v, %v", fi, err)
	}
	if ops[data+1].what != "read-only" || ops[data+1].target != "/data" || ops[data+1].data != "true" {
		t.Errorf("a read-only bind: %v", ops[data+1])
	}
	if o := ops[scratch]; o.fstype != "tmpfs" || o.data != "size=1m" || o.flags != unix.MS_NOSUID|unix.MS_NODEV {
		t.Errorf("tmpfs: %v", o)
	}

	// Masked: files under /dev/null, directories under an empty read-only tmpfs; the
	// extra mask; not the unmasked one; read-only paths bound read-only.
	if o, _ := mounted(ops, "/proc/kcore"); o.source != "/dev/null" || o.flags != unix.MS_BIND {
		t.Errorf("/proc/kcore: %v", o)
	}
	for _, d := range []string{"/proc/asound", "/sys/firmware", "/secret"} {
		if o, _ := mounted(ops, d); o.fstype != "tmpfs" || o.flags != unix.MS_RDONLY || o.data != "size=0" {
			t.Errorf("%s: %v", d, o)
		}
	}
	if _, ok := mounted(ops, "/proc/timer_list"); ok {
		t.Error("unmask=/proc/timer_list: masked all the same")
	}
	if i := find(ops, func(o op) bool { return o.what == "read-only" && o.target == "/proc/sys" }); i < 0 || ops[i-1].target != "/proc/sys" || ops[i-1].flags != unix.MS_BIND|unix.MS_REC {
		t.Errorf("/proc/sys is not bound read-only:\n%v", ops)
	}
	// What this kernel does not have is not masked (no error either).
	if _, ok := mounted(ops, "/proc/scsi"); ok {
		t.Error("/proc/scsi does not exist, and was masked")
	}
}

// --privileged: nothing masked, the host's /sys writable; the host's network: the
// host's /sys, bound read-only.
func TestRootfsPlanPrivilegedAndHostNetwork(t *testing.T) {
	setup := func(root string) { mkfiles(t, root, "proc/kcore", "proc/sys/") }
	ops := recordRootfs(t, &Spec{Privileged: true}, setup)
	if _, ok := mounted(ops, "/proc/kcore"); ok {
		t.Error("--privileged: /proc/kcore masked")
	}
	if o, _ := mounted(ops, "/sys"); o.source != "/sys" || o.flags != unix.MS_BIND|unix.MS_REC {
		t.Errorf("host network: /sys %v", o)
	}
	if i := find(ops, func(o op) bool { return o.what == "read-only" }); i >= 0 {
		t.Errorf("--privileged: %v", ops[i])
	}
	ops = recordRootfs(t, &Spec{}, setup)
	if i := find(ops, func(o op) bool { return o.what == "read-only" && o.target == "/sys" }); i < 0 || ops[i].data != "true" {
		t.Errorf("host network: the host's /sys is not read-only all the way down:\n%v", ops)
	}
	if o, _ := mounted(ops, "/dev/pts"); strings.Contains(o.data, "gid=5") {
		t.Errorf("devpts without a tty group: %v", o)
	}
}

// A mount's destination is resolved inside the root: an image's symlink cannot send it
// out.
func TestRootfsPlanStaysInRoot(t *testing.T) {
	outside := t.TempDir()
	src := t.TempDir()
	ops := recordRootfs(t, &Spec{Mounts: []Mount{{Type: "bind", Source: src, Destination: "/link/m"}}}, func(root string) {
		if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
	})
	// The recorder names targets relative to the root: the link's target, taken
	// inside the root.
	if _, ok := mounted(ops, outside+"/m"); !ok {
		t.Errorf("a destination through a symlink out of the root was not resolved inside it:\n%v", ops)
	}
	if _, err := os.Stat(filepath.Join(outside, "m")); err == nil {
		t.Error("the mount point was made outside the root")
	}
}
