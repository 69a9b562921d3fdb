package builder

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/network"
)

// The step planning, without an executor (as buildkit's dockerfile2llb is tested): what
// each instruction is refused for, which inputs it resolves, what its key holds, and
// what a RUN's mounts become, all before anything runs.

// planner is a build of the Dockerfile df over the context ctx, with no store behind
// it: only planning works. Images resolve to an ID made from their name.
func planner(t *testing.T, ctx, df string, o Options) (*Builder, *File) {
	t.Helper()
	f := mustParse(t, df)
	o.Context, o.File = ctx, f
	if o.Network.Mode == "" {
		o.Network = network.Config{Mode: network.ModeSlirp}
	}
	o.Image = func(_ context.Context, ref string) (*cstorage.Image, error) {
		return &cstorage.Image{ID: "id-of-" + ref}, nil
	}
	b := New(rootOnlyStore{root: t.TempDir()}, o)
	b.ctx = context.Background()
	return b, f
}

func planFirst(t *testing.T, ctx, df string, o Options) (*stepPlan, error) {
	t.Helper()
	b, f := planner(t, ctx, df, o)
	return b.planStep(&state{args: newVars()}, f.Stages[0].Commands[0])
}

func contextDir(t *testing.T) string {
	t.Helper()
	ctx := t.TempDir()
	for name, data := range map[string]string{"a": "one\n", "d/x": "x\n", "d/y": "y\n"} {
		p := filepath.Join(ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx
}

// What hutch build does not do is refused while planning, naming the fix; nothing is
// downloaded for an ADD the build's network cannot make.
func TestPlanRefuses(t *testing.T) {
	ctx := contextDir(t)
	none := Options{Network: network.Config{Mode: network.ModeNone}}
	for _, c := range []struct {
		df  string
		o   Options
		err string
	}{
		{"FROM x\nCOPY --parents d /\n", Options{}, "COPY --parents is not supported by hutch build"},
		{"FROM x\nCOPY --exclude=*.o d /\n", Options{}, "COPY --exclude is not supported by hutch build: leave the files out with .dockerignore"},
		{"FROM x\nADD --exclude=*.o d /\n", Options{}, "ADD --exclude is not supported"},
		{"FROM x\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 a /\n", Options{}, `ADD --checksum is only for URL sources, not "a"`},
		// 192.0.2.0/24 is TEST-NET: a download would hang, the check comes first.
		{"FROM x\nADD http://192.0.2.1/f /\n", none, "the build runs with --network none, so nothing is downloaded"},
		{"FROM x\nRUN --security=insecure true\n", Options{}, "RUN --security=insecure is not supported"},
		{"FROM x\nRUN --mount=type=cache,target=/c,from=base true\n", Options{}, "seeding a cache from a stage or image is not supported"},
		{"FROM x\nCOPY missing /\n", Options{}, "missing"},
		{"FROM x\nCOPY --from=later a /\nFROM x AS later\n", Options{}, "--from=later: that stage comes later"},
	} {
		_, err := planFirst(t, ctx, c.df, c.o)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.df, err, c.err)
		}
	}
}

// The inputs a plan resolves: the context's files (for the step to copy), another
// stage's or an image's identity, a RUN's mounts; and what the key holds of each.
func TestPlanInputs(t *testing.T) {
	ctx := contextDir(t)
	p, err := planFirst(t, ctx, "FROM x\nCOPY --chmod=644 a d /dst/\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, s := range p.srcs {
		rels = append(rels, s.Rel)
	}
	if !reflect.DeepEqual(rels, []string{"a", "d"}) {
		t.Errorf("COPY a d: sources %q", rels)
	}
	if want := []string{"chown=", "chmod=644", "dest=/dst/", "from=context"}; !reflect.DeepEqual(p.key[:4], want) || !strings.HasPrefix(p.key[4], "content=") || len(p.key) != 5 {
		t.Errorf("COPY a d: key %q", p.key)
	}

	// From an image: its identity, and no files looked at yet.
	p, err = planFirst(t, ctx, "FROM x\nCOPY --from=alpine /etc/passwd /p\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.srcs != nil || p.key[len(p.key)-1] != "from=image:id-of-alpine" {
		t.Errorf("COPY --from=alpine: %+v", p)
	}

	// ADD --unpack=false keeps archives as files.
	if p, err = planFirst(t, ctx, "FROM x\nADD --unpack=false a /\n", Options{}); err != nil || !p.noUnpack {
		t.Errorf("ADD --unpack=false: %+v, %v", p, err)
	}

	// A RUN: its network, and each mount with what a bind mount shows, in order (a bind
	// mount is read-only unless it says rw).
	p, err = planFirst(t, ctx, "FROM x\nRUN --network=none --mount=type=bind,source=d,target=/m --mount=type=tmpfs,target=/t --mount=type=bind,from=alpine,target=/img true\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.mounts) != 3 || p.mounts[1].Type != instructions.MountTypeTmpfs {
		t.Errorf("RUN mounts %+v", p.mounts)
	}
	want := []string{"network=none", "mount=bind,,d,/m,true", "from=context", "", "mount=tmpfs,,,/t,false", "mount=bind,alpine,,/img,true", "from=image:id-of-alpine"}
	if len(p.key) != len(want) {
		t.Fatalf("RUN key %q", p.key)
	}
	for i := range want {
		if i == 3 {
			if !strings.HasPrefix(p.key[i], "content=") {
				t.Errorf("RUN key %d: %q, want the bound directory's content", i, p.key[i])
			}
			continue
		}
		if p.key[i] != want[i] {
			t.Errorf("RUN key %d: %q, want %q", i, p.key[i], want[i])
		}
	}

	// Metadata instructions need no plan.
	if p, err = planFirst(t, ctx, "FROM x\nENV A=1\n", Options{}); err != nil || len(p.key) != 0 {
		t.Errorf("ENV: %+v, %v", p, err)
	}
}

// A RUN's mounts, checked and resolved before anything is mounted for them.
func TestPlanMount(t *testing.T) {
	b, _ := planner(t, t.TempDir(), "FROM x\n", Options{Secrets: map[string]string{"tok": "/host/tok"}, SSH: map[string]string{"default": "/host/agent"}})
	mounts := func(df string) []*instructions.Mount {
		t.Helper()
		f := mustParse(t, "FROM x\n"+df)
		c := f.Stages[0].Commands[0].(*instructions.RunCommand)
		if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
			t.Fatal(err)
		}
		return instructions.GetMounts(c)
	}
	for _, c := range []struct {
		run, workdir string
		target, id   string
		file         string
		skipped      bool
		err          string
	}{
		{run: "RUN --mount=type=cache,target=/root/.cache true", target: "/root/.cache", id: "/root/.cache"},
		{run: "RUN --mount=type=cache,id=go,target=cache true", workdir: "/src", target: "/src/cache", id: "go"},
		{run: "RUN --mount=type=tmpfs,target=t true", target: "/t", id: "/t"},
		{run: "RUN --mount=type=secret,id=tok true", target: "/run/secrets/tok", id: "tok", file: "/host/tok"},
		{run: "RUN --mount=type=secret,id=tok,target=/etc/t true", target: "/etc/t", id: "tok", file: "/host/tok"},
		{run: "RUN --mount=type=secret,target=/x/tok true", target: "/x/tok", id: "tok", file: "/host/tok"},
		{run: "RUN --mount=type=secret,id=other true", skipped: true},
		{run: "RUN --mount=type=secret,id=other,required true", err: "no such secret: give it with `hutch build --secret id=other,src=FILE`"},
		{run: "RUN --mount=type=cache true", err: "RUN --mount=type=cache needs a target"},
		{run: "RUN --mount=type=bind true", err: "RUN --mount=type=bind needs a target"},
		{run: "RUN --mount=type=ssh true", target: "/run/buildkit/ssh_agent.0", id: "default", file: "/host/agent"},
		{run: "RUN --mount=type=ssh,target=/a.sock true", target: "/a.sock", id: "default", file: "/host/agent"},
		{run: "RUN --mount=type=ssh,id=gh true", skipped: true},
		{run: "RUN --mount=type=ssh,id=gh,required true", err: "no such SSH agent: give it with `hutch build --ssh gh`"},
	} {
		p, err := b.planMount(mounts(c.run)[0], c.workdir)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.run, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.run, err)
		case c.skipped:
			if p != nil {
				t.Errorf("%s: %+v, want it left out", c.run, p)
			}
		case p == nil || p.target != c.target || p.id != c.id || p.file != c.file:
			t.Errorf("%s: %+v, want target %s, id %s, file %s", c.run, p, c.target, c.id, c.file)
		}
	}
}
