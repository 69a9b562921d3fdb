#!/usr/bin/env bash
# bench/images-load.sh: `hutch images` and `hutch load` against `podman images` and
# `podman load` (podman --runtime runc, native overlay), interleaved, in one run.
#
# Usage: sudo [RUNS=15] bench/images-load.sh     (or through bench/run.sh)
#
# Target: `hutch images` no slower than `podman images`. A missed target is reported,
# not an error: the script exits non-zero only when something fails.
#
# Scenarios (each engine has its own scratch store; the same archive files go to both):
#   images        `ENGINE images` with 3 different busybox images in the store
#   load -i       `ENGINE load -i bb-load.tar`: a 4th busybox image, new to the store
#                 (its layer is not shared with the 3 others); after every run it is
#                 removed again with `ENGINE rmi` (untimed), so every load does the full work
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_init
bench_engine_prepare hutch
bench_engine_prepare podman

ASSETS=$BENCH_SCRATCH/assets
install -d -m 0755 "$ASSETS"
for v in 1 2 3 load; do
	[ -s "$ASSETS/bb-$v.tar" ] || bench_make_bb_archive "$ASSETS/bb-$v.tar" "localhost/bb-$v:latest" "$v"
done
bench_log "archives: $(du -k "$ASSETS/bb-load.tar" | cut -f1) KiB each, in $ASSETS"

# Start from empty stores, so that a re-run in a kept scratch folder measures the same thing.
for v in 1 2 3 load; do
	hutch_cmd rmi -f "localhost/bb-$v:latest" >/dev/null 2>&1
	podman_cmd rmi -f "localhost/bb-$v:latest" >/dev/null 2>&1
done
for v in 1 2 3; do
	bench_quiet hutch_cmd load -i "$ASSETS/bb-$v.tar" || bench_die "hutch load -i bb-$v.tar failed"
	bench_quiet podman_cmd load -i "$ASSETS/bb-$v.tar" || bench_die "podman load -i bb-$v.tar failed"
done

# Check what the engines set up: native overlay on both, 3 images each.
hdriver=$(hutch_cmd info --format '{{.Store.Driver.Name}}') || bench_die "hutch info failed"
pdriver=$(podman_cmd info --format '{{.Store.GraphDriverName}} (native overlay diff: {{index .Store.GraphStatus "Native Overlay Diff"}})') ||
	bench_die "podman info failed"
bench_log "hutch storage driver: $hdriver; podman storage driver: $pdriver"
case $hdriver in overlay*) ;; *) bench_log "WARNING: hutch is not on overlay ($hdriver): see \`hutch info\`" ;; esac
nh=$(hutch_cmd images -q | wc -l)
np=$(podman_cmd images -q | wc -l)
if [ "$nh" != 3 ] || [ "$np" != 3 ]; then
	bench_die "expected 3 images in each store, got hutch $nh, podman $np"
fi

t_hutch_images() { hutch_timed images; }
t_podman_images() { podman_timed images; }
t_hutch_load() { hutch_timed load -i "$ASSETS/bb-load.tar"; }
t_podman_load() { podman_timed load -i "$ASSETS/bb-load.tar"; }
u_hutch_rmi() { hutch_cmd rmi localhost/bb-load:latest; }
u_podman_rmi() { podman_cmd rmi localhost/bb-load:latest; }

bench_ab "images (3 images in store)" "$RUNS" t_hutch_images "" t_podman_images ""
bench_ab "load -i ARCHIVE ($(du -k "$ASSETS/bb-load.tar" | awk '{ printf "%.1f", $1 / 1024 }') MiB busybox, new image; rmi between runs)" "$RUNS" \
	t_hutch_load u_hutch_rmi t_podman_load u_podman_rmi

# The stores must be back where they started: 3 images, nothing left behind by load/rmi.
nh=$(hutch_cmd images -q | wc -l)
np=$(podman_cmd images -q | wc -l)
if [ "$nh" != 3 ] || [ "$np" != 3 ]; then
	bench_die "after the runs: expected 3 images in each store, got hutch $nh, podman $np"
fi

echo
echo "## images-load: hutch vs podman --runtime runc (native overlay), interleaved"
echo
bench_machine | sed 's/^/    /'
printf '    hutch storage: %s; podman storage: %s\n' "$hdriver" "$pdriver"
echo
bench_table
echo
# The target, as a line of its own: median of `images` no slower than podman's.
awk -v r="${BENCH_ROWS[0]}" 'BEGIN { split(r, f, "|"); split(f[2], a, " "); split(f[3], b, " ")
	printf "target `hutch images` <= `podman images` (median): %s (%.1f vs %.1f ms)\n",
		(a[2] <= b[2] ? "met" : "MISSED"), a[2], b[2] }'
