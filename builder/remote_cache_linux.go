package builder

import (
	"fmt"
	"slices"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/images"
)

// The step cache in a registry (--cache-from, --cache-to), as Buildah keeps it: the
// image of every layer step (RUN, COPY, ADD) — its intermediate image: its
// configuration and layers — is pushed to the --cache-to repository tagged with the
// step's cache key, and a step missing from the local cache is looked for under its key
// in the --cache-from repositories before it runs. The key holds the key of the step
// before, so a tag found there is exactly this step's result, whoever built it.
// Metadata steps are not pushed: they cost nothing to redo, and their key is the same
// whether or not the steps before came from a registry.

// makesLayer says c is a step whose image goes to and comes from a registry cache.
func makesLayer(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
		return true
	}
	return false
}

func cacheRef(repo, key string) string { return repo + ":" + key }

// remoteLookup looks for step key in the --cache-from repositories, in order (the build
// holds the store lock). A hit is pulled into the store, kept as an intermediate image
// (its name removed: hidden from `images`, pruned like the others), held, and applied to
// st: its configuration and top layer (a RUN, COPY or ADD does not change whether a CMD
// was set). It returns the hit's reference, or "". A repository that cannot be asked
// (unreachable, refusing the credentials) is warned about once and not asked again.
func (b *Builder) remoteLookup(key string, st *state) (string, error) {
	for _, repo := range b.o.CacheFrom {
		if b.cacheDown[repo] {
			continue
		}
		ref := cacheRef(repo, key)
		img, err := b.o.CachePull(b.ctx, ref)
		if err != nil {
			if b.sig.err() != nil {
				return "", ErrInterrupted
			}
			b.cacheDown[repo] = true
			fmt.Fprintf(b.o.Stderr, "warning: --cache-from %s: %v; the build goes on without it\n", repo, err)
			continue
		}
		if img == nil || img.TopLayer == "" {
			continue
		}
		if err := b.hold(img.TopLayer); err != nil {
			return "", err
		}
		if err := b.adoptCacheImage(img, ref); err != nil {
			return "", err
		}
		cfg, _, err := images.ReadConfig(b.store, img.ID)
		if err != nil {
			return "", fmt.Errorf("--cache-from %s: %w", ref, err)
		}
		st.Config, st.Layer, st.key = *cfg, img.TopLayer, key
		b.known[img.TopLayer] = true
		return ref, nil
	}
	return "", nil
}

// adoptCacheImage makes an image pulled from a registry cache one of the build's
// intermediate images: the cache tag it was stored under is removed, and, unless it
// has other names, it is marked as build cache.
func (b *Builder) adoptCacheImage(img *cstorage.Image, ref string) error {
	if slices.Contains(img.Names, ref) {
		if err := b.store.RemoveNames(img.ID, []string{ref}); err != nil {
			return fmt.Errorf("--cache-from: renaming the image of %s: %w", ref, err)
		}
	}
	others := slices.DeleteFunc(slices.Clone(img.Names), func(n string) bool { return n == ref })
	if len(others) > 0 || img.Metadata == images.BuildCacheMetadata {
		return nil
	}
	if err := b.store.SetMetadata(img.ID, images.BuildCacheMetadata); err != nil {
		return fmt.Errorf("--cache-from: marking the image of %s as build cache: %w", ref, err)
	}
	return nil
}

// pushCache pushes the image of a layer step to the --cache-to repository under its
// cache key (the build holds the store lock; the push itself runs without it, the
// step's layer being in the build's hold record). parent is the layer before the step
// (a step that changed nothing has no image of its own), from the reference the step
// came from (not pushed back to itself).
func (b *Builder) pushCache(st *state, c instructions.Command, parent, from string) error {
	if b.o.CacheTo == "" || !makesLayer(c) || st.Layer == "" || st.Layer == parent {
		return nil
	}
	ref := cacheRef(b.o.CacheTo, st.key)
	if ref == from {
		return nil
	}
	id, err := b.writeImage(st, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.o.Stdout, "--> Pushing cache %s\n", ref)
	err = b.unlocked(func() error { return b.o.CachePush(b.ctx, id, ref) })
	if err != nil {
		if b.sig.err() != nil {
			return ErrInterrupted
		}
		return fmt.Errorf("--cache-to %s: pushing the image of step %q: %w", b.o.CacheTo, text(c), err)
	}
	return nil
}
