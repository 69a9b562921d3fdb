#!/usr/bin/env bash
# bench/run.sh: run the hutch benchmarks (hutch against podman, side by side).
#
# Usage: sudo bench/run.sh [SCRIPT...]
#
#   SCRIPT      bench scripts to run, by name (images-load or images-load.sh);
#               default: every bench/*.sh except lib.sh and run.sh, in name order
#
# Settings (environment; sudo keeps them when written after it: sudo RUNS=30 bench/run.sh):
#   RUNS=15           timed runs per scenario and engine, after one untimed warm-up
#   HUTCH=PATH        test this hutch binary instead of building one from this checkout
#   BENCH_OUT=FILE    also append the result tables to FILE
#   BENCH_RAW=1       also log every sample, in run order (to see drift and outliers)
#   BENCH_KEEP=1      keep the scratch folder (stores, archives, binary) for a look afterwards
#   BENCH_USER=NAME   the unprivileged user the engines run as (default hutch-bench; made if missing)
#   BENCH_TMPDIR=DIR  where the scratch folder goes (default /var/tmp)
#
# What it does: makes the bench user if needed, makes one scratch folder
# (BENCH_TMPDIR/hbench.XXXXXX), builds hutch into it with hack/build.sh (never into
# bin/), and runs each script with a folder of its own inside it. Every engine command
# runs as the bench user against scratch stores only; the user's own stores and any
# other podman or hutch on the machine are not touched.
# At the end (also on Ctrl-C or an error) it stops the podman pause processes that its
# own commands started, found by the pid files in its scratch folder (never by name),
# and deletes the scratch folder. So it is safe to run again; two runs at once share no
# state (but their timings disturb each other).
# Exit status: 0 when every script ran; 1 when one failed. A missed target is not a failure.
set -u -o pipefail
case ${1:-} in -h | --help)
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

scripts=()
if [ $# -gt 0 ]; then
	for s in "$@"; do
		s=${s%.sh}
		s=$BENCH_DIR/${s##*/}.sh
		[ -f "$s" ] || bench_die "no bench script $s (see: ls $BENCH_DIR)"
		scripts+=("$s")
	done
else
	for s in "$BENCH_DIR"/*.sh; do
		case ${s##*/} in lib.sh | run.sh) continue ;; esac
		scripts+=("$s")
	done
fi
[ ${#scripts[@]} -gt 0 ] || bench_die "no bench scripts in $BENCH_DIR"

bench_init
stale=$(find "$BENCH_TMPDIR" -maxdepth 1 -name 'hbench.*' ! -path "$BENCH_SCRATCH" -mmin +120 2>/dev/null | head -3)
[ -z "$stale" ] || bench_log "note: old scratch folders from interrupted runs (not touched): ${stale//$'\n'/ }"
bench_log "scratch: $BENCH_SCRATCH; hutch: $HUTCH; RUNS=$RUNS"

failed=()
for s in "${scripts[@]}"; do
	name=${s##*/}
	name=${name%.sh}
	bench_log "=== $name"
	if [ -n "${BENCH_OUT:-}" ]; then
		BENCH_SCRATCH=$BENCH_SCRATCH/$name bash "$s" | tee -a "$BENCH_OUT"
	else
		BENCH_SCRATCH=$BENCH_SCRATCH/$name bash "$s"
	fi || failed+=("$name")
done

if [ ${#failed[@]} -gt 0 ]; then
	bench_log "FAILED: ${failed[*]}"
	exit 1
fi
bench_log "done: ${#scripts[@]} script(s)"
