package buildfs

import "io/fs"

// IDPair is a numeric owner.
type IDPair struct{ UID, GID int }

// CopyOptions tell how COPY/ADD write files in the image.
type CopyOptions struct {
	Chown  *IDPair      // nil: files become 0:0 (Docker's COPY default); ADD archives keep theirs
	Chmod  *fs.FileMode // nil: keep the source's mode bits
	Ignore *Ignore      // applied when walking source directories
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
