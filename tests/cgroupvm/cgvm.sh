#!/usr/bin/env bash
# cgvm.sh — hutch's cgroup v2 VM: proves resource limits on a machine whose own cgroups
# cannot (this CI host is hybrid: its cgroup2 mount has no controllers).
#
# It boots Debian 12's cloud kernel with `cgroup_no_v1=all` under qemu in software
# emulation (TCG: no /dev/kvm needed), from a busybox initramfs, and runs ONE program as
# the unprivileged user `tester` (uid 1000, subordinate ids 100000-165535 in /etc/subuid
# and /etc/subgid, newuidmap/newgidmap setuid root) inside a cgroup subtree delegated to
# that user. The program's output comes back on the host's stdout and its exit status is
# this script's. Nothing on the host's cgroups is touched.
#
#   cgvm.sh setup     as root, idempotent: installs qemu-system-x86 (no recommends),
#                     busybox-static, uidmap, e2fsprogs; downloads the cloud kernel .deb
#                     and unpacks it into the cache (never installed: nothing in /boot)
#   cgvm.sh image     as root: builds the base initramfs (busybox, kernel modules,
#                     newuidmap/newgidmap and their libraries, the runas helper, /init);
#                     `run` does this by itself when the base is missing or stale
#   cgvm.sh run [OPTIONS] PROGRAM [ARGS...]
#                     as root: boots, runs PROGRAM as uid 1000, exits with its status
#       -f HOST=REL   put the host file HOST at /cgvm/REL in the guest (e.g.
#                     -f bin/hutch=bin/hutch); dynamically linked files get the shared
#                     libraries `ldd` names copied in, at the same paths
#       -e K=V        add K=V to the program's environment
#       --partial     afterwards, run PROGRAM a second time, with CGVM_SESSION=partial,
#                     in a subtree whose parent does NOT delegate memory and io (the
#                     "controller not delegated" case: only the kernel's root can move
#                     a process between two delegated subtrees, so it needs its own run)
#
# Exit status of `run`: the program's (the first non-zero one of the two sessions with
# --partial); 3 when the guest did not finish (timeout, panic): the console's tail is
# printed then. 2: usage or setup errors.
#
# The guest, as the program sees it:
#   /cgvm            an ext4 disk (not RAM) holding PROGRAM (/cgvm/bin), the -f files and
#                    /cgvm/home = $HOME of uid 1000, so containers' storage lives there
#   CGVM_CGROUP      the delegated cgroup the program starts in (it owns the directory,
#                    cgroup.procs, cgroup.subtree_control, cgroup.threads; the limit
#                    files stay root's), controllers memory pids cpu io cpuset offered
#   CGVM_SESSION     "full", or "partial" (see --partial; only cpu and pids offered)
#   XDG_RUNTIME_DIR  /run/user/1000 (tmpfs, 0700, the user's)
#   kernel modules   overlay is loaded (so hutch's native overlay driver works in the
#                    user namespace, on the ext4 disk); fuse is loaded too
#   swap             256 MiB on zram (compressed, in RAM), for --memory-swap
#
# Knobs: CGVM_CACHE (default /var/cache/hutch-cgvm), CGVM_MEM (default 512M), CGVM_SMP
# (default 2), CGVM_TB_SIZE (MiB of TCG translation cache, default 128; qemu's own
# default of 1 GiB lets its RSS reach about 1 GiB over the checks, 128 keeps it near
# 400 MiB), CGVM_TIMEOUT (seconds, default 480), CGVM_DISK (size of /cgvm, default 2G,
# sparse), CGVM_CONSOLE=1 (copy the kernel console to stderr), CGVM_KEEP=1 (keep the run
# folder). The VM has no network.
#
# Used by tests/cgroupvm (go test -tags cgroupvm) and hack/test-cgroupvm.sh; see
# docs/cgroup-vm.md for what it proves and how long it takes.
set -euo pipefail

CACHE=${CGVM_CACHE:-/var/cache/hutch-cgvm}
export PATH="/usr/local/go/bin:$PATH" # cgvm-runas is built with Go, also under sudo
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
# Kernel modules the guest loads, dependencies first (the .deb ships no modules.dep, so
# the order is worked out from each module's own "depends=" field).
MODULES=(virtio_pci virtio_blk overlay fuse lzo-rle zram)
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

say() { echo "cgvm: $*" >&2; }
die() {
	echo "cgvm: $*" >&2
	exit 2
}
need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root (sudo $SELF $1)"; }
lock_cache() { # setup and image change the cache: one at a time (runs share it read-only)
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
}
dynamic() { ldd "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------------ setup
kernel_pkg() { # the versioned package behind the linux-image-cloud-amd64 metapackage
	apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}

cmd_setup() {
	need_root setup
	lock_cache
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	if [ ! -x /bin/busybox ] || dynamic /bin/busybox; then missing+=(busybox-static); fi
	[ -x /usr/bin/newuidmap ] || missing+=(uidmap)
	command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
	command -v strings >/dev/null || missing+=(binutils)
	local pkg
	pkg=$(kernel_pkg)
	if [ ${#missing[@]} -gt 0 ] || [ -z "$pkg" ] || [ ! -e "$CACHE/kernel/$pkg/.done" ]; then
		# Fresh package lists: a superseded kernel is gone from the mirror.
		"${APT[@]}" update -qq || die "apt-get update failed: the VM tests need qemu and the Debian cloud kernel from the package mirror"
		pkg=$(kernel_pkg)
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			die "cannot install ${missing[*]} (apt-get install --no-install-recommends ${missing[*]}): the cgroup v2 VM tests cannot run without them"
	fi
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is still missing after installing qemu-system-x86"
	[ -n "$pkg" ] || die "apt-cache cannot resolve linux-image-cloud-amd64 to a kernel package (is the bookworm main component in /etc/apt/sources.list?)"
	local kd="$CACHE/kernel/$pkg"
	if [ ! -e "$kd/.done" ]; then
		# Download and unpack only: installing would run initramfs-tools and write /boot.
		rm -rf "$kd" && mkdir -p "$CACHE/debs" "$kd"
		(cd "$CACHE/debs" && "${APT[@]}" download "$pkg" 2>&1 | grep -v 'Download is performed unsandboxed' >&2 || true)
		local deb
		deb=$(ls "$CACHE"/debs/"$pkg"_*.deb 2>/dev/null | tail -1)
		[ -n "$deb" ] || die "apt-get download $pkg failed"
		dpkg-deb -x "$deb" "$kd"
		ls "$kd"/boot/vmlinuz-* >/dev/null 2>&1 || die "$deb holds no /boot/vmlinuz-*"
		touch "$kd/.done"
	fi
	ln -sfn "$kd" "$CACHE/kernel/current"
	say "ready: qemu $(qemu-system-x86_64 --version | awk 'NR==1{print $4}'), kernel $pkg, cache $CACHE"
}

kernel_dir() {
	local kd
	kd=$(readlink -f "$CACHE/kernel/current" 2>/dev/null) || true
	[ -n "$kd" ] && [ -e "$kd/.done" ] || die "no kernel in $CACHE: run 'sudo $SELF setup' first"
	echo "$kd"
}

# ------------------------------------------------------------------------ image
# runas: the guest's only non-busybox tool. As root it joins the cgroup, then drops to
# the user for good and executes the program (argv and environment from NUL-separated
# files). busybox's setpriv cannot set uids, hence this.
RUNAS_GO='package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func list(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cgvm-runas: "+format+"\n", a...)
	os.Exit(125)
}

// cgvm-runas UID CGROUP ARGVFILE ENVFILE
func main() {
	if len(os.Args) != 5 {
		fail("usage: cgvm-runas UID CGROUP ARGVFILE ENVFILE")
	}
	id, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fail("uid %q: %v", os.Args[1], err)
	}
	if err := os.WriteFile(os.Args[2]+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		fail("joining %s: %v", os.Args[2], err)
	}
	argv, env := list(os.Args[3]), list(os.Args[4])
	if len(argv) == 0 {
		fail("%s: no program", os.Args[3])
	}
	if err := syscall.Setgroups(nil); err != nil {
		fail("setgroups: %v", err)
	}
	if err := syscall.Setresgid(id, id, id); err != nil {
		fail("setresgid: %v", err)
	}
	if err := syscall.Setresuid(id, id, id); err != nil {
		fail("setresuid: %v", err)
	}
	if err := os.Chdir("/cgvm"); err != nil {
		fail("chdir: %v", err)
	}
	err = syscall.Exec(argv[0], argv, env)
	fmt.Fprintf(os.Stderr, "cgvm-runas: executing %s: %v\n", argv[0], err)
	os.Exit(127)
}
'

# /init of the guest. Results (the program's output) go to the second serial port, kernel
# noise (OOM reports, …) to the first one.
INIT_SH='#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ ! -e /.on-tmpfs ]; then
	# pivot_root(2) refuses the initramfs root (EINVAL), and a container engine needs it:
	# move everything onto a real tmpfs first.
	mkdir /newroot && mount -t tmpfs -o mode=0755 tmpfs /newroot
	for e in /*; do case $e in /newroot | /proc | /sys | /dev) ;; *) cp -a "$e" /newroot/ ;; esac; done
	mkdir -p /newroot/proc /newroot/sys /newroot/dev && : >/newroot/.on-tmpfs
	exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
OUT=/dev/ttyS1
stty -F $OUT raw -echo 2>/dev/null # no \n -> \r\n on the results port
note() { echo "cgvm-guest: $*"; echo "cgvm-guest: $*" >$OUT; }
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || note "insmod $m failed"; done
chmod 0666 /dev/fuse 2>/dev/null # devtmpfs makes it 0600, udev would make it 0666
# 256 MiB of compressed swap in RAM, so that --memory-swap has something to limit.
{ echo 256M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; } || note "no zram swap"
[ -e /proc/sys/kernel/unprivileged_userns_clone ] && echo 1 >/proc/sys/kernel/unprivileged_userns_clone
DISK=
for i in $(seq 100); do
	for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = cgvm ] && DISK=/dev/${b##*/}; done
	[ -n "$DISK" ] && break
	sleep 0.1
done
mkdir -p /cgvm
if [ -z "$DISK" ] || ! mount -t ext4 "$DISK" /cgvm; then
	note "the payload disk did not show up"
	echo "CGVM-EXIT=3" >$OUT
	poweroff -f
fi
cp -a /cgvm/lib/. / 2>/dev/null # shared libraries of the payload, at their host paths
chown 1000:1000 /cgvm/home
mkdir -p -m 0700 /run/user/1000 && chown 1000:1000 /run/user/1000
# Delegation, as systemd does it for Delegate=yes: the user gets the directory and the
# three files that let it manage its own subtree; the limit files stay root'"'"'s.
CG=/sys/fs/cgroup
for c in $(cat $CG/cgroup.controllers); do echo "+$c" >$CG/cgroup.subtree_control; done
delegate() { # DIR: make DIR and hand it to uid 1000
	mkdir -p "$1"
	chown 1000:1000 "$1" "$1/cgroup.procs" "$1/cgroup.subtree_control" "$1/cgroup.threads"
}
mkdir -p $CG/user.slice
for c in $(cat $CG/user.slice/cgroup.controllers); do echo "+$c" >$CG/user.slice/cgroup.subtree_control; done
delegate $CG/user.slice/cgvm-full
mkdir -p $CG/partial.slice
echo "+cpu +pids" >$CG/partial.slice/cgroup.subtree_control
delegate $CG/partial.slice/cgvm-partial
note "kernel $(uname -r), offered to the user: [$(cat $CG/user.slice/cgvm-full/cgroup.controllers)], up $(cut -d" " -f1 /proc/uptime)s"
session() { # NAME CGROUP
	printf "%s\0" CGVM_SESSION=$1 CGVM_CGROUP=$2 >/tmp/env.$1
	cat /cgvm/env >>/tmp/env.$1
	echo "CGVM-SESSION=$1" >$OUT
	cgvm-runas 1000 $2 /cgvm/argv /tmp/env.$1 >$OUT 2>&1 </dev/null
}
session full $CG/user.slice/cgvm-full
rc=$?
if [ -e /cgvm/partial ]; then
	session partial $CG/partial.slice/cgvm-partial
	rc2=$?
	[ $rc = 0 ] && rc=$rc2
fi
echo "CGVM-EXIT=$rc" >$OUT
left=$(cat $(find $CG/user.slice $CG/partial.slice -name cgroup.procs) | wc -l)
[ "$left" = 0 ] || note "$left process(es) left in the delegated subtrees"
umount /cgvm 2>/dev/null
sync
note "done, up $(cut -d" " -f1 /proc/uptime)s"
poweroff -f
'

copy_libs() { # ROOT FILE: the shared libraries FILE needs, at their paths under ROOT
	local lib
	for lib in $(ldd "$2" | grep -o '/[^ ]*'); do
		[ -e "$1$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$1$lib"
	done
}

module_order() { # MODDIR NAME…: the modules and their dependencies, dependencies first
	local mdir=$1 m
	shift
	local -A seen=()
	visit() {
		local f d
		[ -n "${seen[$1]:-}" ] && return
		seen[$1]=1
		f=$(find "$mdir" -name "$1.ko" -o -name "${1//_/-}.ko" | head -1)
		[ -n "$f" ] || die "kernel module $1 is not in $mdir"
		for d in $(strings -a "$f" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do visit "$d"; done
		echo "$1 $f"
	}
	for m in "$@"; do visit "$m"; done
}

base_image() { # the base initramfs for this kernel and this version of the script
	echo "$CACHE/base-$(basename "$(kernel_dir)")-$(sha256sum "$SELF" | cut -c1-12).cpio"
}

cmd_image() {
	need_root image
	lock_cache
	local kd out st r
	kd=$(kernel_dir)
	out=$(base_image)
	st=$(mktemp -d "$CACHE/image.XXXXXX")
	r="$st/root"
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,lib/modules,cgvm,var/tmp}
	install -m 0755 /bin/busybox "$r/bin/busybox"
	local a
	for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
	: >"$r/lib/modules/order"
	local m f
	while read -r m f; do
		cp "$f" "$r/lib/modules/$m.ko"
		echo "$m" >>"$r/lib/modules/order"
	done < <(module_order "$(echo "$kd"/lib/modules/*)" "${MODULES[@]}")
	# newuidmap/newgidmap as Debian ships them: setuid root, dynamically linked.
	for f in /usr/bin/newuidmap /usr/bin/newgidmap; do
		install -m 4755 -o 0 -g 0 "$f" "$r$f"
		copy_libs "$r" "$f"
	done
	local gd
	gd=$(mktemp -d /tmp/cgvm-runas.XXXXXX)
	printf '%s' "$RUNAS_GO" >"$gd/main.go"
	printf 'module cgvmrunas\n\ngo 1.22\n' >"$gd/go.mod"
	(cd "$gd" && CGO_ENABLED=0 GOFLAGS= go build -trimpath -ldflags='-s -w' -o "$r/sbin/cgvm-runas" .) || die "building cgvm-runas failed"
	rm -rf "$gd"
	printf 'root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/cgvm/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n' >"$r/etc/group"
	echo "tester:100000:65536" >"$r/etc/subuid"
	echo "tester:100000:65536" >"$r/etc/subgid"
	chmod 1777 "$r/tmp" "$r/var/tmp"
	printf '%s' "$INIT_SH" >"$r/init"
	chmod 0755 "$r/init"
	(cd "$r" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null) >"$out.tmp"
	mv "$out.tmp" "$out"
	say "base image $out ($(du -h "$out" | cut -f1); modules: $(tr '\n' ' ' <"$r/lib/modules/order"))"
	rm -rf "$st"
}

# ------------------------------------------------------------------------ run
RUNDIR="" QEMU=""
finish() { # stop our qemu if it still runs (only the pid we started), drop the run folder
	if [ -n "$QEMU" ]; then
		kill "$QEMU" 2>/dev/null || true
		wait "$QEMU" 2>/dev/null || true
	fi
	if [ -n "$RUNDIR" ]; then
		if [ -n "${CGVM_KEEP:-}" ]; then say "kept $RUNDIR"; else rm -rf "$RUNDIR"; fi
	fi
}

cmd_run() {
	need_root run
	local files=() envs=() partial=""
	while [ $# -gt 0 ]; do
		case $1 in
		-f) files+=("$2"); shift 2 ;;
		-e) envs+=("$2"); shift 2 ;;
		--partial) partial=1; shift ;;
		--) shift; break ;;
		-*) die "unknown option $1 (see $SELF)" ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || die "usage: $SELF run [-f HOST=REL]... [-e K=V]... [--partial] PROGRAM [ARGS...]"
	local prog=$1
	shift
	[ -f "$prog" ] && [ -x "$prog" ] || die "$prog is not an executable file"
	local kd base
	kd=$(kernel_dir)
	base=$(base_image)
	[ -e "$base" ] || (cmd_image)

	RUNDIR=$(mktemp -d /tmp/cgvm-run.XXXXXX)
	local w=$RUNDIR
	trap finish EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	# The payload disk: the program, the files, an empty home; made with mkfs.ext4 -d,
	# so it needs no loop device and the payload never sits in the guest's RAM.
	local p="$w/disk" name
	mkdir -p "$p/bin" "$p/home" "$p/lib"
	name=$(basename "$prog")
	install -m 0755 "$prog" "$p/bin/$name"
	if dynamic "$prog"; then copy_libs "$p/lib" "$prog"; fi
	local spec src rel
	for spec in "${files[@]}"; do
		src=${spec%%=*} rel=${spec#*=}
		[ "$src" != "$spec" ] && [ -n "$rel" ] || die "-f $spec: want HOST=REL"
		case $rel in /* | *..*) die "-f $spec: REL must be a relative path without .." ;; esac
		[ -f "$src" ] || die "-f $spec: $src is not a file"
		install -D -m "$(stat -c %a "$src")" "$src" "$p/$rel"
		if dynamic "$src"; then copy_libs "$p/lib" "$src"; fi
	done
	printf '%s\0' "/cgvm/bin/$name" "$@" >"$p/argv"
	{
		printf '%s\0' "PATH=/cgvm/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/cgvm/home USER=tester LOGNAME=tester \
			XDG_RUNTIME_DIR=/run/user/1000 TMPDIR=/tmp
		local e
		for e in "${envs[@]}"; do printf '%s\0' "$e"; done
	} >"$p/env"
	if [ -n "$partial" ]; then : >"$p/partial"; fi
	truncate -s "${CGVM_DISK:-2G}" "$w/disk.img"
	mkfs.ext4 -q -F -E root_owner=0:0 -d "$p" "$w/disk.img" || die "mkfs.ext4 -d of the payload failed"
	rm -rf "$p"
	: >"$w/results.log"
	: >"$w/console.log"

	local vmlinuz t0 t1
	vmlinuz=$(ls "$kd"/boot/vmlinuz-* | head -1)
	t0=$(date +%s.%N)
	timeout -k 10 "${CGVM_TIMEOUT:-480}" \
		qemu-system-x86_64 -machine pc -accel "tcg,tb-size=${CGVM_TB_SIZE:-128}" -cpu max -smp "${CGVM_SMP:-2}" -m "${CGVM_MEM:-512M}" \
		-nodefaults -nographic -no-reboot -monitor none \
		-kernel "$vmlinuz" -initrd "$base" \
		-append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=3" \
		-serial "file:$w/console.log" -serial "file:$w/results.log" \
		-drive "file=$w/disk.img,format=raw,if=none,id=d0,cache=unsafe" -device virtio-blk-pci,drive=d0,serial=cgvm \
		</dev/null >"$w/qemu.out" 2>&1 &
	QEMU=$!
	[ -n "${CGVM_CONSOLE:-}" ] && tail -n +1 -f --pid=$QEMU "$w/console.log" >&2 &
	tail -n +1 -f --pid=$QEMU "$w/results.log" | sed -u 's/\r$//;/^CGVM-EXIT=/d' &
	local tailer=$! qrc=0 hwm=0 v qpid
	while kill -0 "$QEMU" 2>/dev/null; do # qemu's peak RSS, for the log (VmHWM only grows)
		qpid=$(pgrep -P "$QEMU" -x qemu-system-x86 2>/dev/null | head -1) || true
		v=$(awk '/^VmHWM/{print $2}' "/proc/${qpid:-none}/status" 2>/dev/null) || true
		if [ -n "$v" ]; then hwm=$v; fi
		sleep 0.5
	done
	wait "$QEMU" || qrc=$?
	QEMU=""
	wait "$tailer" 2>/dev/null || true
	t1=$(date +%s.%N)
	local rc
	rc=$(sed -n 's/^CGVM-EXIT=\([0-9]*\).*/\1/p' "$w/results.log" | tail -1)
	say "qemu exited $qrc after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s wall, peak RSS $((hwm / 1024)) MiB; guest $(grep -a 'cgvm-guest: done' "$w/console.log" | tail -1 | sed 's/.*done, //')"
	if [ -z "$rc" ]; then
		say "the guest did not finish (timeout after ${CGVM_TIMEOUT:-480} s, kernel panic or crash); its console's tail:"
		tail -n 40 "$w/console.log" >&2
		cat "$w/qemu.out" >&2
		return 3
	fi
	return "$rc"
}

case ${1:-} in
setup) shift; cmd_setup "$@" ;;
image) shift; cmd_image "$@" ;;
run) shift; cmd_run "$@" ;;
*) sed -n '2,/^set -euo/p' "$SELF" | sed '$d'; exit 2 ;;
esac
