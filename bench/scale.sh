#!/usr/bin/env bash
# bench/scale.sh: listing a big store. `ps -a` with SCALE_CONTAINERS containers and
# `images` with SCALE_IMAGES images, hutch against podman (--runtime runc, native
# overlay), interleaved, as the unprivileged bench user, each engine with a scratch store
# of its own; and `create` with that many containers in the store.
#
# Usage: sudo [RUNS=15] [SCALE_CONTAINERS=1000] [SCALE_IMAGES=500] bench/scale.sh
#
# Set-up (untimed; it takes a while: one create and one import per container and image,
# in each engine): the busybox image, then SCALE_CONTAINERS containers made with
# `create --network none bb true`, and SCALE_IMAGES images imported from one tiny tar with
# `import --change "LABEL n=I"` (each a different image). Then, interleaved:
#   ps -a            every container, the default table
#   ps -a -q         every container's ID
#   images           every image, the default table
#   create           one more container (removed after each run, untimed)
# Nothing here should grow faster than the number of containers or images (a listing
# reads each record once; hutch writes its tables through one buffer).
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SCALE_CONTAINERS=${SCALE_CONTAINERS:-1000}
SCALE_IMAGES=${SCALE_IMAGES:-500}

bench_init
bench_engine_prepare hutch
bench_engine_prepare podman
bench_on_exit bench_rm_all_containers
bench_setup_image localhost/bb:latest plain

TINY=$BENCH_SCRATCH/assets/tiny.tar
install -d -m 0755 "$BENCH_SCRATCH/assets/tiny"
echo tiny >"$BENCH_SCRATCH/assets/tiny/hello"
tar -C "$BENCH_SCRATCH/assets/tiny" -cf "$TINY" . && chmod 0644 "$TINY" || bench_die "making $TINY failed"

bench_log "making $SCALE_CONTAINERS containers and $SCALE_IMAGES images in each store (untimed)"
for e in hutch podman; do
	if [ "$e" = hutch ]; then engine=("$HUTCH"); else mapfile -t engine < <(podman_args); fi
	# One shell per engine: the set-up is thousands of commands.
	bench_as "$e" env N="$SCALE_CONTAINERS" M="$SCALE_IMAGES" TINY="$TINY" bash -c '
		for ((i = 0; i < N; i++)); do "$@" create --network none localhost/bb:latest true >/dev/null || exit 1; done
		for ((i = 0; i < M; i++)); do "$@" import --change "LABEL n=$i" "$TINY" "localhost/scale$i" >/dev/null || exit 1; done
	' scale "${engine[@]}" || bench_die "$e: making the containers and images failed"
done
n=$(hutch_cmd ps -aq | wc -l)
[ "$n" = "$SCALE_CONTAINERS" ] || bench_die "hutch lists $n containers, want $SCALE_CONTAINERS"
n=$(podman_cmd ps -aq | wc -l)
[ "$n" = "$SCALE_CONTAINERS" ] || bench_die "podman lists $n containers, want $SCALE_CONTAINERS"

h_ps() { hutch_timed ps -a; }
p_ps() { podman_timed ps -a; }
h_psq() { hutch_timed ps -a -q; }
p_psq() { podman_timed ps -a -q; }
h_images() { hutch_timed images; }
p_images() { podman_timed images; }
h_create() { hutch_timed create --name scale-extra --network none localhost/bb:latest true; }
p_create() { podman_timed create --name scale-extra --network none localhost/bb:latest true; }
h_rm_extra() { hutch_cmd rm scale-extra; }
p_rm_extra() { podman_cmd rm scale-extra; }

bench_ab "ps -a ($SCALE_CONTAINERS containers)" "$RUNS" h_ps "" p_ps ""
bench_ab "ps -a -q ($SCALE_CONTAINERS containers)" "$RUNS" h_psq "" p_psq ""
bench_ab "images ($SCALE_IMAGES images + bb)" "$RUNS" h_images "" p_images ""
bench_ab "create with $SCALE_CONTAINERS containers in the store" "$RUNS" h_create h_rm_extra p_create p_rm_extra

echo
echo "## scale: a store of $SCALE_CONTAINERS containers and $SCALE_IMAGES images, hutch vs podman (--runtime runc, native overlay), interleaved"
echo
bench_machine | sed 's/^/    /'
printf '    %s\n' "$BENCH_DRIVERS"
echo
bench_table
