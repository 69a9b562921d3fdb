package tests

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHelp: help texts carry examples.
func TestHelp(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	r := sb.ok("--help")
	assertContains(t, r.stdout, "Examples:", "hutch --help")
	assertContains(t, r.stdout, "Available Commands:", "hutch --help")
	for _, cmd := range []string{"images", "load", "save", "import", "inspect", "rmi", "tag", "info"} {
		assertContains(t, r.stdout, "\n  "+cmd+" ", "hutch --help lists "+cmd)
	}
	for _, args := range [][]string{{"images", "--help"}, {"load", "--help"}, {"save", "--help"}, {"import", "--help"},
		{"inspect", "--help"}, {"rmi", "--help"}, {"tag", "--help"}, {"info", "--help"}, {"image", "ls", "--help"}, {"help", "import"}} {
		r := sb.ok(args...)
		assertContains(t, r.stdout, "Examples:", "hutch "+strings.Join(args, " "))
		assertContains(t, r.stdout, "  hutch ", "hutch "+strings.Join(args, " ")+" example lines")
	}
	// Help needs no store and no namespace: nothing is created.
	if _, err := os.Stat(sb.graphRoot()); err == nil {
		t.Fatal("--help created the store")
	}
}

// TestCompletion: `completion bash` prints a script bash accepts.
func TestCompletion(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	r := sb.ok("completion", "bash")
	assertContains(t, r.stdout, "# bash completion", "completion bash")
	assertContains(t, r.stdout, "complete -o default -F __start_hutch hutch", "completion bash")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to check the completion script: %v", err)
	}
	check := exec.Command(bash, "-n")
	check.Stdin = strings.NewReader(r.stdout)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("bash -n rejects the completion script: %v\n%s", err, out)
	}
	// The script really completes: ask hutch for the candidates as bash would.
	r = sb.ok("__complete", "ima")
	assertContains(t, r.stdout, "images", "completion candidates for 'ima'")
	assertContains(t, r.stdout, "image", "completion candidates for 'ima'")
}

// TestLogLevel: --log-level debug shows the library's debug lines; the default does not.
func TestLogLevel(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	r := sb.ok("--log-level", "debug", "images")
	assertContains(t, r.stderr, "level=debug", "--log-level debug")
	r = sb.ok("images")
	assertNotContains(t, r.stderr, "level=", "default log level")
	r = sb.ok("--log-level=info", "images")
	assertNotContains(t, r.stderr, "level=debug", "--log-level info")
	r = sb.expect(125, "--log-level", "loud", "images")
	assertOneLineError(t, r, `"loud"`, "debug")
}

// TestVersion: version works without a store.
func TestVersion(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	r := sb.ok("version")
	assertContains(t, r.stdout, "Version:", "version")
	assertContains(t, r.stdout, "OS/Arch:    linux/"+runtimeArch(), "version")
	var v struct{ Client map[string]string }
	mustJSON(t, sb.ok("version", "--format", "json"), &v)
	if v.Client["Version"] == "" || !strings.HasPrefix(v.Client["GoVersion"], "go") ||
		v.Client["Os"] != "linux" || v.Client["Arch"] != runtimeArch() {
		t.Fatalf("version --format json: %v", v)
	}
	assertEqual(t, sb.ok("version", "--format", "{{.Client.OsArch}}").stdout, "linux/"+runtimeArch()+"\n", "version --format")
	// --version, as docker's and podman's: one line, the version and the build.
	if v := sb.ok("--version").stdout; !strings.HasPrefix(v, "hutch version "+strings.TrimSpace(sb.ok("version", "--format", "{{.Client.Version}}").stdout)+", build ") || strings.Count(v, "\n") != 1 {
		t.Fatalf("hutch --version: %q", v)
	}
	// hack/build.sh stamps the commit of the checkout it builds (CI builds a clean clone):
	// a full hash of this checkout's history — HEAD itself, or one before it when a commit
	// was made while the suite ran (the binary under test was built first).
	got := strings.TrimSpace(sb.ok("version", "--format", "{{.Client.GitCommit}}").stdout)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(got) {
		t.Fatalf("version's commit: %q, want the full hash hack/build.sh stamps", got)
	}
	if out, err := exec.Command("git", "-C", "..", "merge-base", "--is-ancestor", got, "HEAD").CombinedOutput(); err != nil {
		head, _ := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
		t.Fatalf("version's commit %s is not HEAD (%s) or one of its ancestors: %v %s", got, strings.TrimSpace(string(head)), err, out)
	}
	assertContains(t, r.stdout, "Git Commit: "+got, "version")
	if _, err := os.Stat(sb.graphRoot()); err == nil {
		t.Fatal("version created the store")
	}
	// info names the commit too, for bug reports.
	want := strings.TrimSpace(sb.ok("version", "--format", "{{.Client.Commit}}").stdout)
	assertEqual(t, sb.ok("info", "--format", "{{.Commit}}").stdout, want+"\n", "info's commit")
}

// TestEngineErrors: hutch's own failures exit 125 with an `Error:` line.
func TestEngineErrors(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	for _, tc := range []struct {
		args    []string
		mention []string
	}{
		{[]string{"inspect", "nope"}, []string{"nope", "hutch images"}},
		{[]string{"save", "-o", "x.tar", "nope"}, []string{"nope", "hutch images"}},
		{[]string{"load", "-i", "/nonexistent/archive.tar"}, []string{"/nonexistent/archive.tar"}},
		{[]string{"import", "/nonexistent/rootfs.tar", "x"}, []string{"/nonexistent/rootfs.tar"}},
		{[]string{"load", "extra-arg"}, []string{"extra-arg"}},
		{[]string{"tag", "only-one"}, []string{"2"}},
		{[]string{"images", "--no-such-flag"}, []string{"--no-such-flag"}},
		{[]string{"no-such-command"}, []string{"no-such-command"}},
		{[]string{"system", "df", "--format", "{{"}, []string{"--format"}},
	} {
		r := sb.expect(125, tc.args...)
		if !strings.HasPrefix(r.stderr, "Error: ") {
			t.Fatalf("want `Error: …` on stderr:\n%s", r)
		}
		for _, m := range tc.mention {
			assertContains(t, r.stderr, m, "hutch "+strings.Join(tc.args, " "))
		}
		if r.stdout != "" {
			t.Fatalf("a failed command printed on stdout:\n%s", r)
		}
	}
	// A flag error points at the command's help.
	r := sb.expect(125, "images", "--no-such-flag")
	assertContains(t, r.stderr, "hutch images --help", "flag error")
	// Nothing was left behind by the failed save.
	if _, err := os.Stat(sb.path("work", "x.tar")); err == nil {
		t.Fatal("a failed save left x.tar")
	}
}

// TestUnknownSubcommand: an unknown command under a group is an engine error (125)
// naming it, on one line, not the group's help with status 0; the group alone still
// shows its help.
func TestUnknownSubcommand(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	for _, args := range [][]string{{"image", "frobnicate"}, {"system", "frobnicate"}, {"container", "nope", "x"}, {"volume", "lss"}} {
		r := sb.expect(125, args...)
		assertOneLineError(t, r, fmt.Sprintf("unknown command %q for \"hutch %s\"", args[1], args[0]), "hutch "+args[0]+" --help")
		assertEqual(t, r.stdout, "", "stdout of hutch "+strings.Join(args, " "))
	}
	assertContains(t, sb.expect(125, "volume", "lss").stderr, `did you mean "ls"?`, "a near miss")
	r := sb.ok("image")
	assertContains(t, r.stdout, "Available Commands:", "hutch image alone")
	// Neither needed the store.
	if _, err := os.Stat(sb.graphRoot()); err == nil {
		t.Fatal("an unknown subcommand created the store")
	}
}
