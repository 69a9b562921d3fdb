package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/reexec"
	storagetypes "go.podman.io/storage/types"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// testEnv is a real store (vfs, as root: no user namespace needed) and a Service on it
// whose paths all lie in the test's temporary directory.
type testEnv struct {
	root  string
	store cstorage.Store
	svc   *Service
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the store tests open a store without a user namespace, which needs root: run as root (as CI does)")
	}
	root := t.TempDir()
	s, err := cstorage.GetStore(storagetypes.StoreOptions{
		GraphRoot:       filepath.Join(root, "graph"),
		RunRoot:         filepath.Join(root, "run"),
		GraphDriverName: "vfs",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.Shutdown(true) })
	conf := filepath.Join(root, "config")
	sys := &types.SystemContext{
		SystemRegistriesConfPath:    filepath.Join(conf, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(conf, "registries.conf.d"),
		RegistriesDirPath:           filepath.Join(conf, "registries.d"),
		AuthFilePath:                filepath.Join(conf, "auth.json"),
		BlobInfoCacheDir:            filepath.Join(root, "cache"),
		BigFilesTemporaryDir:        filepath.Join(root, "graph", "tmp"), // not created: Service must cope
		SignaturePolicyPath:         filepath.Join(conf, "policy.json"),
	}
	return &testEnv{root: root, store: s, svc: &Service{Store: s, Sys: sys}}
}

// rootfs is a small root file system tarball.
func rootfs(t *testing.T, marker string) []byte {
	return makeTar(t, dirE("./"), dirE("bin/"), fileE("bin/hello", "hello "+marker+"\n"),
		symE("bin/sh", "hello"), dirE("dev/"), devE("dev/null", tar.TypeChar), dirE("etc/"), fileE("etc/marker", marker))
}

func (e *testEnv) importImage(t *testing.T, name, marker string, changes ...string) *Imported {
	t.Helper()
	im, err := e.svc.Import(context.Background(), bytes.NewReader(rootfs(t, marker)), ImportOptions{
		Name: name, Changes: changes, Message: "imported " + marker, Source: "rootfs.tar",
		TmpDir: filepath.Join(e.root, "graph", "tmp"),
	})
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return im
}

func (e *testEnv) image(t *testing.T, id string) *cstorage.Image {
	t.Helper()
	img, err := e.store.Image(id)
	if err != nil {
		t.Fatalf("image %s: %v", ShortID(id), err)
	}
	return img
}

func (e *testEnv) gone(t *testing.T, id string) {
	t.Helper()
	if _, err := e.store.Image(id); !errors.Is(err, cstorage.ErrImageUnknown) {
		t.Errorf("image %s is still there (%v)", ShortID(id), err)
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestImportAndInspect(t *testing.T) {
	e := newEnv(t)
	im := e.importImage(t, "foo", "one", `CMD ["/bin/hello"]`, "ENV A=1 B=2", "WORKDIR /srv", "EXPOSE 80", "LABEL k=v")
	if !hex64.MatchString(im.ID) || im.Name != "localhost/foo:latest" {
		t.Fatalf("imported = %+v", im)
	}
	if !slices.Equal(im.Skipped, []string{"dev/null"}) {
		t.Errorf("skipped = %v, want [dev/null]", im.Skipped)
	}
	img := e.image(t, im.ID)
	if !slices.Equal(img.Names, []string{"localhost/foo:latest"}) {
		t.Errorf("names = %v", img.Names)
	}

	// The layer holds the files, not the device.
	layer, err := e.store.Layer(img.TopLayer)
	if err != nil {
		t.Fatal(err)
	}
	if layer.Parent != "" || layer.UncompressedSize <= 0 {
		t.Errorf("layer = %+v", layer)
	}
	mnt, err := e.store.Mount(img.TopLayer, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "bin", "hello"))
	if err != nil || string(b) != "hello one\n" {
		t.Errorf("bin/hello = %q, %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "bin", "sh")); err != nil || target != "hello" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "dev", "null")); err == nil {
		t.Error("dev/null was unpacked")
	}
	if _, err := e.store.Unmount(img.TopLayer, true); err != nil {
		t.Fatal(err)
	}

	in, err := InspectImage(e.store, img)
	if err != nil {
		t.Fatal(err)
	}
	if in.Id != "sha256:"+im.ID || !slices.Equal(in.RepoTags, []string{"localhost/foo:latest"}) {
		t.Errorf("ID %q RepoTags %v", in.Id, in.RepoTags)
	}
	if in.Os != "linux" || in.Architecture != runtime.GOARCH {
		t.Errorf("os/arch = %s/%s", in.Os, in.Architecture)
	}
	if !slices.Equal(in.Config.Cmd, []string{"/bin/hello"}) || !slices.Equal(in.Config.Env, []string{"A=1", "B=2"}) ||
		in.Config.WorkingDir != "/srv" || in.Config.Labels["k"] != "v" {
		t.Errorf("config = %+v", in.Config)
	}
	if _, ok := in.Config.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed ports = %v", in.Config.ExposedPorts)
	}
	if in.RootFS.Type != "layers" || len(in.RootFS.Layers) != 1 || in.RootFS.Layers[0] != layer.UncompressedDigest.String() {
		t.Errorf("rootfs = %+v (layer diff %s)", in.RootFS, layer.UncompressedDigest)
	}
	if len(in.History) != 1 || in.History[0].CreatedBy != "hutch import rootfs.tar" || in.History[0].Comment != "imported one" {
		t.Errorf("history = %+v", in.History)
	}
	if in.Size != layer.UncompressedSize {
		t.Errorf("size = %d, want the layer's %d", in.Size, layer.UncompressedSize)
	}
	if in.Digest != img.Digest.String() || img.Digest == "" {
		t.Errorf("digest %q, image digest %q", in.Digest, img.Digest)
	}
	if in.ManifestType != imgspecv1.MediaTypeImageManifest {
		t.Errorf("manifest type = %q", in.ManifestType)
	}
	if !slices.Equal(in.RepoDigests, []string{"localhost/foo@" + img.Digest.String()}) {
		t.Errorf("repo digests = %v", in.RepoDigests)
	}
	created, err := time.Parse(time.RFC3339Nano, in.Created)
	if err != nil || time.Since(created) > time.Hour || time.Since(created) < 0 {
		t.Errorf("created = %q (%v)", in.Created, err)
	}
	// The ID is the configuration's digest.
	cfg, cd, err := ReadConfig(e.store, im.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cd.Encoded() != im.ID || cfg.OS != "linux" {
		t.Errorf("config digest %s, ID %s", cd, im.ID)
	}
}

func TestImportUnnamedAndIdenticalContent(t *testing.T) {
	e := newEnv(t)
	im := e.importImage(t, "", "dangling")
	if im.Name != "" {
		t.Errorf("name = %q", im.Name)
	}
	if img := e.image(t, im.ID); len(img.Names) != 0 {
		t.Errorf("names = %v", img.Names)
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tmp := filepath.Join(e.root, "graph", "tmp")
	for _, tc := range []struct {
		name    string
		data    []byte
		opts    ImportOptions
		wantErr string
	}{
		{"absolute path", makeTar(t, fileE("/etc/passwd", "x")), ImportOptions{Name: "bad"}, `import rootfs.tar: entry "/etc/passwd" has an absolute path`},
		{"symlink escape", makeTar(t, symE("x", "../../..")), ImportOptions{Name: "bad"}, "outside the root file system"},
		{"empty", makeTar(t), ImportOptions{Name: "bad"}, "the archive is empty"},
		{"junk", bytes.Repeat([]byte("junk"), 300), ImportOptions{Name: "bad"}, "not a tar archive"},
		{"bad name", rootfs(t, "x"), ImportOptions{Name: "Bad Name"}, "invalid image name"},
		{"bad change", rootfs(t, "x"), ImportOptions{Name: "ok", Changes: []string{"RUN x"}}, "hutch import accepts"},
	} {
		o := tc.opts
		o.Source, o.TmpDir = "rootfs.tar", tmp
		_, err := e.svc.Import(ctx, bytes.NewReader(tc.data), o)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.wantErr)
		}
	}
	imgs, err := e.store.Images()
	if err != nil || len(imgs) != 0 {
		t.Errorf("refused imports left %d images (%v)", len(imgs), err)
	}
	layers, _ := e.store.Layers()
	if len(layers) != 0 {
		t.Errorf("refused imports left %d layers", len(layers))
	}
	if es, _ := os.ReadDir(tmp); len(es) != 0 {
		t.Errorf("refused imports left %d entries in the scratch directory", len(es))
	}
}

func TestTag(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	b := e.importImage(t, "bar", "b")

	img, err := Tag(e.store, "foo", []string{"foo:1", "quay.io/x/y:2", "me/z"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"localhost/foo:latest", "localhost/foo:1", "quay.io/x/y:2", "localhost/me/z:latest"}
	if img.ID != a.ID || !sameSet(img.Names, want) {
		t.Errorf("after tagging: %s %v, want %v", ShortID(img.ID), img.Names, want)
	}
	// The new names resolve.
	for _, ref := range []string{"foo:1", "y:2", "me/z", "quay.io/x/y:2"} {
		if got, err := Resolve(e.store, ref); err != nil || got.ID != a.ID {
			t.Errorf("resolve %q after tagging: %v", ref, err)
		}
	}

	// A name another image had moves, as with docker tag.
	if _, err := Tag(e.store, b.ID[:12], []string{"foo"}); err != nil {
		t.Fatal(err)
	}
	if got := e.image(t, b.ID).Names; !sameSet(got, []string{"localhost/bar:latest", "localhost/foo:latest"}) {
		t.Errorf("b names = %v", got)
	}
	if got := e.image(t, a.ID).Names; slices.Contains(got, "localhost/foo:latest") {
		t.Errorf("a kept the moved name: %v", got)
	}

	if _, err := Tag(e.store, "nothere", []string{"x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("tag of a missing image: %v", err)
	}
	if _, err := Tag(e.store, "bar", []string{"Bad Name"}); err == nil || !strings.Contains(err.Error(), "invalid image name") {
		t.Errorf("tag with a bad name: %v", err)
	}
	if got := e.image(t, b.ID).Names; len(got) != 2 {
		t.Errorf("a refused tag changed the names: %v", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestRemoveUntagsByName(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	if _, err := Tag(e.store, "foo", []string{"bar:1", "quay.io/me/baz"}); err != nil {
		t.Fatal(err)
	}
	res, err := Remove(e.store, "bar:1", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Untagged, []string{"localhost/bar:1"}) || len(res.Deleted) != 0 {
		t.Errorf("removal = %+v", res)
	}
	// A short name of a name with a registry.
	res, err = Remove(e.store, "baz", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Untagged, []string{"quay.io/me/baz:latest"}) {
		t.Errorf("removal = %+v", res)
	}
	if got := e.image(t, a.ID).Names; !slices.Equal(got, []string{"localhost/foo:latest"}) {
		t.Errorf("names left = %v", got)
	}
	// The last name deletes the image.
	res, err = Remove(e.store, "foo", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Untagged, []string{"localhost/foo:latest"}) || !slices.Equal(res.Deleted, []string{"sha256:" + a.ID}) {
		t.Errorf("removal = %+v", res)
	}
	e.gone(t, a.ID)
	if layers, _ := e.store.Layers(); len(layers) != 0 {
		t.Errorf("%d layers left after removing the only image", len(layers))
	}
}

func TestRemoveByIDWithSeveralNames(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	if _, err := Tag(e.store, "foo", []string{"bar"}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{a.ID[:12], "sha256:" + a.ID[:12], a.ID, "sha256:" + a.ID} {
		_, err := Remove(e.store, ref, RemoveOptions{})
		if err == nil {
			t.Fatalf("remove %s: an image with several names was removed by ID without -f", ref)
		}
		if !strings.Contains(err.Error(), "has several names (") || !strings.Contains(err.Error(), "localhost/foo:latest") ||
			!strings.Contains(err.Error(), "localhost/bar:latest") || !strings.Contains(err.Error(), "hutch rmi -f "+ShortID(a.ID)) {
			t.Errorf("remove %s: %v", ref, err)
		}
	}
	e.image(t, a.ID)
	res, err := Remove(e.store, a.ID[:12], RemoveOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(res.Untagged, []string{"localhost/foo:latest", "localhost/bar:latest"}) || !slices.Equal(res.Deleted, []string{"sha256:" + a.ID}) {
		t.Errorf("forced removal = %+v", res)
	}
	e.gone(t, a.ID)
}

func TestRemoveByFullID(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	res, err := Remove(e.store, a.ID, RemoveOptions{})
	if err != nil {
		t.Fatalf("remove by the full ID: %v", err)
	}
	if !slices.Equal(res.Deleted, []string{"sha256:" + a.ID}) {
		t.Errorf("removal = %+v", res)
	}
	e.gone(t, a.ID)
}

func TestRemoveRefusesImageInUse(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	ctr, err := e.store.CreateContainer("", []string{"web"}, a.ID, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"foo", a.ID[:12]} {
		_, err = Remove(e.store, ref, RemoveOptions{})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("remove %s: err = %v, want ErrInUse", ref, err)
		}
		for _, want := range []string{"used by container " + ShortID(ctr.ID) + " (web)", "hutch rm " + ShortID(ctr.ID), "hutch rmi -f"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	}
	e.image(t, a.ID)
	if _, err := e.store.Container(ctr.ID); err != nil {
		t.Fatalf("the refused removal touched the container: %v", err)
	}

	// Prune leaves it alone too, even with all.
	if removed, _, err := Prune(e.store, PruneOptions{All: true}); err != nil || len(removed) != 0 {
		t.Errorf("prune -a removed %v (%v) though a container uses the image", removed, err)
	}

	res, err := Remove(e.store, "foo", RemoveOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Deleted, []string{"sha256:" + a.ID}) {
		t.Errorf("forced removal = %+v", res)
	}
	e.gone(t, a.ID)
	if _, err := e.store.Container(ctr.ID); !errors.Is(err, cstorage.ErrContainerUnknown) {
		t.Errorf("the container survived rmi -f: %v", err)
	}
}

func TestRemoveUntagWhileInUse(t *testing.T) {
	// Untagging one of several names is allowed while a container uses the image.
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	if _, err := Tag(e.store, "foo", []string{"bar"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateContainer("", []string{"c1"}, a.ID, "", "", nil); err != nil {
		t.Fatal(err)
	}
	res, err := Remove(e.store, "bar", RemoveOptions{})
	if err != nil || !slices.Equal(res.Untagged, []string{"localhost/bar:latest"}) {
		t.Errorf("untag while in use: %+v %v", res, err)
	}
}

func TestRemoveNotFound(t *testing.T) {
	e := newEnv(t)
	if _, err := Remove(e.store, "nothere", RemoveOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}

// bareImage adds an image record with a chosen ID, names and digest over an empty layer.
func (e *testEnv) bareImage(t *testing.T, id string, names []string, d digest.Digest) {
	t.Helper()
	l, err := e.store.CreateLayer("", "", nil, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &cstorage.ImageOptions{}
	if d != "" {
		opts.Digest = d
	}
	if _, err := e.store.CreateImage(id, names, l.ID, "", opts); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveNameThatLooksLikeItsID(t *testing.T) {
	e := newEnv(t)
	id := "abc" + strings.Repeat("1", 61)
	e.bareImage(t, id, []string{"localhost/abc:latest", "localhost/other:latest"}, "")
	// "abc" is a name of the image: it untags that name, although the ID starts with abc.
	res, err := Remove(e.store, "abc", RemoveOptions{})
	if err != nil {
		t.Fatalf("remove abc: %v", err)
	}
	if !slices.Equal(res.Untagged, []string{"localhost/abc:latest"}) || len(res.Deleted) != 0 {
		t.Errorf("removal = %+v", res)
	}
	if got := e.image(t, id).Names; !slices.Equal(got, []string{"localhost/other:latest"}) {
		t.Errorf("names left = %v", got)
	}
}

func TestRemoveByDigest(t *testing.T) {
	e := newEnv(t)
	id := strings.Repeat("5", 64)
	d := digest.Digest("sha256:" + strings.Repeat("d", 64))
	e.bareImage(t, id, []string{"localhost/foo:latest", "localhost/foo:1", "quay.io/x/bar:latest"}, d)

	// name@digest stands for that repository's name: it is untagged, without a panic.
	res, err := Remove(e.store, "quay.io/x/bar@"+d.String(), RemoveOptions{})
	if err != nil {
		t.Fatalf("remove name@digest: %v", err)
	}
	if !slices.Equal(res.Untagged, []string{"quay.io/x/bar:latest"}) {
		t.Errorf("removal = %+v", res)
	}
	res, err = Remove(e.store, "foo@"+d.String(), RemoveOptions{})
	if err != nil {
		t.Fatalf("remove short name@digest: %v", err)
	}
	if len(res.Untagged) != 1 || !strings.HasPrefix(res.Untagged[0], "localhost/foo:") {
		t.Errorf("removal = %+v", res)
	}

	// A bare digest names the image, not one of its names: like an ID, it needs -f.
	e.bareImage(t, strings.Repeat("6", 64), []string{"localhost/p:latest", "localhost/q:latest"}, digest.Digest("sha256:"+strings.Repeat("e", 64)))
	_, err = Remove(e.store, "sha256:"+strings.Repeat("e", 64), RemoveOptions{})
	if err == nil || !strings.Contains(err.Error(), "has several names") {
		t.Errorf("remove by a bare digest: %v", err)
	}
	if got := e.image(t, strings.Repeat("6", 64)).Names; len(got) != 2 {
		t.Errorf("names after a refused removal = %v", got)
	}
}

// layerTar makes a layer diff of n bytes of content.
func layerTar(t *testing.T, name string, n int) []byte {
	return makeTar(t, fileE(name, strings.Repeat("x", n)))
}

type topology struct {
	A, B, C, D     string // image IDs
	l1, l2, l3, l4 string // layer IDs
	s1, s2, s3, s4 int64  // layer sizes
	ctr            string
}

// buildTopology makes: A (unnamed, top L1) under B (named, L2 on L1), C (unnamed, L3),
// D (named, L4) used by a container.
func buildTopology(t *testing.T, e *testEnv) topology {
	t.Helper()
	var tp topology
	put := func(parent, name string, n int) (string, int64) {
		l, _, err := e.store.PutLayer("", parent, nil, "", false, nil, bytes.NewReader(layerTar(t, name, n)))
		if err != nil {
			t.Fatal(err)
		}
		if l.UncompressedSize <= 0 {
			t.Fatalf("layer %s has no size", name)
		}
		return l.ID, l.UncompressedSize
	}
	tp.l1, tp.s1 = put("", "one", 1000)
	tp.l2, tp.s2 = put(tp.l1, "two", 3000)
	tp.l3, tp.s3 = put("", "three", 5000)
	tp.l4, tp.s4 = put("", "four", 9000)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(names []string, layer string, age int) string {
		img, err := e.store.CreateImage("", names, layer, "", &cstorage.ImageOptions{CreationDate: base.Add(time.Duration(age) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return img.ID
	}
	tp.A = mk(nil, tp.l1, 1)
	tp.B = mk([]string{"localhost/b:latest"}, tp.l2, 2)
	tp.C = mk(nil, tp.l3, 3)
	tp.D = mk([]string{"localhost/d:latest"}, tp.l4, 4)
	ctr, err := e.store.CreateContainer("", []string{"user-of-d"}, tp.D, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tp.ctr = ctr.ID
	return tp
}

func TestSummariesAndUsage(t *testing.T) {
	e := newEnv(t)
	tp := buildTopology(t, e)
	cat, err := ReadCatalog(e.store)
	if err != nil {
		t.Fatal(err)
	}
	sums := cat.Summaries()
	if len(sums) != 4 {
		t.Fatalf("%d summaries", len(sums))
	}
	// Newest first.
	order := []string{sums[0].ID, sums[1].ID, sums[2].ID, sums[3].ID}
	if !slices.Equal(order, []string{tp.D, tp.C, tp.B, tp.A}) {
		t.Errorf("order = %v", order)
	}
	by := map[string]Summary{}
	for _, s := range sums {
		by[s.ID] = s
	}
	check := func(id, label string, size int64, dangling, intermediate bool, ctrs int) {
		s := by[id]
		if s.Size != size || s.Dangling != dangling || s.Intermediate != intermediate || s.Containers != ctrs {
			t.Errorf("%s: size %d dangling %v intermediate %v containers %d; want %d %v %v %d",
				label, s.Size, s.Dangling, s.Intermediate, s.Containers, size, dangling, intermediate, ctrs)
		}
		if s.Names == nil {
			t.Errorf("%s: Names is nil (JSON null)", label)
		}
	}
	check(tp.A, "A", tp.s1, true, true, 0)
	check(tp.B, "B", tp.s1+tp.s2, false, false, 0)
	check(tp.C, "C", tp.s3, true, false, 0)
	check(tp.D, "D", tp.s4, false, false, 1)

	u := cat.ImageUsage()
	total := tp.s1 + tp.s2 + tp.s3 + tp.s4
	if u.Type != "Images" || u.Total != 4 || u.Active != 1 || u.Size != total || u.Reclaimable != total-tp.s4 {
		t.Errorf("usage = %+v, want total 4 active 1 size %d reclaimable %d", u, total, total-tp.s4)
	}
	cu := cat.ContainerUsage()
	if cu.Type != "Containers" || cu.Total != 1 {
		t.Errorf("container usage = %+v", cu)
	}
}

func TestPruneDanglingOnly(t *testing.T) {
	e := newEnv(t)
	tp := buildTopology(t, e)
	removed, freed, err := Prune(e.store, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{tp.C}) || freed != tp.s3 {
		t.Errorf("prune removed %v freed %d; want [C] and %d", removed, freed, tp.s3)
	}
	e.image(t, tp.A) // the intermediate parent of B stays
	e.image(t, tp.B)
	e.image(t, tp.D)
	e.gone(t, tp.C)

	// Once B goes (rmi --no-prune keeps its unnamed parent A), A is a plain dangling
	// image and the next prune takes it.
	if _, err := Remove(e.store, "b", RemoveOptions{NoPrune: true}); err != nil {
		t.Fatal(err)
	}
	removed, _, err = Prune(e.store, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{tp.A}) {
		t.Errorf("second prune removed %v, want [A]", removed)
	}
	removed, freed, err = Prune(e.store, PruneOptions{})
	if err != nil || len(removed) != 0 || freed != 0 {
		t.Errorf("a prune with nothing to do: %v %d %v", removed, freed, err)
	}
}

func TestPruneAll(t *testing.T) {
	e := newEnv(t)
	tp := buildTopology(t, e)
	removed, freed, err := Prune(e.store, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(removed, []string{tp.A, tp.B, tp.C}) {
		t.Errorf("prune -a removed %v, want A, B and C", removed)
	}
	if freed != tp.s1+tp.s2+tp.s3 {
		t.Errorf("freed %d, want %d", freed, tp.s1+tp.s2+tp.s3)
	}
	imgs, _ := e.store.Images()
	if len(imgs) != 1 || imgs[0].ID != tp.D {
		t.Errorf("images left: %d", len(imgs))
	}
	layers, _ := e.store.Layers()
	var ids []string
	for _, l := range layers {
		ids = append(ids, l.ID)
	}
	if slices.Contains(ids, tp.l1) || slices.Contains(ids, tp.l2) || slices.Contains(ids, tp.l3) || !slices.Contains(ids, tp.l4) {
		t.Errorf("layers left %v", ids)
	}
}

func TestSaveLoadDockerArchive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.importImage(t, "foo", "a", `CMD ["/bin/hello"]`)
	b := e.importImage(t, "bar:2", "b")
	if _, err := Tag(e.store, "foo", []string{"quay.io/x/foo:1"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	if err := e.svc.Save(ctx, path, FormatDocker, []string{"foo", "bar:2"}); err != nil {
		t.Fatal(err)
	}
	if f, err := DetectArchive(path); err != nil || f != FormatDocker {
		t.Fatalf("DetectArchive = %q, %v", f, err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := Remove(e.store, id, RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := e.svc.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 {
		t.Fatalf("loaded %+v", loaded)
	}
	got := map[string][]string{}
	for _, l := range loaded {
		got[l.ID] = l.Names
	}
	if names, ok := got[a.ID]; !ok || !slices.Contains(names, "localhost/foo:latest") {
		t.Errorf("foo came back as %v (want ID %s kept)", got, ShortID(a.ID))
	}
	if names, ok := got[b.ID]; !ok || !slices.Equal(names, []string{"localhost/bar:2"}) {
		t.Errorf("bar came back as %v (want ID %s kept)", got, ShortID(b.ID))
	}
	// The content and configuration came back.
	cfg, _, err := ReadConfig(e.store, a.ID)
	if err != nil || !slices.Equal(cfg.Config.Cmd, []string{"/bin/hello"}) {
		t.Errorf("config after load: %+v %v", cfg, err)
	}
	img := e.image(t, a.ID)
	mnt, err := e.store.Mount(img.TopLayer, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = e.store.Unmount(img.TopLayer, true) }()
	if b, err := os.ReadFile(filepath.Join(mnt, "etc", "marker")); err != nil || string(b) != "a" {
		t.Errorf("etc/marker = %q, %v", b, err)
	}
	// Loading again is harmless: same IDs.
	again, err := e.svc.Load(ctx, path)
	if err != nil || len(again) != 2 {
		t.Fatalf("second load: %+v %v", again, err)
	}
	if imgs, _ := e.store.Images(); len(imgs) != 2 {
		t.Errorf("%d images after loading twice", len(imgs))
	}
}

func TestSaveLoadOCIArchive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.importImage(t, "foo:3", "a")
	path := filepath.Join(t.TempDir(), "foo.oci.tar")
	// Like docker save -o, an existing file is replaced.
	if err := os.WriteFile(path, []byte("old junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Save(ctx, path, FormatOCI, []string{"foo:3"}); err != nil {
		t.Fatal(err)
	}
	if f, err := DetectArchive(path); err != nil || f != FormatOCI {
		t.Fatalf("DetectArchive = %q, %v", f, err)
	}
	if _, err := Remove(e.store, "foo:3", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gone(t, a.ID)
	loaded, err := e.svc.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID != a.ID || !slices.Equal(loaded[0].Names, []string{"localhost/foo:3"}) {
		t.Errorf("loaded %+v, want ID %s named localhost/foo:3", loaded, ShortID(a.ID))
	}
}

func TestSaveOCIUnnamed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.importImage(t, "", "anon")
	path := filepath.Join(t.TempDir(), "anon.tar")
	if err := e.svc.Save(ctx, path, FormatOCI, []string{a.ID[:12]}); err != nil {
		t.Fatal(err)
	}
	if _, err := Remove(e.store, a.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	loaded, err := e.svc.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID != a.ID || len(loaded[0].Names) != 0 {
		t.Errorf("loaded %+v", loaded)
	}
}

func TestSaveErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.importImage(t, "foo", "a")
	e.importImage(t, "bar", "b")
	dir := t.TempDir()
	if err := e.svc.Save(ctx, filepath.Join(dir, "x.tar"), FormatOCI, []string{"foo", "bar"}); err == nil || !strings.Contains(err.Error(), "oci-archive holds one image") {
		t.Errorf("two images in an oci-archive: %v", err)
	}
	if err := e.svc.Save(ctx, filepath.Join(dir, "y.tar"), "zip", []string{"foo"}); err == nil || !strings.Contains(err.Error(), `unknown --format "zip"`) {
		t.Errorf("unknown format: %v", err)
	}
	if err := e.svc.Save(ctx, filepath.Join(dir, "z.tar"), FormatDocker, []string{"nothere"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing image: %v", err)
	}
}

func TestDetectArchive(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	docker := makeTar(t, fileE("abc.json", "{}"), fileE("manifest.json", "[]"))
	oci := makeTar(t, fileE("blobs/sha256/x", ""), fileE("oci-layout", "{}"), fileE("index.json", "{}"))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"docker.tar", docker, FormatDocker},
		{"docker.tar.gz", gz(t, docker), FormatDocker},
		{"dotslash.tar", makeTar(t, dirE("./"), fileE("./manifest.json", "[]")), FormatDocker},
		{"oci.tar", oci, FormatOCI},
		{"oci.tar.gz", gz(t, oci), FormatOCI},
	} {
		got, err := DetectArchive(write(tc.name, tc.data))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"junk.bin", bytes.Repeat([]byte("not an archive at all\n"), 50), "is not an image archive (not a tar file"},
		{"rootfs.tar", makeTar(t, dirE("bin/"), fileE("bin/sh", "x")), "neither manifest.json (docker-archive) nor index.json"},
		{"empty.tar", nil, "is not an image archive"},
		{"truncated.tar", makeTar(t, fileE("a", strings.Repeat("a", 3000)), fileE("manifest.json", "[]"))[:1500], "is truncated or corrupt"},
	} {
		p := write(tc.name, tc.data)
		got, err := DetectArchive(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %q, %v; want an error naming the file and containing %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := DetectArchive(filepath.Join(dir, "missing.tar")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadRefusesJunk(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(p, makeTar(t, fileE("manifest.json", "this is not json")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Load(context.Background(), p); err == nil {
		t.Error("a docker-archive with a broken manifest.json loaded")
	}
	if imgs, _ := e.store.Images(); len(imgs) != 0 {
		t.Errorf("%d images after a failed load", len(imgs))
	}
}

func TestResolveInStore(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	img := e.image(t, a.ID)
	for _, ref := range []string{"foo", "localhost/foo:latest", a.ID, a.ID[:5], "sha256:" + a.ID, img.Digest.String(), "foo@" + img.Digest.String()} {
		got, err := Resolve(e.store, ref)
		if err != nil || got.ID != a.ID {
			t.Errorf("Resolve(%q): %v", ref, err)
		}
	}
}
