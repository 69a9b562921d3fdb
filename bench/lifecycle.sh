#!/usr/bin/env bash
# bench/lifecycle.sh: the life cycle of a detached container, hutch against podman
# (podman --runtime runc, native overlay), interleaved, every step timed on its own, as in
# section 2 of the anchors (/work/shared/notes/anchors-bench.md).
#
# Usage: sudo [RUNS=15] bench/lifecycle.sh     (or through bench/run.sh)
#
# Target (from the issue): the cycle (run -d + exec + stop + rm) at most 0.3x podman's.
# A missed target is reported, not an error: the script exits non-zero only when
# something fails.
#
# Scenarios (each engine has its own scratch store; the same busybox archive is loaded
# into both). One round is all of hutch's steps, then all of podman's:
#   run -d        `ENGINE run -d --network none --name bench-lc localhost/bb-lc sleep 1000`
#   exec          `ENGINE exec bench-lc true`
#   stop -t 0     `ENGINE stop -t 0 bench-lc` (-t 0: busybox sleep as PID 1 ignores SIGTERM)
#   rm            `ENGINE rm bench-lc`
#   cycle         the sum of the four steps of each round (min and median of the sums)
#   rm -f         `hutch rm -f bench-rmf` / `podman rm -f -t 0 bench-rmf` of a running
#                 container (started with `run -d ... sleep 1000`, untimed, after the
#                 previous round)
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

IMAGE=localhost/bb-lc:latest

bench_init
bench_engine_prepare hutch
bench_engine_prepare podman
bench_on_exit bench_rm_all_containers
bench_setup_image "$IMAGE" lc

t_hutch_rund() { hutch_timed run -d --network none --name bench-lc "$IMAGE" sleep 1000; }
t_podman_rund() { podman_timed run -d --network=none --name bench-lc "$IMAGE" sleep 1000; }
t_hutch_exec() { hutch_timed exec bench-lc true; }
t_podman_exec() { podman_timed exec bench-lc true; }
t_hutch_stop() { hutch_timed stop -t 0 bench-lc; }
t_podman_stop() { podman_timed stop -t 0 bench-lc; }
t_hutch_rm() { hutch_timed rm bench-lc; }
t_podman_rm() { podman_timed rm bench-lc; }

CYCLE_ROW="cycle: run -d + exec + stop + rm (sum of each round)"
bench_ab_cycle "$RUNS" "$CYCLE_ROW" \
	"run -d --network none bb sleep 1000" t_hutch_rund t_podman_rund \
	"exec CT true" t_hutch_exec t_podman_exec \
	"stop -t 0 CT" t_hutch_stop t_podman_stop \
	"rm CT" t_hutch_rm t_podman_rm

u_hutch_rund() { hutch_cmd run -d --network none --name bench-rmf "$IMAGE" sleep 1000; }
u_podman_rund() { podman_cmd run -d --network=none --name bench-rmf "$IMAGE" sleep 1000; }
t_hutch_rmf() { hutch_timed rm -f bench-rmf; }
t_podman_rmf() { podman_timed rm -f -t 0 bench-rmf; }

RMF_ROW="rm -f CT (running; podman: rm -f -t 0)"
bench_quiet u_hutch_rund || bench_die "hutch run -d failed"
bench_quiet u_podman_rund || bench_die "podman run -d failed"
bench_ab "$RMF_ROW" "$RUNS" t_hutch_rmf u_hutch_rund t_podman_rmf u_podman_rund
bench_quiet hutch_cmd rm -f bench-rmf || bench_die "hutch rm -f failed"
bench_quiet podman_cmd rm -f -t 0 bench-rmf || bench_die "podman rm -f failed"

bench_check_no_containers # every container was removed by the timed commands

echo
echo "## lifecycle: hutch vs podman --runtime runc (native overlay), interleaved"
echo
bench_machine | sed 's/^/    /'
printf '    %s\n' "$BENCH_DRIVERS"
echo
bench_table
echo
bench_target 'life cycle run -d + exec + stop -t 0 + rm (issue)' "$CYCLE_ROW" 0.3
