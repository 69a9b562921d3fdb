package images

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/internal/hold"
)

// Prefixes of the scratch files and directories of save and load (made with
// fsutil.MkdirTempOwned: the PID of their maker follows).
const (
	SaveTempPrefix  = ".hutch-save-"
	SpoolTempPrefix = "stdin-"
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

// Untag removes names from the image ref names, leaving the image (unnamed, it is
// dangling): the given names, each written as a name of the image may be (foo for
// localhost/foo:latest), or with none every name, as Podman's untag. A name the image
// does not have is an error, and then no name is removed. It returns the names removed.
func Untag(store cstorage.Store, ref string, names []string) ([]string, error) {
	img, err := Resolve(store, ref)
	if err != nil {
		return nil, err
	}
	drop := img.Names
	if len(names) > 0 {
		drop = nil
		for _, n := range names {
			if _, err := reference.ParseNormalizedNamed(n); err != nil {
				return nil, fmt.Errorf("untag %s: invalid image name %q: %w", ref, n, err)
			}
			full, ok := findName(img, n)
			if !ok {
				have := "it has no names"
				if len(img.Names) > 0 {
					have = "its names: " + strings.Join(img.Names, ", ")
				}
				return nil, fmt.Errorf("untag: %s is not a name of image %s (%s)", n, ShortID(img.ID), have)
			}
			if !slices.Contains(drop, full) {
				drop = append(drop, full)
			}
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	if err := store.RemoveNames(img.ID, drop); err != nil {
		return nil, fmt.Errorf("untagging image %s: %w", ShortID(img.ID), err)
	}
	return drop, nil
}

// Removal is what Remove did for one argument, in Docker's words.
type Removal struct {
	Untagged []string
	Deleted  []string
}

// RemoveOptions are rmi's flags.
type RemoveOptions struct {
	// Force removes an image by ID although it has several names, and one that
	// containers use (with the containers).
	Force bool
	// NoPrune keeps the unnamed parents of a removed image (Docker's --no-prune).
	// Without it they are removed too, as Docker does, when no other image builds on
	// them and no container uses them.
	NoPrune bool
	// RemoveContainer removes a container that uses the image (with Force): the
	// caller's, which removes hutch's records of it too; nil deletes only the store's
	// entry.
	RemoveContainer func(id string) error
	// MountedBy lists the containers (IDs) that mount an image (--mount type=image):
	// they use it as much as the containers made from it; nil: none do.
	MountedBy func(imageID string) ([]string, error)
}

func (o RemoveOptions) removeContainer(store cstorage.Store, id string) error {
	if o.RemoveContainer != nil {
		return o.RemoveContainer(id)
	}
	return store.DeleteContainer(id)
}

// Remove removes the image ref names. Given a name of an image with several names, it
// only removes that name (untag). Given an ID of an image with several names, or an
// image that containers use, it refuses unless o.Force, which removes all names and the
// containers (their names are reported).
func Remove(store cstorage.Store, ref string, o RemoveOptions) (*Removal, error) {
	diskspace.ReleaseIfLow(store.GraphRoot())
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
	if byID && len(img.Names) > 1 && !o.Force {
		return nil, fmt.Errorf("image %s has several names (%s): remove them one by one, or use `hutch rmi -f %s`", ShortID(img.ID), strings.Join(img.Names, ", "), ShortID(img.ID))
	}
	return res, removeImage(store, img, o, res)
}

// RemoveAll is `rmi -a`: every image, whatever its names; one that containers use only
// with o.Force (the containers go too). Each image that cannot be removed is an error
// of its own, and the others are removed all the same.
func RemoveAll(store cstorage.Store, o RemoveOptions) (*Removal, []error) {
	diskspace.ReleaseIfLow(store.GraphRoot())
	res := &Removal{}
	all, err := store.Images()
	if err != nil {
		return res, []error{err}
	}
	var errs []error
	for _, im := range all {
		img, err := store.Image(im.ID)
		if errors.Is(err, cstorage.ErrImageUnknown) {
			continue // a parent removed with its child
		}
		if err == nil {
			err = removeImage(store, img, o, res)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errs
}

// removeImage deletes img (and, with o.Force, the containers that use it) and, unless
// o.NoPrune, its unnamed parents, adding what went to res.
func removeImage(store cstorage.Store, img *cstorage.Image, o RemoveOptions, res *Removal) error {
	force := o.Force
	var chain []string
	if !o.NoPrune {
		cat, err := ReadCatalog(store)
		if err != nil {
			return err
		}
		chain = cat.chain(img.TopLayer)
	}
	ctrs, err := store.Containers()
	if err != nil {
		return err
	}
	var mounting []string
	if o.MountedBy != nil {
		if mounting, err = o.MountedBy(img.ID); err != nil {
			return err
		}
	}
	var users []cstorage.Container
	mounts := map[string]bool{}
	for _, c := range ctrs {
		switch {
		case c.ImageID == img.ID:
			users = append(users, c)
		case slices.Contains(mounting, c.ID):
			users, mounts[c.ID] = append(users, c), true
		}
	}
	if len(users) > 0 && !force {
		var desc []string
		for _, c := range users {
			d := ShortID(c.ID)
			if len(c.Names) > 0 {
				d += " (" + c.Names[0] + ")"
			}
			if mounts[c.ID] {
				d += ", which mounts it (--mount type=image)"
			}
			desc = append(desc, d)
		}
		return fmt.Errorf("%w: image %s is used by container %s: remove the container first (`hutch rm %s`), or use `hutch rmi -f`", ErrInUse, ShortID(img.ID), strings.Join(desc, ", "), ShortID(users[0].ID))
	}
	live, err := hold.Held(store.GraphRoot())
	if err != nil {
		return err
	}
	if pid, ok := live.Holds(img.TopLayer); ok && !sharedTop(store, img) {
		return fmt.Errorf("%w: image %s is used by a build running now (PID %d): remove it once that build has finished (`hutch rmi %s` then)", ErrInUse, ShortID(img.ID), pid, ShortID(img.ID))
	}
	for _, c := range users {
		if err := o.removeContainer(store, c.ID); err != nil {
			return fmt.Errorf("removing container %s that uses the image: %w", ShortID(c.ID), err)
		}
	}
	if _, err := store.DeleteImage(img.ID, true); err != nil {
		return fmt.Errorf("removing image %s: %w", ShortID(img.ID), err)
	}
	res.Untagged = append(res.Untagged, img.Names...)
	res.Deleted = append(res.Deleted, "sha256:"+img.ID)
	for _, n := range img.Names {
		events.Image(events.Untag, img.ID, n)
	}
	events.Image(events.Delete, img.ID, "")
	if o.NoPrune {
		return nil
	}
	parents, err := pruneParents(store, chain)
	for _, id := range parents {
		res.Deleted = append(res.Deleted, "sha256:"+id)
		events.Image(events.Delete, id, "")
	}
	return err
}

// sharedTop says whether another image has img's top layer (removing img then removes
// no layer).
func sharedTop(store cstorage.Store, img *cstorage.Image) bool {
	all, err := store.Images()
	if err != nil {
		return false
	}
	for _, o := range all {
		if o.ID != img.ID && o.TopLayer == img.TopLayer {
			return true
		}
	}
	return false
}

// pruneParents removes the unnamed images on the layers of chain (a removed image's,
// top first) that no container uses and no image left builds on (or sits on the same
// layer as), children before parents; it returns their IDs.
func pruneParents(store cstorage.Store, chain []string) ([]string, error) {
	if len(chain) == 0 {
		return nil, nil
	}
	pos := map[string]int{}
	for i, l := range chain {
		pos[l] = i
	}
	cat, err := ReadCatalog(store)
	if err != nil {
		return nil, err
	}
	live, err := hold.Held(store.GraphRoot())
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cat.Containers {
		used[c.ImageID] = true
	}
	var cands []cstorage.Image
	protected := map[string]bool{}
	for _, img := range cat.Images {
		if _, on := pos[img.TopLayer]; on && len(img.Names) == 0 && !used[img.ID] {
			cands = append(cands, img)
			continue
		}
		for _, l := range cat.chain(img.TopLayer) {
			protected[l] = true
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return pos[cands[i].TopLayer] < pos[cands[j].TopLayer] })
	var removed []string
	for _, c := range cands {
		if _, held := live.Holds(c.TopLayer); protected[c.TopLayer] || held {
			continue // another image, or a running build, uses it
		}
		if _, err := store.DeleteImage(c.ID, true); err != nil {
			if errors.Is(err, cstorage.ErrImageUsedByContainer) || errors.Is(err, cstorage.ErrImageUnknown) {
				continue
			}
			return removed, fmt.Errorf("removing the unnamed parent image %s: %w", ShortID(c.ID), err)
		}
		removed = append(removed, c.ID)
	}
	return removed, nil
}

// matchingName picks the image's name that ref stands for (its first name when none
// matches).
func matchingName(img *cstorage.Image, ref string) string {
	if n, ok := findName(img, ref); ok {
		return n
	}
	return img.Names[0]
}

// findName finds the image's name that ref stands for: the name itself, its local or
// Docker Hub normalisation (foo is localhost/foo:latest, alpine is
// docker.io/library/alpine:latest), a name ending in it (me/app:1 for
// quay.io/me/app:1), or for name@digest a name of that repository.
func findName(img *cstorage.Image, ref string) (string, bool) {
	want := map[string]bool{}
	if l, err := NormalizeLocal(ref); err == nil {
		want[l.String()] = true
	}
	if n, err := reference.ParseNormalizedNamed(ref); err == nil {
		want[reference.TagNameOnly(n).String()] = true
	}
	for _, n := range img.Names {
		if want[n] {
			return n, true
		}
	}
	if l, err := NormalizeLocal(ref); err == nil {
		if t, ok := l.(reference.Tagged); ok {
			suffix := "/" + reference.Path(l) + ":" + t.Tag()
			for _, n := range img.Names {
				if strings.HasSuffix(n, suffix) {
					return n, true
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
					return name, true
				}
			}
		}
	}
	return "", false
}

// PruneOptions say what Prune removes.
type PruneOptions struct {
	// All removes every image no container uses, not only unnamed (dangling) ones.
	All bool
	// Filter (until=, label=, label!=) narrows what is removed; nil removes everything
	// All says.
	Filter *Filter
	// BuildCacheOnly removes only the intermediate images of `hutch build` (the step
	// cache's layers): those no image is built on, or with All every one no container
	// uses (`hutch builder prune`).
	BuildCacheOnly bool
	// Mounted are the images containers mount (--mount type=image): in use, kept.
	Mounted map[string]bool
}

// Prune removes images no container uses: only unnamed (dangling) ones, or with All
// every unused image, of those Filter lets through. It repeats until nothing more goes,
// since removing an image can leave its unnamed parent dangling. It returns the removed
// IDs and the bytes freed.
func Prune(store cstorage.Store, o PruneOptions) ([]string, int64, error) {
	all := o.All
	diskspace.ReleaseIfLow(store.GraphRoot())
	var removed []string
	var freed int64
	live, err := hold.Held(store.GraphRoot())
	if err != nil {
		return removed, freed, err
	}
	for {
		cat, err := ReadCatalog(store)
		if err != nil {
			return removed, freed, err
		}
		before := cat.ImageUsage().Size
		n := 0
		for _, s := range cat.Summaries() {
			if s.Containers > 0 || o.Mounted[s.ID] || (!all && !s.Dangling) || (o.BuildCacheOnly && !s.BuildCache) {
				continue
			}
			if _, held := live.Holds(s.TopLayer); held {
				continue // a running build uses it
			}
			// An unnamed parent of another image goes only once its child is gone.
			if s.Intermediate && !all && !(s.BuildCache && !s.Built) {
				continue
			}
			if !o.Filter.Empty() {
				var labels map[string]string
				if o.Filter.NeedsLabels() {
					labels, _ = Labels(store, s.ID)
				}
				if !o.Filter.Match(s, labels) {
					continue
				}
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

// Unreferenced lists the store's layers that no image, no container and no running
// build uses (neither as its top layer nor below one): what an image removal, a load or
// a build cut short (kill -9) left. Only meaningful while hutch's store lock is held,
// when no image is being written.
func Unreferenced(store cstorage.Store) ([]cstorage.Layer, error) {
	layers, err := store.Layers()
	if err != nil {
		return nil, err
	}
	live, err := hold.Held(store.GraphRoot())
	if err != nil {
		return nil, err
	}
	parent := make(map[string]string, len(layers))
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	used := map[string]bool{}
	mark := func(id string) {
		for ; id != "" && !used[id]; id = parent[id] {
			used[id] = true
		}
	}
	imgs, err := store.Images()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		mark(img.TopLayer)
		for _, t := range img.MappedTopLayers {
			mark(t)
		}
	}
	ctrs, err := store.Containers()
	if err != nil {
		return nil, err
	}
	for _, c := range ctrs {
		mark(c.LayerID)
	}
	for id := range live.Layers {
		mark(id)
	}
	var out []cstorage.Layer
	for _, l := range layers {
		if !used[l.ID] {
			out = append(out, l)
		}
	}
	return out, nil
}

// PruneLayers removes the unreferenced layers (children first) and returns how many
// went and the bytes freed. The caller holds hutch's store lock.
func PruneLayers(store cstorage.Store) (int, int64, error) {
	diskspace.ReleaseIfLow(store.GraphRoot())
	n, freed := 0, int64(0)
	for {
		un, err := Unreferenced(store)
		if err != nil {
			return n, freed, err
		}
		isParent := map[string]bool{}
		for _, l := range un {
			isParent[l.Parent] = true
		}
		removed := 0
		for _, l := range un {
			if isParent[l.ID] {
				continue // after its children
			}
			_, _ = store.Unmount(l.ID, true)
			if err := store.DeleteLayer(l.ID); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
				return n, freed, fmt.Errorf("removing layer %s: %w", ShortID(l.ID), err)
			}
			if l.UncompressedSize > 0 {
				freed += l.UncompressedSize
			}
			removed++
		}
		n += removed
		if removed == 0 {
			return n, freed, nil
		}
	}
}
