#!/usr/bin/env bash
# The demo: on a fresh Debian 12 machine, as root, install what is missing, build hutch,
# and use it as an unprivileged user (hutch-demo, created with a subordinate id range):
# make a tiny image on the spot from the static busybox, list it, save and load it, build
# an image FROM it with a Dockerfile, and run containers from them.
#   sudo hack/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (sudo $0): it installs packages and creates the demo user" >&2
	exit 1
fi
hack/install-deps.sh
hack/build.sh bin/hutch
install -m 0755 bin/hutch /usr/local/bin/hutch
echo "demo: installed /usr/local/bin/hutch"

user=hutch-demo
if ! id "$user" >/dev/null 2>&1; then
	useradd -m -s /bin/bash "$user" # Debian's useradd also gives a subuid/subgid range
fi
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 200000-265535 "$user"

# A root file system with nothing but the static busybox and a greeting.
work=$(mktemp -d /tmp/hutch-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh echo cat ls id grep httpd; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "hello from a hutch image" >"$work/rootfs/etc/greeting"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
chmod 0755 "$work" && chmod 0644 "$work/rootfs.tar"

as_user() { runuser -u "$user" -- env -i HOME="/home/$user" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
run() { echo "+ $*"; as_user "$@"; }
cd /tmp
as_user hutch system reset --force >/dev/null # start from an empty store each time
run hutch import --change 'CMD ["/bin/cat", "/etc/greeting"]' "$work/rootfs.tar" demo
run hutch images
run hutch inspect --format '{{.Config.Cmd}}' demo
run hutch save -o "/home/$user/demo.tar" demo
run hutch rmi demo
run hutch load -i "/home/$user/demo.tar"
run hutch images
run hutch info --format '{{.Store.Driver.Name}}: {{.Store.Driver.Reason}}'
run hutch run --rm demo
# Build an image FROM the imported one: a RUN, a COPY, a CMD.
ctx=$work/build
mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'EOF'
FROM demo
RUN echo "and this line was written by a RUN step, as uid $(id -u)" > /etc/built
COPY hello.sh /hello.sh
CMD ["/bin/sh", "/hello.sh"]
EOF
echo 'cat /etc/greeting /etc/built' >"$ctx/hello.sh"
chmod -R a+rX "$ctx"
run cat "$ctx/Dockerfile"
run hutch build -t demo-built "$ctx"
run hutch run --rm demo-built
run hutch build -t demo-built "$ctx" # again: every step from the cache
run hutch run --rm --network none demo sh -c 'echo "uid $(id -u) in $(cat /etc/hostname), pid $$, $(ls /proc | grep -c "^[0-9]") processes in sight"'
run hutch run --rm -v "/home/$user:/out" --userns keep-id demo sh -c 'echo written by $(id -u) > /out/from-container'
run ls -l "/home/$user/from-container"
# A service: no daemon anywhere, one small monitor process per container.
run hutch run -d --name ticker demo sh -c 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'
sleep 0.5
run hutch ps
run hutch logs --tail 2 ticker
run hutch exec ticker sh -c 'echo "exec sees pid 1: $(cat /proc/1/cmdline | tr "\0" " ")"'
run hutch stop -t 1 ticker
run hutch ps -a --format '{{.Names}}: {{.Status}}'
run hutch rm ticker
# A web server published on the host's loopback (slirp4netns and the port forwarder, no root).
run hutch run -d --name web -p 127.0.0.1::80 demo sh -c 'echo "served from a container" > /index.html && exec httpd -f -p 80 -h /'
addr=$(as_user hutch port web 80) # the free host port hutch chose
echo "+ wget -qO- http://$addr/"
served=
for _ in $(seq 50); do
	if busybox wget -qO- "http://$addr/" 2>/dev/null; then served=1; break; fi
	sleep 0.1
done
[ -n "$served" ] || { echo "demo: nothing answered on $addr" >&2; exit 1; }
run hutch rm -f web
echo "demo: done. Try it yourself: sudo -iu $user hutch info"
