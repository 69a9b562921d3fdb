package tests

import (
	"encoding/json"
	"os"
	"strings"
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
	assertOneLineError(t, sb.expect(125, "run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", imgRun, "true"), "--network host", "would change the host")
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
