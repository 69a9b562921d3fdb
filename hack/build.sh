#!/usr/bin/env bash
# Builds hutch into bin/hutch (or $1) with cgo and the build tags its libraries need
# (hack/tags), checks that cgo really is on (without it the user-namespace re-exec loops
# forever), and stamps `hutch version` with the commit it was built from. `make` runs this.
# A second argument adds build tags: `hack/build.sh bin/hutch-docgen hutch_docgen` builds
# the man page generator (cmd/hutch/docgen.go) with the same flags.
#
# The build is reproducible: -trimpath, and no build time unless SOURCE_DATE_EPOCH gives
# one. Outside a git checkout (a release tarball) a packager may say what git would:
#   HUTCH_VERSION=1.2.3 HUTCH_GIT_COMMIT=<hash> HUTCH_GIT_TREE_STATE=clean hack/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
TAGS="$(cat hack/tags)${2:+ $2}"
out="${1:-bin/hutch}"

pkg=hutch.dev/hutch/internal/version
commit="${HUTCH_GIT_COMMIT:-}"
state="${HUTCH_GIT_TREE_STATE:-}"
# Only this checkout's own git, not one of a directory above it.
if [ -z "$commit" ] && command -v git >/dev/null &&
	[ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	commit=$(git rev-parse HEAD 2>/dev/null || true)
	if [ -n "$commit" ] && [ -z "$state" ]; then
		# As Go's own vcs.modified: any change, untracked files included (not ignored ones).
		if [ -n "$(git status --porcelain 2>/dev/null)" ]; then state=dirty; else state=clean; fi
	fi
fi
ldflags="-X $pkg.GitCommit=$commit -X $pkg.GitTreeState=$state"
if [ -n "${HUTCH_VERSION:-}" ]; then
	ldflags+=" -X $pkg.Version=$HUTCH_VERSION"
fi
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	ldflags+=" -X $pkg.BuildTime=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
fi

CGO_ENABLED=1 go build -trimpath -tags "$TAGS" -ldflags "$ldflags" -o "$out" ./cmd/hutch
if ! go version -m "$out" | grep -q 'CGO_ENABLED=1'; then
	echo "build: $out was built without cgo; hutch needs cgo (install gcc and libc6-dev)" >&2
	exit 1
fi
echo "build: $out (commit ${commit:-unknown}${state:+, $state})"
