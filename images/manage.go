package images

import (
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/events"
)

// ErrInUse is returned when an image cannot be removed because containers use it.
var ErrInUse = errors.New("image is in use")

// Tag adds names to the image src refers to. A name another image had moves here, as
// with `docker tag`.
func Tag(store cstorage.Store, src string, targets []string) (*cstorage.Image, error) {
	img, err := Resolve(store, src)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range targets {
		n, err := NormalizeLocal(t)
		if err != nil {
			return nil, err
		}
		names = append(names, n.String())
	}
	if err := store.AddNames(img.ID, names); err != nil {
		return nil, fmt.Errorf("tagging %s: %w", ShortID(img.ID), err)
	}
	for _, n := range names {
		events.Image(events.Tag, img.ID, n)
	}
	return store.Image(img.ID)
}

// Removal is what Remove did for one argument, in Docker's words.
type Removal struct {
	Untagged []string
	Deleted  []string
}

// Remove removes the image ref names. Given a name of an image with several names, it
// only removes that name (untag). Given an ID of an image with several names, or an
// image that containers use, it refuses unless force, which removes all names and the
// containers (their names are reported).
func Remove(store cstorage.Store, ref string, force bool) (*Removal, error) {
	img, kind, err := resolveStore(store, ref)
	if err != nil {
		return nil, err
	}
	res := &Removal{}
	// A bare digest, like an ID, names the image rather than one of its names.
	byID := kind != byNameMatch
	if !byID && len(img.Names) > 1 {
		name := matchingName(img, ref)
		if err := store.RemoveNames(img.ID, []string{name}); err != nil {
			return nil, err
		}
		res.Untagged = append(res.Untagged, name)
		events.Image(events.Untag, img.ID, name)
		return res, nil
	}
	if byID && len(img.Names) > 1 && !force {
		return nil, fmt.Errorf("image %s has several names (%s): remove them one by one, or use `hutch rmi -f %s`", ShortID(img.ID), strings.Join(img.Names, ", "), ShortID(img.ID))
	}
	ctrs, err := store.Containers()
	if err != nil {
		return nil, err
	}
	var users []cstorage.Container
	for _, c := range ctrs {
		if c.ImageID == img.ID {
			users = append(users, c)
		}
	}
	if len(users) > 0 && !force {
		var desc []string
		for _, c := range users {
			d := ShortID(c.ID)
			if len(c.Names) > 0 {
				d += " (" + c.Names[0] + ")"
			}
			desc = append(desc, d)
		}
		return nil, fmt.Errorf("%w: image %s is used by container %s: remove the container first (`hutch rm %s`), or use `hutch rmi -f`", ErrInUse, ShortID(img.ID), strings.Join(desc, ", "), ShortID(users[0].ID))
	}
	for _, c := range users {
		if err := store.DeleteContainer(c.ID); err != nil {
			return nil, fmt.Errorf("removing container %s that uses the image: %w", ShortID(c.ID), err)
		}
	}
	if _, err := store.DeleteImage(img.ID, true); err != nil {
		return nil, fmt.Errorf("removing image %s: %w", ShortID(img.ID), err)
	}
	res.Untagged = append(res.Untagged, img.Names...)
	res.Deleted = append(res.Deleted, "sha256:"+img.ID)
	for _, n := range img.Names {
		events.Image(events.Untag, img.ID, n)
	}
	events.Image(events.Delete, img.ID, "")
	return res, nil
}

// matchingName picks the image's name that ref stands for.
func matchingName(img *cstorage.Image, ref string) string {
	want := map[string]bool{}
	if l, err := NormalizeLocal(ref); err == nil {
		want[l.String()] = true
	}
	if n, err := reference.ParseNormalizedNamed(ref); err == nil {
		want[reference.TagNameOnly(n).String()] = true
	}
	for _, n := range img.Names {
		if want[n] {
			return n
		}
	}
	if l, err := NormalizeLocal(ref); err == nil {
		if t, ok := l.(reference.Tagged); ok {
			suffix := "/" + reference.Path(l) + ":" + t.Tag()
			for _, n := range img.Names {
				if strings.HasSuffix(n, suffix) {
					return n
				}
			}
		}
	}
	// name@digest: a name of that repository.
	if n, err := reference.ParseNormalizedNamed(ref); err == nil {
		if _, ok := n.(reference.Digested); ok {
			repos := map[string]bool{n.Name(): true}
			if !hasDomain(ref) {
				if l, err := NormalizeLocal(ref); err == nil {
					repos[l.Name()] = true
				}
			}
			for _, name := range img.Names {
				if nr, err := reference.ParseNormalizedNamed(name); err == nil && repos[nr.Name()] {
					return name
				}
			}
		}
	}
	return img.Names[0]
}

// Prune removes images no container uses: only unnamed (dangling) ones, or with all
// every unused image. It repeats until nothing more goes, since removing an image can
// leave its unnamed parent dangling. It returns the removed IDs and the bytes freed.
func Prune(store cstorage.Store, all bool) ([]string, int64, error) {
	var removed []string
	var freed int64
	for {
		cat, err := ReadCatalog(store)
		if err != nil {
			return removed, freed, err
		}
		before := cat.ImageUsage().Size
		n := 0
		for _, s := range cat.Summaries() {
			if s.Containers > 0 || (!all && !s.Dangling) {
				continue
			}
			// An unnamed parent of another image goes only once its child is gone.
			if s.Intermediate && !all && !(s.BuildCache && !s.Built) {
				continue
			}
			if _, err := store.DeleteImage(s.ID, true); err != nil {
				if errors.Is(err, cstorage.ErrImageUsedByContainer) {
					continue
				}
				return removed, freed, fmt.Errorf("removing image %s: %w", ShortID(s.ID), err)
			}
			removed = append(removed, s.ID)
			events.Image(events.Delete, s.ID, "")
			n++
		}
		after, err := ReadCatalog(store)
		if err == nil {
			freed += before - after.ImageUsage().Size
		}
		if n == 0 {
			return removed, freed, nil
		}
	}
}
