package buildfs

import "io/fs"

// IDPair is a numeric owner.
type IDPair struct{ UID, GID int }

// CopyOptions tell how COPY/ADD write files in the image.
type CopyOptions struct {
	Chown  *IDPair      // nil: files become 0:0 (Docker's COPY default); ADD archives keep theirs
	Chmod  *fs.FileMode // nil: keep the source's mode bits
	Ignore *Ignore      // applied when walking source directories

	// IgnoreChownErrors leaves a file owned by the builder (0:0 in its user namespace)
	// when its owner is not mapped there (EINVAL), instead of failing: for a user
	// without a subordinate id range (storage's ignore_chown_errors).
	IgnoreChownErrors bool
}

func (o CopyOptions) owner() IDPair {
	if o.Chown != nil {
		return *o.Chown
	}
	return IDPair{}
}

// modeFor is the unix permission bits (with setuid/setgid/sticky) a copied file gets.
func (o CopyOptions) modeFor(m fs.FileMode) uint32 {
	if o.Chmod != nil {
		return unixPerm(*o.Chmod)
	}
	return unixPerm(m)
}
