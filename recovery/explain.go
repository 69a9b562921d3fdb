package recovery

import (
	"errors"
	"fmt"
	"strings"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/internal/diskspace"
)

// damage are the store's errors that mean something is broken or left half done (a
// crash, a full disk), rather than that the user named something that does not exist.
var damage = []error{
	cstorage.ErrNotAContainer, cstorage.ErrNotALayer, cstorage.ErrNotAnImage,
	cstorage.ErrContainerUnknown, cstorage.ErrLayerUnknown, cstorage.ErrImageUnknown,
	cstorage.ErrLayerMissing, cstorage.ErrImageLayerMissing, cstorage.ErrContainerImageMissing,
	cstorage.ErrLayerDataMissing, cstorage.ErrImageDataMissing, cstorage.ErrContainerDataMissing,
	cstorage.ErrLayerUnaccounted, cstorage.ErrImageDataIncorrectSize, cstorage.ErrContainerDataIncorrectSize,
	cstorage.ErrLayerIncorrectContentDigest, cstorage.ErrLayerIncorrectContentSize,
}

// DamageHint is what an error that meets damage in the store says to do.
const DamageHint = "the store holds something a crash left half done or damaged: `hutch system check` lists it, `hutch system check --repair` repairs it"

// Explain adds to an error what to do about it when it comes from a full disk (which
// file system, how much is free: package diskspace) or from damage in the store
// (DamageHint). graphRoot is the store, for a full-disk error that names no path.
func Explain(err error, graphRoot string) error {
	if err == nil {
		return nil
	}
	if diskspace.IsFull(err) {
		return diskspace.Explain(err, graphRoot)
	}
	if strings.Contains(err.Error(), "system check") {
		return err
	}
	for _, d := range damage {
		if errors.Is(err, d) {
			return &damaged{err}
		}
	}
	return err
}

type damaged struct{ err error }

func (d *damaged) Error() string { return fmt.Sprintf("%v: %s", d.err, DamageHint) }
func (d *damaged) Unwrap() error { return d.err }
