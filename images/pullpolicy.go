package images

import (
	"fmt"
	"strings"
)

// PullPolicy says when run, create, pull and build fetch an image from a registry: the
// values of Docker's and Podman's --pull.
type PullPolicy string

const (
	// PullMissing pulls an image the store does not have (run, create and build's default).
	PullMissing PullPolicy = "missing"
	// PullAlways pulls every time (`hutch pull`'s default).
	PullAlways PullPolicy = "always"
	// PullNever never pulls: the image must be in the store.
	PullNever PullPolicy = "never"
	// PullNewer pulls when the registry's manifest differs from the stored image's; if
	// the registry cannot be asked, the stored image is used.
	PullNewer PullPolicy = "newer"
)

// pullValues are the accepted values, in the order messages list them.
const pullValues = "missing, always, never or newer"

// ParsePullPolicy reads --pull (run, create) and --policy (pull): missing, always, never
// or newer ("" is missing).
func ParsePullPolicy(v string) (PullPolicy, error) {
	switch p := PullPolicy(strings.ToLower(v)); p {
	case "":
		return PullMissing, nil
	case PullMissing, PullAlways, PullNever, PullNewer:
		return p, nil
	}
	return "", fmt.Errorf("--pull %q: use %s", v, pullValues)
}

// ParseBuildPullPolicy reads build's --pull: ParsePullPolicy's values and, as Docker's
// build takes --pull as a switch, true (always; a bare --pull) and false (missing).
func ParseBuildPullPolicy(v string) (PullPolicy, error) {
	switch strings.ToLower(v) {
	case "true":
		return PullAlways, nil
	case "false":
		return PullMissing, nil
	}
	p, err := ParsePullPolicy(v)
	if err != nil {
		return "", fmt.Errorf("--pull %q: use %s (or true, false)", v, pullValues)
	}
	return p, nil
}

// Wants tells whether the policy pulls, given whether the store has the image
// (stored); for PullNewer with a stored image, the registry decides (RemoteDiffers).
func (p PullPolicy) Wants(stored bool) bool {
	switch p {
	case PullAlways:
		return true
	case PullNever:
		return false
	}
	return !stored
}
