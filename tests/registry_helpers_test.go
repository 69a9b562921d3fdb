package tests

// Helpers of the registry tests: real registries (docker-registry, distribution 2.8)
// started by the test on a free loopback port and stopped by PID at its end, skopeo to
// seed and inspect them, and rootless Podman as the test user to check that hutch's
// images are everybody's images.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The credentials of the registry with authentication.
const (
	regUser     = "alice"
	regPassword = "s3cret-Pa55"
)

// Media types the registry tests look for.
const (
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtV2S2        = "application/vnd.docker.distribution.manifest.v2+json"
	mtOCIZstd     = "application/vnd.oci.image.layer.v1.tar+zstd"
)

// regServer is one docker-registry process owned by a test.
type regServer struct {
	t    *testing.T
	host string // 127.0.0.1:PORT
	dir  string // its storage root
	log  string // its log file
	auth bool
	cmd  *exec.Cmd
	done chan struct{}
}

// startRegistry starts a registry (with htpasswd authentication when auth) on a free
// port, waits until GET /v2/ answers and stops it (by its PID) when the test ends.
func startRegistry(t *testing.T, auth bool) *regServer {
	t.Helper()
	base, err := os.MkdirTemp(baseDir, "registry-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	var lastErr error
	// A free port can be taken by someone else between our close and the registry's
	// listen: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		r := &regServer{t: t, dir: filepath.Join(base, fmt.Sprintf("data%d", attempt)), log: filepath.Join(base, fmt.Sprintf("registry%d.log", attempt)), auth: auth}
		if lastErr = r.start(base); lastErr == nil {
			t.Cleanup(r.stop)
			return r
		}
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (r *regServer) start(base string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	r.host = "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n", r.dir, r.host)
	if r.auth {
		out, err := exec.Command("htpasswd", "-Bbn", regUser, regPassword).Output()
		if err != nil {
			return fmt.Errorf("htpasswd -Bbn (apache2-utils): %w", err)
		}
		pw := filepath.Join(base, "htpasswd")
		if err := os.WriteFile(pw, out, 0o600); err != nil {
			return err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: hutch-test\n    path: %s\n", pw)
	}
	cfgPath := filepath.Join(base, "config-"+strconv.Itoa(port)+".yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(r.log, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	r.cmd = exec.Command("docker-registry", "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("docker-registry serve: %w", err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			b, _ := os.ReadFile(r.log)
			return fmt.Errorf("docker-registry on %s exited at once:\n%s", r.host, b)
		default:
		}
		resp, err := client.Get("http://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			want := http.StatusOK
			if r.auth {
				want = http.StatusUnauthorized
			}
			if resp.StatusCode != want {
				r.stop()
				return fmt.Errorf("GET http://%s/v2/ answered %s, want %d", r.host, resp.Status, want)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop()
	return fmt.Errorf("docker-registry on %s did not answer GET /v2/ within 15 s", r.host)
}

// stop kills the registry by its PID (SIGKILL: a registry that vanishes mid-request is
// what the robustness tests want) and waits for it. Calling it again does nothing.
func (r *regServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
}

// creds is skopeo's --creds for this registry, or nothing.
func (r *regServer) skopeoCreds(flag string) []string {
	if !r.auth {
		return nil
	}
	return []string{flag, regUser + ":" + regPassword}
}

// seed copies an image archive into the registry with skopeo (as root, nothing of the
// users'), for tests whose subject is pulling.
func (r *regServer) seed(t *testing.T, archive, transport, repoTag string) {
	t.Helper()
	args := append([]string{"--insecure-policy", "copy", "-q", "--dest-tls-verify=false"}, r.skopeoCreds("--dest-creds")...)
	args = append(args, transport+":"+archive, "docker://"+r.host+"/"+repoTag)
	if out, err := exec.Command("skopeo", args...).CombinedOutput(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// seedDocker seeds a docker-archive fixture.
func (r *regServer) seedDocker(t *testing.T, f archiveFixture, repoTag string) {
	t.Helper()
	path := f.path
	if f.name != "" {
		path += ":" + f.name // the archive may hold several images
	}
	r.seed(t, path, "docker-archive", repoTag)
}

// skopeoInspect is `skopeo inspect` of host/repoTag: the manifest as stored (raw) or
// skopeo's summary.
func (r *regServer) skopeoInspect(t *testing.T, repoTag string, raw bool) []byte {
	t.Helper()
	args := append([]string{"inspect", "--tls-verify=false"}, r.skopeoCreds("--creds")...)
	if raw {
		args = append(args, "--raw")
	}
	args = append(args, "docker://"+r.host+"/"+repoTag)
	cmd := exec.Command("skopeo", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// regManifest is the part of a registry manifest the tests read.
type regManifest struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"layers"`
}

func (r *regServer) manifest(t *testing.T, repoTag string) regManifest {
	t.Helper()
	var m regManifest
	raw := r.skopeoInspect(t, repoTag, true)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest of %s/%s: %v\n%s", r.host, repoTag, err, raw)
	}
	return m
}

// digest is the manifest digest skopeo reports for host/repoTag.
func (r *regServer) digest(t *testing.T, repoTag string) string {
	t.Helper()
	var s struct{ Digest string }
	out := r.skopeoInspect(t, repoTag, false)
	if err := json.Unmarshal(out, &s); err != nil || !strings.HasPrefix(s.Digest, "sha256:") {
		t.Fatalf("skopeo inspect %s/%s: no digest (%v):\n%s", r.host, repoTag, err, out)
	}
	return s.Digest
}

// regTags lists the tags of a repository, through the registry's API.
func (r *regServer) tags(t *testing.T, repo string) []string {
	t.Helper()
	args := append([]string{"list-tags", "--tls-verify=false"}, r.skopeoCreds("--creds")...)
	out, err := exec.Command("skopeo", append(args, "docker://"+r.host+"/"+repo)...).Output()
	if err != nil {
		t.Fatalf("skopeo list-tags %s/%s: %v", r.host, repo, err)
	}
	var l struct{ Tags []string }
	if err := json.Unmarshal(out, &l); err != nil {
		t.Fatalf("skopeo list-tags: %v\n%s", err, out)
	}
	return l.Tags
}

// ---------------------------------------------------------------------------------
// hutch helpers

// pushed pushes image to dest with --tls-verify=false and --digestfile, and returns
// the digest hutch reports (after checking its "Pushed" line says the same).
func (sb *sandbox) pushed(image, dest string, extra ...string) string {
	sb.t.Helper()
	df := sb.path("work", fmt.Sprintf("digest-%d", sbSeq.Add(1)))
	args := append([]string{"push", "--tls-verify=false", "--digestfile", df}, extra...)
	r := sb.ok(append(args, image, dest)...)
	b, err := os.ReadFile(df)
	if err != nil {
		sb.t.Fatalf("push --digestfile wrote nothing: %v\n%s", err, r)
	}
	d := string(b)
	if !isSHA256Digest(d) {
		sb.t.Fatalf("push --digestfile wrote %q, not a digest:\n%s", d, r)
	}
	want := "Pushed " + dest
	if !strings.Contains(dest, ":") || strings.LastIndex(dest, ":") < strings.LastIndex(dest, "/") {
		want += ":latest"
	}
	assertContains(sb.t, r.stderr, want+"@"+d+"\n", "push's report")
	return d
}

// pulledID pulls ref with -q and returns the one line it prints: the image ID.
func (sb *sandbox) pulledID(ref string, extra ...string) string {
	sb.t.Helper()
	r := sb.ok(append(append([]string{"pull", "-q"}, extra...), ref)...)
	l := lines(r.stdout)
	if len(l) != 1 || !isHexID(l[0]) || len(l[0]) != 64 {
		sb.t.Fatalf("pull -q should print the image ID and nothing else:\n%s", r)
	}
	return l[0]
}

func isSHA256Digest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(h) == 64 && isHexID(h)
}

// repoDigests are the name@digest forms `hutch inspect` lists for an image.
func (sb *sandbox) repoDigests(ref string) []string {
	sb.t.Helper()
	return sb.inspect(ref).RepoDigests
}

func assertHasString(t *testing.T, list []string, want, what string) {
	t.Helper()
	for _, s := range list {
		if s == want {
			return
		}
	}
	t.Fatalf("%s: %q is not among %q", what, want, list)
}

// lastErrorLine checks that stderr ends with exactly one `Error: …` line (progress may
// come before it) mentioning every needle, and returns it.
func lastErrorLine(t *testing.T, r result, needles ...string) string {
	t.Helper()
	ls := lines(r.stderr)
	var errs []string
	for _, l := range ls {
		if strings.HasPrefix(l, "Error:") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || ls[len(ls)-1] != errs[0] {
		t.Fatalf("expected one `Error: …` line, last on stderr:\n%s", r)
	}
	for _, n := range needles {
		if !strings.Contains(errs[0], n) {
			t.Fatalf("expected the error to mention %q:\n%s", n, r)
		}
	}
	return errs[0]
}

// ---------------------------------------------------------------------------------
// Podman, rootless, as the sandbox's user

// podman runs rootless Podman (runtime runc) as the sandbox's user with XDG directories
// of its own under the sandbox, and kills its pause process when the test ends.
type podman struct {
	sb  *sandbox
	env map[string]string
}

func newPodman(t *testing.T, sb *sandbox) *podman {
	t.Helper()
	root := sb.path("work", "podman")
	// The runtime dir must have a short path: with the sandbox's, conmon's sockets under
	// it are too long and every `podman run` waits 20 s for conmon's timeout.
	run, err := os.MkdirTemp("/tmp", "hutch-pm-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, sb.user.uid, sb.user.gid); err != nil {
		t.Fatal(err)
	}
	r := sb.shell("mkdir -p " + root + "/config " + root + "/data " + root + "/cache")
	if r.code != 0 {
		t.Fatalf("making podman's directories:\n%s", r)
	}
	p := &podman{sb: sb, env: map[string]string{
		"XDG_CONFIG_HOME": root + "/config",
		"XDG_DATA_HOME":   root + "/data",
		"XDG_CACHE_HOME":  root + "/cache",
		"XDG_RUNTIME_DIR": run,
	}}
	t.Cleanup(func() {
		defer os.RemoveAll(run)
		// Rootless Podman leaves a pause process holding its namespaces: stop that one
		// process, by the PID it recorded.
		b, err := os.ReadFile(filepath.Join(run, "libpod", "tmp", "pause.pid"))
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			if st, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && int(st.Sys().(*syscall.Stat_t).Uid) == sb.user.uid {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return p
}

func (p *podman) run(args ...string) result {
	p.sb.t.Helper()
	return p.sb.run(runOpts{bin: "/usr/bin/podman", env: p.env},
		append([]string{"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}, args...)...)
}

func (p *podman) ok(args ...string) result {
	p.sb.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.sb.t.Fatalf("podman failed:\n%s", r)
	}
	return r
}

// waitGrowth polls until the files under dir have grown by more than n bytes since
// before (true), or until stop says the watched work has ended (false).
func waitGrowth(dir string, before, n int64, running func() bool) bool {
	deadline := time.Now().Add(2 * time.Minute)
	for running() && time.Now().Before(deadline) {
		if treeSize(dir)-before > n {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}
