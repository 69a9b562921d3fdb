#!/usr/bin/env bash
# Runs all of hutch's tests: vet, the linter (.golangci.yml), the unit tests beside the code,
# and the system tests in tests/, which drive the built binary as unprivileged test users
# that they create.
# Run as root on a machine prepared by hack/install-deps.sh:
#   sudo hack/install-deps.sh && sudo hack/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
	echo "test: run as root (sudo $0): the system tests create unprivileged test users" >&2
	exit 1
fi
TAGS="$(cat hack/tags)"
start=$(date +%s)

hack/build.sh bin/hutch
# The test users must be able to execute the binary wherever the checkout is.
bindir=$(mktemp -d /tmp/hutch-bin.XXXXXX)
trap 'rm -rf "$bindir"' EXIT
install -m 0755 bin/hutch "$bindir/hutch"
chmod 0755 "$bindir"

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$unformatted" ]; then
	echo "test: not gofmt-formatted (run gofmt -w on them): $unformatted" >&2
	exit 1
fi
go vet -tags "$TAGS" ./...

echo "== golangci-lint (.golangci.yml: the default set, errorlint, forbidigo, errcheck)"
if ! command -v golangci-lint >/dev/null; then
	echo "test: golangci-lint is missing: run sudo hack/install-deps.sh (it installs the pinned version)" >&2
	exit 1
fi
golangci-lint run --allow-parallel-runners ./...

echo "== NOTICE is current, make install (man pages, completions)"
hack/notice.sh --check
hack/test-install.sh

echo "== unit tests"
go test -tags "$TAGS" -count=1 $(go list -tags "$TAGS" ./... | grep -v '/tests$')

echo "== system tests (as unprivileged users)"
log=/tmp/hutch-system-tests.log
set +e
HUTCH_BIN="$bindir/hutch" go test -tags "$TAGS" -count=1 -timeout 45m -v ./tests/ 2>&1 | tee "$log" |
	grep --line-buffered -E '^(--- |PASS$|FAIL|ok |panic)'
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
	echo "system tests failed; the whole log is /tmp/hutch-system-tests.log:" >&2
	grep -B2 -A30 -- '--- FAIL' "$log" | head -200 >&2 || true
	exit "$status"
fi

echo "== cgroup v2 VM tests (limits, in qemu: tests/cgroupvm, docs/cgroup-vm.md)"
hack/test-cgroupvm.sh "$bindir/hutch"

echo "test: all passed in $(( $(date +%s) - start )) s"
