package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// step is one history entry of a stacked test image: a layer of n bytes in file name,
// or (n == 0) a step that made no layer.
type step struct {
	by   string
	name string
	n    int
}

// stackImage makes an image from steps on top of parent's layers (parent may be ""):
// its layers, a manifest and a configuration with the steps as history, and the
// parent's history before them. It returns the image.
func (e *testEnv) stackImage(t *testing.T, parent string, names []string, labels map[string]string, created time.Time, steps ...step) *cstorage.Image {
	t.Helper()
	cfg := Config{Architecture: "amd64", OS: "linux", RootFS: RootFS{Type: "layers"}}
	top := ""
	if parent != "" {
		pc, _, err := ReadConfig(e.store, parent)
		if err != nil {
			t.Fatal(err)
		}
		cfg = *pc
		top = e.image(t, parent).TopLayer
	}
	cfg.Config.Labels = labels
	for i, s := range steps {
		at := created.Add(time.Duration(i-len(steps)) * time.Minute)
		h := History{Created: &at, CreatedBy: s.by, EmptyLayer: s.n == 0}
		if s.n > 0 {
			l, _, err := e.store.PutLayer("", top, nil, "", false, nil, bytes.NewReader(layerTar(t, s.name, s.n)))
			if err != nil {
				t.Fatal(err)
			}
			top = l.ID
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.UncompressedDigest)
		}
		cfg.History = append(cfg.History, h)
	}
	cfg.Created = &created
	cb, _ := json.Marshal(cfg)
	cd := digest.FromBytes(cb)
	m := imgspecv1.Manifest{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageManifest,
		Config: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))}}
	mb, _ := json.Marshal(m)
	img, err := e.store.CreateImage("", names, top, "", &cstorage.ImageOptions{CreationDate: created})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetImageBigData(img.ID, "manifest", mb, manifest.Digest); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetImageBigData(img.ID, cd.String(), cb, nil); err != nil {
		t.Fatal(err)
	}
	return e.image(t, img.ID)
}

func TestImageHistory(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	base := e.stackImage(t, "", []string{"localhost/base:1"}, nil, t0, step{by: "ADD rootfs", name: "rootfs", n: 4000}, step{by: `CMD ["sh"]`})
	// An unnamed step image (as a build leaves) on the RUN layer, then the final image.
	mid := e.stackImage(t, base.ID, nil, nil, t0.Add(time.Hour), step{by: "RUN make", name: "built", n: 2000})
	app := e.stackImage(t, mid.ID, []string{"localhost/app:1"}, nil, t0.Add(2*time.Hour), step{by: "ENV A=1"}, step{by: "COPY x /x", name: "x", n: 500})

	h, err := ImageHistory(e.store, app)
	if err != nil {
		t.Fatal(err)
	}
	var by []string
	for _, s := range h {
		by = append(by, s.CreatedBy)
	}
	want := []string{"COPY x /x", "ENV A=1", "RUN make", `CMD ["sh"]`, "ADD rootfs"}
	if !slices.Equal(by, want) {
		t.Fatalf("steps %q, want %q (newest first)", by, want)
	}
	sizeOf := func(layer string) int64 {
		l, err := e.store.Layer(layer)
		if err != nil {
			t.Fatal(err)
		}
		return l.UncompressedSize
	}
	midLayer := e.image(t, mid.ID).TopLayer
	for i, w := range []struct {
		id   string
		size int64
		tags []string
	}{
		{app.ID, sizeOf(app.TopLayer), []string{"localhost/app:1"}},
		{"", 0, nil},                               // ENV: no layer; no image ended with it
		{mid.ID, sizeOf(midLayer), nil},            // the unnamed step image
		{base.ID, 0, []string{"localhost/base:1"}}, // CMD: the base image ended with it
		{"", sizeOf(base.TopLayer), nil},           // the base's own layer
	} {
		tags := h[i].Tags
		if len(tags) == 0 {
			tags = nil
		}
		if h[i].ID != w.id || h[i].Size != w.size || !slices.Equal(tags, w.tags) {
			t.Errorf("step %d (%s): id %q size %d tags %v; want %q %d %v", i, h[i].CreatedBy, ShortID(h[i].ID), h[i].Size, h[i].Tags, ShortID(w.id), w.size, w.tags)
		}
	}
	if !h[0].Created.Equal(t0.Add(2*time.Hour - time.Minute)) {
		t.Errorf("newest step created %v", h[0].Created)
	}

	// An imported image: its single step and its layer.
	imp := e.importImage(t, "imp", "i")
	h, err = ImageHistory(e.store, e.image(t, imp.ID))
	if err != nil || len(h) != 1 || h[0].ID != imp.ID || !strings.HasPrefix(h[0].CreatedBy, "hutch import") || h[0].Size <= 0 {
		t.Errorf("history of an imported image: %+v, %v", h, err)
	}
}

func TestUntag(t *testing.T) {
	e := newEnv(t)
	a := e.importImage(t, "foo", "a")
	if _, err := Tag(e.store, "foo", []string{"foo:2", "quay.io/me/foo:3"}); err != nil {
		t.Fatal(err)
	}
	// A name the image does not have: an error, and nothing is removed.
	if _, err := Untag(e.store, a.ID, []string{"foo:2", "bar"}); err == nil || !strings.Contains(err.Error(), "bar is not a name of image") {
		t.Errorf("untag of a foreign name: %v", err)
	}
	if n := e.image(t, a.ID).Names; len(n) != 3 {
		t.Fatalf("names after a refused untag: %v", n)
	}
	// Names as people write them.
	got, err := Untag(e.store, "foo", []string{"foo:2", "me/foo:3"})
	if err != nil || !sameSet(got, []string{"localhost/foo:2", "quay.io/me/foo:3"}) {
		t.Errorf("untag foo:2 me/foo:3 = %v, %v", got, err)
	}
	if n := e.image(t, a.ID).Names; !slices.Equal(n, []string{"localhost/foo:latest"}) {
		t.Errorf("names left: %v", n)
	}
	// No names: all of them; the image stays, dangling.
	if _, err := Tag(e.store, a.ID, []string{"bar"}); err != nil {
		t.Fatal(err)
	}
	got, err = Untag(e.store, a.ID[:12], nil)
	if err != nil || !sameSet(got, []string{"localhost/foo:latest", "localhost/bar:latest"}) {
		t.Errorf("untag without names = %v, %v", got, err)
	}
	if n := e.image(t, a.ID).Names; len(n) != 0 {
		t.Errorf("names left: %v", n)
	}
	// Untagging an unnamed image removes nothing, and says nothing.
	if got, err := Untag(e.store, a.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("untag of an unnamed image: %v, %v", got, err)
	}
	if _, err := Untag(e.store, "ghost", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("untag of a missing image: %v", err)
	}
}

func TestRemovePrunesUnnamedParents(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// base (named) ← s1 (unnamed) ← s2 (unnamed) ← app (named); other (named) on s1.
	setup := func(t *testing.T, withOther bool) (*testEnv, map[string]string) {
		e := newEnv(t)
		ids := map[string]string{}
		base := e.stackImage(t, "", []string{"localhost/base:1"}, nil, t0, step{by: "ADD", name: "b", n: 100})
		s1 := e.stackImage(t, base.ID, nil, nil, t0.Add(time.Minute), step{by: "RUN 1", name: "s1", n: 200})
		s2 := e.stackImage(t, s1.ID, nil, nil, t0.Add(2*time.Minute), step{by: "RUN 2", name: "s2", n: 300})
		app := e.stackImage(t, s2.ID, []string{"localhost/app:1"}, nil, t0.Add(3*time.Minute), step{by: "CMD"}, step{by: "RUN 3", name: "app", n: 400})
		ids["base"], ids["s1"], ids["s2"], ids["app"] = base.ID, s1.ID, s2.ID, app.ID
		if withOther {
			ids["other"] = e.stackImage(t, s1.ID, []string{"localhost/other:1"}, nil, t0.Add(4*time.Minute), step{by: "RUN o", name: "o", n: 50}).ID
		}
		return e, ids
	}

	t.Run("default", func(t *testing.T) {
		e, ids := setup(t, false)
		res, err := Remove(e.store, "app:1", RemoveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"sha256:" + ids["app"], "sha256:" + ids["s2"], "sha256:" + ids["s1"]}
		if !slices.Equal(res.Deleted, want) {
			t.Errorf("deleted %v, want app, then s2, then s1", res.Deleted)
		}
		e.gone(t, ids["s1"])
		e.gone(t, ids["s2"])
		e.image(t, ids["base"]) // named: kept
		// No layer is left without an image.
		layers, _ := e.store.Layers()
		if len(layers) != 1 || layers[0].ID != e.image(t, ids["base"]).TopLayer {
			t.Errorf("%d layers left", len(layers))
		}
	})
	t.Run("no-prune", func(t *testing.T) {
		e, ids := setup(t, false)
		res, err := Remove(e.store, "app:1", RemoveOptions{NoPrune: true})
		if err != nil || !slices.Equal(res.Deleted, []string{"sha256:" + ids["app"]}) {
			t.Fatalf("removal %+v, %v", res, err)
		}
		e.image(t, ids["s1"])
		e.image(t, ids["s2"])
	})
	t.Run("shared parent", func(t *testing.T) {
		e, ids := setup(t, true)
		res, err := Remove(e.store, "app:1", RemoveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// s2 goes; s1 stays, another image builds on it.
		if !slices.Equal(res.Deleted, []string{"sha256:" + ids["app"], "sha256:" + ids["s2"]}) {
			t.Errorf("deleted %v", res.Deleted)
		}
		e.image(t, ids["s1"])
		e.image(t, ids["other"])
	})
	t.Run("parent in use", func(t *testing.T) {
		e, ids := setup(t, false)
		if _, err := e.store.CreateContainer("", nil, ids["s2"], "", "", nil); err != nil {
			t.Fatal(err)
		}
		res, err := Remove(e.store, "app:1", RemoveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// s2 is a container's: it stays, and so does s1 under it.
		if !slices.Equal(res.Deleted, []string{"sha256:" + ids["app"]}) {
			t.Errorf("deleted %v", res.Deleted)
		}
		e.image(t, ids["s1"])
		e.image(t, ids["s2"])
	})
}

func TestRemoveAll(t *testing.T) {
	e := newEnv(t)
	tp := buildTopology(t, e)
	if _, err := Tag(e.store, tp.B, []string{"b:2"}); err != nil {
		t.Fatal(err)
	}
	// D is a container's: refused without force, the others go.
	res, errs := RemoveAll(e.store, RemoveOptions{})
	if len(errs) != 1 || !errors.Is(errs[0], ErrInUse) {
		t.Errorf("errors %v, want one: D in use", errs)
	}
	if !sameSet(res.Deleted, []string{"sha256:" + tp.A, "sha256:" + tp.B, "sha256:" + tp.C}) {
		t.Errorf("deleted %v", res.Deleted)
	}
	imgs, _ := e.store.Images()
	if len(imgs) != 1 || imgs[0].ID != tp.D {
		t.Errorf("%d images left", len(imgs))
	}
	res, errs = RemoveAll(e.store, RemoveOptions{Force: true})
	if len(errs) != 0 || !slices.Equal(res.Deleted, []string{"sha256:" + tp.D}) {
		t.Errorf("rmi -a -f: %+v %v", res, errs)
	}
	if ctrs, _ := e.store.Containers(); len(ctrs) != 0 {
		t.Errorf("the container of D is left")
	}
}

func TestPruneFilter(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	old := e.stackImage(t, "", []string{"localhost/old:1"}, map[string]string{"keep": "no"}, t0, step{by: "A", name: "a", n: 10})
	oldKeep := e.stackImage(t, "", []string{"localhost/oldkeep:1"}, map[string]string{"keep": "yes"}, t0, step{by: "B", name: "b", n: 10})
	recent := e.stackImage(t, "", []string{"localhost/recent:1"}, map[string]string{"keep": "no"}, t0.Add(48*time.Hour), step{by: "C", name: "c", n: 10})
	danglingOld := e.stackImage(t, "", nil, nil, t0, step{by: "D", name: "d", n: 10})
	now := t0.Add(50 * time.Hour)

	f, err := ParseFilter([]string{"until=24h", "label!=keep=yes"}, PruneFilterKeys, now)
	if err != nil {
		t.Fatal(err)
	}
	removed, _, err := Prune(e.store, PruneOptions{All: true, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(removed, []string{old.ID, danglingOld.ID}) {
		t.Errorf("prune -a --filter until=24h --filter label!=keep=yes removed %v; want old and the old dangling one", removed)
	}
	e.image(t, oldKeep.ID)
	e.image(t, recent.ID)

	f, _ = ParseFilter([]string{"label=keep=no"}, PruneFilterKeys, now)
	removed, _, err = Prune(e.store, PruneOptions{All: true, Filter: f})
	if err != nil || !slices.Equal(removed, []string{recent.ID}) {
		t.Errorf("prune -a --filter label=keep=no removed %v, %v", removed, err)
	}
	// Without -a only dangling images: none left.
	removed, _, err = Prune(e.store, PruneOptions{Filter: f})
	if err != nil || len(removed) != 0 {
		t.Errorf("prune --filter label=keep=no removed %v, %v", removed, err)
	}
}

func TestSelect(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := e.stackImage(t, "", []string{"localhost/a:1"}, map[string]string{"tier": "web"}, t0, step{by: "A", name: "a", n: 10})
	b := e.stackImage(t, "", []string{"localhost/b:1"}, nil, t0.Add(time.Hour), step{by: "B", name: "b", n: 10})
	cat, err := ReadCatalog(e.store)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ParseFilter([]string{"label=tier=web"}, ListFilterKeys, time.Now())
	got, err := Select(e.store, cat, f)
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("label=tier=web selected %v, %v", got, err)
	}
	f, _ = ParseFilter([]string{"since=a:1"}, ListFilterKeys, time.Now())
	got, err = Select(e.store, cat, f)
	if err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("since=a:1 selected %v, %v", got, err)
	}
}
