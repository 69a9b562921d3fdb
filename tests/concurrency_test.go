package tests

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// background is a hutch command running while the test does other things.
type background struct {
	cmd            *exec.Cmd
	leader         *groupLeader
	args           []string
	stdout, stderr bytes.Buffer
	done           chan struct{}
	res            result
}

func (sb *sandbox) start(args ...string) *background {
	sb.t.Helper()
	b := &background{args: args, done: make(chan struct{})}
	b.cmd = sb.command(runOpts{}, args...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	start := time.Now()
	if err := b.cmd.Start(); err != nil {
		sb.t.Fatalf("starting hutch %s: %v", shellJoin(args), err)
	}
	b.leader = leaderOf(b.cmd)
	go func() {
		err := b.leader.wait(b.cmd)
		b.res = result{args: args, stdout: b.stdout.String(), stderr: b.stderr.String(), elapsed: time.Since(start)}
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			b.res.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.res.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			b.res.code = -2
			b.res.stderr += "\n(wait: " + err.Error() + ")"
		}
		close(b.done)
	}()
	return b
}

func (b *background) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

func (b *background) wait() result {
	<-b.done
	return b.res
}

// killGroup kills hutch and its re-executed child (the whole process group) at once.
func (b *background) killGroup(t *testing.T) {
	t.Helper()
	if !b.leader.kill() {
		t.Fatalf("kill -KILL -%d: hutch %s had ended already", b.cmd.Process.Pid, shellJoin(b.args))
	}
}

// treeSize sums the sizes of the regular files under dir.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestConcurrentLoads: two loads of different archives at the same time, with readers
// listing meanwhile, all succeed and both images are there.
func TestConcurrentLoads(t *testing.T) {
	t.Parallel()
	big, err := fix.bigArchive()
	if err != nil {
		t.Fatal(err)
	}
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("images") // create the store first: both loads then race on the image work only
		a := sb.start("load", "-i", big.path)
		b := sb.start("load", "-i", fix.oci.path)
		readers := 0
		for a.running() || b.running() {
			sb.ok("images", "-a")
			readers++
			time.Sleep(20 * time.Millisecond)
		}
		for _, bg := range []*background{a, b} {
			if r := bg.wait(); r.code != 0 {
				t.Fatalf("a concurrent load failed:\n%s", r)
			}
		}
		assertContains(t, a.res.stdout, "Loaded image: "+big.name, "big load")
		assertContains(t, b.res.stdout, "Loaded image: "+fix.oci.name, "oci load")
		list := sb.images(true)
		if len(list) != 2 || findImage(list, big.name) == nil || findImage(list, big.name).ID != big.id ||
			findImage(list, fix.oci.name) == nil || findImage(list, fix.oci.name).ID != fix.oci.id {
			t.Fatalf("after two concurrent loads: %+v", list)
		}
		t.Logf("%d listings ran during the loads (%s, %s)", readers, a.res.elapsed.Round(time.Millisecond), b.res.elapsed.Round(time.Millisecond))
		// Two loads of the same archive at once: one image, no error.
		c := sb.start("load", "-i", fix.docker.path)
		d := sb.start("load", "-i", fix.docker.path)
		for _, bg := range []*background{c, d} {
			if r := bg.wait(); r.code != 0 {
				t.Fatalf("a concurrent load of the same archive failed:\n%s", r)
			}
		}
		assertEqual(t, len(sb.images(true)), 3, "images after loading one archive twice at once")
	})
}

// TestKillDuringLoad: a load killed with SIGKILL half-way — while the archive is read,
// and while the layer is written into the store — leaves a store that works, and the
// same load then succeeds.
func TestKillDuringLoad(t *testing.T) {
	t.Parallel()
	big, err := fix.bigArchive()
	if err != nil {
		t.Fatal(err)
	}
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		sb.ok("load", "-i", fix.docker.path)
		layerDir := map[bool]string{true: "vfs/dir", false: "overlay"}[sb.driver == "vfs"]
		for _, phase := range []struct {
			name string
			dir  string // where the load's bytes show up in this phase
		}{
			{"while-copying", filepath.Join(sb.graphRoot(), "tmp")},
			{"while-applying", filepath.Join(sb.graphRoot(), layerDir)},
		} {
			before := treeSize(phase.dir)
			bg := sb.start("load", "-i", big.path)
			deadline := time.Now().Add(2 * time.Minute)
			killed := false
			for bg.running() && time.Now().Before(deadline) {
				// A good part of the 50 MB layer is there, far from the end: kill.
				if treeSize(phase.dir)-before > 12<<20 {
					bg.killGroup(t)
					killed = true
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			r := bg.wait()
			if !killed {
				t.Fatalf("%s: the load ended before %s grew by 12 MB, so it could not be killed half-way:\n%s", phase.name, phase.dir, r)
			}
			assertEqual(t, r.code, 128+int(syscall.SIGKILL), phase.name+": exit status of the killed load")
			// No process of the load survives (the namespace child died with the group).
			// No process of the load survives (the namespace child dies with the group; it
			// may take a moment to be reaped).
			for i := 0; ; i++ {
				out, _ := exec.Command("pgrep", "-g", strconv.Itoa(bg.cmd.Process.Pid)).Output()
				if len(bytes.TrimSpace(out)) == 0 {
					break
				}
				if i == 500 {
					ps, _ := exec.Command("ps", "-o", "pid,pgid,stat,args", "-g", strconv.Itoa(bg.cmd.Process.Pid)).CombinedOutput()
					t.Fatalf("%s: processes of the killed load survive 5 s later:\n%s", phase.name, ps)
				}
				time.Sleep(10 * time.Millisecond)
			}

			list := sb.images(true)
			if len(list) != 1 || findImage(list, fix.docker.name) == nil {
				t.Fatalf("%s: after the kill `images` should list only %s: %+v", phase.name, fix.docker.name, list)
			}
			sb.ok("system", "df")
			sb.ok("inspect", fix.docker.name)

			r = sb.ok("load", "-i", big.path)
			assertContains(t, r.stdout, "Loaded image: "+big.name, phase.name+": load after the kill")
			list = sb.images(true)
			if img := findImage(list, big.name); img == nil || img.ID != big.id || img.Size != big.size {
				t.Fatalf("%s: after loading again: %+v", phase.name, list)
			}
			df := sb.df()
			assertEqual(t, df["Images"].Size, fix.docker.size+big.size, phase.name+": df size after the reload (no leaked layer counted)")
			// The data is intact.
			data, err := os.ReadFile(layerFile(t, sb, "data/noise"))
			if err != nil || int64(len(data)) != 50<<20 {
				t.Fatalf("%s: data/noise in the store: %d bytes, %v", phase.name, len(data), err)
			}
			sb.ok("rmi", big.name)
			if strings.Contains(sb.ok("images").stdout, "localhost/big") {
				t.Fatalf("%s: rmi left the big image", phase.name)
			}
		}
	})
}
