package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireKeys fails unless the container printed every key.
func requireKeys(t *testing.T, m map[string]string, r result, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("the container did not print %s=…:\n%s", k, r)
		}
	}
}

// identityScript prints the process's identity and environment as KEY=VALUE lines.
const identityScript = `
echo pwd=$(pwd)
echo ids=$(id -u):$(id -g)
echo user=$(id -un)
echo groups=$(id -G)
echo home=$HOME
echo foo=$FOO
echo bar=${BAR-unset}
echo new=${NEW-unset}
echo hostvar=${HOSTVAR-unset}
echo hostvar2=${HOSTVAR2-unset}
echo notonhost=${NOT_ON_HOST-unset}
echo fromfile=${FROMFILE-unset}
echo "spaces=${SPACES-unset}"
echo path=$PATH
echo envnames=$(env | cut -d= -f1 | sort | tr '\n' ' ')
echo envdump=$(env | tr '\n' '|')
grep -E '^(CapEff|CapPrm|CapBnd):' /proc/self/status | tr -d ' \t' | tr : =
`

// TestRunProcessConfig: the image's Entrypoint, Cmd, Env, WorkingDir and User (set with
// import --change) and their overrides: --entrypoint, the command, -e K=V, -e K (from
// hutch's environment), --env-file, -w, -u with names from the image's /etc/passwd and
// /etc/group and supplementary groups; nothing of hutch's own environment leaks in.
func TestRunProcessConfig(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun, imgCfg)

		// Entrypoint and Cmd.
		assertEqual(t, sb.ok("run", "--rm", imgCfg).stdout, "ep default-arg\n", "run cfg (ENTRYPOINT + CMD)")
		assertEqual(t, sb.ok("run", "--rm", imgCfg, "given", "args").stdout, "ep given args\n", "run cfg ARGS (the entrypoint stays, the args replace CMD)")
		assertEqual(t, sb.ok("run", "--rm", imgRun).stdout, "default-cmd\n", "run rt (CMD)")
		assertEqual(t, sb.ok("run", "--rm", imgRun, "echo", "replaced").stdout, "replaced\n", "run rt COMMAND")
		assertEqual(t, sb.ok("run", "--rm", "--entrypoint", "/bin/echo", imgCfg).stdout, "\n", "--entrypoint drops the image's CMD")
		assertEqual(t, sb.ok("run", "--rm", "--entrypoint", "", imgCfg, "echo", "no-entrypoint").stdout, "no-entrypoint\n", `--entrypoint ""`)
		// A command found through the image's PATH (/usr/local/bin first).
		assertEqual(t, sb.ok("run", "--rm", "--entrypoint", "greet", imgCfg, "a", "b").stdout, "greet: a b\n", "a script in the image's PATH")

		// The image's config as the process sees it.
		r := sb.ok("run", "--rm", "--entrypoint", "/bin/sh", imgCfg, "-c", identityScript)
		m := parseKV(r.stdout)
		requireKeys(t, m, r, "pwd", "ids", "groups", "home", "envnames", "CapEff")
		assertEqual(t, m["pwd"], "/work/dir", "WORKDIR (created)")
		assertEqual(t, m["ids"], "1000:1000", "USER alice")
		assertEqual(t, m["user"], "alice", "user name")
		assertEqual(t, m["groups"], fmt.Sprintf("1000 %d %d", extraGID, moreGID), "alice's groups (supplementary from /etc/group)")
		assertEqual(t, m["home"], "/home/alice", "HOME from /etc/passwd")
		assertEqual(t, m["foo"], "from-image", "ENV FOO")
		assertEqual(t, m["bar"], "image-bar", "ENV BAR")
		assertEqual(t, m["path"], "/usr/local/bin:/bin", "ENV PATH")
		// A non-root user has no capabilities, within Docker's bounding set.
		assertEqual(t, m["CapEff"], "0000000000000000", "CapEff of alice")
		assertEqual(t, m["CapPrm"], "0000000000000000", "CapPrm of alice")
		assertEqual(t, m["CapBnd"], dockerCapEff, "CapBnd of alice")
		// Only what the image and hutch define: nothing of hutch's environment.
		assertEqual(t, strings.TrimSpace(m["envnames"]), "BAR FOO HOME HOSTNAME PATH PWD SHLVL", "the container's environment")
		assertNotContains(t, m["envdump"], sb.dir, "the container's environment")

		// Overrides: -e (K=V and K from hutch's environment; an unset K is left out),
		// --env-file (with -e winning), -w, -u NAME.
		envFile := sb.path("work", "env.list")
		sb.writeUserFile(envFile, "# a comment\n\nFROMFILE=file-value\nFOO=from-file\nHOSTVAR2\nSPACES=a b  c\n")
		r = sb.expectWith(runOpts{env: map[string]string{"HOSTVAR": "host-value", "HOSTVAR2": "host-two"}}, 0,
			"run", "--rm", "--env-file", envFile, "-e", "FOO=from-cli", "-e", "NEW=1", "-e", "HOSTVAR", "-e", "NOT_ON_HOST",
			"-w", "/tmp/made/here", "-u", "bob", "--entrypoint", "/bin/sh", imgCfg, "-c", identityScript)
		m = parseKV(r.stdout)
		requireKeys(t, m, r, "pwd", "ids", "groups", "home", "foo")
		assertEqual(t, m["pwd"], "/tmp/made/here", "-w (created)")
		assertEqual(t, m["ids"], "1001:1001", "-u bob")
		assertEqual(t, m["groups"], fmt.Sprintf("1001 %d", moreGID), "bob's groups")
		assertEqual(t, m["home"], "/home/bob", "HOME of bob")
		assertEqual(t, m["foo"], "from-cli", "-e FOO beats --env-file and the image")
		assertEqual(t, m["bar"], "image-bar", "the image's BAR is kept")
		assertEqual(t, m["new"], "1", "-e NEW=1")
		assertEqual(t, m["hostvar"], "host-value", "-e HOSTVAR (from hutch's environment)")
		assertEqual(t, m["hostvar2"], "host-two", "HOSTVAR2 in --env-file (from hutch's environment)")
		assertEqual(t, m["notonhost"], "unset", "-e NOT_ON_HOST (unset on the host)")
		assertEqual(t, m["fromfile"], "file-value", "--env-file")
		assertEqual(t, m["spaces"], "a b  c", "--env-file value with spaces")

		// -u USER:GROUP by name, by number (no passwd entry needed), and root.
		for _, c := range []struct{ user, ids, home string }{
			{"alice:extra", "1000:2000", "/home/alice"},
			{"1234:5678", "1234:5678", "/"},
			{"0", "0:0", "/root"},
			{"nobody", "65534:65534", "/nonexistent"},
		} {
			r = sb.ok("run", "--rm", "-u", c.user, "--entrypoint", "/bin/sh", imgCfg, "-c", identityScript)
			m = parseKV(r.stdout)
			assertEqual(t, m["ids"], c.ids, "-u "+c.user)
			assertEqual(t, m["home"], c.home, "HOME with -u "+c.user)
		}
		// An explicit HOME wins.
		r = sb.ok("run", "--rm", "-e", "HOME=/elsewhere", "--entrypoint", "/bin/sh", imgCfg, "-c", "echo $HOME")
		assertEqual(t, r.stdout, "/elsewhere\n", "-e HOME")
	})
}

// TestRunNamesCreateStartRm: --name is unique (a clash names the holder), create prints
// the ID and records the container, start -a runs it (again and again), rm removes it.
func TestRunNamesCreateStartRm(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		r := sb.ok("create", "--name", "web", imgRun, "sh", "-c", "echo started; echo in-layer >> /count; wc -l < /count; exit 3")
		id := strings.TrimSpace(r.stdout)
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("create printed %q, want a 64-hex container ID", r.stdout)
		}
		assertEqual(t, sb.df()["Containers"].Total, 1, "containers after create")
		// Nothing ran: the container's layer has no /count yet.
		for _, cmd := range [][]string{
			{"run", "--name", "web", imgRun, "true"},
			{"create", "--name", "web", imgRun, "true"},
		} {
			r = sb.expect(125, cmd...)
			assertOneLineError(t, r, `"web"`, "already used", id[:12])
		}
		assertEqual(t, sb.df()["Containers"].Total, 1, "containers after the refused names")
		// start -a runs it, by name or ID prefix; its layer persists between starts.
		r = sb.expect(3, "start", "-a", "web")
		assertEqual(t, r.stdout, "started\n1\n", "start -a web")
		r = sb.expect(3, "start", "-a", id[:8])
		assertEqual(t, r.stdout, "started\n2\n", "start -a ID-prefix (the layer kept /count)")
		// rm: by name; then the name is free again.
		r = sb.ok("rm", "web")
		assertEqual(t, r.stdout, "web\n", "rm prints the name")
		assertEqual(t, sb.df()["Containers"].Total, 0, "containers after rm")
		r = sb.expect(1, "rm", "web")
		assertOneLineError(t, r, "no such container", "web")
		sb.ok("rm", "-f", "web")
		r = sb.expect(125, "start", "-a", "web")
		assertOneLineError(t, r, "no such container", "web")
		r = sb.ok("run", "--rm", "--name", "web", imgRun, "grep", "-c", " web$", "/etc/hosts")
		assertEqual(t, r.stdout, "1\n", "run --name web after rm: /etc/hosts names it")
		// A finished run without --rm stays, by name, until rm.
		sb.ok("run", "--name", "kept", imgRun, "true")
		assertEqual(t, sb.df()["Containers"].Total, 1, "containers after run without --rm")
		sb.expect(125, "run", "--name", "kept", imgRun, "true")
		sb.ok("rm", "kept")
		assertNothingLeft(t, sb, nil, "create, start and rm")
	})
}

// TestRunCapabilities: Docker's default set, --cap-add, --cap-drop (ALL too),
// --security-opt no-new-privileges, and what a dropped capability stops.
func TestRunCapabilities(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	last, _ := strconv.Atoi(strings.TrimSpace(string(readFile(t, "/proc/sys/kernel/cap_last_cap"))))
	all := fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
	const show = `grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status | tr -d ' \t' | tr : =
echo chown=$(touch /tmp/f && chown 1000 /tmp/f 2>&1 && echo ok)
echo dac=$(echo x > /tmp/g && chmod 000 /tmp/g && cat /tmp/g 2>&1)`
	for _, c := range []struct {
		flags         []string
		eff, bnd, nnp string
		chownOK       bool // CAP_CHOWN
		dacOK         bool // CAP_DAC_OVERRIDE
	}{
		{nil, dockerCapEff, dockerCapEff, "0", true, true},
		{[]string{"--cap-add", "NET_ADMIN"}, "00000000a80435fb", "00000000a80435fb", "0", true, true},
		{[]string{"--cap-add", "sys_ptrace", "--cap-add", "CAP_SYS_ADMIN"}, "00000000a82c25fb", "00000000a82c25fb", "0", true, true},
		{[]string{"--cap-drop", "CHOWN"}, "00000000a80425fa", "00000000a80425fa", "0", false, true},
		{[]string{"--cap-drop", "dac_override"}, "00000000a80425f9", "00000000a80425f9", "0", true, false},
		{[]string{"--cap-drop", "ALL"}, "0000000000000000", "0000000000000000", "0", false, false},
		{[]string{"--cap-drop", "ALL", "--cap-add", "CHOWN"}, "0000000000000001", "0000000000000001", "0", true, false},
		{[]string{"--cap-add", "ALL"}, all, all, "0", true, true},
		{[]string{"--security-opt", "no-new-privileges"}, dockerCapEff, dockerCapEff, "1", true, true},
	} {
		name := strings.Join(c.flags, " ")
		args := append(append([]string{"run", "--rm"}, c.flags...), imgRun, "sh", "-c", show)
		r := sb.ok(args...)
		m := parseKV(r.stdout)
		requireKeys(t, m, r, "CapEff", "CapBnd", "NoNewPrivs", "chown")
		assertEqual(t, m["CapEff"], c.eff, "CapEff with "+name)
		assertEqual(t, m["CapPrm"], c.eff, "CapPrm with "+name)
		assertEqual(t, m["CapBnd"], c.bnd, "CapBnd with "+name)
		assertEqual(t, m["NoNewPrivs"], c.nnp, "NoNewPrivs with "+name)
		if got := m["chown"] == "ok"; got != c.chownOK {
			t.Fatalf("chown with %s: %q, want success %v", name, m["chown"], c.chownOK)
		}
		if !c.chownOK {
			assertContains(t, m["chown"], "Operation not permitted", "chown without CAP_CHOWN")
		}
		if got := m["dac"] == "x"; got != c.dacOK {
			t.Fatalf("reading a mode 000 file with %s: %q, want success %v", name, m["dac"], c.dacOK)
		}
	}
}

// TestRunExitStatus: the container's own status, 126 (cannot execute), 127 (not found),
// 128+N (killed by signal N), and --init as pid 1.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun, imgCfg)
	for code, cmd := range map[int][]string{0: {"true"}, 1: {"false"}, 42: {"sh", "-c", "exit 42"}, 255: {"sh", "-c", "exit 255"}} {
		sb.expect(code, append([]string{"run", "--rm", imgRun}, cmd...)...)
	}
	// 126 and 127 come with a one-line error, and leave nothing behind.
	for _, c := range []struct {
		code    int
		args    []string
		mention []string
	}{
		{127, []string{imgRun, "no-such-command"}, []string{"no-such-command", "executable file not found in $PATH"}},
		{127, []string{imgRun, "/no/such/file"}, []string{"/no/such/file"}},
		{127, []string{"-e", "PATH=/bin", "--entrypoint", "greet", imgCfg}, []string{"greet", "executable file not found in $PATH"}},
		{126, []string{imgRun, "/bin/notexec"}, []string{"/bin/notexec"}},
		{126, []string{imgRun, "/etc"}, []string{"/etc"}},
		{126, []string{"-u", "1000", imgRun, "rootonly"}, []string{"rootonly", "permission denied"}},
	} {
		r := sb.expect(c.code, append([]string{"run"}, c.args...)...)
		assertOneLineError(t, r, c.mention...)
		assertEqual(t, r.stdout, "", "stdout of a command that did not run")
		assertNothingLeft(t, sb, nil, "exit "+strconv.Itoa(c.code)+" of "+shellJoin(c.args))
	}

	// 128+N: the command (pid 1) killed from the host by SIGKILL.
	marker := uniqueSleep()
	b := sb.startRun(runOpts{}, "run", "--rm", imgRun, "sleep", marker)
	pid := waitForProcess(t, "sleep\x00"+marker+"\x00", 30*time.Second)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := b.wait()
	if r.code != 128+9 {
		t.Fatalf("a command killed by SIGKILL: want exit 137:\n%s", r)
	}

	// --init: pid 1 is hutch's reaper, the command is not pid 1, a signal that kills the
	// command gives 128+N, orphans are reaped.
	r = sb.ok("run", "--rm", "--init", imgRun, "sh", "-c",
		`echo self=$$; echo pid1=$(tr '\0' ' ' < /proc/1/cmdline); sh -c 'sleep 0.2 &'; sleep 0.6; echo zombies=$(ps -o stat,pid | grep -c '^ *Z')`)
	m := parseKV(r.stdout)
	requireKeys(t, m, r, "self", "pid1", "zombies")
	if m["self"] == "1" || m["self"] == "" {
		t.Fatalf("with --init the command is pid %q, want not 1:\n%s", m["self"], r)
	}
	assertEqual(t, strings.TrimSpace(m["pid1"]), "hutch-init", "pid 1 with --init")
	assertEqual(t, m["zombies"], "0", "zombies left with --init (an orphan sleep ended)")
	r = sb.expect(128+15, "run", "--rm", "--init", imgRun, "sh", "-c", "kill -TERM $$; sleep 5; echo survived")
	assertNotContains(t, r.stdout, "survived", "the command after SIGTERM with --init")
	// Without --init the command is pid 1, which ignores a signal it has no handler for.
	r = sb.ok("run", "--rm", imgRun, "sh", "-c", "kill -TERM $$; echo survived")
	assertEqual(t, r.stdout, "survived\n", "pid 1 ignores SIGTERM without a handler")
	assertNothingLeft(t, sb, nil, "the exit status runs")
}

// waitForProcess finds the process whose command line starts with cmdline.
func waitForProcess(t *testing.T, cmdline string, timeout time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.HasPrefix(string(b), cmdline) {
				return pid
			}
		}
	}
	t.Fatalf("no process %q within %s", strings.ReplaceAll(cmdline, "\x00", " "), timeout)
	return 0
}
