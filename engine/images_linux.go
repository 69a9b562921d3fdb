package engine

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sirupsen/logrus"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/images"
)

// ImageRequest is an image that run, create, pull or build needs, and when to pull it.
type ImageRequest struct {
	Ref           string
	Policy        images.PullPolicy
	SkipTLSVerify bool      // --tls-verify=false
	Progress      io.Writer // where the pull reports (nil: quiet)
	// Locked: the caller holds the store lock already (a build); otherwise a pull takes
	// it, as `hutch pull` does.
	Locked bool
}

// EnsureImage finds the image in the store, pulling it as the policy says, and returns
// it with what was pulled (nothing when the stored image was used).
func (s *Session) EnsureImage(ctx context.Context, r ImageRequest) (*cstorage.Image, []images.Pulled, error) {
	svc, err := s.Images(r.SkipTLSVerify)
	if err != nil {
		return nil, nil, err
	}
	img, rerr := images.Resolve(svc.Store, r.Ref)
	if rerr != nil && !errors.Is(rerr, images.ErrNotFound) {
		return nil, nil, rerr
	}
	stored := rerr == nil
	if r.Policy == images.PullNever && !stored {
		return nil, nil, fmt.Errorf("%w; --pull never forbids pulling it (drop the flag to pull it)", rerr)
	}
	pull := r.Policy.Wants(stored)
	if r.Policy == images.PullNewer && stored {
		differs, err := svc.RemoteDiffers(ctx, r.Ref, img, s.Registries())
		if err != nil {
			logrus.Debugf("--pull newer: using the stored %s: %v", r.Ref, err)
		}
		pull = differs
	}
	if !pull {
		return img, nil, nil
	}
	if !r.Locked {
		// The store lock, as `hutch pull` takes it; whoever held it may have pulled the
		// image meanwhile.
		l, err := s.Host.LockStore()
		if err != nil {
			return nil, nil, err
		}
		defer l.Unlock()
		if r.Policy == images.PullMissing {
			if img, err := images.Resolve(svc.Store, r.Ref); err == nil {
				return img, nil, nil
			}
		}
	}
	pulled, err := svc.Pull(ctx, r.Ref, images.PullOptions{Registries: s.Registries(), Progress: r.Progress, Retries: 3})
	if err != nil {
		if !stored {
			return nil, nil, fmt.Errorf("image %q is not in the store (`hutch images` lists it) and pulling it failed: %w", r.Ref, err)
		}
		return nil, nil, err
	}
	if len(pulled) == 0 {
		return nil, nil, fmt.Errorf("pulling %s gave no image", r.Ref)
	}
	img, err = svc.Store.Image(pulled[0].ID)
	if err != nil {
		return nil, nil, err
	}
	return img, pulled, nil
}
