package tests

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Test images are written here, in Go, from /bin/busybox (static): no network, no
// registry. Every file is 0644 in a 0755 directory so both test users can read it.

// fixtureTime keeps the fixtures byte-for-byte reproducible.
var fixtureTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// The content every busybox image carries.
const (
	helloContent = "hello-from-image\n"
	ownedUID     = 1000 // owner of /home/user/owned: a subordinate id in the namespace
)

// busyboxApplets are the symlinks to /bin/busybox in the rootfs.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "id", "true", "sleep", "stat"}

// archiveFixture is an image archive and what hutch should make of it.
type archiveFixture struct {
	path   string
	name   string   // the full name the archive gives the image ("" = none)
	id     string   // image ID: the sha256 of the config, hex
	layers []string // diff IDs, "sha256:…"
	size   int64    // the layers' uncompressed size, in bytes
}

// badInput is an input hutch must refuse, and what its error must name.
type badInput struct {
	name    string // subtest name
	path    string
	mention []string // the error names these
}

type fixtures struct {
	dir string

	rootfs       string // plain rootfs tarball (the busybox layer)
	rootfsDigest string // "sha256:…" of rootfs
	rootfsSize   int64

	docker  archiveFixture // docker-archive of localhost/bb:1
	oci     archiveFixture // oci-archive of localhost/bbo:1 (another config, same layer)
	layered archiveFixture // docker-archive: an unnamed base image plus localhost/layered:1 on top
	base    archiveFixture // the unnamed base image inside layered

	rootfsWithDev  string         // the busybox rootfs plus two device nodes
	tamperedShared archiveFixture // busybox layer altered after its digest was recorded

	badLoad   []badInput // inputs `hutch load` must refuse
	badImport []badInput // inputs `hutch import` must refuse

	bigOnce sync.Once
	big     archiveFixture // ~50 MB docker-archive of localhost/big:1, made on first use
	bigErr  error

	probeOnce sync.Once
	probe     archiveFixture // docker-archive of localhost/probe:1 (busybox + /bin/probe), made on first use
	probeErr  error
}

// tarEntry is one member of a tar the fixtures write.
type tarEntry struct {
	name     string
	typ      byte
	body     []byte
	linkname string
	mode     int64
	uid, gid int
}

func dirEntry(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
func fileEntry(name string, body []byte, mode int64) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, body: body, mode: mode}
}
func symlinkEntry(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, linkname: target, mode: 0o777}
}

func makeTar(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: e.linkname, ModTime: fixtureTime, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar entry %s: %w", e.name, err)
		}
		if len(e.body) > 0 {
			if _, err := tw.Write(e.body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// busyboxEntries is the busybox root file system: /bin/busybox and its applets,
// /etc/hello, and /home/user/owned owned by 1000:1000.
func busyboxEntries() ([]tarEntry, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, fmt.Errorf("the fixtures need a static /bin/busybox (apt-get install busybox-static): %w", err)
	}
	es := []tarEntry{dirEntry("bin/"), fileEntry("bin/busybox", bb, 0o755)}
	for _, a := range busyboxApplets {
		es = append(es, symlinkEntry("bin/"+a, "busybox"))
	}
	owned := fileEntry("home/user/owned", []byte("owned by 1000\n"), 0o644)
	owned.uid, owned.gid = ownedUID, ownedUID
	home := dirEntry("home/user/")
	home.uid, home.gid = ownedUID, ownedUID
	es = append(es, dirEntry("etc/"), fileEntry("etc/hello", []byte(helloContent), 0o644),
		dirEntry("home/"), home, owned, dirEntry("tmp/"))
	es[len(es)-1].mode = 0o1777
	return es, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// imageDef describes one image for the archive writers.
type imageDef struct {
	name   string   // full name, or "" for an untagged image
	layers [][]byte // uncompressed layer tars, base first
	cmd    []string
	labels map[string]string
}

// configJSON is the image's configuration blob; its sha256 is the image ID.
func (d imageDef) configJSON() ([]byte, []string) {
	var diffIDs []string
	var history []map[string]any
	for i, l := range d.layers {
		diffIDs = append(diffIDs, "sha256:"+sha256Hex(l))
		history = append(history, map[string]any{"created": fixtureTime, "created_by": fmt.Sprintf("hutch test fixture layer %d", i)})
	}
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      fixtureTime,
		"config":       map[string]any{"Cmd": d.cmd, "Labels": d.labels, "Env": []string{"PATH=/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	}
	b, _ := json.Marshal(cfg)
	return b, diffIDs
}

func (d imageDef) fixture(path string) archiveFixture {
	cfg, diffIDs := d.configJSON()
	f := archiveFixture{path: path, name: d.name, id: sha256Hex(cfg), layers: diffIDs}
	for _, l := range d.layers {
		f.size += int64(len(l))
	}
	return f
}

// writeDockerArchive writes `docker save` layout: <layer>/layer.tar for each layer, the
// config as <id>.json, and manifest.json with RepoTags, in one tar.
func writeDockerArchive(path string, defs ...imageDef) ([]archiveFixture, error) {
	var entries []tarEntry
	seen := map[string]bool{}
	type manifestItem struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []manifestItem
	var out []archiveFixture
	for _, d := range defs {
		cfg, _ := d.configJSON()
		item := manifestItem{Config: sha256Hex(cfg) + ".json", RepoTags: []string{}}
		if d.name != "" {
			item.RepoTags = []string{d.name}
		}
		for _, l := range d.layers {
			h := sha256Hex(l)
			item.Layers = append(item.Layers, h+"/layer.tar")
			if !seen[h] {
				seen[h] = true
				entries = append(entries, dirEntry(h+"/"), fileEntry(h+"/layer.tar", l, 0o644),
					fileEntry(h+"/VERSION", []byte("1.0"), 0o644))
			}
		}
		entries = append(entries, fileEntry(item.Config, cfg, 0o644))
		manifest = append(manifest, item)
		out = append(out, d.fixture(path))
	}
	mb, _ := json.Marshal(manifest)
	entries = append(entries, fileEntry("manifest.json", mb, 0o644))
	b, err := makeTar(entries)
	if err != nil {
		return nil, err
	}
	return out, writePublic(path, b)
}

// writeOCIArchive writes an OCI image layout (oci-layout, index.json naming the image
// in org.opencontainers.image.ref.name, blobs/sha256/…) as one tar.
func writeOCIArchive(path string, d imageDef) (archiveFixture, error) {
	cfg, _ := d.configJSON()
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blobs := map[string][]byte{sha256Hex(cfg): cfg}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json",
		desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: "sha256:" + sha256Hex(cfg), Size: len(cfg)}, nil}
	for _, l := range d.layers {
		blobs[sha256Hex(l)] = l
		m.Layers = append(m.Layers, desc{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: "sha256:" + sha256Hex(l), Size: len(l)})
	}
	mb, _ := json.Marshal(m)
	blobs[sha256Hex(mb)] = mb
	idx := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []desc{{MediaType: m.MediaType, Digest: "sha256:" + sha256Hex(mb), Size: len(mb),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": d.name}}},
	}
	ib, _ := json.Marshal(idx)
	entries := []tarEntry{fileEntry("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644),
		fileEntry("index.json", ib, 0o644), dirEntry("blobs/"), dirEntry("blobs/sha256/")}
	// Deterministic order: config, layers, manifest.
	entries = append(entries, fileEntry("blobs/sha256/"+sha256Hex(cfg), cfg, 0o644))
	for _, l := range d.layers {
		entries = append(entries, fileEntry("blobs/sha256/"+sha256Hex(l), l, 0o644))
	}
	entries = append(entries, fileEntry("blobs/sha256/"+sha256Hex(mb), mb, 0o644))
	b, err := makeTar(entries)
	if err != nil {
		return archiveFixture{}, err
	}
	return d.fixture(path), writePublic(path, b)
}

func writePublic(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	return os.Chmod(path, 0o644)
}

func writeFixtures(dir string) (*fixtures, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	f := &fixtures{dir: dir}
	bbEntries, err := busyboxEntries()
	if err != nil {
		return nil, err
	}
	layer, err := makeTar(bbEntries)
	if err != nil {
		return nil, err
	}
	f.rootfs = filepath.Join(dir, "rootfs.tar")
	f.rootfsDigest, f.rootfsSize = "sha256:"+sha256Hex(layer), int64(len(layer))
	if err := writePublic(f.rootfs, layer); err != nil {
		return nil, err
	}

	docker, err := writeDockerArchive(filepath.Join(dir, "bb.docker.tar"),
		imageDef{name: "localhost/bb:1", layers: [][]byte{layer}, cmd: []string{"sh"}, labels: map[string]string{"fixture": "docker"}})
	if err != nil {
		return nil, err
	}
	f.docker = docker[0]
	if f.oci, err = writeOCIArchive(filepath.Join(dir, "bbo.oci.tar"),
		imageDef{name: "localhost/bbo:1", layers: [][]byte{layer}, cmd: []string{"cat", "/etc/hello"}, labels: map[string]string{"fixture": "oci"}}); err != nil {
		return nil, err
	}
	child, err := makeTar([]tarEntry{dirEntry("etc/"), fileEntry("etc/child", []byte("child layer\n"), 0o644)})
	if err != nil {
		return nil, err
	}
	layered, err := writeDockerArchive(filepath.Join(dir, "layered.docker.tar"),
		imageDef{layers: [][]byte{layer}, cmd: []string{"sh"}, labels: map[string]string{"fixture": "base"}},
		imageDef{name: "localhost/layered:1", layers: [][]byte{layer, child}, cmd: []string{"sh"}, labels: map[string]string{"fixture": "layered"}})
	if err != nil {
		return nil, err
	}
	f.base, f.layered = layered[0], layered[1]

	// Inputs hutch must refuse.
	write := func(name string, b []byte) (string, error) {
		p := filepath.Join(dir, name)
		return p, writePublic(p, b)
	}
	rnd := make([]byte, 64<<10)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(rnd)
	randPath, err := write("random.bin", rnd)
	if err != nil {
		return nil, err
	}
	dockerBytes, err := os.ReadFile(f.docker.path)
	if err != nil {
		return nil, err
	}
	truncArchive, err := write("truncated.docker.tar", dockerBytes[:len(dockerBytes)/2])
	if err != nil {
		return nil, err
	}
	truncRootfs, err := write("truncated.rootfs.tar", layer[:len(layer)/2])
	if err != nil {
		return nil, err
	}
	ociBytes, err := os.ReadFile(f.oci.path)
	if err != nil {
		return nil, err
	}
	truncOCI, err := write("truncated.oci.tar", ociBytes[:len(ociBytes)/2])
	if err != nil {
		return nil, err
	}
	// A docker-archive whose manifest.json names a layer the archive does not hold.
	missing, err := writeDockerArchive(filepath.Join(dir, "missing-layer.docker.tar"),
		imageDef{name: "localhost/missing:1", layers: [][]byte{layer}, cmd: []string{"sh"}})
	if err != nil {
		return nil, err
	}
	if err := dropMember(missing[0].path, sha256Hex(layer)+"/layer.tar"); err != nil {
		return nil, err
	}
	// A docker-archive whose layer is not the one its config promises (diff_ids).
	uniqueLayer, err := makeTar([]tarEntry{dirEntry("etc/"), fileEntry("etc/unique", []byte(helloContent), 0o644)})
	if err != nil {
		return nil, err
	}
	tampered, err := writeDockerArchive(filepath.Join(dir, "tampered-layer.docker.tar"),
		imageDef{name: "localhost/tampered:1", layers: [][]byte{uniqueLayer}, cmd: []string{"sh"}})
	if err != nil {
		return nil, err
	}
	if err := replaceMember(tampered[0].path, sha256Hex(uniqueLayer)+"/layer.tar", bytes.Replace(uniqueLayer, []byte(helloContent), []byte("tampered-image!!\n"), 1)); err != nil {
		return nil, err
	}
	// The same trick on the busybox layer: a store that already holds the genuine layer
	// reuses it by its digest and never reads the tampered bytes.
	shared, err := writeDockerArchive(filepath.Join(dir, "tampered-shared.docker.tar"),
		imageDef{name: "localhost/tampered-shared:1", layers: [][]byte{layer}, cmd: []string{"sh"}})
	if err != nil {
		return nil, err
	}
	if err := replaceMember(shared[0].path, sha256Hex(layer)+"/layer.tar", bytes.Replace(layer, []byte(helloContent), []byte("tampered-image!!\n"), 1)); err != nil {
		return nil, err
	}
	f.tamperedShared = shared[0]
	f.badLoad = []badInput{
		{"truncated", truncArchive, []string{truncArchive}},
		{"truncated-oci", truncOCI, []string{truncOCI}},
		{"missing-layer", missing[0].path, []string{missing[0].path}},
		{"tampered-layer", tampered[0].path, []string{tampered[0].path}},
		{"random-bytes", randPath, []string{randPath}},
		// A root file system tarball is not an image archive.
		{"rootfs-tarball", f.rootfs, []string{f.rootfs}},
	}
	f.badImport = []badInput{
		{"truncated", truncRootfs, []string{truncRootfs}},
		{"random-bytes", randPath, []string{randPath}},
	}
	// Hostile entries (.., absolute names, links out) are the corpus of tests/hostile.

	// Device nodes cannot be created by an unprivileged user: import leaves them out
	// and says so.
	withDev := append(append([]tarEntry{}, bbEntries...), dirEntry("dev/"),
		tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666}, tarEntry{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660})
	tb, err := makeTar(withDev)
	if err != nil {
		return nil, err
	}
	if f.rootfsWithDev, err = write("rootfs-with-dev.tar", tb); err != nil {
		return nil, err
	}
	return f, nil
}

// rewriteTar copies a tar file, letting fn drop (nil) or replace each member's content.
func rewriteTar(path string, fn func(name string, body []byte) []byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if body = fn(h.Name, body); body == nil {
				continue
			}
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return writePublic(path, buf.Bytes())
}

func dropMember(path, member string) error {
	return rewriteTar(path, func(name string, body []byte) []byte {
		if name == member {
			return nil
		}
		return body
	})
}

func replaceMember(path, member string, content []byte) error {
	return rewriteTar(path, func(name string, body []byte) []byte {
		if name == member {
			return content
		}
		return body
	})
}

// bigArchive returns a ~50 MB docker-archive whose layer is incompressible, for tests
// that need a load to take a while (kills, concurrency).
func (f *fixtures) bigArchive() (archiveFixture, error) {
	f.bigOnce.Do(func() {
		bbEntries, err := busyboxEntries()
		if err != nil {
			f.bigErr = err
			return
		}
		noise := make([]byte, 50<<20)
		rng := rand.NewChaCha8([32]byte{42})
		_, _ = rng.Read(noise)
		layer, err := makeTar(append(bbEntries, dirEntry("data/"), fileEntry("data/noise", noise, 0o644)))
		if err != nil {
			f.bigErr = err
			return
		}
		out, err := writeDockerArchive(filepath.Join(f.dir, "big.docker.tar"),
			imageDef{name: "localhost/big:1", layers: [][]byte{layer}, cmd: []string{"sh"}})
		if err != nil {
			f.bigErr = err
			return
		}
		f.big = out[0]
	})
	return f.big, f.bigErr
}

// probeArchive returns a docker-archive of localhost/probe:1: the busybox image plus
// /bin/probe, built from tests/probe (static, CGO_ENABLED=0) on first use.
func (f *fixtures) probeArchive() (archiveFixture, error) {
	f.probeOnce.Do(func() {
		f.probe, f.probeErr = buildProbeArchive(f.dir)
	})
	return f.probe, f.probeErr
}

func buildProbeArchive(dir string) (archiveFixture, error) {
	root, err := moduleRoot()
	if err != nil {
		return archiveFixture{}, err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: a test binary runs where it was built, so its GOROOT is the go that built it
	}
	bin := filepath.Join(dir, "probe")
	cmd := exec.Command(gobin, "build", "-trimpath", "-o", bin, "./tests/probe")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return archiveFixture{}, fmt.Errorf("building the probe (%s): %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return archiveFixture{}, err
	}
	es, err := busyboxEntries()
	if err != nil {
		return archiveFixture{}, err
	}
	layer, err := makeTar(append(es, fileEntry("bin/probe", body, 0o755)))
	if err != nil {
		return archiveFixture{}, err
	}
	out, err := writeDockerArchive(filepath.Join(dir, "probe.docker.tar"),
		imageDef{name: "localhost/probe:1", layers: [][]byte{layer}, cmd: []string{"probe"}})
	if err != nil {
		return archiveFixture{}, err
	}
	return out[0], nil
}

func runtimeArch() string { return runtime.GOARCH }
