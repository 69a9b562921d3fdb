package builder

import (
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"hutch.dev/hutch/images"
)

// FuzzDockerfile runs the front end on any Dockerfile: parse, the ARGs before FROM,
// the target, the plan of the stages it needs, and every metadata instruction applied
// to a fresh stage. Nothing may panic; what parses must plan consistently.
//
//	go test -run '^$' -fuzz FuzzDockerfile -fuzztime 10m ./builder/
func FuzzDockerfile(f *testing.F) {
	for _, s := range []struct{ df, target string }{
		{"FROM scratch\n", ""},
		{"FROM busybox AS base\nRUN echo hi\nFROM base\nCOPY --from=base /a /b\n", "base"},
		{"ARG V=1\nFROM img:${V}\nARG V\nENV A=$V B=${A:-x}\nWORKDIR /w\nUSER 1:1\n", ""},
		{"# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo a `\n  b\n", ""},
		{"FROM x\nRUN --mount=type=cache,target=/c --mount=from=y,source=/,target=/y true\nFROM x AS y\n", ""},
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
		for i := range file.Stages {
			st := &state{args: newVars(), Config: images.Config{OS: "linux"}}
			for _, c := range file.Stages[i].Commands {
				_, _ = applyMeta(st, c, b.expander(st))
				_ = text(c)
				_ = createdBy(c)
			}
		}
	})
}
