package tests

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
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
