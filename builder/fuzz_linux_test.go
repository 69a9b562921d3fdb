package builder

import (
	"path"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
)

// FuzzDockerfile runs the front end on any Dockerfile: parse, the ARGs before FROM,
// the target, the plan of the stages it needs, every metadata instruction applied to a
// fresh stage, and each COPY, ADD and RUN planned as far as that reads nothing
// (planChecks). Nothing may panic; what parses must plan consistently.
//
//	go test -run '^$' -fuzz FuzzDockerfile -fuzztime 10m ./builder/
func FuzzDockerfile(f *testing.F) {
	for _, s := range []struct{ df, target string }{
		{"FROM scratch\n", ""},
		{"FROM busybox AS base\nRUN echo hi\nFROM base\nCOPY --from=base /a /b\n", "base"},
		{"ARG V=1\nFROM img:${V}\nARG V\nENV A=$V B=${A:-x}\nWORKDIR /w\nUSER 1:1\n", ""},
		{"# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo a `\n  b\n", ""},
		{"FROM x\nRUN --mount=type=cache,target=/c --mount=from=y,source=/,target=/y true\nFROM x AS y\n", ""},
		{"FROM x\nWORKDIR /w\nRUN --mount=type=tmpfs,target=rel --mount=type=secret,id=s,required=true --mount=type=ssh true\n", ""},
		{"FROM x\nADD --checksum=sha256:00 local /d\nADD --exclude=*.o . /\nCOPY --parents a /b\nRUN --security=insecure true\n", ""},
		{"FROM x\nEXPOSE 80 53/udp 8000-8001\nLABEL a=b \"c d\"=e\nSTOPSIGNAL SIGRTMIN+3\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN x\nVOLUME [\"/v\"]\nSHELL [\"/bin/bash\",\"-c\"]\nCMD run\nENTRYPOINT [\"/e\"]\n", ""},
		{"FROM x\nCOPY <<EOF /f\nhello\nEOF\nRUN <<EOT\necho\nEOT\n", ""},
		{"FROM ${NOPE}\nFROM $A AS $B\n", "1"},
	} {
		f.Add(s.df, s.target)
	}
	f.Fuzz(func(t *testing.T, df, target string) {
		file, err := Parse("Dockerfile", []byte(df))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		args, err := newArgs(file, map[string]string{"V": "2", "UNUSED": "x"})
		if err != nil {
			return
		}
		idx, err := file.TargetIndex(target)
		if err != nil {
			return
		}
		if idx < 0 || idx >= len(file.Stages) {
			t.Fatalf("TargetIndex(%q) = %d of %d stages", target, idx, len(file.Stages))
		}
		b := &Builder{f: file, lex: shell.NewLex(file.Escape), args: args}
		if err := b.plan(idx); err != nil {
			return
		}
		if !b.needed[idx] || b.steps < 1 {
			t.Fatalf("the plan of stage %d does not include it (needed %v, %d steps)", idx, b.needed, b.steps)
		}
		b.o.Network = network.Config{Mode: network.ModeSlirp}
		for i := range file.Stages {
			st := &state{args: newVars(), Config: images.Config{OS: "linux"}}
			for _, c := range file.Stages[i].Commands {
				_, _ = applyMeta(st, c, b.expander(st))
				_ = text(c)
				_ = createdBy(c)
				planChecks(t, b, st, c)
			}
		}
	})
}

// planChecks runs the parts of a step's planning that read nothing from the disk or the
// network (planStep's expansion and check*, the cache key's parts, each RUN --mount's
// planMount): no panic, and an accepted mount has an absolute target.
func planChecks(t *testing.T, b *Builder, st *state, c instructions.Command) {
	exp := b.expander(st)
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.Expand(exp) == nil && checkCopy(c) == nil {
			_ = copyKey(c)
		}
	case *instructions.AddCommand:
		if c.Expand(exp) == nil && checkAdd(c, b.o.Network) == nil {
			_ = addKey(c)
		}
	case *instructions.RunCommand:
		if c.Expand(exp) != nil || checkRun(c) != nil {
			return
		}
		_ = runKey(c, b.runNetwork(c))
		for _, m := range instructions.GetMounts(c) {
			_ = mountKey(m)
			p, err := b.planMount(m, st.Config.Config.WorkingDir)
			if err == nil && p != nil && !path.IsAbs(p.target) {
				t.Fatalf("RUN --mount %+v: planned at a relative target %q", *m, p.target)
			}
		}
	}
}

// FuzzBuildFlags runs the flags of build that the builder package parses without
// reading a file (--build-arg, --label, --output, $SOURCE_DATE_EPOCH) on any text: no panic, an
// error names what was wrong, and what is accepted keeps its shape.
//
//	go test -run '^$' -fuzz FuzzBuildFlags -fuzztime 10m ./builder/
func FuzzBuildFlags(f *testing.F) {
	for _, s := range []string{"A=1", "A", "=x", "k=v=w", "0", "-1", "1700000000", "9223372036854775807", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		args := ParseBuildArgs([]string{v}, func(k string) (string, bool) { return "env", k == "ENV" })
		if len(args) > 1 {
			t.Fatalf("--build-arg %q: %d arguments", v, len(args))
		}
		if labels, err := ParseLabels([]string{v}); err != nil {
			if !strings.Contains(err.Error(), "--label") {
				t.Fatalf("--label %q: the error does not name the flag: %v", v, err)
			}
		} else if _, ok := labels[""]; ok {
			t.Fatalf("--label %q: a label without a key", v)
		}
		if o, err := ParseOutput(v); err != nil {
			if !strings.Contains(err.Error(), "--output") {
				t.Fatalf("--output %q: the error does not name the flag: %v", v, err)
			}
		} else if o.Dest == "" || (o.Type != OutputLocal && o.Type != OutputTar) || (o.Type == OutputLocal && o.Dest == "-") {
			t.Fatalf("--output %q: accepted as %+v", v, o)
		}
		ts, err := ParseTimestamp(0, false, v)
		switch {
		case err != nil && !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH"):
			t.Fatalf("SOURCE_DATE_EPOCH=%q: the error does not name it: %v", v, err)
		case err == nil && v != "" && (ts == nil || ts.Unix() < 0):
			t.Fatalf("SOURCE_DATE_EPOCH=%q: accepted as %v", v, ts)
		}
	})
}
