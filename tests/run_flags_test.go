package tests

import (
	"encoding/json"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunNameFlags: --add-host (an address and host-gateway), --dns, --dns-search,
// --dns-option and --domainname, as the container sees them in /etc/hosts,
// /etc/resolv.conf and its UTS namespace; and what inspect shows of them.
func TestRunNameFlags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)

	script := `echo hosts=$(tr '\n\t' '| ' < /etc/hosts); echo resolv=$(tr '\n' '|' < /etc/resolv.conf); echo domain=$(cat /proc/sys/kernel/domainname)`
	r := sb.ok("run", "--rm", "--add-host", "db.example:10.1.2.3", "--add-host", "v6=fd00::42", "--add-host", "gw:host-gateway",
		"--dns", "192.0.2.53", "--dns", "192.0.2.54", "--dns-search", "corp.example", "--dns-option", "ndots:3",
		"--domainname", "nis.example", imgRun, "sh", "-c", script)
	m := parseKV(r.stdout)
	requireKeys(t, m, r, "hosts", "resolv", "domain")
	assertContains(t, m["hosts"], "10.1.2.3 db.example|", "--add-host NAME:IP")
	assertContains(t, m["hosts"], "fd00::42 v6|", "--add-host NAME=IPv6")
	// host-gateway on slirp4netns without host loopback: the host's own address,
	// through slirp4netns's NAT; never left as the word.
	assertNotContains(t, m["hosts"], "host-gateway", "host-gateway resolved")
	assertContains(t, m["hosts"], " gw|", "--add-host NAME:host-gateway")
	assertContains(t, m["hosts"], "127.0.0.1 localhost|", "the usual lines stay")
	assertEqual(t, m["resolv"], "nameserver 192.0.2.53|nameserver 192.0.2.54|search corp.example|options ndots:3|", "--dns, --dns-search, --dns-option replace their lines")
	assertEqual(t, m["domain"], "nis.example", "--domainname")

	// With host loopback allowed, host-gateway is slirp4netns's gateway.
	r = sb.ok("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", "--add-host", "gw:host-gateway", imgRun, "cat", "/etc/hosts")
	assertContains(t, r.stdout, "10.0.2.2\tgw\n", "host-gateway with allow_host_loopback")

	// --dns-search . : no search line; the network's nameserver stays.
	r = sb.ok("run", "--rm", "--dns-search", ".", imgRun, "cat", "/etc/resolv.conf")
	assertNotContains(t, r.stdout, "search", "--dns-search . removes the search domains")
	assertContains(t, r.stdout, "nameserver 10.0.2.3\n", "slirp4netns's forwarder without --dns")

	// Recorded: inspect shows them in Docker's places, and a restart keeps them.
	sb.ok("create", "--name", "named", "--add-host", "db:10.9.9.9", "--dns", "192.0.2.1", "--dns-option", "rotate", "--domainname", "d.example", imgRun, "cat", "/etc/hosts")
	var in []struct {
		Config struct {
			Domainname string
		}
		HostConfig struct {
			ExtraHosts, Dns, DnsSearch, DnsOptions []string
		}
	}
	if err := json.Unmarshal([]byte(sb.ok("inspect", "named").stdout), &in); err != nil || len(in) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	assertEqual(t, strings.Join(in[0].HostConfig.ExtraHosts, ","), "db:10.9.9.9", "HostConfig.ExtraHosts")
	assertEqual(t, strings.Join(in[0].HostConfig.Dns, ","), "192.0.2.1", "HostConfig.Dns")
	assertEqual(t, strings.Join(in[0].HostConfig.DnsOptions, ","), "rotate", "HostConfig.DnsOptions")
	assertEqual(t, in[0].Config.Domainname, "d.example", "Config.Domainname")
	assertContains(t, sb.ok("start", "-a", "named").stdout, "10.9.9.9\tdb\n", "a created container's /etc/hosts")
	sb.ok("rm", "named")

	// Malformed values and meaningless combinations: one line, exit 125, the fix.
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--add-host", "nocolon", imgRun, "true"), "--add-host", "NAME:IP")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--add-host", "x:999.1.1.1", imgRun, "true"), "not an IP address")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--dns", "resolver.example", imgRun, "true"), "--dns", "not an IP address")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--network", "none", "--add-host", "gw:host-gateway", imgRun, "true"), "--network none", "no way to the host")
}

// TestRunProcessFlags: --ulimit (and [containers] default_ulimits), --sysctl (the
// namespaced keys set, the others refused with the reason), --shm-size, --group-add
// (names from the image, ids, keep-groups) and --expose with -P.
func TestRunProcessFlags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)

	// --ulimit: soft and hard as the process sees them; -1 is unlimited.
	r := sb.ok("run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "core=-1", imgRun, "sh", "-c", "grep -E '^Max (open files|core file size)' /proc/self/limits")
	assertContains(t, r.stdout, "Max open files            100                  200", "--ulimit nofile=100:200")
	assertContains(t, r.stdout, "Max core file size        unlimited            unlimited", "--ulimit core=-1")
	// A hard limit above the user's own: refused before anything runs, naming the current value.
	r = sb.expect(125, "run", "--rm", "--ulimit", "nofile=10:999999999999", imgRun, "true")
	assertOneLineError(t, r, "--ulimit nofile", "can only lower a hard limit", "ulimit -Hn")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--ulimit", "bogus=1", imgRun, "true"), "unknown limit", "nofile")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--ulimit", "nofile=20:10", imgRun, "true"), "soft limit is above the hard limit")
	// The config's default, and a --ulimit of the same name over it.
	before, _ := os.ReadFile(sb.configFile())
	sb.writeConfig(string(before) + "\n[containers]\ndefault_ulimits = [\"nofile=300:400\", \"nproc=500\"]\n")
	r = sb.ok("run", "--rm", "--ulimit", "nproc=600:700", imgRun, "sh", "-c", "grep -E '^Max (open files|processes)' /proc/self/limits")
	assertContains(t, r.stdout, "Max open files            300                  400", "default_ulimits")
	assertContains(t, r.stdout, "Max processes             600                  700", "--ulimit over default_ulimits")
	sb.writeConfig(string(before))

	// --sysctl: net.* in the container's own network namespace, the IPC keys in its own
	// IPC namespace; the host's values are untouched.
	hostShmmni := strings.TrimSpace(string(readFile(t, "/proc/sys/kernel/shmmni")))
	r = sb.ok("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmni=1234", "--sysctl", "fs/mqueue/msg_max=20",
		imgRun, "sh", "-c", "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward) shmmni=$(cat /proc/sys/kernel/shmmni) msgmax=$(cat /proc/sys/fs/mqueue/msg_max)")
	assertEqual(t, r.stdout, "fwd=1 shmmni=1234 msgmax=20\n", "--sysctl")
	assertEqual(t, strings.TrimSpace(string(readFile(t, "/proc/sys/kernel/shmmni"))), hostShmmni, "the host's kernel.shmmni")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--sysctl", "kernel.panic=1", imgRun, "true"), "kernel.panic", "not a namespaced key")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--sysctl", "vm.swappiness=1", imgRun, "true"), "vm.swappiness", "not a namespaced key")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", imgRun, "true"), "--network host", "would change that one")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--sysctl", "kernel.hostname=x", imgRun, "true"), "use --hostname")

	// --shm-size: the size of /dev/shm's tmpfs (default 64m).
	r = sb.ok("run", "--rm", "--shm-size", "2m", imgRun, "sh", "-c", "grep ' /dev/shm ' /proc/self/mounts")
	assertContains(t, r.stdout, "size=2048k", "--shm-size 2m")
	r = sb.ok("run", "--rm", imgRun, "sh", "-c", "grep ' /dev/shm ' /proc/self/mounts")
	assertContains(t, r.stdout, "size=65536k", "the default /dev/shm")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--shm-size", "lots", imgRun, "true"), "--shm-size")

	// --group-add: a name from the image's /etc/group and an id, added to the user's.
	r = sb.ok("run", "--rm", "-u", "bob", "--group-add", "extra", "--group-add", "3000", imgRun, "id", "-G")
	assertEqual(t, r.stdout, "1001 2000 2001 3000\n", "bob's groups plus extra and 3000")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--group-add", "nosuchgroup", imgRun, "true"), "--group-add nosuchgroup", "/etc/group")
	// keep-groups: the process keeps hutch's own groups (the test user's, root's group
	// in the namespace) instead of the image's.
	assertEqual(t, sb.ok("run", "--rm", "-u", "1000:1000", imgRun, "sh", "-c", "grep ^Groups: /proc/self/status").stdout, "Groups:\t \n", "no supplementary groups by default")
	assertEqual(t, sb.ok("run", "--rm", "-u", "1000:1000", "--group-add", "keep-groups", imgRun, "sh", "-c", "grep ^Groups: /proc/self/status").stdout, "Groups:\t0 \n", "keep-groups")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--group-add", "keep-groups", "--group-add", "extra", imgRun, "true"), "cannot be combined")

	// --expose: published by -P like the image's EXPOSE.
	sb.ok("create", "--name", "exp", "-P", "--expose", "7000", "--expose", "7100-7101/udp", imgRun, "true")
	in := sb.ok("inspect", "--format", "{{json .HostConfig.PortBindings}}", "exp").stdout
	for _, k := range []string{`"7000/tcp"`, `"7100/udp"`, `"7101/udp"`} {
		assertContains(t, in, k, "-P --expose publishes "+k)
	}
	sb.ok("rm", "exp")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--expose", "0", imgRun, "true"), "--expose")
}

// TestRunNamespaceFlags: --pid, --ipc, --uts host (the host's namespaces, as the test
// process sees them) and container:NAME (a running container's, as exec sees them),
// --network container:NAME, --cgroupns host; what each refuses.
func TestRunNamespaceFlags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	hostNS := func(ns string) string {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	nsScript := `for ns in pid ipc uts net cgroup; do echo $ns=$(readlink /proc/self/ns/$ns); done; echo hostname=$(hostname); echo cg=$(grep '^0::' /proc/self/cgroup); echo procs=$(ls /proc | grep -c '^[0-9]')`

	// Private by default: none is the host's.
	m := parseKV(sb.ok("run", "--rm", imgRun, "sh", "-c", nsScript).stdout)
	for _, ns := range []string{"pid", "ipc", "uts", "cgroup"} {
		if m[ns] == hostNS(ns) {
			t.Fatalf("by default the container shares the host's %s namespace: %v", ns, m)
		}
	}
	assertEqual(t, m["cg"], "0::/", "a private cgroup namespace is rooted at the container's cgroup")

	// host: the host's namespaces (hutch's user namespace does not own them).
	hostname, _ := os.Hostname()
	r := sb.ok("run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "host", imgRun, "sh", "-c", nsScript)
	m = parseKV(r.stdout)
	requireKeys(t, m, r, "pid", "ipc", "uts", "cgroup", "hostname", "procs")
	for _, ns := range []string{"pid", "ipc", "uts", "cgroup"} {
		assertEqual(t, m[ns], hostNS(ns), "--"+ns+" host")
	}
	assertEqual(t, m["hostname"], hostname, "--uts host: the host's hostname")
	// (The cgroup path itself depends on the machine's delegation: the namespace is what
	// --cgroupns says.)
	if n, _ := strconv.Atoi(m["procs"]); n < 20 {
		t.Fatalf("--pid host: the container sees %s processes, not the host's", m["procs"])
	}

	// container:NAME: a running container's namespaces.
	sb.ok("run", "-d", "--name", "holder", "--hostname", "holderhost", imgRun, "sleep", "600")
	t.Cleanup(func() { sb.run(runOpts{}, "rm", "-f", "holder") })
	hm := parseKV(sb.ok("exec", "holder", "sh", "-c", nsScript).stdout)
	r = sb.ok("run", "--rm", "--pid", "container:holder", "--ipc", "container:holder", "--uts", "container:holder", "--network", "container:holder",
		imgRun, "sh", "-c", nsScript+"; echo ps=$(pidof sleep | wc -w); echo hosts=$(tr '\\n\\t' '| ' < /etc/hosts)")
	m = parseKV(r.stdout)
	requireKeys(t, m, r, "pid", "ipc", "uts", "net", "ps", "hosts")
	for _, ns := range []string{"pid", "ipc", "uts", "net"} {
		assertEqual(t, m[ns], hm[ns], ns+" container:holder")
	}
	assertEqual(t, m["hostname"], "holderhost", "--uts container: the other's hostname")
	assertEqual(t, m["ps"], "1", "--pid container: the other's processes are seen")
	assertContains(t, m["hosts"], "10.0.2.100 holderhost", "--network container: the other's address in /etc/hosts")
	// Under a detached monitor, joining a pid, IPC or UTS namespace is refused (for now;
	// --network container: works: network_join_test.go), leaving nothing behind;
	// created, then started in the foreground, it works.
	before := len(lcPS(sb, "-a"))
	assertOneLineError(t, sb.expect(125, "run", "-d", "--uts", "container:holder", imgRun, "true"), "foreground only")
	assertEqual(t, len(lcPS(sb, "-a")), before, "no container left by the refused run -d")
	sb.ok("create", "--name", "joiner", "--uts", "container:holder", imgRun, "hostname")
	assertEqual(t, sb.ok("start", "-a", "joiner").stdout, "holderhost\n", "start -a of a created joiner")
	assertOneLineError(t, sb.expect(125, "start", "joiner"), "foreground only")
	sb.ok("rm", "joiner")
	// exec into a container that shares the host's namespaces.
	sb.ok("run", "-d", "--name", "hostpid", "--pid", "host", "--ipc", "host", imgRun, "sleep", "600")
	t.Cleanup(func() { sb.run(runOpts{}, "rm", "-f", "hostpid") })
	assertEqual(t, sb.ok("exec", "hostpid", "readlink", "/proc/self/ns/pid").stdout, hostNS("pid")+"\n", "exec into a --pid host container")

	// Refused, with the reason.
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--uts", "host", "--hostname", "x", imgRun, "true"), "--hostname", "--uts host")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--pid", "bogus", imgRun, "true"), "--pid", "private, host or container:NAME")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--cgroupns", "container:holder", imgRun, "true"), "--cgroupns", "private or host")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--pid", "container:nosuch", imgRun, "true"), "--pid container:nosuch")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--ipc", "host", "--sysctl", "kernel.shmmax=1", imgRun, "true"), "--ipc host")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--network", "container:holder", "-p", "8080:80", imgRun, "true"), "-p")
	sb.ok("create", "--name", "stopped", imgRun, "true")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--network", "container:stopped", imgRun, "true"), "stopped", "start it first")
}

// TestRunUsernsForms: --userns keep-id:uid=,gid= (you inside as those ids, and still
// you on the host); nomap and auto refused with the reason.
func TestRunUsernsForms(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	dir := bindDir(t, sb, "shared")

	r := sb.ok("run", "--rm", "--userns", "keep-id:uid=1234,gid=5678", "-v", dir+":/shared", imgRun, "sh", "-c", "id -u; id -g; stat -c %u:%g /shared; touch /shared/made")
	assertEqual(t, r.stdout, "1234\n5678\n1234:5678\n", "keep-id:uid=1234,gid=5678: you are 1234:5678 inside, and own your files")
	fi, err := os.Stat(dir + "/made")
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	assertEqual(t, int(st.Uid), sb.user.uid, "a file written with keep-id:uid= is yours on the host (uid)")
	assertEqual(t, int(st.Gid), sb.user.gid, "… and gid")

	// nomap: refused for now, saying why.
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--userns", "nomap", imgRun, "true"), "--userns nomap", "not supported yet", "keep-id")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--userns", "auto", imgRun, "true"), "--userns auto", "not supported", "keep-id")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--userns", "keep-id:uid=x", imgRun, "true"), "uid=N")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--userns", "keep-id:size=3", imgRun, "true"), "unknown option")
}

// TestRunLifecycleFlags: --cidfile (an existing file refused), --label-file, --replace,
// --platform (this machine's only), --init-path refused, -a/--attach, --sig-proxy=false.
func TestRunLifecycleFlags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)

	// --cidfile: the ID, written once recorded; an existing file is refused before
	// anything is made.
	cid := sb.path("work", "cid")
	sb.ok("run", "--rm", "--cidfile", cid, imgRun, "true")
	b, err := os.ReadFile(cid)
	if err != nil || !lcHexID.Match(b) {
		t.Fatalf("--cidfile wrote %q (%v), want a 64-digit ID", b, err)
	}
	before := len(lcPS(sb, "-a"))
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--cidfile", cid, imgRun, "true"), "--cidfile", "exists already")
	assertEqual(t, len(lcPS(sb, "-a")), before, "no container made when --cidfile exists")
	cid2 := sb.path("work", "cid2")
	id := strings.TrimSpace(sb.ok("create", "--cidfile", cid2, imgRun, "true").stdout)
	b, _ = os.ReadFile(cid2)
	assertEqual(t, string(b), id, "create --cidfile")
	sb.ok("rm", id)

	// --label-file, with --label over it.
	lf := sb.path("work", "labels")
	sb.writeUserFile(lf, "# a comment\na=1\nb=from-file\n\nc=\n")
	sb.ok("create", "--name", "lab", "--label-file", lf, "--label", "b=from-flag", imgRun, "true")
	assertEqual(t, strings.TrimSpace(sb.ok("inspect", "--format", "{{json .Config.Labels}}", "lab").stdout), `{"a":"1","b":"from-flag","c":""}`, "--label-file and --label")
	sb.ok("rm", "lab")

	// --replace: the running container of that name is stopped and removed.
	old := lcRunD(sb, "--name", "svc", imgRun, "sleep", "600")
	assertOneLineError(t, sb.expect(125, "run", "-d", "--name", "svc", imgRun, "true"), "svc")
	nid := lcRunD(sb, "--replace", "--name", "svc", imgRun, "sleep", "600")
	if nid == old {
		t.Fatalf("--replace kept the old container")
	}
	assertEqual(t, lcInspect(sb, "svc").ID, nid, "the name is the new container's")
	sb.expect(125, "inspect", old)
	sb.ok("rm", "-f", "svc")
	sb.ok("create", "--replace", "--name", "fresh", imgRun, "true") // nothing to replace
	sb.ok("rm", "fresh")
	assertOneLineError(t, sb.expect(125, "create", "--replace", imgRun, "true"), "--replace needs --name")

	// --platform: this machine's; another refused naming both.
	sb.ok("run", "--rm", "--platform", "linux/"+runtime.GOARCH, imgRun, "true")
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--platform", other, imgRun, "true"), other, "linux/"+runtime.GOARCH, "no emulation")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--init-path", "/usr/bin/tini", imgRun, "true"), "--init-path", "use --init")

	// -a: only the streams named.
	r := sb.ok("run", "--rm", "-a", "stdout", imgRun, "sh", "-c", "echo out; echo err >&2")
	assertEqual(t, r.stdout, "out\n", "-a stdout: the output")
	assertNotContains(t, r.stderr, "err", "-a stdout: no standard error")
	r = sb.ok("run", "--rm", "-a", "STDERR", imgRun, "sh", "-c", "echo out; echo err >&2")
	assertEqual(t, r.stdout, "", "-a stderr: no output")
	assertContains(t, r.stderr, "err\n", "-a stderr")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "-a", "stdin", imgRun, "true"), "-a stdin needs -i")
	assertOneLineError(t, sb.expect(125, "run", "--rm", "-d", "-a", "stdout", imgRun, "true"), "-a and -d")

	// --sig-proxy=false: a SIGTERM to hutch does not reach the container, which runs on.
	pr, pw := io.Pipe()
	bg := sb.startRun(runOpts{stdin: pr}, "run", "--rm", "-i", "--sig-proxy=false", imgRun, "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; read line; echo done-$line")
	bg.waitOutput("ready", 30*time.Second)
	bg.signal(syscall.SIGTERM)
	bg.signal(syscall.SIGINT)
	if _, err := pw.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r = bg.wait()
	assertEqual(t, r.code, 0, "--sig-proxy=false: the container ended by itself:\n"+r.String())
	assertEqual(t, r.stdout, "ready\ndone-x\n", "--sig-proxy=false: no signal passed on")
}
