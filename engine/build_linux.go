package engine

import (
	"context"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/storage"
)

// Builder is a build on the store: o is what the command asked; the session adds the
// host's part (the cache, the id mapping, slirp4netns, [cgroups], the seccomp filters'
// cache, the store lock, which the build takes only while it changes the store) and
// finds FROM and --from images as base says (its Policy, TLS choice and Progress; Ref
// and Locked are the builder's: it looks for images with the lock held).
func (s *Session) Builder(st *storage.Store, o builder.Options, base ImageRequest) *builder.Builder {
	o.CacheDir, o.SingleID = s.Host.Paths.CacheDir, s.Host.NS.SingleID
	o.SlirpPath, o.Cgroups = s.Host.Config.Network.Slirp4netnsPath, s.CgroupOptions()
	o.Seccomp = s.SeccompCache()
	o.Lock = func() (func(), error) {
		l, err := s.Host.LockStore()
		if err != nil {
			return nil, err
		}
		return l.Unlock, nil
	}
	o.Image = func(ctx context.Context, ref string) (*cstorage.Image, error) {
		r := base
		r.Ref, r.Locked = ref, true
		img, _, err := s.EnsureImage(ctx, r)
		return img, err
	}
	if len(o.CacheFrom) > 0 || o.CacheTo != "" {
		// The registry cache (--cache-from, --cache-to): base's TLS choice, credentials
		// as for any pull or push. A tag the registry lacks is a miss, not an error.
		o.CachePull = func(ctx context.Context, ref string) (*cstorage.Image, error) {
			svc, err := s.Images(base.SkipTLSVerify)
			if err != nil {
				return nil, err
			}
			// One retry: a cache that cannot be reached costs a second, not several.
			pulled, err := svc.Pull(ctx, ref, images.PullOptions{Registries: s.Registries(), Progress: base.Progress, Retries: 1})
			if images.IsNotInRegistry(err) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			if len(pulled) == 0 {
				return nil, nil
			}
			return svc.Store.Image(pulled[0].ID)
		}
		o.CachePush = func(ctx context.Context, id, ref string) error {
			svc, err := s.Images(base.SkipTLSVerify)
			if err != nil {
				return err
			}
			_, _, err = svc.Push(ctx, id, ref, images.PushOptions{Progress: base.Progress, Retries: 3})
			return err
		}
	}
	return builder.New(st.Store, o)
}
