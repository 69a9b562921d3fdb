#!/usr/bin/env bash
# bench/network.sh: networking, hutch against podman (--runtime runc, native overlay), both
# rootless with slirp4netns, interleaved, in one run.
#
# Usage: sudo [RUNS=15] [XFER_RUNS=5] [XFER_MIB=1024] bench/network.sh   (or through bench/run.sh)
#
# Targets (from the issue):
#   run --rm IMAGE true with the default network (slirp4netns): hutch/podman <= 0.25
#   a bulk TCP transfer (XFER_MIB MiB, default 1 GiB) from the host into a container through
#   a published port (-p 127.0.0.1:PORT:5000): hutch's throughput >= podman's, i.e. the
#   time ratio hutch/podman <= 1.0 (podman 4.3 forwards with rootlessport, hutch with
#   rootlesskit's builtin driver in hutch-port).
# A missed target is reported, not an error: the script exits non-zero only when something fails.
#
# The transfer: the container runs `nc -l -p 5000 | wc -c` (busybox); once it listens (checked
# with `ENGINE exec CT netstat -ltn`, untimed), the bench user's bash writes XFER_MIB MiB of
# zeros to /dev/tcp/127.0.0.1/PORT (timed: from the connect to the close), then the count
# the container printed is checked (untimed) and the container removed.
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

IMAGE=localhost/bb-net:latest
XFER_RUNS=${XFER_RUNS:-5}
XFER_MIB=${XFER_MIB:-1024}
XFER_BYTES=$((XFER_MIB * 1024 * 1024))

bench_init
bench_engine_prepare hutch
bench_engine_prepare podman
bench_on_exit bench_rm_all_containers
bench_setup_image "$IMAGE" net

t_hutch_run() { hutch_timed run --rm "$IMAGE" true; }
t_podman_run() { podman_timed run --rm "$IMAGE" true; }

# xfer ENGINE: start the receiver, wait until it listens, time the transfer, check the count.
xfer() {
	local engine=$1 port ns i out
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"${engine}_cmd" run -d --name bench-xfer -p "127.0.0.1:$port:5000" "$IMAGE" sh -c 'nc -l -p 5000 | wc -c' >/dev/null ||
		bench_die "$engine run -d of the receiver failed"
	for ((i = 0; i < 200; i++)); do
		"${engine}_cmd" exec bench-xfer netstat -ltn 2>/dev/null | grep -q ':5000 ' && break
		sleep 0.05
	done
	ns=$(bench_timed_as "$engine" bash -c "head -c $XFER_BYTES /dev/zero > /dev/tcp/127.0.0.1/$port") ||
		bench_die "$engine: the transfer to 127.0.0.1:$port failed"
	"${engine}_cmd" wait bench-xfer >/dev/null 2>&1
	out=$("${engine}_cmd" logs bench-xfer 2>&1 | tr -d ' \n')
	"${engine}_cmd" rm -f bench-xfer >/dev/null 2>&1
	[ "$out" = "$XFER_BYTES" ] || bench_die "$engine: the container received '$out' bytes, not $XFER_BYTES"
	echo "$ns"
}
t_hutch_xfer() { xfer hutch; }
t_podman_xfer() { xfer podman; }

RUN_ROW="run --rm bb true (default network: slirp4netns)"
XFER_ROW="$XFER_MIB MiB host -> container through -p (TCP)"
bench_ab "$RUN_ROW" "$RUNS" t_hutch_run "" t_podman_run ""
bench_ab "$XFER_ROW" "$XFER_RUNS" t_hutch_xfer "" t_podman_xfer ""

bench_check_no_containers

echo
echo "## network: hutch vs podman --runtime runc (native overlay), both on slirp4netns, interleaved"
echo
bench_machine | sed 's/^/    /'
printf '    %s\n' "$BENCH_DRIVERS"
printf '    slirp4netns: %s\n' "$(slirp4netns --version 2>/dev/null | head -1)"
echo
bench_table
echo
bench_row_figures "$XFER_ROW" | awk -v mib="$XFER_MIB" '{
	printf "throughput (MiB/s, from the min / median time): hutch %.0f / %.0f, podman %.0f / %.0f\n",
		mib / ($1 / 1000), mib / ($2 / 1000), mib / ($3 / 1000), mib / ($4 / 1000) }'
echo
bench_target 'run --rm bb true, default network (issue)' "$RUN_ROW" 0.25
bench_target 'TCP transfer through -p: time, i.e. throughput >= podman (issue)' "$XFER_ROW" 1.0
