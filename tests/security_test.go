package tests

// Seccomp and --security-opt: every process hutch starts in a container (run, its
// --init reaper and command, exec, build RUN) runs under Docker's default seccomp
// profile, so that the syscalls Docker blocks fail with EPERM; seccomp=unconfined and
// --privileged lift it; a profile of the user's own takes effect; every other form of
// --security-opt is accepted or refused as docs/security.md says.

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const probeImage = "localhost/probe:1"

// seccompBlocked are the probe's calls Docker's default profile answers EPERM to, and
// that the kernel answers otherwise without a filter (tests/probe/seccomp.go).
var seccompBlocked = []string{"keyctl", "add_key", "request_key", "io_uring_setup", "perf_event_open",
	"personality(READ_IMPLIES_EXEC)", "unshare(CLONE_NEWUSER)", "setns", "mount", "bpf", "userfaultfd",
	"open_by_handle_at", "set_mempolicy", "socket(AF_VSOCK)", "socket(AF_ALG)"}

// probeReport parses `probe seccomp` output: the Seccomp: mode and each call's answer.
func probeReport(t *testing.T, out string) (string, map[string]string) {
	t.Helper()
	mode := ""
	calls := map[string]string{}
	for _, l := range lines(out) {
		if m, ok := strings.CutPrefix(l, "Seccomp: "); ok {
			mode = m
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			calls[l[:i]] = l[i+1:]
		}
	}
	if mode == "" || len(calls) == 0 {
		t.Fatalf("no probe report in:\n%s", out)
	}
	return mode, calls
}

// assertConfined: Seccomp: 2, every blocked call EPERM, clone3 ENOSYS, uname works.
func assertConfined(t *testing.T, where, out string) {
	t.Helper()
	mode, calls := probeReport(t, out)
	if mode != "2" {
		t.Errorf("%s: Seccomp: %s, want 2 (filter)\n%s", where, mode, out)
	}
	for _, c := range seccompBlocked {
		if calls[c] != "EPERM" {
			t.Errorf("%s: %s answered %q, want EPERM from the filter", where, c, calls[c])
		}
	}
	if calls["clone3"] != "ENOSYS" {
		t.Errorf("%s: clone3 answered %q, want ENOSYS (Docker's profile, so libc falls back)", where, calls["clone3"])
	}
	// Blocked too, but a kernel with kexec refuses it with EPERM itself: only checked here.
	if calls["kexec_load"] != "EPERM" {
		t.Errorf("%s: kexec_load answered %q, want EPERM", where, calls["kexec_load"])
	}
	// Docker's profile allows ptrace on kernels from 4.8: the kernel answers (ESRCH).
	if calls["ptrace"] != "ESRCH" {
		t.Errorf("%s: ptrace(PTRACE_PEEKUSR, -1) answered %q, want ESRCH (allowed, as in Docker)", where, calls["ptrace"])
	}
	if calls["uname"] != "ok" {
		t.Errorf("%s: uname answered %q", where, calls["uname"])
	}
}

// assertUnconfined: Seccomp: 0, and no blocked call gets EPERM (the kernel's own
// answers: EFAULT, EBADF, EINVAL, success …).
func assertUnconfined(t *testing.T, where, out string) {
	t.Helper()
	mode, calls := probeReport(t, out)
	if mode != "0" {
		t.Errorf("%s: Seccomp: %s, want 0 (no filter)\n%s", where, mode, out)
	}
	for _, c := range seccompBlocked {
		if calls[c] == "EPERM" || calls[c] == "" {
			t.Errorf("%s: %s answered %q: without a filter the kernel answers otherwise\n%s", where, c, calls[c], out)
		}
	}
	if calls["clone3"] == "ENOSYS" {
		t.Errorf("%s: clone3 answered ENOSYS without a filter", where)
	}
}

func secSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t, userWithRange)
	lcCleanupContainers(t, sb)
	loadProbe(t, sb)
	return sb
}

func probeRun(sb *sandbox, args ...string) string {
	sb.t.Helper()
	a := append([]string{"run", "--rm", "--network", "none"}, args...)
	return sb.ok(append(a, probeImage, "probe", "seccomp")...).stdout
}

// TestSeccompDefault: Docker's default profile in every container process, whatever
// the user, with and without no_new_privs, with --init, with --userns=keep-id, in exec
// and in build RUN steps.
func TestSeccompDefault(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"run", nil},
		{"run as a non-root user", []string{"-u", "65534:65534"}},
		{"run with no-new-privileges", []string{"--security-opt", "no-new-privileges"}},
		{"run non-root with no-new-privileges", []string{"-u", "1000", "--security-opt", "no-new-privileges=true"}},
		{"run --init", []string{"--init"}},
		{"run --init with no-new-privileges", []string{"--init", "--security-opt", "no-new-privileges:true"}},
		{"run --userns=keep-id", []string{"--userns", "keep-id"}},
		{"run with --cap-add ALL but not privileged", []string{"--cap-add", "NET_ADMIN"}},
	} {
		assertConfined(t, c.name, probeRun(sb, c.args...))
	}
	// With --init the reaper (pid 1) is confined too.
	r := sb.ok("run", "--rm", "--network", "none", "--init", probeImage, "sh", "-c", "grep Seccomp: /proc/1/status /proc/self/status")
	if strings.Count(r.stdout, "Seccomp:\t2") != 2 {
		t.Errorf("--init: want the reaper and the command confined:\n%s", r)
	}
	// CAP_SYS_ADMIN brings Docker's rules for it: mount, unshare, setns are allowed.
	_, calls := probeReport(t, probeRun(sb, "--cap-add", "SYS_ADMIN"))
	for _, c := range []string{"mount", "setns"} {
		if calls[c] == "EPERM" {
			t.Errorf("--cap-add SYS_ADMIN: %s answered EPERM; Docker's profile allows it with the capability", c)
		}
	}

	t.Run("exec", func(t *testing.T) {
		sb := lcAt(sb, t)
		lcRunD(sb, "--name", "sc-exec", "--network", "none", probeImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		assertConfined(t, "exec", sb.ok("exec", "sc-exec", "probe", "seccomp").stdout)
		assertConfined(t, "exec -u nobody", sb.ok("exec", "-u", "65534", "sc-exec", "probe", "seccomp").stdout)
		// exec --privileged gives capabilities, not a way out of the container's filter.
		mode, _ := probeReport(t, sb.ok("exec", "--privileged", "sc-exec", "probe", "seccomp").stdout)
		if mode != "2" {
			t.Errorf("exec --privileged: Seccomp: %s, want 2 (the container's filter)", mode)
		}
		lcRunD(sb, "--name", "sc-exec-u", "--network", "none", "--security-opt", "seccomp=unconfined", probeImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		assertUnconfined(t, "exec in an unconfined container", sb.ok("exec", "sc-exec-u", "probe", "seccomp").stdout)
		// In a container of its own user namespace, and with no_new_privs (the filter
		// goes in after the identity switch there).
		lcRunD(sb, "--name", "sc-exec-k", "--network", "none", "--userns", "keep-id", "--security-opt", "no-new-privileges", probeImage, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait")
		assertConfined(t, "exec in a keep-id, no-new-privileges container", sb.ok("exec", "sc-exec-k", "probe", "seccomp").stdout)
		assertConfined(t, "exec -u 0 in a keep-id container", sb.ok("exec", "-u", "0", "sc-exec-k", "probe", "seccomp").stdout)
		sb.ok("rm", "-f", "sc-exec", "sc-exec-u", "sc-exec-k")
	})

	t.Run("build", func(t *testing.T) {
		sb := lcAt(sb, t)
		dir := bdCtx(t, sb, "sc-build", map[string]string{"Dockerfile": "FROM " + probeImage + "\nRUN probe seccomp\n"})
		r, _ := bdBuild(sb, "--network", "none", "--no-cache", dir)
		assertConfined(t, "build RUN", r.stdout)
		r, _ = bdBuild(sb, "--network", "none", "--no-cache", "--security-opt", "seccomp=unconfined", dir)
		assertUnconfined(t, "build --security-opt seccomp=unconfined", r.stdout)
	})
}

// TestSeccompUnconfined: seccomp=unconfined and --privileged run with no filter.
func TestSeccompUnconfined(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	assertUnconfined(t, "seccomp=unconfined", probeRun(sb, "--security-opt", "seccomp=unconfined"))
	assertUnconfined(t, "seccomp:unconfined", probeRun(sb, "--security-opt", "seccomp:unconfined"))
	assertUnconfined(t, "--privileged", probeRun(sb, "--privileged"))
	assertUnconfined(t, "--init seccomp=unconfined", probeRun(sb, "--init", "--security-opt", "seccomp=unconfined"))
	assertConfined(t, "seccomp=builtin", probeRun(sb, "--security-opt", "seccomp=unconfined", "--security-opt", "seccomp=builtin"))
}

// TestSeccompCustomProfile: a profile in Docker's JSON format takes effect (uname gets
// the errno it names, the rest is allowed); it is kept in the record, so the container
// starts again after the file is gone; inspect names it with its digest.
func TestSeccompCustomProfile(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	profile := sb.path("work", "no-uname.json")
	sb.writeUserFile(profile, `{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [
		{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
	]
}`)
	out := probeRun(sb, "--security-opt", "seccomp="+profile)
	mode, calls := probeReport(t, out)
	if mode != "2" || calls["uname"] != "EACCES" || calls["keyctl"] == "EPERM" {
		t.Errorf("custom profile: want Seccomp: 2, uname EACCES and keyctl allowed:\n%s", out)
	}
	// The filter reaches the command itself: busybox's uname, whose uname(2) fails,
	// prints no release (it does not check the error); a relative path is read from
	// the current directory.
	r := sb.ok("run", "--rm", "--network", "none", "--security-opt", "seccomp=no-uname.json", probeImage, "busybox", "uname", "-r")
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("uname -r under a profile that blocks uname(2): want no release:\n%s", r)
	}
	if r := sb.ok("run", "--rm", "--network", "none", probeImage, "busybox", "uname", "-r"); strings.TrimSpace(r.stdout) == "" {
		t.Errorf("uname -r without the profile printed nothing:\n%s", r)
	}

	id := strings.TrimSpace(sb.ok("create", "--name", "sc-custom", "--network", "none", "--security-opt", "seccomp="+profile,
		probeImage, "probe", "seccomp", "uname").stdout)
	if err := os.Remove(profile); err != nil {
		t.Fatal(err)
	}
	r = sb.ok("start", "-a", "sc-custom")
	if !strings.Contains(r.stdout, "uname EACCES") {
		t.Errorf("start after the profile file is gone: want the recorded profile in effect:\n%s", r)
	}
	var in []struct {
		HostConfig struct {
			SecurityOpt []string `json:"SecurityOpt"`
		} `json:"HostConfig"`
		Seccomp struct {
			Profile string `json:"Profile"`
			Path    string `json:"Path"`
			Digest  string `json:"Digest"`
		} `json:"Seccomp"`
	}
	mustJSON(t, sb.ok("inspect", id), &in)
	if len(in) != 1 || in[0].Seccomp.Profile != "file" || in[0].Seccomp.Path != profile ||
		!strings.HasPrefix(in[0].Seccomp.Digest, "sha256:") || len(in[0].HostConfig.SecurityOpt) != 1 {
		t.Errorf("inspect: want the profile file and its digest: %+v", in)
	}
	sb.ok("rm", "sc-custom")
}

// TestSeccompBadProfile: a malformed or unusable profile is refused (125), naming the
// file and the problem, before anything runs.
func TestSeccompBadProfile(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	for name, c := range map[string]struct{ body, want string }{
		"syntax.json":  {"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n", "line 4"},
		"type.json":    {`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "uname", "action": "SCMP_ACT_ERRNO"}]}`, "Docker's JSON format"},
		"action.json":  {`{"defaultAction": "SCMP_ACT_SOMETIMES"}`, "SCMP_ACT_SOMETIMES"},
		"op.json":      {`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}`, "SCMP_CMP_ALMOST"},
		"notify.json":  {`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]}`, "agent"},
		"empty.json":   {`{}`, "seccomp=unconfined"},
		"archmap.json": {`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`, "archMap"},
	} {
		file := sb.path("work", name)
		sb.writeUserFile(file, c.body)
		for _, cmd := range [][]string{
			{"run", "--rm", "--network", "none", "--security-opt", "seccomp=" + file, probeImage, "true"},
			{"create", "--security-opt", "seccomp=" + file, probeImage, "true"},
		} {
			r := sb.expect(125, cmd...)
			if !strings.Contains(r.stderr, file) || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s: want the file and %q in the error:\n%s", name, c.want, r)
			}
		}
	}
	r := sb.expect(125, "run", "--rm", "--security-opt", "seccomp=/no/such/profile.json", probeImage, "true")
	if !strings.Contains(r.stderr, "/no/such/profile.json") {
		t.Errorf("a missing profile: want the path named:\n%s", r)
	}
	if ps := sb.ok("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("refused profiles left containers behind: %q", ps)
	}
}

// TestSecurityOptForms: every accepted form of --security-opt works as documented;
// an unknown one is refused with 125 and the list of accepted ones.
func TestSecurityOptForms(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	nnp := func(args ...string) string {
		a := append([]string{"run", "--rm", "--network", "none"}, args...)
		r := sb.ok(append(a, probeImage, "sh", "-c", "grep NoNewPrivs: /proc/self/status")...)
		return strings.Join(strings.Fields(r.stdout), " ")
	}
	for _, c := range []struct {
		opts []string
		want string
	}{
		{nil, "NoNewPrivs: 0"},
		{[]string{"no-new-privileges"}, "NoNewPrivs: 1"},
		{[]string{"no-new-privileges=true"}, "NoNewPrivs: 1"},
		{[]string{"no-new-privileges:true"}, "NoNewPrivs: 1"},
		{[]string{"no-new-privileges=false"}, "NoNewPrivs: 0"},
		{[]string{"no-new-privileges:false"}, "NoNewPrivs: 0"},
		{[]string{"no-new-privileges", "no-new-privileges=false"}, "NoNewPrivs: 0"},
	} {
		var args []string
		for _, o := range c.opts {
			args = append(args, "--security-opt", o)
		}
		if got := nnp(args...); got != c.want {
			t.Errorf("--security-opt %v: %q, want %q", c.opts, got, c.want)
		}
	}

	// mask= hides more paths; unmask= shows masked ones again (ALL: every one, and the
	// read-only ones become writable mounts no more).
	look := func(args ...string) string {
		a := append([]string{"run", "--rm", "--network", "none"}, args...)
		return sb.ok(append(a, probeImage, "sh", "-c",
			"for f in /proc/kcore /proc/keys /proc/cmdline; do if [ -s $f ] || [ $(wc -c < $f 2>/dev/null || echo 0) != 0 ]; then echo $f:shown; else echo $f:hidden; fi; done; "+
				"grep -c ' /proc/sys ro,' /proc/self/mountinfo || true")...).stdout
	}
	def := look()
	if !strings.Contains(def, "/proc/keys:hidden") || !strings.Contains(def, "/proc/cmdline:shown") || !strings.HasSuffix(def, "1\n") {
		t.Fatalf("default masks: %q", def)
	}
	if got := look("--security-opt", "mask=/proc/cmdline:/proc/version"); !strings.Contains(got, "/proc/cmdline:hidden") {
		t.Errorf("mask=/proc/cmdline: %q", got)
	}
	if got := look("--security-opt", "unmask=/proc/keys"); !strings.Contains(got, "/proc/keys:shown") {
		t.Errorf("unmask=/proc/keys: %q", got)
	}
	if got := look("--security-opt", "unmask=ALL"); !strings.Contains(got, "/proc/keys:shown") || !strings.HasSuffix(got, "0\n") {
		t.Errorf("unmask=ALL: %q", got)
	}
	if got := look("--security-opt", "systempaths=unconfined"); !strings.Contains(got, "/proc/keys:shown") {
		t.Errorf("systempaths=unconfined: %q", got)
	}

	// Accepted where they mean nothing here (no SELinux, no AppArmor).
	for _, o := range []string{"label=disable", "label:disable", "label=nested", "label=type:container_t", "label=level:s0:c1,c2", "apparmor=unconfined"} {
		sb.ok("run", "--rm", "--network", "none", "--security-opt", o, probeImage, "true")
	}
	// Refused, with the reason or the list.
	for o, want := range map[string]string{
		"apparmor=docker-default": "AppArmor",
		"seccomp":                 "seccomp needs a value",
		"no-new-privileges=maybe": "true or false",
		"mask=proc/kcore":         "absolute path",
		"unmask=/proc/../etc":     "clean absolute path",
		"label=whatever":          "label takes",
		"systempaths=confined":    "systempaths takes unconfined",
		"no-such-option":          "seccomp=unconfined|builtin|PROFILE.json",
		"seccomp-profile=x.json":  "no-new-privileges[=true|false]",
		"credentialspec=file://x": "unknown security option",
	} {
		for _, cmd := range [][]string{
			{"run", "--rm", "--security-opt", o, probeImage, "true"},
			{"create", "--security-opt", o, probeImage, "true"},
			{"build", "--security-opt", o, "."},
		} {
			r := sb.expect(125, cmd...)
			if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--security-opt") {
				t.Errorf("%s: want %q in the error:\n%s", strings.Join(cmd[:3], " "), want, r)
			}
		}
	}
	// Refused before the image is looked up or pulled.
	for _, cmd := range []string{"run", "create"} {
		r := sb.expect(125, cmd, "--security-opt", "bogus", "localhost/no-such-image:1", "true")
		if !strings.Contains(r.stderr, "--security-opt \"bogus\"") || strings.Contains(r.stderr, "no-such-image") {
			t.Errorf("%s: want the option refused before the image is looked for:\n%s", cmd, r)
		}
	}
	if ps := sb.ok("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("refused options left containers behind: %q", ps)
	}
}

// TestSecurityInspectInfo: inspect shows the options as given and the profile in
// effect; info reports seccomp support as Docker's SecurityOptions.
func TestSecurityInspectInfo(t *testing.T) {
	t.Parallel()
	sb := secSandbox(t)
	type sec struct {
		HostConfig struct {
			SecurityOpt   []string `json:"SecurityOpt"`
			MaskedPaths   []string `json:"MaskedPaths"`
			ReadonlyPaths []string `json:"ReadonlyPaths"`
		} `json:"HostConfig"`
		Seccomp struct {
			Profile string `json:"Profile"`
			Digest  string `json:"Digest"`
			Source  string `json:"Source"`
		} `json:"Seccomp"`
	}
	get := func(args ...string) sec {
		id := strings.TrimSpace(sb.ok(append(append([]string{"create", "--network", "none"}, args...), probeImage, "true")...).stdout)
		var in []sec
		mustJSON(t, sb.ok("inspect", id), &in)
		sb.ok("rm", id)
		return in[0]
	}
	d := get()
	if d.Seccomp.Profile != "builtin" || !strings.HasPrefix(d.Seccomp.Digest, "sha256:") || !strings.Contains(d.Seccomp.Source, "moby/profiles") {
		t.Errorf("default: %+v", d.Seccomp)
	}
	if d.HostConfig.SecurityOpt == nil || len(d.HostConfig.SecurityOpt) != 0 {
		t.Errorf("default SecurityOpt: %#v, want []", d.HostConfig.SecurityOpt)
	}
	if !contains(d.HostConfig.MaskedPaths, "/proc/keys") || !contains(d.HostConfig.ReadonlyPaths, "/proc/sys") {
		t.Errorf("default masked/read-only paths: %+v", d.HostConfig)
	}
	u := get("--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges", "--security-opt", "unmask=/proc/keys")
	if u.Seccomp.Profile != "unconfined" || strings.Join(u.HostConfig.SecurityOpt, ",") != "seccomp=unconfined,no-new-privileges,unmask=/proc/keys" {
		t.Errorf("unconfined: %+v", u)
	}
	if contains(u.HostConfig.MaskedPaths, "/proc/keys") {
		t.Errorf("unmask=/proc/keys still masked: %v", u.HostConfig.MaskedPaths)
	}
	if p := get("--privileged"); p.Seccomp.Profile != "unconfined" {
		t.Errorf("--privileged: %+v", p.Seccomp)
	}

	r := sb.ok("info", "--format", "json")
	var info struct {
		SecurityOptions []string `json:"SecurityOptions"`
		Seccomp         struct {
			Enabled bool   `json:"enabled"`
			Profile string `json:"profile"`
		} `json:"seccomp"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("info: %v\n%s", err, r)
	}
	if !contains(info.SecurityOptions, "name=seccomp,profile=builtin") || !contains(info.SecurityOptions, "name=rootless") || !info.Seccomp.Enabled {
		t.Errorf("info SecurityOptions: %v %+v", info.SecurityOptions, info.Seccomp)
	}
	if h := sb.ok("info").stdout; !strings.Contains(h, "seccomp") {
		t.Errorf("info: no seccomp line:\n%s", h)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
