#!/usr/bin/env bash
# Runs the cgroup v2 VM tests (tests/cgroupvm, docs/cgroup-vm.md): installs qemu and the
# Debian cloud kernel if needed (idempotent), boots the VM once, runs every limit check
# there as uid 1000 with the real hutch binary. Any failure, including a missing qemu,
# fails this script. Run as root:
#   sudo hack/test-cgroupvm.sh [HUTCH_BINARY]     (default: builds bin/hutch)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
	echo "test-cgroupvm: run as root (sudo $0): the VM's initramfs holds a setuid-root newuidmap" >&2
	exit 1
fi
TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs"
t0=$(date +%s.%N)
if ! tests/cgroupvm/cgvm.sh setup; then
	echo "test-cgroupvm: setting up qemu and the kernel failed (see above): the cgroup v2 VM tests cannot run" >&2
	exit 1
fi
t1=$(date +%s.%N)
bin=${1:-}
if [ -z "$bin" ]; then
	hack/build.sh bin/hutch
	bin=bin/hutch
fi
go vet -tags "cgroupvm $TAGS" ./tests/cgroupvm/...
HUTCH_BIN=$(readlink -f "$bin") go test -tags "cgroupvm $TAGS" -count=1 -timeout 15m -v ./tests/cgroupvm/
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{printf "test-cgroupvm: passed; setup %.1f s, build + boot + checks %.1f s\n", b-a, c-b}'
