package builder

import (
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"hutch.dev/hutch/images"
)

// A step from a registry's image is taken onto the build's own state: the image's last
// step on the build's history; an image built on other layers is not taken.
func TestOntoRegistryStep(t *testing.T) {
	mine, theirs, step := time.Unix(100, 0).UTC(), time.Unix(200, 0).UTC(), time.Unix(300, 0).UTC()
	l1, l2 := digest.FromString("l1"), digest.FromString("l2")
	st := &state{key: "local", Config: images.Config{OS: "linux",
		Config:  images.ContainerConfig{Env: []string{"A=1"}},
		RootFS:  images.RootFS{Type: "layers", DiffIDs: []digest.Digest{l1}},
		History: []images.History{{Created: &mine, CreatedBy: "COPY a /a"}}}}
	pushed := images.Config{OS: "linux", Created: &step,
		Config:  images.ContainerConfig{Env: []string{"A=1"}},
		RootFS:  images.RootFS{Type: "layers", DiffIDs: []digest.Digest{l1, l2}},
		History: []images.History{{Created: &theirs, CreatedBy: "COPY a /a"}, {Created: &step, CreatedBy: "RUN x"}}}
	out, ok := onto(st, &pushed, "top")
	if !ok {
		t.Fatal("a registry image one step on the build's layers was not taken")
	}
	want := cloneConfig(pushed)
	want.History[0].Created = &mine
	if configID(&out) != configID(&want) {
		t.Fatalf("taken onto the build's state:\n got %s\nwant %s", configBytes(&out), configBytes(&want))
	}
	other := cloneConfig(pushed)
	other.RootFS.DiffIDs[0] = digest.FromString("other files")
	if _, ok := onto(st, &other, "top"); ok {
		t.Fatal("a registry image built on other layers was taken")
	}
	two := cloneConfig(pushed)
	two.RootFS.DiffIDs = append(two.RootFS.DiffIDs, digest.FromString("l3"))
	two.History = append(two.History, images.History{CreatedBy: "RUN y"})
	if _, ok := onto(st, &two, "top"); ok {
		t.Fatal("a registry image two steps on was taken as one step")
	}
}
