package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// maskedFiles and maskedDirs are Docker's masked paths under /proc and /sys; a container
// must read each one that exists on the host as empty.
var (
	maskedFiles = []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
		"/proc/interrupts", "/proc/latency_stats", "/proc/timer_stats"}
	maskedDirs = []string{"/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware", "/sys/devices/virtual/powercap"}
)

// isolationScript prints what a container can see of itself, as KEY=VALUE lines.
const isolationScript = `
echo self=$$
echo pid1=$(tr '\0' ' ' < /proc/1/cmdline)
echo ps=$(ps -o pid,args | tail -n +2 | tr '\n' '|')
echo nprocs=$(ls /proc | grep -c '^[0-9]')
echo hostname=$(hostname)
echo etchostname=$(cat /etc/hostname)
echo envhostname=$HOSTNAME
echo hosts=$(tr '\n\t' '| ' < /etc/hosts)
echo resolv=$(tr '\n' '|' < /etc/resolv.conf)
echo uidmap=$(while read a b c; do printf '%s %s %s|' $a $b $c; done < /proc/self/uid_map)
for ns in user mnt pid uts ipc cgroup net; do echo ns_$ns=$(readlink /proc/self/ns/$ns); done
grep -E '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs):' /proc/self/status | tr -d ' \t' | tr : =
echo id=$(id -u):$(id -g)
echo owned=$(stat -c %u:%g /home/user/owned)
echo hello=$(cat /etc/hello)
echo procsys=$( (echo x > /proc/sys/kernel/hostname) 2>&1)
echo sys=$(touch /sys/hutch-test 2>&1)
echo shm=$(echo in-shm > /dev/shm/f && cat /dev/shm/f)
echo null=$(echo x > /dev/null && wc -c < /dev/null)
echo zero=$(head -c 3 /dev/zero | od -An -tx1 | tr -d ' ')
echo full=$( (echo x > /dev/full) 2>&1)
echo urandom=$(head -c 16 /dev/urandom | wc -c)
for d in null zero full random urandom tty; do echo dev_$d=$(stat -c '%F %t:%T' /dev/$d); done
echo ptsdev=$(stat -c %d /dev/pts)
echo ptscontent=$(ls /dev/pts | tr '\n' ' ')
for f in ` + "$MASKED_FILES" + `; do echo "masked $f=$(stat -c %F $f) $(wc -c < $f)"; done
for d in ` + "$MASKED_DIRS" + `; do echo "maskeddir $d=$(ls -A $d | wc -l)"; done
echo '--- mountinfo'
cat /proc/self/mountinfo
echo '--- end'
`

// mountLine is one line of a mountinfo: where, what type, options.
type mountLine struct {
	point, fstype, opts, superOpts, majmin string
}

func parseMountinfo(s string) []mountLine {
	var out []mountLine
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 6 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		e := mountLine{point: f[4], opts: f[5], majmin: f[2], fstype: f[sep+1]}
		if sep+3 < len(f) {
			e.superOpts = f[sep+3]
		}
		out = append(out, e)
	}
	return out
}

func findMount(ms []mountLine, point string) *mountLine {
	var hit *mountLine
	for i := range ms {
		if ms[i].point == point {
			hit = &ms[i] // the last one is on top
		}
	}
	return hit
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// splitMountinfo separates the KEY=VALUE part of isolationScript's output from the
// container's mountinfo.
func splitMountinfo(t *testing.T, out string) (map[string]string, []mountLine) {
	t.Helper()
	head, rest, ok := strings.Cut(out, "--- mountinfo\n")
	mi, tail, ok2 := strings.Cut(rest, "--- end\n")
	if !ok || !ok2 {
		t.Fatalf("the container's report is cut short:\n%s", out)
	}
	return parseKV(head + tail), parseMountinfo(mi)
}

func hostNamespace(t *testing.T, ns string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// existing returns the paths that exist on the host (seen by root).
func existingPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestRunIsolation: a container sees its own processes only (its command is pid 1, the
// user's own processes on the host are invisible), its own hostname and namespaces,
// Docker's default capabilities, a read-only /proc/sys and /sys, masked /proc files, a
// tmpfs /dev with the standard nodes, its own devpts, generated /etc files, and nothing
// of the host's mounts (pivot_root); what it writes lands in its own layer, and only a
// bind mount reaches the host, where files keep their mapped owners.
func TestRunIsolation(t *testing.T) {
	t.Parallel()
	mFiles, mDirs := existingPaths(maskedFiles), existingPaths(maskedDirs)
	if len(mFiles) == 0 {
		t.Fatalf("none of %v exists on this host: the masking check would prove nothing", maskedFiles)
	}
	hostHostname, _ := os.Hostname()
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	var hostPts syscall.Stat_t
	if err := syscall.Stat("/dev/pts", &hostPts); err != nil {
		t.Fatal(err)
	}
	hostMounts := parseMountinfo(string(readFile(t, "/proc/self/mountinfo")))
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		// A process of the same user on the host, which the container must not see.
		marker := uniqueSleep()
		hostSleep := sb.startRun(runOpts{bin: "/bin/sleep"}, marker)
		out := bindDir(t, sb, "out")
		escape := sb.path("work", "escaped")
		script := strings.NewReplacer("$MASKED_FILES", strings.Join(mFiles, " "), "$MASKED_DIRS", strings.Join(mDirs, " ")).Replace(isolationScript) + `
echo varTmp=$(ls -A /var/tmp 2>&1)
cp -a /home/user/owned /out/owned-copy
echo by-root > /out/by-root
echo in-layer > /written-in-layer
mkdir -p ` + filepath.Dir(escape) + ` && echo escaped > ` + escape + ` && echo escape=written
`
		r := sb.ok("run", "--name", "iso", "-v", out+":/out", imgRun, "sh", "-c", script)
		m, mounts := splitMountinfo(t, r.stdout)
		requireKeys(t, m, r, "self", "pid1", "ps", "nprocs", "hostname", "hosts", "uidmap", "CapEff", "procsys", "varTmp", "escape")

		// pid namespace: the command is pid 1, and only the container's processes exist.
		assertEqual(t, m["self"], "1", "the shell's pid ($$)")
		if !strings.HasPrefix(m["pid1"], "sh -c ") {
			t.Fatalf("pid 1 is %q, want the command (sh -c …)", m["pid1"])
		}
		assertNotContains(t, m["ps"], marker, "ps in the container (the host's sleep "+marker+")")
		if n, _ := strconv.Atoi(m["nprocs"]); n < 1 || n > 4 {
			t.Fatalf("the container sees %s processes in /proc, want only its own few:\n%s", m["nprocs"], m["ps"])
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", hostSleep.cmd.Process.Pid)); err != nil || !strings.Contains(string(b), marker) {
			t.Fatalf("the host's sleep %s was not running during the test (%v): the check proves nothing", marker, err)
		}
		// uts: a hostname of its own (the container ID's first 12 characters).
		if h := m["hostname"]; len(h) != 12 || strings.Trim(h, "0123456789abcdef") != "" || h == hostHostname {
			t.Fatalf("hostname %q: want the container's short ID", h)
		}
		assertEqual(t, m["etchostname"], m["hostname"], "/etc/hostname")
		assertEqual(t, m["envhostname"], m["hostname"], "$HOSTNAME")
		assertContains(t, m["hosts"], "localhost", "/etc/hosts")
		assertContains(t, m["hosts"], "10.0.2.100 "+m["hostname"]+" iso", "/etc/hosts names the container")
		// The default network is slirp4netns: its DNS forwarder, with the host's search domains.
		assertEqual(t, m["resolv"], "nameserver 10.0.2.3|"+strings.ReplaceAll(string(slirpResolvLines(hostResolv)), "\n", "|"), "/etc/resolv.conf (slirp4netns)")
		if h, _ := os.Hostname(); h != hostHostname {
			t.Fatalf("the host's hostname changed from %q to %q", hostHostname, h)
		}
		// Namespaces: all new (the default network is slirp4netns, in a namespace of its own).
		for _, ns := range []string{"user", "mnt", "pid", "uts", "ipc", "cgroup", "net"} {
			if got := m["ns_"+ns]; got == "" || got == hostNamespace(t, ns) {
				t.Fatalf("%s namespace %q: want one of its own (the host's is %s)", ns, got, hostNamespace(t, ns))
			}
		}
		u := sb.user
		assertEqual(t, m["uidmap"], fmt.Sprintf("0 %d 1|1 %d %d|", u.uid, u.subUID.start, u.subUID.count), "/proc/self/uid_map")
		// Capabilities: Docker's default set, no more.
		assertEqual(t, m["CapEff"], dockerCapEff, "CapEff")
		assertEqual(t, m["CapPrm"], dockerCapEff, "CapPrm")
		assertEqual(t, m["CapBnd"], dockerCapEff, "CapBnd")
		assertEqual(t, m["CapAmb"], "0000000000000000", "CapAmb")
		assertEqual(t, m["NoNewPrivs"], "0", "NoNewPrivs")
		assertEqual(t, m["id"], "0:0", "id inside")
		assertEqual(t, m["owned"], "1000:1000", "owner of /home/user/owned inside")
		assertEqual(t, m["hello"], strings.TrimSpace(helloContent), "/etc/hello from the image")
		// /proc/sys and /sys are read-only; Docker's paths are masked.
		assertContains(t, m["procsys"], "Read-only file system", "writing /proc/sys/kernel/hostname")
		assertContains(t, m["sys"], "Read-only file system", "touch /sys/hutch-test")
		for _, f := range mFiles {
			assertEqual(t, m["masked "+f], "character special file 0", f+" (type and size inside)")
		}
		for _, d := range mDirs {
			assertEqual(t, m["maskeddir "+d], "0", d+" (entries inside)")
			if mt := findMount(mounts, d); mt == nil || mt.fstype != "tmpfs" || !hasOpt(mt.opts, "ro") {
				t.Fatalf("%s should be masked by an empty read-only tmpfs: %+v", d, mt)
			}
		}
		// /dev: a tmpfs with the standard nodes, its own devpts, shm and mqueue.
		assertEqual(t, m["shm"], "in-shm", "/dev/shm is writable")
		assertEqual(t, m["null"], "0", "/dev/null")
		assertEqual(t, m["zero"], "000000", "/dev/zero")
		assertContains(t, m["full"], "No space left on device", "writing /dev/full")
		assertEqual(t, m["urandom"], "16", "/dev/urandom")
		for d, want := range map[string]string{"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9", "tty": "5:0"} {
			assertEqual(t, m["dev_"+d], "character special file "+want, "/dev/"+d)
		}
		if m["ptsdev"] == strconv.FormatUint(hostPts.Dev, 10) {
			t.Fatalf("/dev/pts in the container is the host's devpts (device %s): want a new instance", m["ptsdev"])
		}
		assertEqual(t, strings.TrimSpace(m["ptscontent"]), "ptmx", "the container's /dev/pts holds only ptmx")
		for point, fstype := range map[string]string{"/": "", "/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts",
			"/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "", "/proc/sys": "proc",
			"/etc/hosts": "", "/etc/hostname": "", "/etc/resolv.conf": "", "/out": ""} {
			mt := findMount(mounts, point)
			if mt == nil || (fstype != "" && mt.fstype != fstype) {
				t.Fatalf("mount at %s: got %+v, want type %q\n%s", point, mt, fstype, r)
			}
		}
		for _, ro := range []string{"/sys", "/proc/sys"} {
			if !hasOpt(findMount(mounts, ro).opts, "ro") {
				t.Fatalf("%s is not mounted read-only: %+v", ro, findMount(mounts, ro))
			}
		}
		// pivot_root: none of the host's own mounts is there, and no old root.
		allowed := func(p string) bool {
			for _, prefix := range []string{"/proc", "/sys", "/dev"} {
				if p == prefix || strings.HasPrefix(p, prefix+"/") {
					return true
				}
			}
			switch p {
			case "/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/out":
				return true
			}
			return false
		}
		for _, mt := range mounts {
			if !allowed(mt.point) {
				t.Fatalf("the container has a mount at %s (%s): the host's tree (or the old root) is visible\n%s", mt.point, mt.fstype, r)
			}
		}
		for _, hm := range hostMounts {
			if !allowed(hm.point) && findMount(mounts, hm.point) != nil {
				t.Fatalf("the host's mount %s is visible in the container", hm.point)
			}
		}
		assertNotContains(t, m["varTmp"], filepath.Base(baseDir), "ls /var/tmp in the container")
		assertEqual(t, m["escape"], "written", "the container's write to "+escape+" (inside its own root)")

		// Writes: into the container's own layer, never to the host — except through the
		// bind mount, with the owners mapped.
		if _, err := os.Stat(escape); err == nil {
			t.Fatalf("the container wrote %s on the host", escape)
		}
		if _, err := os.Stat("/written-in-layer"); err == nil {
			t.Fatal("the container wrote /written-in-layer on the host's root")
		}
		assertEqual(t, string(readFile(t, layerFile(t, sb, "written-in-layer"))), "in-layer\n", "the container's write, in its layer")
		uid, gid := fileOwner(t, filepath.Join(out, "owned-copy"))
		if uid != u.subUID.start+ownedUID-1 || gid != u.subGID.start+ownedUID-1 {
			t.Fatalf("cp -a of a file owned by 1000 to a bind mount: %d:%d on the host, want %d:%d (subordinate start + 999)",
				uid, gid, u.subUID.start+ownedUID-1, u.subGID.start+ownedUID-1)
		}
		uid, gid = fileOwner(t, filepath.Join(out, "by-root"))
		if uid != u.uid || gid != u.gid {
			t.Fatalf("a file written by the container's root: %d:%d on the host, want the user's %d:%d", uid, gid, u.uid, u.gid)
		}
		sb.ok("rm", "iso")

		// -h, --network none: a hostname given, and a network namespace with only lo, up.
		r = sb.ok("run", "--rm", "-h", "box.example", "--network", "none", imgRun, "sh", "-c", `
echo hostname=$(hostname)
echo etchostname=$(cat /etc/hostname)
echo envhostname=$HOSTNAME
echo hosts=$(tr '\n\t' '| ' < /etc/hosts)
echo ns_net=$(readlink /proc/self/ns/net)
echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')
echo sysnet=$(ls /sys/class/net | tr '\n' ' ')
echo lo=$(ip link show lo | head -n 1)
echo ping=$(ping -c 1 -W 2 127.0.0.1 > /dev/null 2>&1 && echo ok)
echo procsysnet=$( (echo 1 > /proc/sys/net/ipv4/ip_forward) 2>&1)
`)
		m = parseKV(r.stdout)
		assertEqual(t, m["hostname"], "box.example", "hostname with -h")
		assertEqual(t, m["etchostname"], "box.example", "/etc/hostname with -h")
		assertEqual(t, m["envhostname"], "box.example", "$HOSTNAME with -h")
		assertContains(t, m["hosts"], "127.0.1.1 box.example|", "/etc/hosts with -h")
		if m["ns_net"] == "" || m["ns_net"] == hostNamespace(t, "net") {
			t.Fatalf("--network none: network namespace %q, want one of its own", m["ns_net"])
		}
		assertEqual(t, strings.TrimSpace(m["ifaces"]), "lo", "--network none: interfaces in /proc/net/dev")
		assertEqual(t, strings.TrimSpace(m["sysnet"]), "lo", "--network none: /sys/class/net")
		assertContains(t, m["lo"], "UP", "--network none: lo is up")
		assertEqual(t, m["ping"], "ok", "--network none: ping 127.0.0.1")
		assertContains(t, m["procsysnet"], "Read-only file system", "--network none: writing /proc/sys/net")

		// --privileged: every capability, nothing masked, /proc/sys writable where the
		// namespace owns it.
		last := strings.TrimSpace(string(readFile(t, "/proc/sys/kernel/cap_last_cap")))
		n, _ := strconv.Atoi(last)
		all := fmt.Sprintf("%016x", uint64(1)<<(n+1)-1)
		r = sb.ok("run", "--rm", "--privileged", "--network", "none", imgRun, "sh", "-c", `
grep -E '^(CapEff|CapBnd):' /proc/self/status | tr -d ' \t' | tr : =
echo masked=$(stat -c %F `+mFiles[0]+`)
echo write=$( (echo 1 > /proc/sys/net/ipv4/ip_forward) 2>&1)$(cat /proc/sys/net/ipv4/ip_forward)
`)
		m = parseKV(r.stdout)
		requireKeys(t, m, r, "CapEff", "masked", "write")
		assertEqual(t, m["CapEff"], all, "--privileged CapEff (every capability up to "+last+")")
		assertEqual(t, m["CapBnd"], all, "--privileged CapBnd")
		assertNotContains(t, m["masked"], "character special", "--privileged: "+mFiles[0]+" is not masked")
		assertEqual(t, m["write"], "1", "--privileged --network none: writing /proc/sys/net/ipv4/ip_forward")

		hostSleep.signal(syscall.SIGKILL)
		hostSleep.wait()
		assertNothingLeft(t, sb, nil, "the isolation runs")
	})
}

// slirpResolvLines are the lines of the host's resolv.conf that a container on slirp4netns
// keeps: search, domain and options.
func slirpResolvLines(host []byte) []byte {
	var out []byte
	for _, l := range strings.Split(string(host), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			out = append(out, strings.Join(f, " ")+"\n"...)
		}
	}
	return out
}
