package tests

// Builds that do not serialize: a build holds the store lock only while it changes the
// store, never while a RUN step's process runs. Each RUN below makes a fifo in a cache
// mount, says so, and blocks reading it until the test writes to it: two builds that
// both say so are both inside a RUN step at once, and while they wait there, images,
// rmi and run finish. Two builds of one Dockerfile at once both succeed, and a third
// build is a full cache hit. (How long parallel builds take is measured in
// bench/parallel-build.sh, not here.)

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// bdGateStep is a RUN that makes the fifo /gate/NAME (NAME from mktemp, so that two
// builds of the same Dockerfile get one each), prints "gate-open NAME", and copies what
// the test writes to the fifo into /got.
const bdGateStep = `RUN --mount=type=cache,target=/gate,id=gates f=$(mktemp -u -p /gate) && mkfifo "$f" && echo "gate-open ${f#/gate/} ` +
	`$((6*7))" && cat "$f" > /got`

var bdGateOpen = regexp.MustCompile(`gate-open (\S+) 42`)

// bdGateStep2 is a second gate step (the fifo's content is dropped) that copies /got,
// what the first gate step wrote, to /again: its result depends on the first step's.
const bdGateStep2 = `RUN --mount=type=cache,target=/gate,id=gates f=$(mktemp -u -p /gate) && mkfifo "$f" && echo "gate-open ${f#/gate/} ` +
	`$((6*7))" && cat "$f" > /dev/null && cat /got > /again`

// bdGate waits until the build is blocked in its gate step and returns the fifo's path
// on the host (in the user's build cache directory).
func bdGate(t *testing.T, sb *sandbox, b *bgRun) string {
	t.Helper()
	fifo, ok := bdNthGate(t, sb, b, 1)
	if !ok {
		t.Fatalf("the build ended before its gate step:\n%s", b.wait())
	}
	return fifo
}

// bdNthGate waits until the build is blocked in its n-th gate step and returns the
// fifo's path on the host (in the user's build cache directory); false when the build
// ended without reaching it.
func bdNthGate(t *testing.T, sb *sandbox, b *bgRun, n int) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ended := false
		select {
		case <-b.done:
			ended = true // its output is complete: one more look
		default:
		}
		if m := bdGateOpen.FindAllStringSubmatch(b.stdout.String()+b.stderr.String(), -1); len(m) >= n {
			return bdFifo(t, sb, m[n-1][1]), true
		}
		if ended {
			return "", false
		}
		if time.Now().After(deadline) {
			t.Fatalf("the build did not reach its gate step %d in 3 minutes; so far:\n%s\n--- stderr ---\n%s", n, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bdFifo finds the fifo NAME a gate step made in the user's build cache directory.
func bdFifo(t *testing.T, sb *sandbox, name string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(sb.path("cache"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name && d.Type()&fs.ModeNamedPipe != 0 {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("the fifo %s the build made is not in the build cache directory %s", name, sb.path("cache"))
	}
	return found
}

// bdOpenGate lets the build blocked on the fifo go on.
func bdOpenGate(t *testing.T, fifo, what string) {
	t.Helper()
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // the build's cat has it open: no wait
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(what + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// bdFinishes runs hutch while the builds wait in their RUN steps and fails the test
// when it does not end in time (it would be waiting for them) or when a build ended
// meanwhile (then it proves nothing).
func bdFinishes(t *testing.T, sb *sandbox, builds []*bgRun, code int, args ...string) result {
	t.Helper()
	c := sb.startRun(runOpts{}, args...)
	select {
	case <-c.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("hutch %s did not finish while builds were in a RUN step (waiting for them?):\n%s\n%s", shellJoin(args), c.stdout.String(), c.stderr.String())
	}
	r := c.wait()
	if r.code != code {
		t.Fatalf("hutch %s: exit %d, want %d:\n%s", shellJoin(args), r.code, code, r)
	}
	for _, b := range builds {
		select {
		case <-b.done:
			t.Fatalf("a build ended before the gate was opened:\n%s", b.wait())
		default:
		}
	}
	return r
}

func TestBuildsDoNotSerialize(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	bdImport(t, sb, bdBase2)
	{
		ctxA := bdCtx(t, sb, "a", map[string]string{"Dockerfile": "FROM " + bdBase + "\n" + bdGateStep + "\nRUN echo a > /which\n"})
		ctxB := bdCtx(t, sb, "b", map[string]string{"Dockerfile": "FROM " + bdBase + "\n" + bdGateStep + "\nRUN echo b > /which\n"})
		a := sb.startRun(runOpts{}, "build", "-t", "para", ctxA)
		b := sb.startRun(runOpts{}, "build", "-t", "parb", ctxB)
		gateA, gateB := bdGate(t, sb, a), bdGate(t, sb, b)
		// Both RUN steps are running now: neither can end before its gate opens.
		builds := []*bgRun{a, b}

		list := bdFinishes(t, sb, builds, 0, "images")
		assertContains(t, list.stdout, "localhost/"+bdBase2, "images during the builds")
		bdFinishes(t, sb, builds, 0, "run", "--rm", "--network", "none", bdBase, "true")
		r := bdFinishes(t, sb, builds, 0, "rmi", bdBase2)
		assertContains(t, r.stdout, "Deleted:", "rmi of another image during the builds")
		// The builds' base image is theirs while they run.
		r = bdFinishes(t, sb, builds, 1, "rmi", bdBase)
		assertContains(t, r.stderr, "used by a build running now", "rmi of the image the builds use")

		bdOpenGate(t, gateA, "to-a")
		bdOpenGate(t, gateB, "to-b")
		for _, x := range builds {
			if r := x.wait(); r.code != 0 {
				t.Fatalf("build: %s", r)
			}
		}
		assertEqual(t, bdRun(sb, "para", "cat", "/got", "/which"), "to-a\na\n", "image a")
		assertEqual(t, bdRun(sb, "parb", "cat", "/got", "/which"), "to-b\nb\n", "image b")
		// Nothing a build held is left behind: no working layer, no record, no scratch.
		r = sb.ok("system", "check")
		if strings.Contains(r.stdout, "layer") && strings.Contains(r.stdout, "no image or container uses it") {
			t.Fatalf("system check after the builds found a left layer:\n%s", r)
		}
		assertNoEntries(t, filepath.Join(sb.graphRoot(), "hutch-build", "live"))
	}
}

// Two builds of one Dockerfile at once store two cache entries for each step, one per
// build (the RUN steps' results differ: each gets its own input through its gate). The
// gates order the steps' ends (each step's entry is stored before the next gate opens):
// whatever the order, each build's image is its own (no step of one on a step of the
// other), and a third build is a full cache hit giving the image of the build that
// stored the first step's entry last. Before the step keys named the state before the
// step, "interleaved" gave a third image (step 1 of b, step 2 of a: the flake of issue
// 19) and "one-after-the-other" gave b the second step of a.
func TestBuildSameDockerfileTwiceAtOnce(t *testing.T) {
	t.Parallel()
	for _, order := range []struct {
		name  string
		gates []string // build a or b, gate 1 or 2, in the order they open
	}{
		{"interleaved", []string{"a1", "b1", "b2", "a2"}},
		{"one-after-the-other", []string{"a1", "a2", "b1", "b2"}},
	} {
		t.Run(order.name, func(t *testing.T) {
			t.Parallel()
			sb := bdSandbox(t)
			ctx := bdCtx(t, sb, "same", map[string]string{"Dockerfile": "FROM " + bdBase + "\n" + bdGateStep + "\n" + bdGateStep2 + "\n"})
			builds := map[string]*bgRun{
				"a": sb.startRun(runOpts{}, "build", "-t", "same", ctx),
				"b": sb.startRun(runOpts{}, "build", "-t", "same", ctx),
			}
			// Both builds are in their first RUN step at once.
			fifos := map[string]string{"a1": bdGate(t, sb, builds["a"]), "b1": bdGate(t, sb, builds["b"])}
			ids := map[string]string{}
			for _, g := range order.gates {
				name, x := g[:1], builds[g[:1]]
				if g[1] == '1' {
					bdOpenGate(t, fifos[g], "to-"+name)
					// Its first step's entry is stored once it is in its second step.
					f, ok := bdNthGate(t, sb, x, 2)
					if !ok {
						t.Fatalf("build %s did not run its second RUN step: it took it from the entry the other build stored after a first step with another result:\n%s", name, x.wait())
					}
					fifos[name+"2"] = f
					continue
				}
				bdOpenGate(t, fifos[g], "go")
				r := x.wait()
				if r.code != 0 {
					t.Fatalf("build %s: %s", name, r)
				}
				ids[name] = bdLastID(t, r)
			}
			for _, name := range []string{"a", "b"} {
				assertEqual(t, bdRun(sb, ids[name], "cat", "/got", "/again"), "to-"+name+"\nto-"+name+"\n", "the image of build "+name)
			}
			r, id := bdBuild(sb, "-t", "same", ctx)
			bdAllHits(t, r)
			if id != ids["b"] {
				t.Fatalf("the third build gave %s, not the image of build b %s (b stored the first step's entry last; a's image is %s):\n%s", id, ids["b"], ids["a"], r)
			}
			assertEqual(t, bdRun(sb, "same", "cat", "/got", "/again"), "to-b\nto-b\n", "the third build's image")
		})
	}
}

// assertNoEntries fails when dir has entries.
func assertNoEntries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s still holds %v", dir, names)
	}
}
