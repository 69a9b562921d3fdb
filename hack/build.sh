#!/usr/bin/env bash
# Builds hutch into bin/hutch with cgo and the build tags its libraries need, and checks
# that cgo really is on (without it the user-namespace re-exec loops forever).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs"
out="${1:-bin/hutch}"
CGO_ENABLED=1 go build -tags "$TAGS" -o "$out" ./cmd/hutch
if ! go version -m "$out" | grep -q 'CGO_ENABLED=1'; then
	echo "build: $out was built without cgo; hutch needs cgo (install gcc and libc6-dev)" >&2
	exit 1
fi
echo "build: $out"
