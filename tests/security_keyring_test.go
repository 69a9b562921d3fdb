package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keyringRunOpts are the options of every container TestKeyringIsolation starts (run,
// run -d, the container exec joins); keyringBuildOpts those of its build. Anything the
// keyring probe needs from the container's configuration goes here, once. The default
// seccomp profile refuses keyctl altogether (TestSeccompDefault): unconfined, the probe
// shows what the keyring isolation alone holds back.
var (
	keyringRunOpts   = []string{"--network", "none", "--security-opt", "seccomp=unconfined"}
	keyringBuildOpts = []string{"--network", "none", "--no-cache", "--security-opt", "seccomp=unconfined"}
)

// TestKeyringIsolation (docs/security.md, "Keyrings"): a user's shell with a session
// keyring holding a secret key (and a key in the user's keyring) starts containers; no
// process in them — run, run -d, exec, a build's RUN step — has that session keyring,
// sees the keys in it, or reads either key by its id. Each container has a session
// keyring of its own, named _ses.ID, which the processes exec'd into it share; a build
// step has a new anonymous one. The control: the probe run on the host, in the same
// session, does read both keys.
func TestKeyringIsolation(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	loadProbe(t, sb)
	lcCleanupContainers(t, sb)
	if _, err := fix.probeArchive(); err != nil {
		t.Fatal(err)
	}
	probeBin := filepath.Join(fix.dir, "probe")
	word := randomWord(t)
	img := "localhost/probe:1"
	ctx := bdCtx(t, sb, "ctx", map[string]string{"Dockerfile": "FROM " + img + "\nARG HOST\nARG USERKEY\nRUN probe keyring $HOST $USERKEY\n"})
	h := shellJoin([]string{hutchBin})
	run := h + " run " + shellJoin(keyringRunOpts)
	// In a new session keyring of the shell's own, linked to the user's keyring (as
	// pam_keyinit makes one at login), a key with a secret; a second secret in the
	// user's keyring, unlinked when the shell ends.
	inner := `keyctl link @u @s
host=$(keyctl add user hutch-host-secret "SESSION-SECRET-` + word + `" @s)
user=$(keyctl add user hutch-user-secret "USER-SECRET-` + word + `" @u)
trap 'keyctl unlink "$user" @u >/dev/null' EXIT
echo "@@keys $host $user"
echo @@control; ` + shellJoin([]string{probeBin}) + ` keyring "$host" "$user"
echo @@run; ` + run + ` --rm ` + img + ` probe keyring "$host" "$user"
echo @@run-d; id=$(` + run + ` -d ` + img + ` probe keyring "$host" "$user"); ` + h + ` wait "$id" >/dev/null; echo "@@id $id"; ` + h + ` logs "$id"
# A container whose command adds a key to its session keyring, then waits; its first
# line (the key's id) says it is done.
mkfifo "$TMPDIR/kr.out"
` + run + ` --rm --name kr ` + img + ` sh -c 'probe keyring --add ctr-key:ctr-secret; exec sleep 1000' >"$TMPDIR/kr.out" &
exec 8<"$TMPDIR/kr.out"
read -r added <&8
echo "@@exec $added"; ` + h + ` exec kr probe keyring "$host" "$user"
` + h + ` kill kr >/dev/null
wait || true
echo @@build; ` + h + ` build ` + shellJoin(keyringBuildOpts) + ` --build-arg "HOST=$host" --build-arg "USERKEY=$user" -t keyring ` + shellJoin([]string{ctx}) + `
echo @@end
`
	r := sb.shell("set -e\nkeyctl session - sh -ec " + shellJoin([]string{inner}))
	if r.code != 0 {
		t.Fatalf("the shell failed:\n%s", r)
	}
	out := r.stdout
	m := regexp.MustCompile(`(?m)^@@keys (\d+) (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key ids in the output:\n%s", r)
	}
	hostKey, userKey := m[1], m[2]
	secrets := []string{"SESSION-SECRET-" + word, "USER-SECRET-" + word}

	marks := regexp.MustCompile(`(?m)^@@(control|run-d|run|exec|build|end)(?: .*)?$`).FindAllStringSubmatchIndex(out, -1)
	sections := map[string]string{}
	for i := 0; i+1 < len(marks); i++ {
		sections[out[marks[i][2]:marks[i][3]]] = out[marks[i][0]:marks[i+1][0]]
	}
	for _, s := range []string{"control", "run", "run-d", "exec", "build"} {
		if sections[s] == "" {
			t.Fatalf("no %s section in the output:\n%s", s, r)
		}
	}

	// The control: on the host, in the shell's session, the probe reads both secrets.
	control := sections["control"]
	for _, s := range secrets {
		if !strings.Contains(control, s) {
			t.Fatalf("control: the probe on the host did not read %s, so the test cannot show a leak:\n%s", s, control)
		}
	}
	// The session keyring's id (its description shows the ids as each namespace maps them).
	sessionID := func(sec string) string { return strings.Fields(probeLine(sec, "keyring session") + " ")[0] }
	hostSession := sessionID(control)

	for _, name := range []string{"run", "run-d", "exec", "build"} {
		sec := sections[name]
		for _, s := range secrets {
			if strings.Contains(sec, s) {
				t.Errorf("%s: a container read the user's secret %s:\n%s", name, s, sec)
			}
		}
		for _, k := range []string{hostKey, userKey} {
			if v := probeLine(sec, "keyring read "+k); v == "" || strings.HasPrefix(v, "ok") {
				t.Errorf("%s: reading host key %s from the container: %q, want an error", name, k, v)
			}
			if strings.Contains(sec, "keyring linked: "+k+" ") {
				t.Errorf("%s: the container's session keyring holds the host key %s:\n%s", name, k, sec)
			}
		}
		ses := sessionID(sec)
		if ses == "" || ses == hostSession {
			t.Errorf("%s: the container's session keyring is %q, the host shell's is %q: want one of its own", name, ses, hostSession)
		}
	}
	// Each container has its own, named after it; exec'd processes join the container's.
	sesName := func(sec string) string {
		f := strings.Split(probeLine(sec, "keyring session"), ";")
		return f[len(f)-1]
	}
	if id := regexp.MustCompile(`(?m)^@@id ([0-9a-f]{64})$`).FindStringSubmatch(sections["run-d"]); id == nil {
		t.Errorf("run -d printed no container id:\n%s", sections["run-d"])
	} else if got := sesName(sections["run-d"]); got != "_ses."+id[1] {
		t.Errorf("run -d: session keyring %q, want _ses.%s", got, id[1])
	}
	runName, execName := sesName(sections["run"]), sesName(sections["exec"])
	if !regexp.MustCompile(`^_ses\.[0-9a-f]{64}$`).MatchString(runName) || !regexp.MustCompile(`^_ses\.[0-9a-f]{64}$`).MatchString(execName) || runName == execName {
		t.Errorf("run and exec (two containers): session keyrings %q and %q, want _ses.ID, one per container", runName, execName)
	}
	added := regexp.MustCompile(`(?m)^@@exec keyring added: (\d+)$`).FindStringSubmatch(sections["exec"])
	if added == nil {
		t.Errorf("the container did not add its key:\n%s", sections["exec"])
	} else if !strings.Contains(sections["exec"], "keyring linked: "+added[1]+" ") {
		t.Errorf("exec: the exec'd process does not share the container's session keyring (no key %s in it):\n%s", added[1], sections["exec"])
	}
	// A RUN step under a seccomp profile that refuses keyctl cannot see any keyring: that
	// is as good as a keyring of its own.
	if got := sesName(sections["build"]); got != "_ses" && got != "EPERM" {
		t.Errorf("build: the RUN step's session keyring is %q, want a new anonymous one (_ses)", got)
	}
	if t.Failed() {
		t.Logf("the whole output:\n%s", r)
	}
}

// probeLine returns what follows "KEY: " on the probe's line starting with key.
func probeLine(out, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `: (.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}
