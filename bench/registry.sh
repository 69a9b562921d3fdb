#!/usr/bin/env bash
# bench/registry.sh: `hutch push` and `hutch pull` against `podman push` and `podman pull`
# (podman --runtime runc, native overlay) with a ~200 MB Debian image and a local
# registry (Debian's docker-registry on 127.0.0.1), interleaved, as in section 5 of the
# anchors (/work/shared/notes/anchors-bench.md).
#
# Usage: sudo [REGISTRY_RUNS=5] bench/registry.sh     (or through bench/run.sh)
#
# RUNS does not apply here: every sample moves 200 MB, so the number of timed rounds is
# REGISTRY_RUNS (default 5), after one untimed warm-up round. One run takes about
# 1 min per round, plus about 1 min to make the image.
#
# Settings, besides lib.sh's:
#   REGISTRY_RUNS=5      timed rounds of each pass
#   BENCH_DEB_TAR=FILE   the debootstrap tarball to use; when FILE does not exist it is made
#                        there and kept (so the next run skips debootstrap). Default: made in
#                        the scratch folder and deleted with it
#   BENCH_DEB_MIRROR=URL the Debian mirror for debootstrap (default http://deb.debian.org/debian)
#
# Targets: hutch no slower than podman (median) on each of the three main rows.
# A missed target is reported, not an error: the script exits non-zero only when
# something fails.
#
# The image: `debootstrap --variant=minbase bookworm DIR`, tarred (204 MB, 6768 entries),
# made once, then `hutch import` / `podman import` of that same file as localhost/deb.
# The registry: `docker-registry serve` on 127.0.0.1:PORT (a free port), its config and
# data in the scratch folder, run as root, stopped by its PID. "Empty registry" means it
# was restarted on an empty data folder just before (untimed).
#
# Pass 1, push to an empty registry (registry restarted empty after every step, untimed):
#   hutch push --tls-verify=false localhost/deb REG/hbench/deb-hutch:latest
#   podman push --tls-verify=false localhost/deb REG/hbench/deb-podman:latest
#   hutch push ... --format oci --compression-format zstd REG/hbench/deb-hutch-zstd:latest
#                                (where the time goes: gzip against zstd)
# Pass 2, push again: the same two default pushes, every blob already in the registry.
# Pass 3, pull into a store that does not have the image (both stores emptied first; the
# pulled image removed with `ENGINE rmi` after every step, untimed). Both engines pull
# the image podman pushed (gzip); then, for where the time goes:
#   hutch pull of the zstd image hutch pushed;
#   skopeo copy docker://REG/hbench/deb-podman:latest oci:DIR:deb (download and verify, no
#     unpacking: the floor for the transfer);
#   gzip -dc LAYER.gz >/dev/null (decompressing the layer, single-threaded);
#   tar -xf LAYER.tar -C DIR (unpacking the same layer, uncompressed, as the bench user);
#   gzip -dc LAYER.gz | tar -xf - -C DIR (both).
# The steps of a pass take turns: odd rounds in the order above, even rounds in reverse.
# Every step after a write ends with `sync` (untimed), so no step pays for the writeback
# of the one before; a step pays for its own flushes only (an engine's fsync/syncfs).
# Each step reports the wall time of the command and its CPU time (user, sys; of the
# command and of every process under it, see "Timing" below).
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

REGISTRY_RUNS=${REGISTRY_RUNS:-5}
BENCH_DEB_MIRROR=${BENCH_DEB_MIRROR:-http://deb.debian.org/debian}
case $REGISTRY_RUNS in '' | *[!0-9]* | 0) bench_die "REGISTRY_RUNS=$REGISTRY_RUNS: give a number >= 1" ;; esac

bench_init
[ "$BENCH_TIMER" = perl ] || bench_die "registry.sh needs perl's Time::HiRes (Debian's perl) for its timer"
for c in docker-registry skopeo debootstrap curl gzip ss; do
	command -v "$c" >/dev/null || bench_die "$c not found (apt-get install docker-registry skopeo debootstrap curl gzip iproute2)"
done
bench_engine_prepare hutch
bench_engine_prepare podman
bench_engine_prepare tools # skopeo and the tar floors run as the bench user, with this env

ASSETS=$BENCH_SCRATCH/assets
REG_DIR=$BENCH_SCRATCH/registry
FLOOR_DIR=$BENCH_SCRATCH/tools/tmp
install -d -m 0755 "$ASSETS"
install -d -m 0700 "$REG_DIR"
IMG=localhost/deb:latest

# ---------------------------------------------------------------------------------------
# The registry: started in the background by this script, stopped by its PID only.

REG_PID=
REG_PORT=

reg_pick_port() {
	local used p i
	used=$(ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 40000))
		grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
	done
	bench_die "no free TCP port found for the registry"
}

reg_stop() {
	local i
	[ -n "$REG_PID" ] || return 0
	kill "$REG_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$REG_PID" 2>/dev/null && kill -KILL "$REG_PID" 2>/dev/null
	wait "$REG_PID" 2>/dev/null
	REG_PID=
}

# reg_start: start the registry on an empty data folder, wait until it answers, and
# check that the answer comes from our process.
reg_start() {
	local i
	[ -z "$REG_PID" ] || bench_die "internal: the registry is already running (pid $REG_PID)"
	rm -rf "$REG_DIR/data"
	install -d -m 0700 "$REG_DIR/data"
	docker-registry serve "$REG_DIR/config.yml" </dev/null >>"$REG_DIR/registry.log" 2>&1 &
	REG_PID=$!
	for ((i = 0; i < 200; i++)); do
		kill -0 "$REG_PID" 2>/dev/null || { tail -5 "$REG_DIR/registry.log" >&2; REG_PID=; bench_die "docker-registry exited at start (log above)"; }
		curl -fsS -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" 2>/dev/null && break
		sleep 0.05
	done
	((i < 200)) || bench_die "docker-registry did not answer on 127.0.0.1:$REG_PORT within 10 s"
	ss -Hltnp "sport = :$REG_PORT" | grep -q "pid=$REG_PID," ||
		bench_die "127.0.0.1:$REG_PORT answers, but not from our docker-registry (pid $REG_PID)"
}

# reg_reset: an empty registry again, and the writes of the step before on disk.
reg_reset() {
	reg_stop
	reg_start
	sync
}

REG_PORT=$(reg_pick_port)
REG=127.0.0.1:$REG_PORT
cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG
EOF
bench_on_exit reg_stop
reg_start
bench_log "docker-registry $(docker-registry --version 2>/dev/null | awk '{ print $NF }') on $REG (pid $REG_PID, data $REG_DIR/data)"

HREF=$REG/hbench/deb-hutch:latest
PREF=$REG/hbench/deb-podman:latest
ZREF=$REG/hbench/deb-hutch-zstd:latest

# ---------------------------------------------------------------------------------------
# The image, made once

bench_deb_tar # DEB_TAR, DEB_MB (lib.sh)

# Both stores: nothing but localhost/deb, imported from the same file.
rmi_all() { # ENGINE: remove every image of its scratch store
	local ids
	ids=$("${1}_cmd" images -aq 2>/dev/null | sort -u)
	# shellcheck disable=SC2086 # one word per ID
	[ -z "$ids" ] || "${1}_cmd" rmi -f $ids >/dev/null
}
rmi_all_hook() {
	[ "${BENCH_KEEP:-}" = 1 ] && return 0
	[ ! -d "$BENCH_SCRATCH/hutch/data/hutch" ] || rmi_all hutch || bench_log "hutch: removing the images failed"
	[ ! -d "$BENCH_SCRATCH/podman/root/overlay-images" ] || rmi_all podman || bench_log "podman: removing the images failed"
	return 0
}
bench_on_exit rmi_all_hook
store_count() { "${1}_cmd" images -aq | sort -u | wc -l; }

import_both() {
	rmi_all hutch
	rmi_all podman
	bench_quiet hutch_cmd import "$DEB_TAR" "$IMG" || bench_die "hutch import failed"
	bench_quiet podman_cmd import "$DEB_TAR" "$IMG" || bench_die "podman import failed"
	if [ "$(store_count hutch)" != 1 ] || [ "$(store_count podman)" != 1 ]; then
		bench_die "after import: expected 1 image in each store, got hutch $(store_count hutch), podman $(store_count podman)"
	fi
}
bench_log "importing $DEB_TAR into both stores as $IMG (untimed)"
import_both
hdriver=$(hutch_cmd info --format '{{.Store.Driver.Name}}') || bench_die "hutch info failed"
pdriver=$(podman_cmd info --format '{{.Store.GraphDriverName}} (native overlay diff: {{index .Store.GraphStatus "Native Overlay Diff"}})') ||
	bench_die "podman info failed"
bench_log "hutch storage driver: $hdriver; podman storage driver: $pdriver"
case $hdriver in overlay*) ;; *) bench_log "WARNING: hutch is not on overlay ($hdriver)" ;; esac
case $pdriver in *'diff: true)') ;; *) bench_log "WARNING: podman is not on native overlay: $pdriver" ;; esac

# ---------------------------------------------------------------------------------------
# Timing: wall clock and CPU time of the command (lib.sh's timer gives the wall clock
# only). Prints "WALL_NS USER_NS SYS_NS". The wall clock stops when the command exits, as
# lib.sh's does. CPU time is that of the command and of every process under it: the timer
# makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a child that outlives
# its parent comes back to the timer and is counted when the timer reaps it. hutch needs
# this: since 045457d its outer process exits as soon as the namespaced hutch reports its
# status on a pipe, without waiting for it, so that hutch's work would count for nothing.
# The timer waits up to 5 s (untimed) for such leftovers; one still running then (none is
# expected) is left alone and its CPU time is missing.

# shellcheck disable=SC2016 # perl code
REG_TIMER='
use strict; use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC sleep); use POSIX qw(WNOHANG);
eval { require "syscall.ph"; syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0 or die } or
	print STDERR "timer: cannot become a child subreaper: CPU times may miss orphaned children\n";
my $t0 = clock_gettime(CLOCK_MONOTONIC);
my $pid = fork(); die "fork: $!" unless defined $pid;
if ($pid == 0) { open(STDOUT, ">", "/dev/null") or die; exec { $ARGV[0] } @ARGV; print STDERR "exec $ARGV[0]: $!\n"; exit 127; }
waitpid($pid, 0); my $st = $?;
my $t1 = clock_gettime(CLOCK_MONOTONIC);
for (my $i = 0; $i < 500; $i++) { my $r = waitpid(-1, WNOHANG); last if $r < 0; sleep(0.01) if $r == 0; }
my (undef, undef, $cu, $cs) = times;
printf "%.0f %.0f %.0f\n", ($t1 - $t0) * 1e9, $cu * 1e9, $cs * 1e9;
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
'
reg_timed() { # ENGINE CMD...
	local engine=$1
	shift
	bench_as "$engine" perl -e "$REG_TIMER" "$@"
}
h_timed() { reg_timed hutch "$HUTCH" "$@"; }
p_timed() {
	local p
	mapfile -t p < <(podman_args)
	reg_timed podman "${p[@]}" "$@"
}
t_timed() { reg_timed tools "$@"; }

REG_SAMPLES=$BENCH_SCRATCH/samples
install -d -m 0755 "$REG_SAMPLES"
REG_STEPS=()   # every step timed so far: "KEY|LABEL"
REG_NSTEPS=0

# reg_rounds TITLE N [LABEL FN AFTER]...: round 0 untimed, then N rounds of every step,
# each followed by its AFTER (untimed; "" for none). Odd rounds run the steps in the order
# given, even rounds (and the warm-up) in reverse (A B C, C B A, A B C, ...), so no step
# always comes right after the same other one: on this machine a step pays for the file
# deletions of the steps just before it (docs/bench.md, registry). Sets REG_KEYS to the
# key of each step (s1, s2, ...), in the order given, for reg_row: the samples are in
# $REG_SAMPLES/KEY.{wall,user,sys}. Steps must not depend on each other's results.
REG_KEYS=()
reg_rounds() {
	local title=$1 n=$2 i k out log=$REG_SAMPLES/err w u s
	shift 2
	local labels=() fns=() afters=()
	while [ $# -ge 3 ]; do
		labels+=("$1") fns+=("$2") afters+=("$3")
		shift 3
	done
	[ $# = 0 ] || bench_die "reg_rounds: steps come in threes (LABEL FN AFTER)"
	REG_KEYS=()
	for k in "${!labels[@]}"; do
		REG_NSTEPS=$((REG_NSTEPS + 1))
		REG_KEYS+=("s$REG_NSTEPS")
		REG_STEPS+=("s$REG_NSTEPS|${labels[k]}")
	done
	bench_log "$title: warm-up + $n interleaved rounds of ${#labels[@]} steps"
	sync
	local order=() j
	for ((i = 0; i <= n; i++)); do
		order=()
		for ((j = 0; j < ${#labels[@]}; j++)); do
			if ((i % 2)); then order+=("$j"); else order=("$j" "${order[@]}"); fi
		done
		for k in "${order[@]}"; do
			if ! out=$("${fns[k]}" 2>"$log"); then
				cat "$log" >&2
				bench_die "${fns[k]} failed (stderr above)"
			fi
			read -r w u s <<<"$out"
			case "$w$u$s" in '' | *[!0-9]*) cat "$log" >&2; bench_die "${fns[k]} printed no time: '$out'" ;; esac
			if ((i > 0)); then
				echo "$w" >>"$REG_SAMPLES/${REG_KEYS[k]}.wall"
				echo "$u" >>"$REG_SAMPLES/${REG_KEYS[k]}.user"
				echo "$s" >>"$REG_SAMPLES/${REG_KEYS[k]}.sys"
			fi
			if [ -n "${afters[k]}" ]; then
				"${afters[k]}" >/dev/null 2>"$log" || { cat "$log" >&2; bench_die "${afters[k]} failed"; }
			fi
		done
		((i == 0)) || bench_log "  round $i/$n done"
	done
	rm -f "$log"
}

# reg_row NAME HUTCH_KEY PODMAN_KEY: a row of the hutch/podman table (lib.sh's bench_table).
reg_row() { bench_row_samples "$1" "$REG_SAMPLES/$2.wall" "$REG_SAMPLES/$3.wall"; }

# reg_detail: the table of every step: wall min / median, CPU user and sys medians.
reg_detail() {
	local e key label
	printf '| step | wall min / median ms | CPU user / sys ms (median) | runs |\n|---|---|---|---|\n'
	for e in "${REG_STEPS[@]}"; do
		key=${e%%|*} label=${e#*|}
		read -r wmin wmed n < <(bench_stats <"$REG_SAMPLES/$key.wall")
		read -r _ umed _ < <(bench_stats <"$REG_SAMPLES/$key.user")
		read -r _ smed _ < <(bench_stats <"$REG_SAMPLES/$key.sys")
		printf '| %s | %s / %s | %.0f / %.0f | %s |\n' "$label" "$wmin" "$wmed" "$umed" "$smed" "$n"
		if [ "${BENCH_RAW:-}" = 1 ]; then
			bench_log "$label: ms, in run order: $(awk '{ printf "%.1f ", $1 / 1e6 }' "$REG_SAMPLES/$key.wall")"
		fi
	done
}

# The manifest of REF as the registry holds it: "MEDIATYPE LAYER_MEDIATYPE LAYER_SIZE LAYER_DIGEST".
reg_manifest() {
	local ref=$1 repo tag
	repo=${ref#"$REG"/}
	tag=${repo##*:}
	repo=${repo%:*}
	curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REG/v2/$repo/manifests/$tag" |
		perl -MJSON::PP -0777 -ne '$m = decode_json($_); $l = $m->{layers}[0];
			printf "%s %s %d %s\n", $m->{mediaType} // "(no-mediaType-field;config:$m->{config}{mediaType})",
				$l->{mediaType}, $l->{size}, $l->{digest}'
}

# ---------------------------------------------------------------------------------------
# Pass 1: push to an empty registry

t_h_push() { h_timed push --tls-verify=false "$IMG" "$HREF"; }
t_p_push() { p_timed push --tls-verify=false "$IMG" "$PREF"; }
t_h_push_zstd() { h_timed push --tls-verify=false --format oci --compression-format zstd "$IMG" "$ZREF"; }

reg_reset
reg_rounds "push to an empty registry" "$REGISTRY_RUNS" \
	"hutch push (gzip), empty registry" t_h_push reg_reset \
	"podman push (gzip), empty registry" t_p_push reg_reset \
	"hutch push --format oci --compression-format zstd, empty registry" t_h_push_zstd reg_reset
K_PUSH=("${REG_KEYS[@]}")

# ---------------------------------------------------------------------------------------
# Pass 2: push again, every blob already there

bench_quiet hutch_cmd push --tls-verify=false "$IMG" "$HREF" || bench_die "hutch push failed"
bench_quiet podman_cmd push --tls-verify=false "$IMG" "$PREF" || bench_die "podman push failed"
reg_rounds "push again" "$REGISTRY_RUNS" \
	"hutch push (gzip), blobs already there" t_h_push "" \
	"podman push (gzip), blobs already there" t_p_push ""
K_AGAIN=("${REG_KEYS[@]}")

# ---------------------------------------------------------------------------------------
# Pass 3: pull into a store without the image

bench_quiet hutch_cmd push --tls-verify=false --format oci --compression-format zstd "$IMG" "$ZREF" || bench_die "hutch push (zstd) failed"
read -r HMT HLMT HLSIZE HLDIG < <(reg_manifest "$HREF") || bench_die "cannot read the manifest of $HREF"
read -r PMT PLMT PLSIZE PLDIG < <(reg_manifest "$PREF") || bench_die "cannot read the manifest of $PREF"
read -r ZMT ZLMT ZLSIZE ZLDIG < <(reg_manifest "$ZREF") || bench_die "cannot read the manifest of $ZREF"

# The layer podman pushed, for the floors: compressed as the registry holds it, and
# uncompressed (the tar both engines unpack).
bench_quiet bench_as tools skopeo copy --insecure-policy --src-tls-verify=false "docker://$PREF" "oci:$FLOOR_DIR/oci:deb" ||
	bench_die "skopeo copy (to make the floor files) failed"
cp "$FLOOR_DIR/oci/blobs/sha256/${PLDIG#sha256:}" "$ASSETS/layer.tar.gz" || bench_die "the layer $PLDIG is not in the oci: copy"
rm -rf "$FLOOR_DIR/oci"
gzip -dc "$ASSETS/layer.tar.gz" >"$ASSETS/layer.tar" || bench_die "gzip -dc of the layer failed"
# Device nodes: the layer podman pushes has them (hutch's import leaves them out); no
# rootless process can make them, and the engines skip them, so the floors do too.
tar -tvf "$ASSETS/layer.tar" | awk '$1 ~ /^[cb]/ { print $NF }' >"$ASSETS/devices.list"
chmod 0644 "$ASSETS/layer.tar.gz" "$ASSETS/layer.tar" "$ASSETS/devices.list"
LAYER_MB=$(du -m --apparent-size "$ASSETS/layer.tar" | cut -f1)

# Both stores empty: the imported image has the very layer the pull brings, and a store
# that has it would skip the download.
rmi_all hutch
rmi_all podman
if [ "$(store_count hutch)" != 0 ] || [ "$(store_count podman)" != 0 ]; then
	bench_die "could not empty the stores before the pulls: hutch $(store_count hutch), podman $(store_count podman) images"
fi

t_h_pull() { h_timed pull --tls-verify=false "$PREF"; }
t_p_pull() { p_timed pull --tls-verify=false "$PREF"; }
t_h_pull_zstd() { h_timed pull --tls-verify=false "$ZREF"; }
t_skopeo() { t_timed skopeo copy --insecure-policy --src-tls-verify=false "docker://$PREF" "oci:$FLOOR_DIR/oci:deb"; }
# shellcheck disable=SC2016 # $1, $2: the arguments of sh -c
t_gunzip() { t_timed sh -c 'exec gzip -dc "$1" >/dev/null' gunzip "$ASSETS/layer.tar.gz"; }
# shellcheck disable=SC2016
t_untar() { t_timed sh -c 'mkdir "$2" && exec tar -xf "$1" -C "$2" --no-wildcards -X "$3"' untar "$ASSETS/layer.tar" "$FLOOR_DIR/x" "$ASSETS/devices.list"; }
# shellcheck disable=SC2016
t_gunzip_untar() { t_timed sh -c 'mkdir "$2" && gzip -dc "$1" | tar -xf - -C "$2" --no-wildcards -X "$3"' gunzip-untar "$ASSETS/layer.tar.gz" "$FLOOR_DIR/x" "$ASSETS/devices.list"; }
u_h_rmi() { hutch_cmd rmi "$PREF" && sync; }
u_p_rmi() { podman_cmd rmi "$PREF" && sync; }
u_h_rmi_zstd() { hutch_cmd rmi "$ZREF" && sync; }
u_floor_rm() { rm -rf "$FLOOR_DIR/oci" "$FLOOR_DIR/x" && sync; }

reg_rounds "pull" "$REGISTRY_RUNS" \
	"hutch pull (gzip, pushed by podman)" t_h_pull u_h_rmi \
	"podman pull (gzip, pushed by podman)" t_p_pull u_p_rmi \
	"hutch pull (zstd, pushed by hutch)" t_h_pull_zstd u_h_rmi_zstd \
	"floor: skopeo copy docker://REF oci:DIR (no unpacking)" t_skopeo u_floor_rm \
	"floor: gzip -dc LAYER.gz >/dev/null" t_gunzip "" \
	"floor: tar -xf LAYER.tar -C DIR (bench user)" t_untar u_floor_rm \
	"floor: gzip -dc LAYER.gz \| tar -xf - -C DIR (bench user)" t_gunzip_untar u_floor_rm
K_PULL=("${REG_KEYS[@]}")

if [ "$(store_count hutch)" != 0 ] || [ "$(store_count podman)" != 0 ]; then
	bench_die "after the pulls: expected empty stores, got hutch $(store_count hutch), podman $(store_count podman) images"
fi
reg_stop

# ---------------------------------------------------------------------------------------
# Report

PUSH_ROW="push ${DEB_MB} MiB image to an empty registry"
AGAIN_ROW="push again (blobs already in the registry)"
PULL_ROW="pull (not in the local store; rmi between runs)"
reg_row "$PUSH_ROW" "${K_PUSH[0]}" "${K_PUSH[1]}"
reg_row "$AGAIN_ROW" "${K_AGAIN[0]}" "${K_AGAIN[1]}"
reg_row "$PULL_ROW" "${K_PULL[0]}" "${K_PULL[1]}"

echo
echo "## registry: hutch vs podman --runtime runc (native overlay), interleaved"
echo
bench_machine | sed 's/^/    /'
printf '    hutch storage: %s; podman storage: %s\n' "$hdriver" "$pdriver"
printf '    registry: docker-registry %s on %s; image: debootstrap minbase bookworm, %s MiB tarball\n' \
	"$(docker-registry --version 2>/dev/null | awk '{ print $NF }')" "$REG" "$DEB_MB"
printf '    hutch pushed:  %s, layer %s, %s bytes, %s\n' "$HMT" "$HLMT" "$HLSIZE" "$HLDIG"
printf '    podman pushed: %s, layer %s, %s bytes, %s\n' "$PMT" "$PLMT" "$PLSIZE" "$PLDIG"
printf '    hutch zstd:    %s, layer %s, %s bytes, %s\n' "$ZMT" "$ZLMT" "$ZLSIZE" "$ZLDIG"
printf '    uncompressed layer: %s MiB\n' "$LAYER_MB"
read -r fs_src fs_type < <(findmnt -n -o SOURCE,FSTYPE -T "$BENCH_SCRATCH")
if [ "$fs_type" = ext4 ]; then
	# ext4 without a journal makes every file creation slow after many deletions (docs/bench.md).
	if compgen -G "/proc/fs/jbd2/${fs_src##*/}-*" >/dev/null; then fs_j="with a journal"; else fs_j="WITHOUT a journal"; fi
	printf '    scratch file system: ext4 %s (%s)\n' "$fs_j" "$fs_src"
fi
echo
bench_table
echo
bench_target "push to an empty registry" "$PUSH_ROW" 1.0
bench_target "push again" "$AGAIN_ROW" 1.0
bench_target "pull" "$PULL_ROW" 1.0
echo
echo "Every step (wall clock; CPU time of the command and of every process under it):"
echo
reg_detail
