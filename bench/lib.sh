# shellcheck shell=bash
# bench/lib.sh: helpers shared by the hutch benchmarks. Source it; do not run it.
#
# The bench scripts run as root, but every engine command runs as an unprivileged
# bench user (BENCH_USER, default hutch-bench), with a clean environment and its own
# scratch store per engine, so hutch and podman never share or inherit state.
#
# What is here:
#   bench_init              root check, bench user, scratch folder, hutch binary, cleanup trap
#   bench_user_ensure       make the bench user (useradd -m gives it a subuid/subgid range)
#   bench_make_bb_archive   a FROM-scratch busybox image as a docker-archive, built on the spot
#   hutch_cmd / podman_cmd  run an engine command as the bench user (untimed)
#   hutch_timed / podman_timed   the same, printing the wall time of the engine process in ns
#   bench_time              run one command N times after one untimed warm-up: min and median
#   bench_ab                the interleaved A/B runner (A, B, A, B, ...): min and median of each
#   bench_ab_cycle          the same for a sequence of dependent steps (run -d, exec, stop, rm),
#                           each timed on its own, plus the per-round sum
#   bench_row / bench_table the result table, with the hutch/podman ratios
#   bench_target            one line: does a row meet a hutch/podman ratio?
#   bench_setup_image       make a busybox archive and load that same file into both stores
#   bench_on_exit           clean-up hooks (e.g. bench_rm_all_containers) run by the EXIT trap
#   bench_is_ours / bench_user_pids   the bench user's processes that this run started
#
# Settings (environment):
#   RUNS           timed runs per scenario and engine (default 15); one untimed warm-up comes first
#   BENCH_USER     the unprivileged user the engines run as (default hutch-bench)
#   HUTCH          a hutch binary to use (default: built from this checkout into the scratch folder)
#   BENCH_TMPDIR   where the scratch folder is made (default /var/tmp: on disk, like the stores of a user)
#   BENCH_KEEP=1   keep the scratch folder at the end (its path is printed)
#   PODMAN         the podman binary (default podman); it always runs as `podman --runtime runc`
#   BENCH_RAW=1    also log every sample (ms, in run order) of every scenario on stderr

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${RUNS:-15}
BENCH_USER=${BENCH_USER:-hutch-bench}
BENCH_TMPDIR=${BENCH_TMPDIR:-/var/tmp}
PODMAN=${PODMAN:-podman}
BUSYBOX=${BUSYBOX:-/bin/busybox}
HUTCH_BUILD_TAGS='containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs'

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Set-up and clean-up

bench_user_ensure() {
	if ! id -u "$BENCH_USER" >/dev/null 2>&1; then
		bench_log "creating user $BENCH_USER (useradd -m)"
		useradd -m -s /bin/bash "$BENCH_USER" || bench_die "useradd $BENCH_USER failed"
	fi
	BENCH_UID=$(id -u "$BENCH_USER")
	BENCH_GID=$(id -g "$BENCH_USER")
	BENCH_HOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
	grep -q "^$BENCH_USER:" /etc/subuid || grep -q "^$BENCH_UID:" /etc/subuid ||
		bench_die "$BENCH_USER has no range in /etc/subuid: run \`usermod --add-subuids 300000-365535 $BENCH_USER\` (and --add-subgids)"
	grep -q "^$BENCH_USER:" /etc/subgid || grep -q "^$BENCH_UID:" /etc/subgid ||
		bench_die "$BENCH_USER has no range in /etc/subgid: run \`usermod --add-subgids 300000-365535 $BENCH_USER\`"
}

# bench_user_dir PATH...: make folders that belong to the bench user, mode 0700.
bench_user_dir() {
	install -d -m 0700 -o "$BENCH_UID" -g "$BENCH_GID" "$@"
}

# bench_init: everything a bench script needs. Run alone, a script makes its own scratch
# folder (and builds hutch into it) and deletes it at the end. Under run.sh it gets a
# folder of run.sh's scratch (BENCH_SCRATCH) and run.sh's hutch (HUTCH), and run.sh
# deletes them. Either way, when the script exits, it runs its clean-up hooks
# (bench_on_exit), stops the podman pause process its commands started, and stops (with a
# warning) any other process of this run that the engines left running.
bench_init() {
	[ "$(id -u)" = 0 ] || bench_die "run as root (sudo $0): the script makes a bench user and runs the engines as that user"
	command -v runuser >/dev/null || bench_die "runuser (util-linux) is missing"
	command -v "$PODMAN" >/dev/null || bench_die "$PODMAN not found"
	[ -x "$BUSYBOX" ] || bench_die "$BUSYBOX not found: install busybox-static"
	bench_user_ensure
	BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	if [ -z "${BENCH_SCRATCH:-}" ]; then
		BENCH_SCRATCH=$(mktemp -d "$BENCH_TMPDIR/hbench.XXXXXX") || bench_die "mktemp failed"
		BENCH_OWN_SCRATCH=1
	else
		install -d -m 0755 "$BENCH_SCRATCH" || bench_die "cannot make $BENCH_SCRATCH"
	fi
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	chmod 0755 "$BENCH_SCRATCH"
	export BENCH_USER RUNS
	bench_timer_select
	if [ -z "${HUTCH:-}" ]; then
		bench_build_hutch "$BENCH_SCRATCH/bin/hutch"
		HUTCH=$BENCH_SCRATCH/bin/hutch
	fi
	[ -x "$HUTCH" ] || bench_die "HUTCH=$HUTCH is not executable"
	runuser -u "$BENCH_USER" -- test -x "$HUTCH" ||
		bench_die "$BENCH_USER cannot run $HUTCH: put it where the user can read it (mode 0755 folders)"
	export HUTCH
}

# bench_build_hutch OUT: build hutch from this checkout with hack/build.sh (cgo on, the
# build tags, the cgo check) into OUT, never into bin/ (others build there).
bench_build_hutch() {
	local out=$1
	install -d -m 0755 "$(dirname "$out")"
	bench_log "building hutch -> $out"
	if [ -x "$REPO_DIR/hack/build.sh" ]; then
		"$REPO_DIR/hack/build.sh" "$out" >/dev/null || bench_die "hack/build.sh failed (or set HUTCH=/path/to/hutch)"
	else
		(cd "$REPO_DIR" && PATH="/usr/local/go/bin:$PATH" CGO_ENABLED=1 go build -tags "$HUTCH_BUILD_TAGS" -o "$out" ./cmd/hutch) ||
			bench_die "go build failed (or set HUTCH=/path/to/hutch)"
	fi
	chmod 0755 "$out"
	BENCH_HUTCH_SRC=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null) || BENCH_HUTCH_SRC=unknown
	if [ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		BENCH_HUTCH_SRC="$BENCH_HUTCH_SRC + uncommitted changes"
	fi
	export BENCH_HUTCH_SRC
}

# bench_stop_pause DIR: stop the rootless podman pause processes (catatonit -P) that
# commands run by this benchmark started. They are found by the pid files in the private
# XDG_RUNTIME_DIRs under DIR, and only stopped when they belong to the bench user.
# Nothing is ever stopped by name.
bench_stop_pause() {
	local pidfile pid i
	while IFS= read -r -d '' pidfile; do
		pid=$(cat "$pidfile" 2>/dev/null)
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$BENCH_UID" ] || continue
		kill "$pid" 2>/dev/null || continue
		for ((i = 0; i < 40; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
		bench_log "stopped podman's pause process $pid (started by this run)"
	done < <(find "$1" -maxdepth 6 -path '*/run/libpod/tmp/pause.pid' -print0 2>/dev/null)
}

# bench_stop_holder DIR: stop hutch's holders of the kept user namespace (hutch-holder)
# that commands run by this benchmark started. They are found by their files
# (RUNTIME_DIR/holder, second line "pid PID ...") under DIR, and only stopped when they
# belong to the bench user and are named hutch-holder. Nothing is ever stopped by name.
bench_stop_holder() {
	local file pid i
	while IFS= read -r -d '' file; do
		pid=$(sed -n '2s/^pid \([0-9]*\) .*/\1/p' "$file" 2>/dev/null)
		case $pid in '' | *[!0-9]*) continue ;; esac
		bench_stray_alive "$pid" || continue # gone (or a zombie: stopped already)
		[ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$BENCH_UID" ] || continue
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = hutch-holder ] || continue
		kill "$pid" 2>/dev/null || continue
		for ((i = 0; i < 40; i++)); do bench_stray_alive "$pid" || break; sleep 0.05; done
		bench_log "stopped hutch's holder $pid (started by this run)"
	done < <(find "$1" -maxdepth 6 -name holder -path '*/hutch*/holder' -print0 2>/dev/null)
}

# bench_on_exit FN: have bench_cleanup call FN first (e.g. to remove the containers a script
# started, through the engines). Hooks run in the order they were added; a failing hook
# is logged, and the clean-up goes on.
BENCH_EXIT_HOOKS=()
bench_on_exit() { BENCH_EXIT_HOOKS+=("$1"); }

# bench_user_pids: the PIDs of every live process of the bench user (zombies left out), one
# a line, read from /proc (ps -u would also list the bench user's processes of other runs:
# bench_is_ours tells them apart).
bench_user_pids() {
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$(stat -c %u "$d" 2>/dev/null)" = "$BENCH_UID" ] || continue
		case $(bench_proc_state "$pid") in Z | X | '') continue ;; esac
		echo "$pid"
	done
}

bench_proc_state() { # PID: its state letter (R, S, Z, ...), empty when gone
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	echo "${st%% *}"
}

bench_proc_ppid() { # PID: its parent's PID, empty when gone
	awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# bench_is_ours PID [ENGINE]: true when PID was started by this run (by ENGINE's commands,
# when given): its environment names the scratch folder (every engine command runs with
# XDG_RUNTIME_DIR=SCRATCH/ENGINE/run, and the engines' helpers inherit it: hutch-monitor,
# conmon, catatonit), or one of its ancestors' does (a container's own processes get the
# image's environment, not ours).
bench_is_ours() {
	local pid=$1 i
	for ((i = 0; i < 32; i++)); do
		case $pid in '' | 0 | 1) return 1 ;; esac
		grep -qzF "XDG_RUNTIME_DIR=$BENCH_SCRATCH/${2:+$2/}" "/proc/$pid/environ" 2>/dev/null && return 0
		pid=$(bench_proc_ppid "$pid")
	done
	return 1
}

# bench_stop_strays: the last check of bench_cleanup, after the hooks and the pause process.
# A process of the bench user that this run started and that is still alive 2 s later
# (podman's exit command, `podman container cleanup`, may still be finishing) is one the
# engines left behind: it is logged (a finding to report), then stopped by its PID (TERM,
# then KILL after 2 s more).
bench_stop_strays() {
	local pid strays i
	for ((i = 0; i < 40; i++)); do
		strays=()
		for pid in $(bench_user_pids); do
			bench_is_ours "$pid" && strays+=("$pid")
		done
		[ ${#strays[@]} -gt 0 ] || return 0
		sleep 0.05
	done
	for pid in "${strays[@]}"; do
		bench_log "WARNING: left behind by the engines: pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120); stopping it"
		kill "$pid" 2>/dev/null
	done
	for ((i = 0; i < 40; i++)); do
		bench_stray_alive "${strays[@]}" || return 0
		sleep 0.05
	done
	for pid in "${strays[@]}"; do
		bench_stray_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

bench_stray_alive() { # PID...: true when one of them is alive (not gone, not a zombie)
	local pid
	for pid in "$@"; do
		case $(bench_proc_state "$pid") in Z | X | '') ;; *) return 0 ;; esac
	done
	return 1
}

# bench_cleanup: the EXIT trap. Runs the hooks (bench_on_exit), stops our pause processes
# and hutch holders and anything else of ours the engines left running, then deletes the scratch folder if
# this script made it (kept with BENCH_KEEP=1).
bench_cleanup() {
	local rc=$? hook
	[ -d "${BENCH_SCRATCH:-}" ] || return "$rc"
	for hook in "${BENCH_EXIT_HOOKS[@]}"; do
		"$hook" || bench_log "clean-up step $hook failed"
	done
	bench_stop_pause "$BENCH_SCRATCH"
	bench_stop_holder "$BENCH_SCRATCH"
	bench_stop_strays
	if [ "${BENCH_OWN_SCRATCH:-}" = 1 ]; then
		if [ "${BENCH_KEEP:-}" = 1 ]; then
			bench_log "keeping $BENCH_SCRATCH (BENCH_KEEP=1)"
		else
			rm -rf --one-file-system "$BENCH_SCRATCH"
		fi
	fi
	return "$rc"
}

# ---------------------------------------------------------------------------------------
# Running the engines as the bench user
#
# Each engine gets a folder under the scratch: SCRATCH/ENGINE/{data,config,cache,run,...}.
# hutch finds its store through XDG_DATA_HOME (store: $XDG_DATA_HOME/hutch/storage) and its
# run root through XDG_RUNTIME_DIR. podman gets --root/--runroot flags for native overlay
# (as in the anchors); its XDG_RUNTIME_DIR is also private so its pause process's pid file
# lands in the scratch folder, where bench_cleanup finds it.

bench_engine_env() { # ENGINE: prints the env -i arguments, one a line
	local d=$BENCH_SCRATCH/$1
	printf '%s\n' "HOME=$BENCH_HOME" "USER=$BENCH_USER" "LOGNAME=$BENCH_USER" \
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" "LANG=C.UTF-8" \
		"XDG_DATA_HOME=$d/data" "XDG_CONFIG_HOME=$d/config" "XDG_CACHE_HOME=$d/cache" \
		"XDG_RUNTIME_DIR=$d/run" "TMPDIR=$d/tmp"
}

bench_engine_prepare() { # ENGINE: make its private folders (idempotent)
	local d=$BENCH_SCRATCH/$1
	install -d -m 0755 "$d"
	chown "$BENCH_UID:$BENCH_GID" "$d"
	bench_user_dir "$d/data" "$d/config" "$d/cache" "$d/run" "$d/tmp"
	if [ "$1" = podman ]; then
		# podman refuses a run root longer than 50 characters.
		[ ${#d} -le 47 ] || bench_die "podman's run root $d/rr would be longer than 50 characters: set a shorter BENCH_TMPDIR"
		bench_user_dir "$d/root" "$d/rr"
	fi
}

# bench_as ENGINE CMD...: run CMD as the bench user with ENGINE's environment, in its folder.
bench_as() {
	local engine=$1 env_args
	shift
	mapfile -t env_args < <(bench_engine_env "$engine")
	runuser -u "$BENCH_USER" -- env -i -C "$BENCH_SCRATCH/$engine" "${env_args[@]}" "$@"
}

podman_args() {
	printf '%s\n' "$PODMAN" --runtime runc --root "$BENCH_SCRATCH/podman/root" \
		--runroot "$BENCH_SCRATCH/podman/rr" --storage-driver overlay
}

# bench_quiet CMD...: run CMD with its output kept aside; show it only when CMD fails.
bench_quiet() {
	local log rc
	log=$(mktemp "$BENCH_SCRATCH/quiet.XXXXXX")
	"$@" >"$log" 2>&1
	rc=$?
	[ "$rc" = 0 ] || cat "$log" >&2
	rm -f "$log"
	return "$rc"
}

hutch_cmd() { bench_as hutch "$HUTCH" "$@"; }
podman_cmd() {
	local p
	mapfile -t p < <(podman_args)
	bench_as podman "${p[@]}" "$@"
}

# bench_setup_image REF VARIANT: make the busybox archive VARIANT (bench_make_bb_archive)
# and load that same file into both engines' stores as REF (after removing any REF there),
# then check that both stores are on native overlay. Sets BENCH_DRIVERS (for the report).
bench_setup_image() {
	local ref=$1 variant=$2 assets=$BENCH_SCRATCH/assets hdriver pdriver
	install -d -m 0755 "$assets"
	[ -s "$assets/bb-$variant.tar" ] || bench_make_bb_archive "$assets/bb-$variant.tar" "$ref" "$variant"
	hutch_cmd rmi -f "$ref" >/dev/null 2>&1
	podman_cmd rmi -f "$ref" >/dev/null 2>&1
	bench_quiet hutch_cmd load -i "$assets/bb-$variant.tar" || bench_die "hutch load -i bb-$variant.tar failed"
	bench_quiet podman_cmd load -i "$assets/bb-$variant.tar" || bench_die "podman load -i bb-$variant.tar failed"
	hdriver=$(hutch_cmd info --format '{{.Store.Driver.Name}}') || bench_die "hutch info failed"
	pdriver=$(podman_cmd info --format '{{.Store.GraphDriverName}} (native overlay diff: {{index .Store.GraphStatus "Native Overlay Diff"}})') ||
		bench_die "podman info failed"
	case $hdriver in overlay*) ;; *) bench_log "WARNING: hutch is not on overlay ($hdriver): see \`hutch info\`" ;; esac
	case $pdriver in *'diff: true)') ;; *) bench_log "WARNING: podman is not on native overlay: $pdriver" ;; esac
	BENCH_DRIVERS="hutch storage: $hdriver; podman storage: $pdriver"
	bench_log "$ref loaded into both stores from $assets/bb-$variant.tar ($(du -k "$assets/bb-$variant.tar" | cut -f1) KiB); $BENCH_DRIVERS"
}

# bench_rm_all_containers: remove every container of both scratch stores (the stores are
# this run's own, so nothing else lives there). For bench_on_exit.
bench_rm_all_containers() {
	local ids
	if [ -d "$BENCH_SCRATCH/hutch/data/hutch" ]; then
		ids=$(hutch_cmd ps -aq 2>/dev/null)
		# shellcheck disable=SC2086 # one word per ID
		[ -z "$ids" ] || bench_quiet hutch_cmd rm -f $ids || bench_log "hutch rm -f failed for: $ids"
	fi
	if [ -d "$BENCH_SCRATCH/podman/root/overlay-containers" ]; then
		ids=$(podman_cmd ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$ids" ] || bench_quiet podman_cmd rm -f -t 0 $ids || bench_log "podman rm -f failed for: $ids"
	fi
	return 0
}

# bench_check_no_containers: log a warning when either store still holds a container.
bench_check_no_containers() {
	local nh np
	nh=$(hutch_cmd ps -aq | wc -l)
	np=$(podman_cmd ps -aq | wc -l)
	if [ "$nh" != 0 ] || [ "$np" != 0 ]; then
		bench_log "WARNING: containers left after the runs: hutch $nh, podman $np"
	fi
}

# ---------------------------------------------------------------------------------------
# Timing
#
# The clock is read as the bench user, right around the engine process: runuser and env
# start before the clock and are not timed. With perl's Time::HiRes (Debian's perl), the
# timer forks and execs the command itself and reads CLOCK_MONOTONIC in nanoseconds, so
# the only overhead inside the window is one fork. Without it, bash reads `date +%s%N`
# (nanosecond wall clock; the date processes add about 1-2 ms to every sample).
# The command's stdout goes to /dev/null, its stderr to the caller's stderr. The timer
# prints the elapsed nanoseconds and exits with the command's status.

# shellcheck disable=SC2016 # perl code, expanded by perl
BENCH_PERL_TIMER='
use strict; use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
my $t0 = clock_gettime(CLOCK_MONOTONIC);
my $pid = fork(); die "fork: $!" unless defined $pid;
if ($pid == 0) { open(STDOUT, ">", "/dev/null") or die; exec { $ARGV[0] } @ARGV; print STDERR "exec $ARGV[0]: $!\n"; exit 127; }
waitpid($pid, 0); my $st = $?;
my $t1 = clock_gettime(CLOCK_MONOTONIC);
printf "%.0f\n", ($t1 - $t0) * 1e9;
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
'
# shellcheck disable=SC2016 # expanded by the bash that runs it
BENCH_SH_TIMER='t0=$(date +%s%N); "$@" >/dev/null; rc=$?; t1=$(date +%s%N); echo $((t1 - t0)); exit $rc'

bench_timer_select() { # BENCH_TIMER=date forces the fallback
	case ${BENCH_TIMER:-} in perl | date) return ;; esac
	if perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'clock_gettime(CLOCK_MONOTONIC)' 2>/dev/null; then
		BENCH_TIMER=perl
	else
		BENCH_TIMER="date"
	fi
}

# bench_timed_as ENGINE CMD...: print the ns the command took; its status is the command's.
bench_timed_as() {
	local engine=$1
	shift
	if [ "${BENCH_TIMER:-perl}" = perl ]; then
		bench_as "$engine" perl -e "$BENCH_PERL_TIMER" "$@"
	else
		bench_as "$engine" bash -c "$BENCH_SH_TIMER" timer "$@"
	fi
}

hutch_timed() { bench_timed_as hutch "$HUTCH" "$@"; }
podman_timed() {
	local p
	mapfile -t p < <(podman_args)
	bench_timed_as podman "${p[@]}" "$@"
}

# bench_stats: ns samples on stdin (one a line) -> "MIN_MS MEDIAN_MS N".
bench_stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan 0"; exit }
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %d\n", v[1] / 1e6, med / 1e6, NR }'
}

# bench_sample FN OUTFILE LOG: call FN (which prints ns), append the sample to OUTFILE.
# On failure, show the command's stderr and stop the script.
bench_sample() {
	local fn=$1 out=$2 log=$3 ns
	if ! ns=$("$fn" 2>"$log"); then
		cat "$log" >&2
		bench_die "$fn failed (stderr above)"
	fi
	case $ns in '' | *[!0-9]*) cat "$log" >&2; bench_die "$fn printed no time: '$ns'" ;; esac
	[ -n "$out" ] && echo "$ns" >>"$out"
	return 0
}

# bench_time N FN [AFTER]: call FN (a function printing ns, e.g. one that runs hutch_timed)
# once untimed, then N times; AFTER (optional, untimed) runs after every call.
# Prints "MIN_MS MEDIAN_MS N".
bench_time() {
	local n=$1 fn=$2 after=${3:-} i samples log
	samples=$(mktemp "$BENCH_SCRATCH/samples.XXXXXX")
	log=$samples.err
	for ((i = 0; i <= n; i++)); do
		if ((i == 0)); then bench_sample "$fn" "" "$log"; else bench_sample "$fn" "$samples" "$log"; fi
		if [ -n "$after" ]; then "$after" >/dev/null 2>"$log" || { cat "$log" >&2; bench_die "$after failed"; }; fi
	done
	bench_stats <"$samples"
	rm -f "$samples" "$log"
}

# bench_ab NAME N A_FN A_AFTER B_FN B_AFTER: the interleaved runner. Round 0 is the
# untimed warm-up of both; then N rounds of A, A_AFTER, B, B_AFTER, so both engines see
# the same machine state (disk throttling and page-cache reclaim drift over minutes here).
# A_AFTER/B_AFTER are untimed clean-up steps ("" for none). Adds a row to the table.
bench_ab() {
	local name=$1 n=$2 afn=$3 aafter=$4 bfn=$5 bafter=$6 i sa sb log
	sa=$(mktemp "$BENCH_SCRATCH/samples.XXXXXX")
	sb=$(mktemp "$BENCH_SCRATCH/samples.XXXXXX")
	log=$sa.err
	bench_log "$name: warm-up + $n interleaved rounds"
	sync # let the writes of the set-up reach the disk before the clock starts
	for ((i = 0; i <= n; i++)); do
		local oa=$sa ob=$sb
		((i == 0)) && oa="" ob=""
		bench_sample "$afn" "$oa" "$log"
		if [ -n "$aafter" ]; then "$aafter" >/dev/null 2>"$log" || { cat "$log" >&2; bench_die "$aafter failed"; }; fi
		bench_sample "$bfn" "$ob" "$log"
		if [ -n "$bafter" ]; then "$bafter" >/dev/null 2>"$log" || { cat "$log" >&2; bench_die "$bafter failed"; }; fi
	done
	bench_row "$name" "$(bench_stats <"$sa")" "$(bench_stats <"$sb")"
	if [ "${BENCH_RAW:-}" = 1 ]; then
		bench_log "$name: A ms, in run order: $(awk '{ printf "%.1f ", $1 / 1e6 }' "$sa")"
		bench_log "$name: B ms, in run order: $(awk '{ printf "%.1f ", $1 / 1e6 }' "$sb")"
	fi
	rm -f "$sa" "$sb" "$log"
}

# bench_row_samples NAME A_FILE B_FILE: add a table row from two files of ns samples (one a
# line, in run order); with BENCH_RAW=1 also log the samples.
bench_row_samples() {
	bench_row "$1" "$(bench_stats <"$2")" "$(bench_stats <"$3")"
	if [ "${BENCH_RAW:-}" = 1 ]; then
		bench_log "$1: A ms, in run order: $(awk '{ printf "%.1f ", $1 / 1e6 }' "$2")"
		bench_log "$1: B ms, in run order: $(awk '{ printf "%.1f ", $1 / 1e6 }' "$3")"
	fi
}

# bench_ab_cycle N SUM_NAME NAME1 A_FN1 B_FN1 [NAME2 A_FN2 B_FN2 ...]: the interleaved runner
# for steps that depend on each other (run -d, exec, stop, rm of one container). Round 0 is
# the untimed warm-up; then N rounds of all of A's steps in order, then all of B's. Each
# step is timed on its own (FNs print ns, like bench_ab's). Adds one row per step and, when
# SUM_NAME is not "", one row for the sum of the steps of each round (min and median of
# the per-round sums, not the sum of the per-step figures).
bench_ab_cycle() {
	local n=$1 sum_name=$2 i k nsteps log
	shift 2
	local names=() afns=() bfns=() sa=() sb=()
	while [ $# -ge 3 ]; do
		names+=("$1") afns+=("$2") bfns+=("$3")
		shift 3
	done
	[ $# = 0 ] || bench_die "bench_ab_cycle: steps come in threes (NAME A_FN B_FN)"
	nsteps=${#names[@]}
	for ((k = 0; k < nsteps; k++)); do
		sa+=("$(mktemp "$BENCH_SCRATCH/samples.XXXXXX")") sb+=("$(mktemp "$BENCH_SCRATCH/samples.XXXXXX")")
	done
	log=${sa[0]}.err
	bench_log "${sum_name:-${names[0]}}: warm-up + $n interleaved rounds of $nsteps steps"
	sync
	for ((i = 0; i <= n; i++)); do
		for ((k = 0; k < nsteps; k++)); do
			if ((i == 0)); then bench_sample "${afns[k]}" "" "$log"; else bench_sample "${afns[k]}" "${sa[k]}" "$log"; fi
		done
		for ((k = 0; k < nsteps; k++)); do
			if ((i == 0)); then bench_sample "${bfns[k]}" "" "$log"; else bench_sample "${bfns[k]}" "${sb[k]}" "$log"; fi
		done
	done
	for ((k = 0; k < nsteps; k++)); do
		bench_row_samples "${names[k]}" "${sa[k]}" "${sb[k]}"
	done
	if [ -n "$sum_name" ]; then
		paste "${sa[@]}" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.0f\n", s }' >"$log.suma"
		paste "${sb[@]}" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.0f\n", s }' >"$log.sumb"
		bench_row_samples "$sum_name" "$log.suma" "$log.sumb"
	fi
	rm -f "${sa[@]}" "${sb[@]}" "$log" "$log.suma" "$log.sumb"
}

# ---------------------------------------------------------------------------------------
# Results

BENCH_ROWS=()

# bench_row NAME "A_MIN A_MED N" "B_MIN B_MED N"
bench_row() {
	BENCH_ROWS+=("$1|$2|$3")
}

# bench_table: print the rows as a Markdown table (hutch = A, podman = B).
bench_table() {
	local r name a b
	printf '| scenario | hutch min / median ms | podman min / median ms | hutch/podman (median) | hutch/podman (min) | runs |\n'
	printf '|---|---|---|---|---|---|\n'
	for r in "${BENCH_ROWS[@]}"; do
		IFS='|' read -r name a b <<<"$r"
		awk -v name="$name" -v a="$a" -v b="$b" 'BEGIN {
			split(a, x, " "); split(b, y, " ")
			printf "| %s | %s / %s | %s / %s | %.2f | %.2f | %d |\n", name, x[1], x[2], y[1], y[2], x[2] / y[2], x[1] / y[1], x[3] }'
	done
}

# bench_row_figures NAME: "A_MIN A_MED B_MIN B_MED" (ms) of the row called NAME.
bench_row_figures() {
	local r name a b
	for r in "${BENCH_ROWS[@]}"; do
		IFS='|' read -r name a b <<<"$r"
		if [ "$name" = "$1" ]; then
			awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); print x[1], x[2], y[1], y[2] }'
			return 0
		fi
	done
	bench_die "no result row called '$1'"
}

# bench_target TEXT NAME MAX_RATIO: one line saying whether the row NAME meets hutch/podman
# <= MAX_RATIO. The median decides; the min ratio is shown next to it.
bench_target() {
	local text=$1 max=$3
	bench_row_figures "$2" | awk -v text="$text" -v max="$max" '{
		rmed = $2 / $4; rmin = $1 / $3
		printf "target: %s, hutch/podman <= %s: %s (median %.1f vs %.1f ms = %.2fx; min %.1f vs %.1f ms = %.2fx%s)\n",
			text, max, (rmed <= max ? "met" : "MISSED"), $2, $4, rmed, $1, $3, rmin,
			((rmed <= max) == (rmin <= max) ? "" : (rmin <= max ? ", met by the mins" : ", missed by the mins")) }'
}

# bench_machine: one paragraph about the machine state, for the report.
bench_machine() {
	printf 'finished: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'machine: %s, %s CPUs, %s GiB RAM, kernel %s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")" \
		"$(nproc)" "$(awk '/MemTotal/ { printf "%d", $2 / 1048576 }' /proc/meminfo)" "$(uname -r)"
	printf 'scratch file system: %s\n' "$(findmnt -n -o FSTYPE,SOURCE -T "$BENCH_SCRATCH" | tr -s ' ')"
	local src="binary $HUTCH"
	[ -z "${BENCH_HUTCH_SRC:-}" ] || src="built from commit $BENCH_HUTCH_SRC"
	printf 'hutch: %s, %s\n' "$(hutch_cmd version --format '{{.Client.Version}} ({{.Client.GoVersion}})' 2>/dev/null)" "$src"
	printf 'podman: %s (--runtime runc, native overlay)\n' "$("$PODMAN" --version 2>/dev/null)"
	printf 'timer: %s\n' "$([ "$BENCH_TIMER" = perl ] && echo 'CLOCK_MONOTONIC ns (perl Time::HiRes)' || echo 'date +%s%N')"
	printf 'load average (1/5/15 min): %s at the start, %s at the end\n' "$BENCH_LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
	# hutch's rm reads the command line of every process on the machine (docs/bench.md).
	printf 'processes on the machine at the end: %s\n' "$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)"
}

# ---------------------------------------------------------------------------------------
# The busybox test image

# bench_make_bb_archive OUT NAME VARIANT: write a docker-archive holding one FROM-scratch
# image named NAME: the static busybox as /bin/busybox, one symlink per applet (where
# `busybox --list-full` puts it) and /etc/hutch-bench-variant containing VARIANT, so that
# each VARIANT is a different layer and image. Made with tar and sha256sum only, with
# fixed owners and times, so neither engine made the archive the other loads.
bench_make_bb_archive() {
	local out=$1 name=$2 variant=$3 w root base=$BENCH_SCRATCH/bb-rootfs app arch layer_sum config_sum
	if [ ! -d "$base" ]; then # the common part, made once per scratch folder
		mkdir -p "$base.tmp/bin" "$base.tmp/etc" "$base.tmp/tmp" "$base.tmp/root" "$base.tmp/proc" "$base.tmp/sys" "$base.tmp/dev"
		chmod 1777 "$base.tmp/tmp"
		chmod 0700 "$base.tmp/root"
		cp "$BUSYBOX" "$base.tmp/bin/busybox"
		chmod 0755 "$base.tmp/bin/busybox"
		"$BUSYBOX" --list-full | sed -n 's|/[^/]*$||p' | sort -u | (cd "$base.tmp" && xargs mkdir -p)
		for app in $("$BUSYBOX" --list-full); do
			[ "$app" = bin/busybox ] || ln -s /bin/busybox "$base.tmp/$app"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$base.tmp/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$base.tmp/etc/group"
		mv "$base.tmp" "$base"
	fi
	w=$(mktemp -d "$BENCH_SCRATCH/mkbb.XXXXXX")
	root=$w/rootfs
	cp -a "$base" "$root"
	printf '%s\n' "$variant" >"$root/etc/hutch-bench-variant"

	mkdir -p "$w/archive"
	(cd "$root" && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
		-cf "$w/layer.tar" -- *) || bench_die "tar of the busybox rootfs failed"
	layer_sum=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
	mkdir -p "$w/archive/$layer_sum"
	mv "$w/layer.tar" "$w/archive/$layer_sum/layer.tar"

	case $(uname -m) in
	x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; i?86) arch=386 ;; ppc64le) arch=ppc64le ;;
	s390x) arch=s390x ;; riscv64) arch=riscv64 ;; *) arch=$(uname -m) ;;
	esac
	printf '{"architecture":"%s","os":"linux","created":"2023-11-14T22:13:20Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2023-11-14T22:13:20Z","created_by":"hutch bench/lib.sh: busybox rootfs (%s)"}]}' \
		"$arch" "$layer_sum" "$variant" >"$w/config.json"
	config_sum=$(sha256sum "$w/config.json" | cut -d' ' -f1)
	mv "$w/config.json" "$w/archive/$config_sum.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' \
		"$config_sum" "$name" "$layer_sum" >"$w/archive/manifest.json"
	(cd "$w/archive" && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
		-cf "$out.tmp" manifest.json "$config_sum.json" "$layer_sum") || bench_die "tar of the archive failed"
	mv "$out.tmp" "$out"
	chmod 0644 "$out"
	rm -rf "$w"
}

# ---------------------------------------------------------------------------------------
# The Debian test image

# bench_deb_tar: set DEB_TAR to the tarball of `debootstrap --variant=minbase bookworm`
# (BENCH_DEB_TAR when that file exists; else made there, or in the scratch folder's
# assets, from BENCH_DEB_MIRROR, default http://deb.debian.org/debian) and DEB_MB to its
# size. Used by registry.sh and build.sh.
bench_deb_tar() {
	local assets=$BENCH_SCRATCH/assets
	install -d -m 0755 "$assets"
	BENCH_DEB_ROOT=$assets/deb-root
	BENCH_DEB_MIRROR=${BENCH_DEB_MIRROR:-http://deb.debian.org/debian}
	DEB_TAR=${BENCH_DEB_TAR:-$assets/deb.tar}
	if [ ! -s "$DEB_TAR" ]; then
		command -v debootstrap >/dev/null || bench_die "debootstrap not found (apt-get install debootstrap)"
		bench_on_exit bench_deb_umount
		bench_log "debootstrap --variant=minbase bookworm ($BENCH_DEB_MIRROR) -> $DEB_TAR"
		rm -rf --one-file-system "$BENCH_DEB_ROOT"
		debootstrap --variant=minbase bookworm "$BENCH_DEB_ROOT" "$BENCH_DEB_MIRROR" >"$assets/debootstrap.log" 2>&1 ||
			{ tail -20 "$assets/debootstrap.log" >&2; bench_die "debootstrap failed (log above)"; }
		bench_deb_umount
		tar -C "$BENCH_DEB_ROOT" --numeric-owner -cf "$DEB_TAR.tmp" . || bench_die "tar of the debootstrap tree failed"
		mv "$DEB_TAR.tmp" "$DEB_TAR"
		chmod 0644 "$DEB_TAR"
		rm -rf --one-file-system "$BENCH_DEB_ROOT"
	fi
	runuser -u "$BENCH_USER" -- test -r "$DEB_TAR" || bench_die "$BENCH_USER cannot read $DEB_TAR"
	DEB_MB=$(du -m --apparent-size "$DEB_TAR" | cut -f1)
	bench_log "image tarball: $DEB_TAR ($DEB_MB MiB, $(tar -tf "$DEB_TAR" | wc -l) entries)"
}

bench_deb_umount() { # whatever debootstrap left mounted under its root (it mounts proc and sys)
	local m
	[ -n "${BENCH_DEB_ROOT:-}" ] || return 0
	findmnt -rn -o TARGET | awk -v p="$BENCH_DEB_ROOT" 'index($0, p) == 1' | sort -r | while read -r m; do
		umount -l "$m" || bench_log "cannot unmount $m"
	done
	return 0
}
