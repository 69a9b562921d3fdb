package userns

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/nsenter"
)

// TestStampAgreesWithConstructor: the Go side writes the stamps the C constructor
// compares, so both must spell a file the same way, present or missing, and a change
// of the file must change the stamp.
func TestStampAgreesWithConstructor(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "subuid")
	if err := os.WriteFile(p, []byte("alice:100000:65536\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, filepath.Join(dir, "missing"), "/proc/self/status", dir} {
		if g, c := stamp(path), nsenter.KeptStamp(path); g != c {
			t.Errorf("stamp(%s): Go %q, C %q", path, g, c)
		}
	}
	if stamp(filepath.Join(dir, "missing")) != "-" {
		t.Errorf("a missing file's stamp is %q, want -", stamp(filepath.Join(dir, "missing")))
	}
	before := stamp(p)
	if err := os.WriteFile(p, []byte("alice:200000:65536\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stamp(p) == before {
		t.Errorf("rewriting %s left its stamp %q", p, before)
	}
}

// TestHolderFileRoundTrip: what the Go side writes, it reads back; the constructor's
// reading of a process's start time is the one /proc/self/stat gives.
func TestHolderFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &State{User: "alice", UID: 1000, GID: 1000, Home: "/home/alice",
		UIDMap: []IDMap{{0, 1000, 1}, {1, 100000, 65536}}, GIDMap: []IDMap{{0, 1000, 1}, {1, 100000, 65536}},
		Helpers: []Helper{{Name: "newuidmap", Path: "/usr/bin/newuidmap"}, {Name: "newgidmap"}}}
	h := &Holder{PID: os.Getpid(), Start: nsenter.ProcStart(os.Getpid()), Userns: nsInode(os.Getpid(), "user"),
		Mntns: nsInode(os.Getpid(), "mnt"), Origin: 7, File: filepath.Join(dir, HolderFile), stamps: stampsOf(s), State: s}
	if h.Start == 0 || h.Userns == 0 {
		t.Fatalf("no start time or namespace for this process: %+v", h)
	}
	if err := h.write(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != h.PID || got.Start != h.Start || got.Userns != h.Userns || got.Mntns != h.Mntns || got.Origin != 7 ||
		!reflect.DeepEqual(got.stamps, h.stamps) || !reflect.DeepEqual(got.State, h.State) {
		t.Fatalf("read back %+v, wrote %+v", got, h)
	}
	if len(got.stamps) != 5 || got.stamps[4].path != "/usr/bin/newgidmap" {
		t.Errorf("stamps %+v: want the three files and both helpers", got.stamps)
	}
	if !got.stampsCurrent() {
		t.Errorf("fresh stamps read as changed")
	}
	got.stamps[0].token = "1:2:3:4.000000000:5.000000000"
	if got.stampsCurrent() {
		t.Errorf("a changed stamp reads as current")
	}
	if since := StartTime(h.Start); since.IsZero() || !since.Equal(got.Since) {
		t.Errorf("since %v, start time %v", got.Since, since)
	}
	for _, bad := range []string{"", "hutch-holder 2\n", holderHead + "pid 1 start 2\nstate\n{}", holderHead + "pid 1 start 2 userns 3 mntns 4\nstamp x\n"} {
		if _, err := parseHolder([]byte(bad), "f"); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

// TestHolderCheck: a file naming this test process is refused (it is not a holder),
// as is one naming a process that is gone or whose start time differs (pid reuse).
func TestHolderCheck(t *testing.T) {
	me := os.Getpid()
	h := &Holder{PID: me, Start: nsenter.ProcStart(me), Userns: nsInode(me, "user"), Mntns: nsInode(me, "mnt")}
	if err := h.Check(os.Getuid()); err == nil || !strings.Contains(err.Error(), "not "+HolderName) {
		t.Errorf("Check of the test process: %v, want: not %s", err, HolderName)
	}
	reused := *h
	reused.Start++
	if err := reused.Check(os.Getuid()); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Check with another start time: %v, want gone", err)
	}
	gone := &Holder{PID: 1 << 30, Start: 1}
	if err := gone.Check(os.Getuid()); err == nil {
		t.Errorf("Check of a pid that cannot exist passed")
	}
	var none *Holder
	none.End() // nothing to end: no panic
}

// TestSameMaps: the maps decide whether a holder fits a plan; where the plan came
// from does not.
func TestSameMaps(t *testing.T) {
	a := &State{UIDMap: []IDMap{{0, 1000, 1}, {1, 100000, 65536}}, GIDMap: []IDMap{{0, 1000, 1}}}
	b := &State{UIDMap: []IDMap{{0, 1000, 1}, {1, 100000, 65536}}, GIDMap: []IDMap{{0, 1000, 1}}, Home: "/elsewhere"}
	if !sameMaps(a, b) {
		t.Errorf("same maps read as different")
	}
	b.UIDMap = []IDMap{{0, 1000, 1}, {1, 200000, 65536}}
	if sameMaps(a, b) {
		t.Errorf("a moved range reads as the same maps")
	}
}

// TestLookPathAgreesWithCheckHelper: the constructor finds the helpers where the plan
// did (CheckHelper), for the PATH of each command, or it would join a namespace whose
// maps were planned with other helpers.
func TestLookPathAgreesWithCheckHelper(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "bin")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "newuidmap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "newgidmap"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "newuidmap"), 0o755); err != nil { // a directory is no helper
		t.Fatal(err)
	}
	t.Chdir(fake)
	for _, path := range []string{"/usr/bin:/bin", fake + ":/usr/bin", fake + "/:/usr/bin", dir + ":" + fake, "", ".:/usr/bin", ":/usr/bin", "/nonexistent"} {
		t.Setenv("PATH", path)
		for _, name := range []string{"newuidmap", "newgidmap"} {
			want := CheckHelper(name).Path
			if want == "" {
				want = "-"
			}
			if got := nsenter.KeptLookPath(name); got != want {
				t.Errorf("PATH=%q: the constructor finds %s at %q, CheckHelper at %q", path, name, got, want)
			}
		}
	}
}

// TestKeptSameDirSeesOtherMounts: before it joins the kept mount namespace, the
// constructor checks that the working directory's path leads to the same directory
// there. A namespace copied before a mount that does not propagate has the bare mount
// point at that path: the command must not take it for the user's directory (it gets a
// mount namespace of its own instead). The other namespace here is a child's, private,
// with a tmpfs mounted over one directory after the copy.
func TestKeptSameDirSeesOtherMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a mount namespace and mounts a tmpfs in it: run as root (as CI does)")
	}
	dir := t.TempDir()
	covered, plain := filepath.Join(dir, "covered"), filepath.Join(dir, "plain")
	for _, d := range []string{covered, plain} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-c", `mount -t tmpfs none "$1" && echo ready && exec sleep 60`, "sh", covered)
	// Go makes the child's mounts private: the tmpfs stays in its namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("the child did not mount its tmpfs: %q %v", line, err)
	}
	pid := cmd.Process.Pid
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	if !nsenter.KeptSameDir(pid, plain, open(plain)) {
		t.Errorf("%s: the same directory in both namespaces, taken for another", plain)
	}
	if nsenter.KeptSameDir(pid, covered, open(covered)) {
		t.Errorf("%s: a tmpfs covers it in the other namespace, taken for the same directory", covered)
	}
	for _, p := range []string{"relative", filepath.Join(dir, "missing")} {
		if nsenter.KeptSameDir(pid, p, open(plain)) {
			t.Errorf("%q taken for %s", p, plain)
		}
	}
}
