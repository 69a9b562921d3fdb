package builder

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"hutch.dev/hutch/images"
)

func mustParse(t *testing.T, df string) *File {
	t.Helper()
	f, err := Parse("Dockerfile", []byte(df))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func TestSuggest(t *testing.T) {
	for word, want := range map[string]string{"COPPY": "COPY", "runn": "RUN", "ENTRYPIONT": "ENTRYPOINT", "XYZZY": "", "ADDD": "ADD"} {
		if got := Suggest(word, instructionNames); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse("Dockerfile", []byte("FROM scratch\n# c\nRUN true\nCOPPY a b\n"))
	if err == nil || err.Error() != "unknown instruction COPPY (Dockerfile:4): did you mean COPY?" {
		t.Fatalf("unknown instruction: %v", err)
	}
	_, err = Parse("ctx/Containerfile", []byte("FROM scratch\nFOOBAR x\n"))
	if err == nil || !strings.Contains(err.Error(), "unknown instruction FOOBAR (ctx/Containerfile:2): a Dockerfile instruction is one of ADD, ARG") {
		t.Fatalf("no suggestion: %v", err)
	}
	_, err = Parse("Dockerfile", []byte("FROM scratch\nEXPOSE\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ") {
		t.Fatalf("line of a bad instruction: %v", err)
	}
	_, err = Parse("Dockerfile", []byte("# only a comment\n"))
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:1: file with no instructions") {
		t.Fatalf("empty Dockerfile: %v", err)
	}
}

func TestTargetAndStages(t *testing.T) {
	f := mustParse(t, "FROM scratch AS base\nFROM base AS Build\nFROM scratch\n")
	for target, want := range map[string]int{"": 2, "base": 0, "build": 1, "BUILD": 1, "2": 2, "0": 0} {
		got, err := f.TargetIndex(target)
		if err != nil || got != want {
			t.Errorf("TargetIndex(%q) = %d, %v; want %d", target, got, err, want)
		}
	}
	_, err := f.TargetIndex("biuld")
	if err == nil || !strings.Contains(err.Error(), "its stages are: base, build, 2") || !strings.Contains(err.Error(), "did you mean build?") {
		t.Fatalf("unknown target: %v", err)
	}
	// A stage can only refer to earlier stages.
	if _, ok := f.stageIndex("build", 1); ok {
		t.Error("stage 1 must not see itself")
	}
	if i, ok := f.stageIndex("base", 1); !ok || i != 0 {
		t.Error("stage 1 must see base")
	}
	if _, ok := f.stageIndex("3", -1); ok {
		t.Error("index out of range accepted")
	}
}

func TestArgScoping(t *testing.T) {
	f := mustParse(t, `ARG BASE=busybox
ARG VERSION=1.0
ARG TAG=${BASE}:${VERSION}
FROM ${TAG}
ARG VERSION
ARG OTHER=default
ARG BASE2
`)
	a, err := newArgs(f, map[string]string{"VERSION": "2.0", "OTHER": "given", "UNUSED": "x", "HTTP_PROXY": "http://p"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := a.meta.get("TAG"); v != "busybox:2.0" {
		t.Errorf("meta TAG = %q (build arg must override the meta default before later defaults use it)", v)
	}
	if v, _ := a.meta.get("TARGETARCH"); v == "" {
		t.Error("platform ARGs missing from the global scope")
	}
	lex := shell.NewLex('\\')
	st := newVars()
	for _, c := range f.Stages[0].Commands {
		for _, kv := range c.(*instructions.ArgCommand).Args {
			val, err := a.declare(lex, kv, st, nil)
			if err != nil {
				t.Fatal(err)
			}
			st.set(kv.Key, val)
		}
	}
	if v, _ := st.get("VERSION"); v != "2.0" {
		t.Errorf("stage VERSION = %q, want the build arg", v)
	}
	if v, _ := st.get("OTHER"); v != "given" {
		t.Errorf("stage OTHER = %q, want the build arg over the default", v)
	}
	if _, ok := st.get("BASE2"); ok {
		t.Error("BASE2 declared without value must be unset")
	}
	if _, ok := st.get("BASE"); ok {
		t.Error("a global ARG not re-declared must not be visible in the stage")
	}
	if un := a.unused(); !reflect.DeepEqual(un, []string{"UNUSED"}) {
		t.Errorf("unused = %v (proxy args are never reported)", un)
	}
	if pe := a.proxyEnv(); !reflect.DeepEqual(pe, []string{"HTTP_PROXY=http://p"}) {
		t.Errorf("proxyEnv = %v", pe)
	}
	// ENV wins over ARG in expansion and hides the ARG from RUN's environment.
	g := getter(st, []string{"VERSION=env"})
	if v, _ := g.Get("VERSION"); v != "env" {
		t.Errorf("ENV must win over ARG, got %q", v)
	}
	if env := argEnv(st, []string{"VERSION=env"}); !reflect.DeepEqual(env, []string{"OTHER=given"}) {
		t.Errorf("argEnv = %v", env)
	}
	if k := argKeyPart(st); !reflect.DeepEqual(k, []string{"VERSION=2.0", "OTHER=given", "BASE2"}) {
		t.Errorf("argKeyPart = %v", k)
	}
}

// applyAll runs a stage's metadata instructions on a fresh state.
func applyAll(t *testing.T, df string) *state {
	t.Helper()
	f := mustParse(t, df)
	st := &state{args: newVars(), Config: images.Config{OS: "linux"}}
	lex := shell.NewLex(f.Escape)
	for _, c := range f.Stages[len(f.Stages)-1].Commands {
		g := getter(st.args, st.Config.Config.Env)
		exp := func(w string) (string, error) { out, _, err := lex.ProcessWord(w, g); return out, err }
		handled, err := applyMeta(st, c, exp)
		if err != nil {
			t.Fatalf("%s: %v", text(c), err)
		}
		if !handled {
			t.Fatalf("%s: not a metadata instruction", text(c))
		}
	}
	return st
}

func TestApplyMeta(t *testing.T) {
	st := applyAll(t, `FROM scratch
ENV APP=/opt/app
ENV OUT=${APP}/out SAME=${OUT}x
WORKDIR $APP
WORKDIR sub
CMD echo hi
SHELL ["/bin/bash", "-c"]
ENTRYPOINT run me
EXPOSE 80 53/udp 8000-8001
LABEL a=b "c d"=e
USER 1000:1000
VOLUME /data
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo x
`)
	c := st.Config.Config
	if !reflect.DeepEqual(c.Env, []string{"APP=/opt/app", "OUT=/opt/app/out", "SAME=x"}) {
		t.Errorf("Env = %v", c.Env)
	}
	if c.WorkingDir != "/opt/app/sub" {
		t.Errorf("WorkingDir = %q", c.WorkingDir)
	}
	if !reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("Cmd = %v (CMD set in this stage stays with a later ENTRYPOINT)", c.Cmd)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/bin/bash", "-c", "run me"}) {
		t.Errorf("Entrypoint = %v (shell form through SHELL)", c.Entrypoint)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s missing: %v", p, c.ExposedPorts)
		}
	}
	if c.Labels["c d"] != "e" || c.User != "1000:1000" || c.StopSignal != "SIGUSR1" {
		t.Errorf("labels/user/stopsignal: %v %q %q", c.Labels, c.User, c.StopSignal)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Error("volume missing")
	}
	if c.Healthcheck == nil || c.Healthcheck.Interval != 5*time.Second || c.Healthcheck.Retries != 2 || !reflect.DeepEqual(c.Healthcheck.Test, []string{"CMD-SHELL", "true"}) {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
	if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo x"}) {
		t.Errorf("OnBuild = %v", c.OnBuild)
	}

	// An inherited CMD goes with a new ENTRYPOINT.
	st2 := &state{args: newVars()}
	st2.Config.Config.Cmd = []string{"inherited"}
	f := mustParse(t, "FROM x\nENTRYPOINT [\"/e\"]\n")
	if _, err := applyMeta(st2, f.Stages[0].Commands[0], func(w string) (string, error) { return w, nil }); err != nil {
		t.Fatal(err)
	}
	if st2.Config.Config.Cmd != nil {
		t.Errorf("inherited Cmd kept: %v", st2.Config.Config.Cmd)
	}

	for _, bad := range []string{"SIGNOPE", "SIGRTMINX", "RTMIN+40"} {
		f = mustParse(t, "FROM x\nSTOPSIGNAL "+bad+"\n")
		if _, err := applyMeta(&state{args: newVars()}, f.Stages[0].Commands[0], func(w string) (string, error) { return w, nil }); err == nil {
			t.Errorf("a bad STOPSIGNAL %s is accepted", bad)
		}
	}
	// systemd's stop signal: accepted, and kept as written for `hutch stop` to read.
	f = mustParse(t, "FROM x\nSTOPSIGNAL SIGRTMIN+3\n")
	st3 := &state{args: newVars()}
	if _, err := applyMeta(st3, f.Stages[0].Commands[0], func(w string) (string, error) { return w, nil }); err != nil || st3.Config.Config.StopSignal != "SIGRTMIN+3" {
		t.Errorf("STOPSIGNAL SIGRTMIN+3: %v, StopSignal %q", err, st3.Config.Config.StopSignal)
	}
	f = mustParse(t, "FROM x\nRUN true\n")
	if handled, _ := applyMeta(&state{args: newVars()}, f.Stages[0].Commands[0], nil); handled {
		t.Error("RUN handled as metadata")
	}
}

func TestHashKey(t *testing.T) {
	if hashKey("ab", "c") == hashKey("a", "bc") {
		t.Error("parts must not run into each other")
	}
	if k1, k2 := hashKey("x", "y"), hashKey("x", "y"); k1 != k2 {
		t.Error("not stable")
	}
	// The same instruction under another ARG value is another step.
	a, b := newVars(), newVars()
	one, two := "1", "2"
	a.set("V", &one)
	b.set("V", &two)
	ka := hashKey("step", "parent", "RUN echo $V", strings.Join(argKeyPart(a), "\n"), "")
	kb := hashKey("step", "parent", "RUN echo $V", strings.Join(argKeyPart(b), "\n"), "")
	if ka == kb {
		t.Error("ARG values in scope must change the key")
	}
	// Proxy args do not.
	p := "http://proxy"
	a.set("HTTP_PROXY", &p)
	if hashKey("step", "parent", "RUN echo $V", strings.Join(argKeyPart(a), "\n"), "") != ka {
		t.Error("a proxy ARG changed the key")
	}
}

func TestParseTrigger(t *testing.T) {
	c, err := parseTrigger("RUN echo triggered > /x")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.(*instructions.RunCommand)
	if !ok || !r.PrependShell || strings.Join(r.CmdLine, " ") != "echo triggered > /x" {
		t.Fatalf("trigger = %#v", c)
	}
	if c, err := parseTrigger("COPY --chown=1:1 a /b"); err != nil || c.(*instructions.CopyCommand).Chown != "1:1" {
		t.Fatalf("COPY trigger: %v %v", c, err)
	}
	if _, err := parseTrigger("BOGUS x"); err == nil {
		t.Error("a bad trigger parses")
	}
}

func TestConfigReproducible(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	mk := func() *images.Config {
		c := &images.Config{Architecture: "amd64", OS: "linux", RootFS: images.RootFS{Type: "layers"}}
		c.Config.Labels = map[string]string{"z": "1", "a": "2"}
		c.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}}
		c.History = []images.History{{Created: &epoch, CreatedBy: "x", EmptyLayer: true}}
		c.Created = &epoch
		return c
	}
	if id1, id2 := configID(mk()), configID(mk()); id1 != id2 {
		t.Fatal("the same configuration gives different IDs")
	}
	var back map[string]any
	if err := json.Unmarshal(configBytes(mk()), &back); err != nil {
		t.Fatal(err)
	}
	if back["created"] != "1970-01-01T00:00:00Z" {
		t.Errorf("created = %v", back["created"])
	}
	h := back["history"].([]any)[0].(map[string]any)
	if h["empty_layer"] != true || h["created"] != "1970-01-01T00:00:00Z" {
		t.Errorf("history = %v", h)
	}
	c := mk()
	cl := cloneConfig(*c)
	cl.Config.Labels["z"] = "changed"
	if c.Config.Labels["z"] != "1" {
		t.Error("cloneConfig shares maps")
	}
}

func TestRunArgsAndHistory(t *testing.T) {
	f := mustParse(t, "FROM x\nRUN echo a && echo b\nRUN [\"/bin/echo\", \"x\"]\nRUN <<EOF\necho in heredoc\nEOF\nRUN cat <<EOT > /f\nline\nEOT\n")
	cfg := &images.ContainerConfig{}
	run := func(i int) []string {
		args, _, err := runArgs(cfg, f.Stages[0].Commands[i].(*instructions.RunCommand), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return args
	}
	if got := run(0); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo a && echo b"}) {
		t.Errorf("shell form = %q", got)
	}
	if got := run(1); !reflect.DeepEqual(got, []string{"/bin/echo", "x"}) {
		t.Errorf("exec form = %q", got)
	}
	if got := run(2); len(got) != 3 || !strings.Contains(got[2], "echo in heredoc") || strings.Contains(got[2], "<<EOF") {
		t.Errorf("heredoc script = %q", got)
	}
	if got := run(3); len(got) != 3 || got[2] != "cat <<EOT > /f\nline\nEOT\n" {
		t.Errorf("heredoc as input = %q", got)
	}
	f2 := mustParse(t, "FROM x\nRUN <<-EOF\n\techo tabbed\n\tEOF\n")
	args, _, err := runArgs(cfg, f2.Stages[0].Commands[0].(*instructions.RunCommand), t.TempDir())
	if err != nil || len(args) != 3 || strings.Contains(args[2], "\t") || !strings.Contains(args[2], "echo tabbed") {
		t.Errorf("<<- heredoc script = %q, %v", args, err)
	}
	st := &state{args: newVars()}
	v := "1"
	st.args.set("V", &v)
	if got := runCreatedBy(st, f.Stages[0].Commands[0].(*instructions.RunCommand)); got != "|1 V=1 /bin/sh -c echo a && echo b" {
		t.Errorf("created_by = %q", got)
	}
}

func TestDestPath(t *testing.T) {
	for _, c := range [][3]string{{"", "app", "/app"}, {"/w", "app/", "/w/app/"}, {"/w", ".", "/w/"}, {"/w", "/abs", "/abs"}, {"/w", "./x", "/w/x"}} {
		if got := destPath(c[0], c[1]); got != c[2] {
			t.Errorf("destPath(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestDockerOnlyAnnotations(t *testing.T) {
	c := &images.Config{}
	if a := dockerOnlyAnnotations(configBytes(c)); a != nil {
		t.Errorf("annotations without HEALTHCHECK, SHELL, ONBUILD: %v", a)
	}
	c.Config.Healthcheck = &images.Healthcheck{Test: []string{"CMD-SHELL", "cat /etc/hello > /dev/null"}}
	c.Config.Shell = []string{"/bin/sh", "-c"}
	c.Config.OnBuild = []string{"RUN echo a > /b"}
	a := dockerOnlyAnnotations(configBytes(c))
	if !strings.Contains(a[AnnotationHealthcheck], "cat /etc/hello > /dev/null") || a[AnnotationShell] != `["/bin/sh","-c"]` || a[AnnotationOnBuild] != `["RUN echo a > /b"]` {
		t.Errorf("annotations = %v", a)
	}
}
