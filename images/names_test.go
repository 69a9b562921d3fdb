package images

import (
	"errors"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
)

func TestNormalizeLocal(t *testing.T) {
	for in, want := range map[string]string{
		"foo":                     "localhost/foo:latest",
		"foo:1":                   "localhost/foo:1",
		"me/foo:1":                "localhost/me/foo:1",
		"a/b/c":                   "localhost/a/b/c:latest",
		"quay.io/x/y":             "quay.io/x/y:latest",
		"quay.io/x/y:v2":          "quay.io/x/y:v2",
		"127.0.0.1:5000/a:b":      "127.0.0.1:5000/a:b",
		"localhost:5000/a":        "localhost:5000/a:latest",
		"localhost/foo":           "localhost/foo:latest",
		"docker.io/library/alp":   "docker.io/library/alp:latest",
		"my-reg.example/ns/n.x_y": "my-reg.example/ns/n.x_y:latest",
	} {
		got, err := NormalizeLocal(in)
		if err != nil {
			t.Errorf("NormalizeLocal(%q): %v", in, err)
			continue
		}
		if got.String() != want {
			t.Errorf("NormalizeLocal(%q) = %q, want %q", in, got.String(), want)
		}
	}
}

func TestNormalizeLocalKeepsDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	got, err := NormalizeLocal("foo@" + d)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "localhost/foo@"+d {
		t.Errorf("got %q", got)
	}
}

func TestNormalizeLocalRejects(t *testing.T) {
	for _, in := range []string{"", "Foo", "me/Foo:1", "foo bar", " foo", "foo:", "foo:bad tag", "foo/", "/foo", "foo::1"} {
		got, err := NormalizeLocal(in)
		if err == nil {
			t.Errorf("NormalizeLocal(%q) accepted: %v", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "invalid image name") {
			t.Errorf("NormalizeLocal(%q): error %q does not say invalid image name", in, err)
		}
	}
}

func TestShortID(t *testing.T) {
	if ShortID("0123456789abcdef") != "0123456789ab" || ShortID("abc") != "abc" {
		t.Error("ShortID")
	}
}

// Test images: IDs share prefixes on purpose.
func fixtureImages() []cstorage.Image {
	return []cstorage.Image{
		{ID: "aaaa1111" + strings.Repeat("0", 56), Names: []string{"localhost/foo:latest", "localhost/foo:1"},
			Digests: []digest.Digest{digest.Digest("sha256:" + strings.Repeat("d1", 32))}},
		{ID: "aaaa2222" + strings.Repeat("0", 56), Names: []string{"docker.io/library/alpine:latest"},
			Digests: []digest.Digest{digest.Digest("sha256:" + strings.Repeat("d2", 32))}},
		{ID: "bbbb3333" + strings.Repeat("0", 56), Names: []string{"quay.io/me/bb:latest"}},
		{ID: "cccc4444" + strings.Repeat("0", 56), Names: []string{"quay.io/a/dup:latest"}},
		{ID: "cccc5555" + strings.Repeat("0", 56), Names: []string{"ghcr.io/b/dup:latest", "ghcr.io/b/other:2"}},
		{ID: "dddd6666" + strings.Repeat("0", 56)}, // dangling
	}
}

func resolveID(t *testing.T, all []cstorage.Image, ref string) string {
	t.Helper()
	img, err := resolveIn(all, ref)
	if err != nil {
		t.Errorf("resolve %q: %v", ref, err)
		return ""
	}
	return img.ID[:8]
}

func TestResolveInByName(t *testing.T) {
	all := fixtureImages()
	for ref, want := range map[string]string{
		"foo":                             "aaaa1111",
		"foo:latest":                      "aaaa1111",
		"foo:1":                           "aaaa1111",
		"localhost/foo":                   "aaaa1111",
		"localhost/foo:1":                 "aaaa1111",
		"alpine":                          "aaaa2222",
		"library/alpine":                  "aaaa2222",
		"docker.io/library/alpine:latest": "aaaa2222",
		"docker.io/alpine":                "aaaa2222",
		"bb":                              "bbbb3333", // short name of quay.io/me/bb:latest
		"me/bb":                           "bbbb3333",
		"quay.io/me/bb":                   "bbbb3333",
		"other:2":                         "cccc5555",
		"b/other:2":                       "cccc5555",
	} {
		if got := resolveID(t, all, ref); got != "" && got != want {
			t.Errorf("resolve %q = %s, want %s", ref, got, want)
		}
	}
}

func TestResolveInShortNameAmbiguous(t *testing.T) {
	_, err := resolveIn(fixtureImages(), "dup")
	if err == nil {
		t.Fatal("an ambiguous short name resolved")
	}
	if errors.Is(err, ErrNotFound) {
		t.Errorf("ambiguity reported as not found: %v", err)
	}
	want := `short name "dup" matches several images (ghcr.io/b/dup:latest, quay.io/a/dup:latest): use the full name`
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The full names resolve.
	if got := resolveID(t, fixtureImages(), "ghcr.io/b/dup"); got != "cccc5555" {
		t.Errorf("full name: %s", got)
	}
	// Another tag of a short name does not match.
	if _, err := resolveIn(fixtureImages(), "bb:2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bb:2: %v", err)
	}
}

func TestResolveInByIDPrefix(t *testing.T) {
	all := fixtureImages()
	for ref, want := range map[string]string{
		"bbb":          "bbbb3333",
		"bbbb3333":     "bbbb3333",
		"aaaa1":        "aaaa1111",
		"sha256:aaaa2": "aaaa2222",
		"dddd":         "dddd6666",
		"sha256:dddd6666" + strings.Repeat("0", 56): "dddd6666",
	} {
		if got := resolveID(t, all, ref); got != "" && got != want {
			t.Errorf("resolve %q = %s, want %s", ref, got, want)
		}
	}
}

func TestResolveInByFullID(t *testing.T) {
	// A full 64-hex ID without "sha256:" is what `hutch images --no-trunc` and most
	// scripts pass around; the reference parser refuses it as a name.
	all := fixtureImages()
	id := all[2].ID
	img, err := resolveIn(all, id)
	if err != nil {
		t.Fatalf("resolve by full ID %s: %v", id, err)
	}
	if img.ID != id {
		t.Errorf("got %s", img.ID)
	}
	if _, err := resolveIn(all, strings.Repeat("e", 64)); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown full ID: %v, want ErrNotFound", err)
	}
}

func TestResolveInAmbiguousPrefix(t *testing.T) {
	for _, ref := range []string{"aaaa", "sha256:ccc"} {
		_, err := resolveIn(fixtureImages(), ref)
		if err == nil || !strings.Contains(err.Error(), "is ambiguous: it matches 2 images") {
			t.Errorf("resolve %q: %v", ref, err)
		}
	}
}

func TestResolveInNameBeforeIDPrefix(t *testing.T) {
	all := append(fixtureImages(), cstorage.Image{ID: "ffff7777" + strings.Repeat("0", 56), Names: []string{"localhost/bbb:latest"}})
	// "bbb" is both a name and a prefix of bbbb3333: the name wins, as in Docker.
	if got := resolveID(t, all, "bbb"); got != "ffff7777" {
		t.Errorf("resolve bbb = %s, want the image named bbb", got)
	}
}

func TestResolveInByDigest(t *testing.T) {
	all := fixtureImages()
	d2 := "sha256:" + strings.Repeat("d2", 32)
	d1 := "sha256:" + strings.Repeat("d1", 32)
	if got := resolveID(t, all, d2); got != "aaaa2222" {
		t.Errorf("manifest digest: %s", got)
	}
	for ref, want := range map[string]string{
		"alpine@" + d2:                   "aaaa2222",
		"docker.io/library/alpine@" + d2: "aaaa2222",
		"foo@" + d1:                      "aaaa1111",
		"localhost/foo@" + d1:            "aaaa1111",
	} {
		if got := resolveID(t, all, ref); got != "" && got != want {
			t.Errorf("resolve %q = %s, want %s", ref, got, want)
		}
	}
	// A digest under the wrong name is not found, and says so with the digests hint.
	_, err := resolveIn(all, "foo@"+d2)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "hutch images --digests") {
		t.Errorf("foo@<alpine's digest>: %v", err)
	}
}

func TestResolveInNotFound(t *testing.T) {
	all := fixtureImages()
	for _, ref := range []string{"", "nothere", "quay.io/x/nothere:1", "sha256:0123", "99999", "foo:2"} {
		_, err := resolveIn(all, ref)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("resolve %q: %v, want ErrNotFound", ref, err)
			continue
		}
		if !strings.Contains(err.Error(), "`hutch images`") || !strings.Contains(err.Error(), `"`+ref+`"`) {
			t.Errorf("resolve %q: message %q should name the reference and mention `hutch images`", ref, err)
		}
	}
	if _, err := resolveIn(nil, "foo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty store: %v", err)
	}
}

func TestResolveInInvalidName(t *testing.T) {
	_, err := resolveIn(fixtureImages(), "Bad Name")
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "invalid image name") {
		t.Errorf("err = %v", err)
	}
}

func TestHasDomain(t *testing.T) {
	for in, want := range map[string]bool{
		"foo": false, "me/foo": false, "quay.io/x": true, "localhost/x": true, "localhost:5000/x": true,
		"127.0.0.1/x": true, "foo:1": false, "a.b": false,
	} {
		if got := hasDomain(in); got != want {
			t.Errorf("hasDomain(%q) = %v", in, got)
		}
	}
}
