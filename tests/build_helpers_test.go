package tests

// Helpers of the `hutch build` tests (build_*_test.go): build contexts written as the
// test user, the base images the Dockerfiles start FROM, running a build and reading
// what it printed, the Docker-shaped `inspect` of a built image, a second user with a
// subordinate range (for reproducibility and pull-back), and scans of saved images.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The images a build test imports into its sandbox.
const (
	bdBase  = "bbase"  // lcRootfs (busybox with every applet, alice 1000): CMD ["sh"]
	bdBase2 = "bbase2" // the same file system, LABEL which=two
)

// bdSecondUser is a second user with a subordinate range: another user's builds of the
// same Dockerfile must give the same image, and a pushed image must pull back for them.
const bdSecondUser = "hutch-test2"

var (
	bdUserOnce sync.Once
	bdUser2    *testUser
	bdUserErr  error
)

// bdSecond makes (once) the second user the way the harness makes hutch-test and
// returns a sandbox of it. (The user is not put in the harness's users map: parallel
// tests read that map without a lock.)
func bdSecond(t *testing.T) *sandbox {
	t.Helper()
	bdUserOnce.Do(func() { bdUser2, bdUserErr = ensureUser(bdSecondUser, true) })
	if bdUserErr != nil {
		t.Fatalf("making the second test user %s: %v", bdSecondUser, bdUserErr)
	}
	// As newSandbox does, for a user outside the map.
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	dir := filepath.Join(baseDir, fmt.Sprintf("sb-%03d-%s", sbSeq.Add(1), name))
	sb := &sandbox{t: t, user: bdUser2, dir: dir, env: map[string]string{}}
	for _, d := range []string{"", "home", "config", "data", "cache", "run", "tmp", "work"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, bdUser2.uid, bdUser2.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sb.path("run"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.cleanup)
	return sb
}

// bdImport imports the build tests' base images (bdBase unless named) into the sandbox.
func bdImport(t *testing.T, sb *sandbox, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = []string{bdBase}
	}
	for _, n := range names {
		args := []string{"import", "--change", `CMD ["sh"]`}
		switch n {
		case bdBase:
		case bdBase2:
			args = append(args, "--change", "LABEL which=two")
		default:
			t.Fatalf("bdImport: unknown image %q", n)
		}
		sb.ok(append(args, lcRootfs(t), n)...)
	}
}

// bdSandbox is a sandbox of the user with a range (the driver hutch probes) holding
// the base image, whose containers are removed at the end even when the test fails.
func bdSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t, userWithRange)
	lcCleanupContainers(t, sb)
	bdImport(t, sb)
	return sb
}

// bdCtx writes a build context under the sandbox's work directory, owned by the user:
// files maps a relative path to its content (a name ending in "/" is a directory). It
// returns the context's absolute path.
func bdCtx(t *testing.T, sb *sandbox, name string, files map[string]string) string {
	t.Helper()
	dir := sb.path("work", name)
	sb.writeUserFile(filepath.Join(dir, ".keep-dir"), "")
	if err := os.Remove(filepath.Join(dir, ".keep-dir")); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			sb.writeUserFile(filepath.Join(full, ".keep-dir"), "")
			if err := os.Remove(filepath.Join(full, ".keep-dir")); err != nil {
				t.Fatal(err)
			}
			continue
		}
		sb.writeUserFile(full, content)
	}
	return dir
}

// bdWrite writes (or replaces) one file of a context as the user.
func bdWrite(t *testing.T, sb *sandbox, path, content string, mode os.FileMode) {
	t.Helper()
	sb.writeUserFile(path, content)
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// bdSymlink makes a symbolic link owned by the user.
func bdSymlink(t *testing.T, sb *sandbox, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
}

// bdBuild runs `hutch build ARGS…` and fails the test unless it succeeds; it returns
// the result and the image ID, which must be the last line of stdout.
func bdBuild(sb *sandbox, args ...string) (result, string) {
	sb.t.Helper()
	return bdBuildWith(sb, runOpts{}, args...)
}

func bdBuildWith(sb *sandbox, o runOpts, args ...string) (result, string) {
	sb.t.Helper()
	r := sb.expectWith(o, 0, append([]string{"build"}, args...)...)
	return r, bdLastID(sb.t, r)
}

var bdHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bdLastID is the image ID a build printed as the last line of its stdout.
func bdLastID(t *testing.T, r result) string {
	t.Helper()
	ls := lines(r.stdout)
	if len(ls) == 0 {
		t.Fatalf("the build printed nothing on stdout; the image ID should be its last line:\n%s", r)
	}
	id := strings.TrimPrefix(strings.TrimSpace(ls[len(ls)-1]), "sha256:")
	if !bdHex64.MatchString(id) {
		t.Fatalf("the last line of the build's stdout is not the 64-hex image ID:\n%s", r)
	}
	return id
}

// bdOut is everything a command printed, stdout then stderr.
func bdOut(r result) string { return r.stdout + r.stderr }

// bdMarker is a RUN command printing a word that is not written in the Dockerfile (the
// shell computes it), so that the build's output shows it only when the RUN ran: the
// STEP line repeats the instruction as written. bdMarker("A") prints "RAN-A-42".
func bdMarker(word string) string { return `echo "RAN-` + word + `-$((40+2))"` }

func bdRan(word string) string { return "RAN-" + word + "-42" }

// bdSteps checks that the output has the lines STEP 1/N … STEP N/N, in order.
func bdSteps(t *testing.T, r result, n int) {
	t.Helper()
	out := bdOut(r)
	pos := 0
	for i := 1; i <= n; i++ {
		s := "STEP " + itoa(i) + "/" + itoa(n) + ": "
		k := strings.Index(out[pos:], s)
		if k < 0 {
			t.Fatalf("the build's output should show %q (after STEP %d/%d):\n%s", s, i-1, n, r)
		}
		pos += k + len(s)
	}
	if strings.Contains(out, "STEP "+itoa(n+1)+"/") {
		t.Fatalf("the build's output shows more than %d steps:\n%s", n, r)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// bdInspect is the part of `hutch inspect IMAGE` the build tests read.
type bdInspect struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Config   struct {
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Volumes      map[string]struct{} `json:"Volumes"`
		WorkingDir   string              `json:"WorkingDir"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
		Healthcheck  *struct {
			Test     []string `json:"Test"`
			Interval int64    `json:"Interval"`
			Timeout  int64    `json:"Timeout"`
			Retries  int      `json:"Retries"`
		} `json:"Healthcheck"`
		Shell   []string `json:"Shell"`
		OnBuild []string `json:"OnBuild"`
	} `json:"Config"`
	RootFS struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	History []struct {
		Created    string `json:"created"`
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"History"`
	Created string `json:"Created"`
}

func bdInspectImage(sb *sandbox, ref string) (bdInspect, result) {
	sb.t.Helper()
	r := sb.ok("inspect", "--type", "image", ref)
	var out []bdInspect
	mustJSON(sb.t, r, &out)
	if len(out) != 1 {
		sb.t.Fatalf("inspect %s returned %d objects:\n%s", ref, len(out), r)
	}
	return out[0], r
}

// bdRun runs `hutch run --rm ARGS…` and returns its stdout.
func bdRun(sb *sandbox, args ...string) string {
	sb.t.Helper()
	return sb.ok(append([]string{"run", "--rm", "--network", "none"}, args...)...).stdout
}

// bdHasEnv tells whether env has KEY=VALUE.
func bdHasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

// bdSaved saves the image as a docker-archive and returns every byte an image
// carries, decompressed: the archive's members, and each member that is a compressed
// or uncompressed tar (a layer) unpacked, so a scan sees file contents and names.
func bdSaved(sb *sandbox, ref string) []byte {
	sb.t.Helper()
	out := sb.path("work", "saved-"+strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	sb.ok("save", "-o", out, ref)
	b, err := os.ReadFile(out)
	if err != nil {
		sb.t.Fatal(err)
	}
	var all bytes.Buffer
	all.Write(b)
	bdUnpack(&all, b, 0)
	return all.Bytes()
}

// bdUnpack appends the names and contents of the members of a tar (gzip'd or not) to
// w, recursing into members that are tars themselves.
func bdUnpack(w *bytes.Buffer, b []byte, depth int) {
	if depth > 3 {
		return
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		d, err := io.ReadAll(zr)
		if err != nil {
			return
		}
		w.Write(d)
		b = d
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return
		}
		w.WriteString("\n" + h.Name + "\n" + h.Linkname + "\n")
		body, err := io.ReadAll(tr)
		if err != nil {
			return
		}
		w.Write(body)
		if len(body) > 512 {
			bdUnpack(w, body, depth+1)
		}
	}
}

// bdWaitAny waits until stdout or stderr of a background hutch contains s.
func bdWaitAny(b *bgRun, s string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(b.stdout.String()+b.stderr.String(), s) {
			return
		}
		select {
		case <-b.done:
			b.t.Fatalf("hutch ended before printing %q:\n%s", s, b.wait())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %q after %s; so far:\n%s\n--- stderr ---\n%s", s, timeout, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bdImageIDs is the set of image IDs `images -a` lists.
func bdImageIDs(sb *sandbox) map[string]bool {
	sb.t.Helper()
	out := map[string]bool{}
	for _, i := range sb.images(true) {
		out[strings.TrimPrefix(i.ID, "sha256:")] = true
	}
	return out
}

// bdOCIAnnotations saves the image as an oci-archive and returns the annotations of its
// manifest.
func bdOCIAnnotations(sb *sandbox, ref string) map[string]string {
	sb.t.Helper()
	out := sb.path("work", "oci-"+strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	sb.ok("save", "--format", "oci-archive", "-o", out, ref)
	b := readFile(sb.t, out)
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(tarMember(sb.t, b, "index.json"), &idx); err != nil || len(idx.Manifests) != 1 {
		sb.t.Fatalf("the oci-archive's index.json: %v (%d manifests)", err, len(idx.Manifests))
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	mb := tarMember(sb.t, b, "blobs/sha256/"+strings.TrimPrefix(idx.Manifests[0].Digest, "sha256:"))
	if err := json.Unmarshal(mb, &m); err != nil {
		sb.t.Fatalf("the oci-archive's manifest: %v\n%s", err, mb)
	}
	return m.Annotations
}

// bdStepHits splits a build's output at its `STEP n/N: INSTRUCTION` lines and tells, for
// each step, its instruction and whether the step printed `--> Using cache`.
func bdStepHits(r result) (instr []string, hit []bool) {
	for _, block := range strings.Split(bdOut(r), "STEP ")[1:] {
		first, rest, _ := strings.Cut(block, "\n")
		_, in, _ := strings.Cut(first, ": ")
		instr = append(instr, in)
		hit = append(hit, strings.Contains(rest, "--> Using cache "))
	}
	return instr, hit
}

// bdAllHits checks that every step after FROM hit the cache (ARG, which has nothing to
// cache in some builders, may print nothing).
func bdAllHits(t *testing.T, r result) {
	t.Helper()
	instr, hit := bdStepHits(r)
	for i := 1; i < len(instr); i++ {
		if !hit[i] && !strings.HasPrefix(instr[i], "ARG ") {
			t.Fatalf("step %d (%s) of a full cache hit printed no `--> Using cache <id>`:\n%s", i+1, instr[i], r)
		}
	}
}
