// Package images manages the images in a user's store: names and lookups, loading and
// saving archives, importing root file system tarballs, listing, tagging, removing and
// inspecting. Archive and registry formats are go.podman.io/image's; the layer store is
// go.podman.io/storage's.
package images

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// ErrNotFound is returned when no image matches a reference.
var ErrNotFound = errors.New("image not found")

// LocalDomain is the registry part given to names without one, as Podman does:
// `hutch import x.tar foo` makes localhost/foo:latest.
const LocalDomain = "localhost"

// NormalizeLocal turns a user-written name into a full reference with a tag:
// "foo" → localhost/foo:latest, "me/foo:1" → localhost/me/foo:1, and a name whose first
// component looks like a registry (has a dot or a port, or is localhost) is kept as is.
func NormalizeLocal(name string) (reference.Named, error) {
	if name == "" {
		return nil, fmt.Errorf("invalid image name \"\": a name is required")
	}
	full := name
	if !hasDomain(name) {
		full = LocalDomain + "/" + name
	}
	ref, err := reference.ParseNamed(full)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w (names are lowercase letters, digits and . _ - /, with an optional :tag)", name, err)
	}
	return reference.TagNameOnly(ref), nil
}

func hasDomain(name string) bool {
	first, _, found := strings.Cut(name, "/")
	if !found {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// isHexID reports whether s can be an image ID or an ID prefix: 3 to 64 lower-case hex
// digits. (A regexp `^[a-f0-9]{3,64}$` compiled at start-up cost every hutch process
// 0.06 ms and 593 allocations: its bounded repetition unrolls.)
func isHexID(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Resolve finds the image a user means by ref: a name (full, or short as `foo`, which
// matches localhost/foo:latest, docker.io/library/foo:latest or any …/foo:latest), a
// name@digest, a full or unique-prefix ID (with or without "sha256:"), or a manifest digest.
func Resolve(store cstorage.Store, ref string) (*cstorage.Image, error) {
	img, _, err := resolveStore(store, ref)
	return img, err
}

// matchKind says how a reference found its image.
type matchKind int

const (
	byNameMatch   matchKind = iota // a name, short name or name@digest
	byIDMatch                      // a full or prefix image ID
	byDigestMatch                  // a bare manifest digest
)

func resolveStore(store cstorage.Store, ref string) (*cstorage.Image, matchKind, error) {
	all, err := store.Images()
	if err != nil {
		return nil, 0, err
	}
	return resolveKind(all, ref)
}

func resolveIn(all []cstorage.Image, ref string) (*cstorage.Image, error) {
	img, _, err := resolveKind(all, ref)
	return img, err
}

func resolveKind(all []cstorage.Image, ref string) (*cstorage.Image, matchKind, error) {
	notFound := fmt.Errorf("%w: %q (`hutch images` lists the images you have)", ErrNotFound, ref)
	if ref == "" {
		return nil, 0, notFound
	}
	id := strings.TrimPrefix(ref, "sha256:")
	// A name first (Docker's order), then an ID prefix, then a digest.
	if !strings.HasPrefix(ref, "sha256:") {
		img, err := byName(all, ref)
		switch {
		case err == nil:
			return img, byNameMatch, nil
		case errors.Is(err, ErrNotFound):
			notFound = err // keeps byName's hint (e.g. --digests for name@digest)
		case !isHexID(id):
			return nil, 0, err
		}
		// Past here the ref was no name, or hex the name parser refuses (a full
		// 64-digit ID): look it up as an ID.
	}
	if isHexID(id) {
		var hits []*cstorage.Image
		for i := range all {
			if strings.HasPrefix(all[i].ID, id) {
				hits = append(hits, &all[i])
			}
		}
		if len(hits) == 1 {
			return hits[0], byIDMatch, nil
		}
		if len(hits) > 1 {
			return nil, 0, fmt.Errorf("image ID prefix %q is ambiguous: it matches %d images; give more characters", id, len(hits))
		}
		if strings.HasPrefix(ref, "sha256:") {
			for i := range all {
				for _, d := range all[i].Digests {
					if d.String() == ref {
						return &all[i], byDigestMatch, nil
					}
				}
			}
		}
	}
	return nil, 0, notFound
}

func byName(all []cstorage.Image, ref string) (*cstorage.Image, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w", ref, err)
	}
	if canon, ok := named.(reference.Canonical); ok {
		repo := reference.TrimNamed(canon).Name()
		repoLocal := ""
		if !hasDomain(ref) {
			repoLocal = LocalDomain + "/" + reference.Path(canon)
			if p, _, ok := strings.Cut(ref, "@"); ok {
				repoLocal = LocalDomain + "/" + p
			}
		}
		for i := range all {
			for _, d := range all[i].Digests {
				if d != canon.Digest() {
					continue
				}
				for _, n := range all[i].Names {
					nr, err := reference.ParseNormalizedNamed(n)
					if err == nil && (nr.Name() == repo || nr.Name() == repoLocal) {
						return &all[i], nil
					}
				}
			}
		}
		return nil, fmt.Errorf("%w: %q (`hutch images --digests` lists the digests you have)", ErrNotFound, ref)
	}
	// Exact candidates, in order of preference.
	var candidates []string
	if !hasDomain(ref) {
		if l, err := NormalizeLocal(ref); err == nil {
			candidates = append(candidates, l.String())
		}
	}
	candidates = append(candidates, reference.TagNameOnly(named).String())
	for _, c := range candidates {
		for i := range all {
			for _, n := range all[i].Names {
				if n == c {
					return &all[i], nil
				}
			}
		}
	}
	// A short name matches the last path components of any name: "bb" finds
	// quay.io/me/bb:latest when it is the only such image.
	if local, err := NormalizeLocal(ref); err == nil && !hasDomain(ref) {
		suffix := "/" + reference.Path(local) + ":" + local.(reference.Tagged).Tag()
		var hits []*cstorage.Image
		var hitNames []string
		for i := range all {
			for _, n := range all[i].Names {
				if strings.HasSuffix(n, suffix) {
					hits = append(hits, &all[i])
					hitNames = append(hitNames, n)
					break
				}
			}
		}
		if len(hits) == 1 {
			return hits[0], nil
		}
		if len(hits) > 1 {
			sort.Strings(hitNames)
			return nil, fmt.Errorf("short name %q matches several images (%s): use the full name", ref, strings.Join(hitNames, ", "))
		}
	}
	return nil, fmt.Errorf("%w: %q (`hutch images` lists the images you have)", ErrNotFound, ref)
}

// ShortID is the 12-character form of an image ID that `images` shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
