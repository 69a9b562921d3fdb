#!/usr/bin/env bash
# bench/memory.sh: the memory that stays alive for one idle detached container, hutch
# against podman (podman --runtime runc, native overlay), measured as in section 7 of the
# anchors (/work/shared/notes/anchors-bench.md).
#
# Usage: sudo [RUNS=15] [MEM_SETTLE=2] bench/memory.sh     (or through bench/run.sh)
#
# Target (from the issue): hutch's engine-side total (RSS) no larger than podman's.
# A missed target is reported, not an error: the script exits non-zero only when
# something fails.
#
# Each round, hutch first, then podman (interleaved; RUNS rounds, each a fresh container):
#   `ENGINE run -d --network none localhost/bb-mem sleep 100000`, then `sleep MEM_SETTLE`
#   (2 s), then RSS (VmRSS in /proc/PID/status) and PSS (Pss in /proc/PID/smaps_rollup)
#   of every live process of the bench user, except this script and its ancestors, then
#   `hutch rm -f` / `podman rm -f -t 0` (untimed), and a wait until the container's
#   processes are gone. "engine" is a process in the host's PID namespace (hutch: the
#   monitor, `hutch-monitor ID`; podman: conmon and its pause process `catatonit -P`,
#   which all of a user's containers share), "payload" a process in the container's.
#   Only the processes of the engine being measured count (bench_is_ours: their
#   environment, or an ancestor's, names that engine's scratch folder), so podman's pause
#   process is not counted in hutch's rounds; a process of the bench user that this run
#   did not start (another run's) is left out, with a warning.
# Each figure is min / median over the rounds: per process, and the per-round totals.
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

IMAGE=localhost/bb-mem:latest
MEM_SETTLE=${MEM_SETTLE:-2}

bench_init
bench_engine_prepare hutch
bench_engine_prepare podman
bench_on_exit bench_rm_all_containers
bench_setup_image "$IMAGE" mem

HOST_PIDNS=$(readlink /proc/self/ns/pid)
SAMPLES=$BENCH_SCRATCH/mem-samples
: >"$SAMPLES"

# The script and its ancestors (anchors: they are not the engine's).
SKIP=" "
anc=$BASHPID
while [ -n "$anc" ] && [ "$anc" != 0 ]; do
	SKIP+="$anc "
	anc=$(bench_proc_ppid "$anc")
done

# mem_snapshot ENGINE ROUND WHEN: one line per live process of ours:
# "ENGINE ROUND WHEN SIDE NAME RSS_KIB PSS_KIB".
mem_snapshot() {
	local engine=$1 round=$2 when=$3 pid side name rss pss args
	for pid in $(bench_user_pids); do
		case $SKIP in *" $pid "*) continue ;; esac
		if ! bench_is_ours "$pid"; then
			bench_log "WARNING: pid $pid of $BENCH_USER was not started by this run, left out: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)"
			continue
		fi
		bench_is_ours "$pid" "$engine" || continue # the other engine's (podman's pause process)
		mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || continue
		[ ${#args[@]} -gt 0 ] || continue
		name=${args[0]##*/}
		# A short option after the name is part of it (catatonit -P); IDs and paths are not.
		case ${args[1]:-} in -? | --?) name+=" ${args[1]}" ;; esac
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
		if [ -z "$rss" ] || [ -z "$pss" ]; then continue; fi # gone, or a zombie
		side=engine
		[ "$(readlink "/proc/$pid/ns/pid")" = "$HOST_PIDNS" ] || side=payload
		echo "$engine $round $when $side ${name// /_} $rss $pss"
	done
}

# mem_ours: our live processes, one PID a line.
mem_ours() {
	local pid
	for pid in $(bench_user_pids); do
		case $SKIP in *" $pid "*) continue ;; esac
		bench_is_ours "$pid" && echo "$pid"
	done
}

# mem_round ENGINE ROUND: one fresh container, measured, removed.
mem_round() {
	local engine=$1 round=$2 before id i left p
	before=" $(mem_ours | tr '\n' ' ') "
	if [ "$engine" = hutch ]; then
		id=$(hutch_cmd run -d --network none "$IMAGE" sleep 100000) || bench_die "hutch run -d failed"
	else
		id=$(podman_cmd run -d --network=none "$IMAGE" sleep 100000) || bench_die "podman run -d failed"
	fi
	sleep "$MEM_SETTLE"
	mem_snapshot "$engine" "$round" settled >>"$SAMPLES"
	if [ "$engine" = hutch ]; then
		bench_quiet hutch_cmd rm -f "$id" || bench_die "hutch rm -f failed"
	else
		bench_quiet podman_cmd rm -f -t 0 "$id" || bench_die "podman rm -f failed"
	fi
	# Wait until the container's processes are gone (podman's pause process stays).
	for ((i = 0; i < 100; i++)); do
		left=""
		for p in $(mem_ours); do
			case $before in *" $p "*) ;; *) left+="$p " ;; esac
		done
		[ -n "$left" ] || return 0
		sleep 0.05
	done
	bench_log "WARNING: $engine: processes still alive 5 s after rm -f: $left"
}

bench_log "memory: $RUNS rounds (hutch, then podman), ${MEM_SETTLE}s after run -d"
for ((r = 1; r <= RUNS; r++)); do
	mem_round hutch "$r"
	mem_round podman "$r"
done
bench_check_no_containers

# The table: per process (RSS and PSS), the per-round totals, the process count, and
# the payload. Each cell is min / median (KiB) over the rounds.
mem_table() {
	awk -v runs="$RUNS" '
	function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
	function stat(key,   n, i, a, parts) {
		if (!(key in vals)) return ""
		n = split(vals[key], parts, " "); for (i = 1; i <= n; i++) a[i] = parts[i] + 0
		sortn(a, n)
		med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		mn = a[1]; cnt = n
		return sprintf("%d / %d", a[1], med) (n < runs ? sprintf(" (in %d of %d rounds)", n, runs) : "")
	}
	function median(key,   n, i, a, parts) {
		if (!(key in vals)) return -1
		n = split(vals[key], parts, " "); for (i = 1; i <= n; i++) a[i] = parts[i] + 0
		sortn(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
	function row(label, key,   h, p, mh, mp) {
		h = stat("hutch|" key); p = stat("podman|" key)
		mh = median("hutch|" key); mp = median("podman|" key)
		printf "| %s | %s | %s | %s |\n", label, (h == "" ? "-" : h), (p == "" ? "-" : p),
			(mh > 0 && mp > 0 ? sprintf("%.2f", mh / mp) : "-")
	}
	{
		eng = $1; round = $2; when = $3; side = $4; name = $5; rss = $6; pss = $7
		gsub("_", " ", name)
		if (when == "settled") {
			add(eng "|" side "|rss|" name, rss); add(eng "|" side "|pss|" name, pss)
			names[side "|" name] = 1
			trss[eng "|" round "|" side] += rss; tpss[eng "|" round "|" side] += pss; tn[eng "|" round "|" side]++
		}
		seen[eng "|" round] = 1
	}
	END {
		for (k in seen) {
			split(k, f, "|")
			add(f[1] "|engine|total_rss", trss[k "|engine"] + 0); add(f[1] "|engine|total_pss", tpss[k "|engine"] + 0)
			add(f[1] "|engine|n", tn[k "|engine"] + 0)
			add(f[1] "|payload|total_rss", trss[k "|payload"] + 0); add(f[1] "|payload|total_pss", tpss[k "|payload"] + 0)
		}
		print "| what (KiB, min / median over the rounds) | hutch | podman | hutch/podman (median) |"
		print "|---|---|---|---|"
		for (s = 1; s <= 2; s++) {
			side = (s == 1) ? "engine" : "payload"
			n = 0
			for (k in names) { split(k, f, "|"); if (f[1] == side) list[++n] = f[2] }
			sortn(list, n)
			for (i = 1; i <= n; i++) {
				row("[" side "] RSS " list[i], side "|rss|" list[i])
				row("[" side "] PSS " list[i], side "|pss|" list[i])
			}
			if (side == "engine") {
				row("**TOTAL engine-side RSS**", "engine|total_rss")
				row("**TOTAL engine-side PSS**", "engine|total_pss")
				row("engine-side processes (n)", "engine|n")
			} else {
				row("TOTAL payload RSS", "payload|total_rss")
				row("TOTAL payload PSS", "payload|total_pss")
			}
		}
	}' "$SAMPLES"
}

# The target: hutch's engine-side total no larger than podman's (median RSS decides;
# PSS shown too).
mem_target() {
	awk '
	function med(s,   n, i, j, t, a) { n = split(s, a, " "); for (i = 1; i <= n; i++) a[i] += 0
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	$3 == "settled" && $4 == "engine" { r[$1 "|" $2] += $6; p[$1 "|" $2] += $7 }
	END {
		for (k in r) { split(k, f, "|"); R[f[1]] = R[f[1]] " " r[k]; P[f[1]] = P[f[1]] " " p[k] }
		hr = med(R["hutch"]); pr = med(R["podman"]); hp = med(P["hutch"]); pp = med(P["podman"])
		printf "target: engine-side memory of one idle container (issue), hutch <= podman (median RSS): %s (RSS %d vs %d KiB = %.2fx; PSS %d vs %d KiB = %.2fx)\n",
			(hr <= pr ? "met" : "MISSED"), hr, pr, hr / pr, hp, pp, hp / pp
	}' "$SAMPLES"
}

echo
echo "## memory: one idle detached container, hutch vs podman --runtime runc (native overlay)"
echo
bench_machine | sed 's/^/    /'
printf '    %s\n' "$BENCH_DRIVERS"
printf '    %s rounds, each a fresh "run -d --network none bb sleep 100000", measured %ss after it returned\n' "$RUNS" "$MEM_SETTLE"
echo
mem_table
echo
mem_target
