#!/usr/bin/env bash
# Installs, as root, what hutch and its tests need on a fresh Debian 12 machine, and
# gives /dev/fuse and /dev/net/tun the distribution's default mode (0666).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (sudo $0)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends)
# What a user of hutch needs (the same as Podman: an admin installs these once) …
runtime=(uidmap fuse-overlayfs slirp4netns)
# … what building it needs (cgo is mandatory; make for the Makefile) …
build=(gcc libc6-dev git ca-certificates make)
# … and what the tests, the demo and plain `go vet ./...` (no build tags) need: the
# registry tests run against Debian's docker-registry (with htpasswd from apache2-utils)
# and check interoperability with skopeo and podman (which needs runc on hybrid hosts);
# the build tests compress archives with bzip2, xz, zstd; bench/build.sh runs buildah; the
# security tests give the user's shell a session keyring with keyctl (keyutils) and a
# terminal with script (bsdutils); hack/test-install.sh renders the man pages (man-db,
# groff-base) and loads the completion scripts in bash (with bash-completion), zsh and fish;
# the full-disk tests put the store on a small ext4 file system (mkfs.ext4 from e2fsprogs,
# mounted through a loop device by mount).
tests=(busybox-static libgpgme-dev libbtrfs-dev util-linux bsdutils procps bzip2 xz-utils zstd
	docker-registry apache2-utils skopeo podman buildah runc keyutils
	man-db groff-base bash-completion zsh fish e2fsprogs mount)
missing=()
for p in "${runtime[@]}" "${build[@]}" "${tests[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	apt-get install "${apt_opts[@]}" "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
	echo "install-deps: Go is missing: install Go 1.26 into /usr/local/go" >&2
	exit 1
fi
# The linter hack/test.sh runs (.golangci.yml; docs/development.md#lint), at the version
# pinned here, built from the Go module proxy into /usr/local/bin (on PATH for hack/test.sh).
golangci_lint=2.15.0
if [ "$(/usr/local/bin/golangci-lint version --short 2>/dev/null)" != "$golangci_lint" ]; then
	echo "install-deps: installing golangci-lint v$golangci_lint (go install, a few minutes)"
	GOBIN=/usr/local/bin PATH="/usr/local/go/bin:$PATH" \
		go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$golangci_lint"
fi
# The distribution default is 0666; some machines ship 0600, which keeps unprivileged
# users from fuse-overlayfs and slirp4netns.
for dev in /dev/fuse /dev/net/tun; do
	[ -e "$dev" ] && chmod 0666 "$dev"
done
echo "install-deps: ok"
