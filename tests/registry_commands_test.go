package tests

// System tests of `hutch pull`, `push`, `login` and `logout` against real registries
// (docker-registry, one open and one with htpasswd authentication), as the unprivileged
// test users, with skopeo and rootless Podman as the other side.

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestRegistrySeedLoop: one user loads an image and pushes it; another user, with a
// store of their own, pulls it and runs it, and has the same image ID — on every driver,
// the puller being the user without a subordinate range (single-id namespace).
func TestRegistrySeedLoop(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	forEachDriver(t, func(t *testing.T, a *sandbox) {
		a.ok("load", "-i", fix.layered.path)
		dest := reg.host + "/seed/layered-" + a.driver + ":1"
		d := a.pushed(fix.layered.name, dest)
		m := reg.manifest(t, "seed/layered-"+a.driver+":1")
		assertEqual(t, m.Config.Digest, "sha256:"+fix.layered.id, "config digest in the pushed manifest")
		assertEqual(t, len(m.Layers), 2, "layers in the pushed manifest")

		b := newSandbox(t, userNoRange)
		b.driver = a.driver
		b.writeConfig(fmt.Sprintf("[storage]\ndriver = %q\n", a.driver))
		r := b.ok("pull", "--tls-verify=false", dest)
		assertEqual(t, r.stdout, fix.layered.id+"\n", "pull's output (the image ID)")
		assertContains(t, r.stderr, "Pulled "+dest+"\n", "pull's report")
		img := findImage(b.images(false), dest)
		if img == nil || img.ID != fix.layered.id {
			t.Fatalf("the puller's store should hold %s as %s: %+v", dest, fix.layered.id, b.images(false))
		}
		assertHasString(t, b.repoDigests(dest), reg.host+"/seed/layered-"+a.driver+"@"+d, "RepoDigests of the pulled image")
		r = b.ok("run", "--rm", dest, "cat", "/etc/hello", "/etc/child")
		assertEqual(t, r.stdout, helloContent+"child layer\n", "output of the pulled image")
		assertEqual(t, b.info().Store.Driver.Name, a.driver, "the puller's driver")
	})
}

// TestRegistryPeers: skopeo and Podman read what hutch pushed (same manifest digest,
// same image ID, it runs), and hutch pulls and runs what Podman pushed.
func TestRegistryPeers(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)
	ref := reg.host + "/hutch/bb:1"
	d := sb.pushed(fix.docker.name, ref)
	assertEqual(t, reg.digest(t, "hutch/bb:1"), d, "skopeo's digest of what hutch pushed")
	assertEqual(t, reg.manifest(t, "hutch/bb:1").Config.Digest, "sha256:"+fix.docker.id, "config of what hutch pushed")

	pm := newPodman(t, sb)
	r := pm.ok("pull", "-q", "--tls-verify=false", ref)
	assertEqual(t, strings.TrimSpace(r.stdout), fix.docker.id, "image ID Podman gives hutch's image")
	r = pm.ok("image", "inspect", "--format", "{{.Digest}}", ref)
	assertEqual(t, strings.TrimSpace(r.stdout), d, "digest Podman sees")
	r = pm.ok("run", "--rm", "--network", "none", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "Podman running hutch's image")

	// The other way round: Podman pushes its own image (the OCI fixture), hutch pulls it.
	pm.ok("load", "-q", "-i", fix.oci.path)
	pdf := sb.path("work", "podman-digest")
	pref := reg.host + "/podman/bbo:1"
	pm.ok("push", "-q", "--tls-verify=false", "--digestfile", pdf, fix.oci.name, pref)
	pd := strings.TrimSpace(string(readFile(t, pdf)))
	assertEqual(t, reg.digest(t, "podman/bbo:1"), pd, "skopeo's digest of what Podman pushed")
	r = sb.ok("pull", "--tls-verify=false", pref)
	assertEqual(t, r.stdout, fix.oci.id+"\n", "hutch's ID of Podman's image")
	assertHasString(t, sb.repoDigests(pref), reg.host+"/podman/bbo@"+pd, "hutch's RepoDigests of Podman's image")
	r = sb.ok("run", "--rm", pref) // CMD cat /etc/hello
	assertEqual(t, r.stdout, helloContent, "hutch running Podman's image")
	// And hutch pulls by the digest Podman reported.
	b := newSandbox(t, userNoRange)
	assertEqual(t, b.pulledID(reg.host+"/podman/bbo@"+pd, "--tls-verify=false"), fix.oci.id, "ID pulled by Podman's digest")
}

// TestRegistryPushFormats: --format oci and v2s2 give those manifests (no --format keeps
// the image's), --compression-format zstd gives zstd layers (even after the same layer
// went up gzip-compressed), and each pulls back to an image that runs: the same ID where
// the format is kept, the converted config's digest where it is not.
func TestRegistryPushFormats(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path) // a Docker (v2s2) image
	repo := reg.host + "/fmt/bb"
	const ociGzip, dockerGzip = "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip"
	digests, configs := map[string]string{}, map[string]string{}
	for _, c := range []struct {
		tag       string
		flags     []string
		manifest  string
		layerType string
	}{
		{"keep", nil, mtV2S2, dockerGzip},
		{"oci", []string{"--format", "oci"}, mtOCIManifest, ociGzip},
		{"v2s2", []string{"--format", "v2s2"}, mtV2S2, dockerGzip},
		// The blob-info cache knows a gzip copy of the layer by now: zstd must still be zstd.
		{"zstd", []string{"--compression-format", "zstd"}, mtOCIManifest, mtOCIZstd},
		{"gzip", []string{"--format", "oci", "--compression-format", "gzip"}, mtOCIManifest, ociGzip},
	} {
		d := sb.pushed(fix.docker.name, repo+":"+c.tag, c.flags...)
		m := reg.manifest(t, "fmt/bb:"+c.tag)
		assertEqual(t, m.MediaType, c.manifest, c.tag+": manifest media type")
		if len(m.Layers) != 1 || m.Layers[0].MediaType != c.layerType {
			t.Fatalf("%s: layers should be one %s: %+v", c.tag, c.layerType, m.Layers)
		}
		assertEqual(t, reg.digest(t, "fmt/bb:"+c.tag), d, c.tag+": skopeo's digest")
		digests[c.tag], configs[c.tag] = d, m.Config.Digest
	}
	// Docker manifests keep the config, so the image ID; OCI ones carry its conversion.
	assertEqual(t, configs["keep"], "sha256:"+fix.docker.id, "config of the image pushed as it is")
	assertEqual(t, configs["v2s2"], "sha256:"+fix.docker.id, "config pushed as v2s2")
	assertEqual(t, digests["v2s2"], digests["keep"], "v2s2 and no --format, of a v2s2 image")
	if configs["oci"] == configs["v2s2"] || configs["zstd"] != configs["oci"] || configs["gzip"] != configs["oci"] {
		t.Fatalf("every OCI push should carry the one converted config: %v", configs)
	}
	if digests["oci"] == digests["zstd"] || digests["gzip"] != digests["oci"] {
		t.Fatalf("manifest digests: zstd should differ from gzip, explicit gzip equal oci: %v", digests)
	}

	r := sb.expect(125, "push", "-q", "--tls-verify=false", "--format", "v2s2", "--compression-format", "zstd", fix.docker.name, repo+":bad")
	assertOneLineError(t, r, "zstd", "--format oci")
	r = sb.expect(125, "push", "-q", "--tls-verify=false", "--format", "v1", fix.docker.name, repo+":bad")
	assertOneLineError(t, r, `"v1"`, "oci or v2s2")
	r = sb.expect(125, "push", "-q", "--tls-verify=false", "--compression-format", "lz4", fix.docker.name, repo+":bad")
	assertOneLineError(t, r, `"lz4"`, "gzip or zstd")
	if tags := reg.tags(t, "fmt/bb"); len(tags) != 5 {
		t.Fatalf("refused pushes must not reach the registry: tags %v", tags)
	}

	// They pull back, in another user's store, and run.
	b := newSandbox(t, userNoRange)
	for _, c := range []struct{ tag, id string }{
		{"zstd", strings.TrimPrefix(configs["zstd"], "sha256:")},
		{"v2s2", fix.docker.id},
	} {
		assertEqual(t, b.pulledID(repo+":"+c.tag, "--tls-verify=false"), c.id, c.tag+": pulled ID")
		r := b.ok("run", "--rm", repo+":"+c.tag, "cat", "/etc/hello")
		assertEqual(t, r.stdout, helloContent, c.tag+": output")
	}
	assertHasString(t, b.repoDigests(repo+":zstd"), repo+"@"+digests["zstd"], "RepoDigests after pulling zstd")
}

// TestRegistryPullForms: -q, the name reported, --all-tags, name@digest; short names
// through [registries] search and insecure, aliases, blocked and mirrors.
func TestRegistryPullForms(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	reg.seedDocker(t, fix.docker, "me/demo:1")
	reg.seedDocker(t, fix.docker, "me/demo:2")
	reg.seed(t, fix.oci.path, "oci-archive", "me/demo:oci")
	ociDigest := reg.digest(t, "me/demo:oci")
	repo := reg.host + "/me/demo"

	t.Run("forms", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t, userWithRange)
		r := sb.ok("pull", "-q", "--tls-verify=false", repo+":1")
		assertEqual(t, r.stdout, fix.docker.id+"\n", "pull -q's standard output")
		assertEqual(t, r.stderr, "", "pull -q's standard error")

		r = sb.ok("pull", "--tls-verify=false", repo+":2")
		assertEqual(t, r.stdout, fix.docker.id+"\n", "pull's standard output")
		assertContains(t, r.stderr, "Pulled "+repo+":2\n", "pull names what it pulled")

		r = sb.ok("pull", "--tls-verify=false", repo+"@"+ociDigest)
		assertEqual(t, r.stdout, fix.oci.id+"\n", "pull by digest")
		assertContains(t, r.stderr, "Pulled "+repo+"@"+ociDigest+"\n", "pull by digest names the digest")
		assertHasString(t, sb.repoDigests(repo+"@"+ociDigest), repo+"@"+ociDigest, "RepoDigests after a pull by digest")
		r = sb.ok("run", "--rm", repo+"@"+ociDigest) // CMD cat /etc/hello
		assertEqual(t, r.stdout, helloContent, "run by digest")
		r = sb.expect(125, "pull", "--tls-verify=false", repo+"@sha256:"+strings.Repeat("0", 64))
		assertOneLineError(t, r, reg.host, "no such image")

		r = sb.ok("pull", "--all-tags", "--tls-verify=false", repo)
		assertEqual(t, strings.Join(sortedLines(r.stdout), ","), strings.Join(sortedLines(fix.docker.id+"\n"+fix.docker.id+"\n"+fix.oci.id+"\n"), ","), "pull --all-tags prints an ID per tag")
		for _, tag := range []string{"1", "2", "oci"} {
			assertContains(t, r.stderr, "Pulled "+repo+":"+tag+"\n", "pull --all-tags")
		}
		list := sb.images(false)
		for _, c := range []struct{ name, id string }{{repo + ":1", fix.docker.id}, {repo + ":2", fix.docker.id}, {repo + ":oci", fix.oci.id}} {
			if img := findImage(list, c.name); img == nil || img.ID != c.id {
				t.Fatalf("after --all-tags, %s should be %s: %+v", c.name, c.id, list)
			}
		}
		assertEqual(t, len(list), 2, "images after --all-tags")
	})

	t.Run("config", func(t *testing.T) {
		t.Parallel()
		blockedReg := startRegistry(t, false)
		blockedReg.seedDocker(t, fix.docker, "me/demo:1")
		dead, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		deadHost := fmt.Sprintf("127.0.0.1:%d", dead)
		sb := newSandbox(t, userWithRange)
		sb.writeConfig(fmt.Sprintf(`[registries]
search = [%[1]q]
insecure = [%[1]q, %[2]q, %[3]q]
blocked = [%[2]q]
aliases = { demo = "%[1]s/me/demo", blk = "%[2]s/me/demo" }

[[registries.mirror]]
registry = %[3]q
location = %[1]q
insecure = true
`, reg.host, blockedReg.host, deadHost))

		// A short name goes to the search registry, reached over HTTP since it is insecure.
		r := sb.ok("pull", "me/demo:1")
		assertEqual(t, r.stdout, fix.docker.id+"\n", "short name pull")
		assertContains(t, r.stderr, "Pulled "+repo+":1\n", "a short name pull names the registry it used")
		r = sb.ok("run", "--rm", "me/demo:2", "cat", "/etc/hello")
		assertEqual(t, r.stdout, helloContent, "run of a short name pulls it")
		assertContains(t, r.stderr, "Pulled "+repo+":2\n", "run's pull of a short name")
		// An alias, with a tag.
		r = sb.ok("pull", "demo:oci")
		assertEqual(t, r.stdout, fix.oci.id+"\n", "alias pull")
		assertContains(t, r.stderr, "Pulled "+repo+":oci\n", "an alias pull names the full name")
		if img := findImage(sb.images(false), repo+":oci"); img == nil || img.ID != fix.oci.id {
			t.Fatalf("the alias should have stored %s:oci: %+v", repo, sb.images(false))
		}
		// A short name that no search registry has: the error names the registry tried.
		r = sb.expect(125, "pull", "me/nothing:1")
		assertOneLineError(t, r, reg.host+"/me/nothing", "no such image")

		// A blocked registry is refused, by full name or alias, for pull and push, even
		// though it holds the image.
		for _, args := range [][]string{
			{"pull", blockedReg.host + "/me/demo:1"},
			{"pull", "blk:1"},
			{"push", "-q", repo + ":1", blockedReg.host + "/me/pushed:1"},
		} {
			r = sb.expect(125, args...)
			assertOneLineError(t, r, blockedReg.host, "blocked", "[registries] blocked")
		}
		if tags := blockedReg.tags(t, "me/demo"); len(tags) != 1 {
			t.Fatalf("blocked registry's tags changed: %v", tags)
		}

		// The mirrored registry does not answer at all: the mirror serves the pull, and
		// the image keeps the name asked for.
		r = sb.ok("pull", deadHost+"/me/demo:oci")
		assertEqual(t, r.stdout, fix.oci.id+"\n", "pull through the mirror")
		assertContains(t, r.stderr, "Pulled "+deadHost+"/me/demo:oci\n", "pull through the mirror")
		if img := findImage(sb.images(false), deadHost+"/me/demo:oci"); img == nil || img.ID != fix.oci.id {
			t.Fatalf("the mirrored pull should be stored under the name asked for: %+v", sb.images(false))
		}
		r = sb.ok("run", "--rm", "--pull", "always", deadHost+"/me/demo:1", "cat", "/etc/hello")
		assertEqual(t, r.stdout, helloContent, "run through the mirror")
	})
}

// TestRegistryRunPull: run pulls a missing image (--pull missing, the default), --pull
// never refuses to, --pull always pulls again (and gets the tag's new image).
func TestRegistryRunPull(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	reg.seedDocker(t, fix.docker, "run/img:1")
	ref := reg.host + "/run/img:1"
	sb := newSandbox(t, userWithRange)

	r := sb.expect(125, "run", "--rm", "--pull", "never", ref, "true")
	assertOneLineError(t, r, ref)
	assertEqual(t, len(sb.images(true)), 0, "images after run --pull never")

	r = sb.ok("run", "--rm", "--tls-verify=false", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "run of an image not in the store")
	assertContains(t, r.stderr, "Pulled "+ref+"\n", "run pulls a missing image")
	if img := findImage(sb.images(false), ref); img == nil || img.ID != fix.docker.id {
		t.Fatalf("run should have stored %s: %+v", ref, sb.images(false))
	}

	// The tag moves to another image in the registry.
	reg.seedDocker(t, fix.layered, "run/img:1")
	r = sb.expect(1, "run", "--rm", "--tls-verify=false", ref, "cat", "/etc/child")
	assertNotContains(t, r.stderr, "Pulled", "run of an image in the store (--pull missing)")
	r = sb.ok("run", "--rm", "--pull", "never", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "run --pull never of an image in the store")
	r = sb.ok("run", "--rm", "--pull", "always", "--tls-verify=false", ref, "cat", "/etc/child")
	assertEqual(t, r.stdout, "child layer\n", "run --pull always gets the tag's new image")
	assertContains(t, r.stderr, "Pulled "+ref+"\n", "run --pull always")
	if img := findImage(sb.images(false), ref); img == nil || img.ID != fix.layered.id {
		t.Fatalf("after --pull always, %s should be the new image: %+v", ref, sb.images(false))
	}

	// --pull newer asks the registry: the same manifest is not pulled again, another is.
	r = sb.ok("run", "--rm", "--pull", "newer", "--tls-verify=false", ref, "cat", "/etc/child")
	assertNotContains(t, r.stderr, "Pulled", "run --pull newer while the registry has the stored image")
	reg.seedDocker(t, fix.docker, "run/img:1")
	r = sb.ok("run", "--rm", "--pull", "newer", "--tls-verify=false", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "run --pull newer gets the registry's other image")
	assertContains(t, r.stderr, "Pulled "+ref+"\n", "run --pull newer")
	if img := findImage(sb.images(false), ref); img == nil || img.ID != fix.docker.id {
		t.Fatalf("after --pull newer, %s should be the registry's image again: %+v", ref, sb.images(false))
	}
	// `pull --policy` takes the same values: missing answers from the store.
	r = sb.ok("pull", "--policy", "missing", "--tls-verify=false", ref)
	assertEqual(t, r.stdout, fix.docker.id+"\n", "pull --policy missing prints the stored image's ID")
	assertNotContains(t, r.stderr, "Pulled", "pull --policy missing of a stored image")
	r = sb.expect(125, "pull", "--policy", "never", reg.host+"/run/none:1")
	assertOneLineError(t, r, reg.host+"/run/none:1", "--pull never")

	r = sb.expect(125, "run", "--rm", "--pull", "sometimes", ref, "true")
	assertOneLineError(t, r, `"sometimes"`, "missing, always, never or newer")
	r = sb.expect(125, "build", "--pull=sometimes", sb.path("work"))
	assertOneLineError(t, r, `"sometimes"`, "missing, always, never or newer (or true, false)")
	r = sb.expect(125, "run", "--rm", "--tls-verify=false", reg.host+"/run/none:1", "true")
	assertOneLineError(t, r, reg.host+"/run/none:1", "not in the store", "no such image")
	// `create` follows the same policy.
	r = sb.expect(125, "create", "--pull", "never", reg.host+"/run/none:1", "true")
	assertOneLineError(t, r, reg.host+"/run/none:1")
}

// TestRegistryLogin: login checks the password and keeps it in auth.json (0600) for
// every later command; logout (one registry or -a) removes it; --password-stdin; and
// credentials of `docker login` in ~/.docker/config.json count too.
func TestRegistryLogin(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, true)
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)
	ref := reg.host + "/private/bb:1"
	authFile := sb.path("config", "hutch", "auth.json")
	loginHint := "hutch login " + reg.host

	r := sb.expect(125, "push", "-q", "--tls-verify=false", fix.docker.name, ref)
	assertOneLineError(t, r, reg.host, loginHint)
	r = sb.expect(125, "login", "--tls-verify=false", "-u", regUser, "-p", "wrong", reg.host)
	assertOneLineError(t, r, reg.host, regUser, "wrong user name or password")
	if _, err := os.Stat(authFile); err == nil {
		t.Fatalf("a refused login wrote %s:\n%s", authFile, readFile(t, authFile))
	}

	r = sb.ok("login", "--tls-verify=false", "-u", regUser, "-p", regPassword, reg.host)
	assertEqual(t, r.stdout, "Login Succeeded!\n", "login's output")
	fi, err := os.Stat(authFile)
	if err != nil {
		t.Fatalf("login wrote no %s: %v", authFile, err)
	}
	assertEqual(t, fi.Mode().Perm(), os.FileMode(0o600), "auth.json's mode")
	assertEqual(t, int(fi.Sys().(*syscall.Stat_t).Uid), sb.user.uid, "auth.json's owner")
	assertContains(t, string(readFile(t, authFile)), reg.host, "auth.json")

	// Each command is a new process: the credentials are read back every time.
	d := sb.pushed(fix.docker.name, ref)
	assertEqual(t, reg.digest(t, "private/bb:1"), d, "skopeo's digest of the private push")
	assertEqual(t, sb.pulledID(ref, "--tls-verify=false"), fix.docker.id, "pull after login")
	r = sb.ok("run", "--rm", "--pull", "always", "--tls-verify=false", ref, "cat", "/etc/hello")
	assertEqual(t, r.stdout, helloContent, "run --pull always after login")

	r = sb.ok("logout", reg.host)
	assertEqual(t, r.stdout, "Removed login credentials for "+reg.host+"\n", "logout's output")
	assertNotContains(t, string(readFile(t, authFile)), reg.host, "auth.json after logout")
	r = sb.expect(125, "pull", "--tls-verify=false", ref)
	assertOneLineError(t, r, reg.host, loginHint)
	r = sb.expect(125, "logout", reg.host)
	assertOneLineError(t, r, "not logged in to "+reg.host)
	r = sb.expect(125, "logout")
	assertOneLineError(t, r, "-a")

	r = sb.expectWith(runOpts{stdin: strings.NewReader(regPassword + "\n")}, 0, "login", "--tls-verify=false", "-u", regUser, "--password-stdin", reg.host)
	assertEqual(t, r.stdout, "Login Succeeded!\n", "login --password-stdin's output")
	assertEqual(t, sb.pulledID(ref, "--tls-verify=false"), fix.docker.id, "pull after login --password-stdin")
	r = sb.expect(125, "login", "--tls-verify=false", "-u", regUser, "-p", regPassword, "--password-stdin", reg.host)
	assertOneLineError(t, r, "--password-stdin")
	r = sb.ok("logout", "-a")
	assertEqual(t, r.stdout, "Removed login credentials for all registries\n", "logout -a's output")
	assertNotContains(t, string(readFile(t, authFile)), reg.host, "auth.json after logout -a")
	r = sb.expect(125, "pull", "--tls-verify=false", ref)
	assertOneLineError(t, r, loginHint)

	// `docker login` credentials: ~/.docker/config.json.
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte(regUser+":"+regPassword)))
	sb.writeUserFile(sb.path("home", ".docker", "config.json"), cfg)
	if err := os.Chmod(sb.path("home", ".docker", "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb.ok("rmi", ref)
	assertEqual(t, sb.pulledID(ref, "--tls-verify=false"), fix.docker.id, "pull with ~/.docker/config.json")
	sb.pushed(fix.docker.name, reg.host+"/private/docker-cfg:1")
	// A wrong password there is the registry's refusal, with the hint to log in.
	cfg = fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte(regUser+":nope")))
	sb.writeUserFile(sb.path("home", ".docker", "config.json"), cfg)
	r = sb.expect(125, "pull", "--tls-verify=false", ref)
	assertOneLineError(t, r, loginHint)
}

// TestRegistryErrors: each failure is one line that says what to do, with exit 125.
func TestRegistryErrors(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, false)
	reg.seedDocker(t, fix.docker, "me/demo:1")
	sb := newSandbox(t, userWithRange)
	sb.ok("load", "-i", fix.docker.path)

	for _, c := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"unknown-repository", []string{"pull", "--tls-verify=false", reg.host + "/me/nope:1"}, []string{reg.host, "me/nope", "no such image or tag"}},
		{"unknown-tag", []string{"pull", "--tls-verify=false", reg.host + "/me/demo:nope"}, []string{reg.host, "nope", "no such image or tag"}},
		{"unknown-latest", []string{"pull", "--tls-verify=false", reg.host + "/me/demo"}, []string{reg.host, "latest", "no such image or tag"}},
		{"uppercase-reference", []string{"pull", "--tls-verify=false", reg.host + "/Me/Demo:1"}, []string{reg.host + "/Me/Demo:1", "invalid"}},
		{"bad-digest", []string{"pull", "--tls-verify=false", reg.host + "/me/demo@sha256:zz"}, []string{"sha256:zz", "invalid"}},
		{"double-colon", []string{"pull", "--tls-verify=false", "me/demo::1"}, []string{"me/demo::1", "invalid"}},
		{"bad-destination", []string{"push", "-q", "--tls-verify=false", fix.docker.name, reg.host + "/me/Bad Name"}, []string{"Bad Name", "invalid"}},
		{"push-unknown-image", []string{"push", "-q", "--tls-verify=false", "localhost/none:1", reg.host + "/me/none:1"}, []string{"localhost/none:1", "hutch images"}},
		// Plain HTTP without --tls-verify=false: the flag and the config key, for each command.
		{"tls-pull", []string{"pull", reg.host + "/me/demo:1"}, []string{reg.host, "--tls-verify=false", "[registries] insecure"}},
		{"tls-push", []string{"push", "-q", fix.docker.name, reg.host + "/me/bb:1"}, []string{reg.host, "--tls-verify=false", "[registries] insecure"}},
		{"tls-run", []string{"run", "--rm", reg.host + "/me/demo:1", "true"}, []string{reg.host, "--tls-verify=false", "[registries] insecure"}},
		{"tls-login", []string{"login", "-u", "u", "-p", "p", reg.host}, []string{reg.host, "--tls-verify=false", "[registries] insecure"}},
		// A local name has no registry to go to.
		{"push-local-name", []string{"push", "-q", fix.docker.name}, []string{"localhost/bb:1", "local name", "hutch push"}},
		{"push-local-short-name", []string{"push", "-q", "bb:1"}, []string{"localhost/bb:1", "local name"}},
		{"login-no-user", []string{"login", "--tls-verify=false", reg.host}, []string{"-u"}},
	} {
		r := sb.expect(125, c.args...)
		t.Logf("%s: %s", c.name, strings.TrimSpace(r.stderr))
		assertOneLineError(t, r, c.mention...)
	}

	// The same image also named for the registry: `push bb:1` still means localhost/bb:1,
	// which has no registry — it must not go to the other name's registry.
	sb.ok("tag", fix.docker.name, reg.host+"/me/bb:1")
	for _, short := range []string{"bb:1", fix.docker.name} {
		r := sb.expect(125, "push", "-q", "--tls-verify=false", short)
		assertOneLineError(t, r, "localhost/bb:1", "local name")
	}
	if tags := reg.tags(t, "me/demo"); len(tags) != 1 {
		t.Fatalf("tags of me/demo changed: %v", tags)
	}
	r := sb.run(runOpts{bin: "/usr/bin/skopeo"}, "inspect", "--tls-verify=false", "docker://"+reg.host+"/me/bb:1")
	if r.code == 0 {
		t.Fatalf("a refused push reached the registry:\n%s", r)
	}
	// Given the full name, push goes there.
	sb.pushed(reg.host+"/me/bb:1", reg.host+"/me/bb:1")
	r = sb.ok("push", "-q", "--tls-verify=false", reg.host+"/me/bb:1")
	assertEqual(t, r.stderr, "", "push -q's standard error")
	assertEqual(t, r.stdout, "", "push -q's standard output")
	// The store is untouched by every failure.
	list := sb.images(true)
	if len(list) != 1 || list[0].ID != fix.docker.id {
		t.Fatalf("after the failures the store should hold only %s: %+v", fix.docker.id, list)
	}
}
