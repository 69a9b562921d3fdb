package tests

// Bad input: a failing RUN (exit 1, the Dockerfile's line), a misspelled instruction or
// stage (file:line, "did you mean"), a missing COPY source (the path and the context);
// COPY sources that try to leave the context (../, an absolute symlink, a symlinked
// directory) and ADD archives that try to write outside the rootfs (../, absolute
// paths, symlink then file, hard links to outside) — the host is untouched, whatever
// lands, lands inside the image.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	before := bdImageIDs(sb)
	t.Run("failing-run", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "fail", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nRUN echo fine > /fine\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
		})
		r := sb.expect(1, "build", "-t", "failing", ctx)
		assertContains(t, r.stderr, "Dockerfile:3", "the error of a failing RUN names the Dockerfile's line")
		assertContains(t, bdOut(r), "about-to-fail", "the failing RUN's output")
		if findImage(sb.images(true), "localhost/failing:latest") != nil {
			t.Fatalf("a failed build tagged its image")
		}
		if n := sb.df()["Containers"].Total; n != 0 {
			t.Fatalf("a failed build left %d container(s)", n)
		}
	})
	t.Run("misspelled-instruction", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "typo", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nRUN true\nCOPPY a /a\n",
			"a":          "a\n",
		})
		r := sb.expect(anyFailure, "build", ctx)
		assertContains(t, r.stderr, "Dockerfile:3", "the error names the file and line")
		assertContains(t, r.stderr, "COPPY", "the error names the unknown instruction")
		assertContains(t, strings.ToLower(r.stderr), "did you mean copy", "the error suggests COPY")
	})
	t.Run("misspelled-stage", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "stagetypo", map[string]string{
			"Dockerfile": "FROM " + bdBase + " AS builder\nRUN echo x > /x\nFROM " + bdBase + "\nCOPY --from=buidler /x /x\n",
		})
		r := sb.expect(anyFailure, "build", "--pull=never", ctx)
		assertContains(t, r.stderr, "buidler", "the error names the unknown stage")
		assertContains(t, r.stderr, "builder", "the error suggests the stage")
	})
	t.Run("missing-source", func(t *testing.T) {
		sb := lcAt(sb, t)
		ctx := bdCtx(t, sb, "missing", map[string]string{
			"Dockerfile": "FROM " + bdBase + "\nCOPY not-there.txt /x\n",
		})
		r := sb.expect(anyFailure, "build", ctx)
		assertContains(t, r.stderr, "not-there.txt", "the error names the missing source")
		assertContains(t, r.stderr, ctx, "the error names the context")
	})
	// The step before the failing RUN may stay in the cache, as an unnamed image; no
	// other image is left, and none is named.
	var added []imageJSON
	for _, i := range sb.images(true) {
		if !before[strings.TrimPrefix(i.ID, "sha256:")] {
			added = append(added, i)
		}
	}
	if len(added) > 1 || (len(added) == 1 && len(added[0].Names) > 0) {
		t.Fatalf("failed builds left images: %+v", added)
	}
	lcAssertNoProcsNoMounts(t, sb, "failed builds")
}

// bdOutsideSecret is the content of the host files the escapes aim at.
const bdOutsideSecret = "OUTSIDE-THE-CONTEXT-5e2c\n"

// TestBuildContextEscape: COPY cannot read outside the context.
func TestBuildContextEscape(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	outsideDir := sb.path("work", "outside")
	sb.writeUserFile(filepath.Join(outsideDir, "secret.txt"), bdOutsideSecret)
	sb.writeUserFile(sb.path("work", "secret.txt"), bdOutsideSecret)
	ctx := bdCtx(t, sb, "ctx", map[string]string{"ok.txt": "inside\n"})
	bdSymlink(t, sb, sb.path("work", "secret.txt"), ctx+"/abs-link")
	bdSymlink(t, sb, outsideDir, ctx+"/dir-link")
	bdSymlink(t, sb, "../secret.txt", ctx+"/rel-link")
	for _, c := range []struct{ name, copy string }{
		{"dotdot", "COPY ../secret.txt /got"},
		{"dotdot-deep", "COPY ok.txt/../../secret.txt /got"},
		{"absolute-symlink", "COPY abs-link /got"},
		{"relative-symlink", "COPY rel-link /got"},
		{"symlinked-dir-file", "COPY dir-link/secret.txt /got"},
		{"symlinked-dir", "COPY dir-link /got/"},
		{"symlink-contents", "COPY . /got/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb := lcAt(sb, t)
			df := sb.path("work", c.name+".Dockerfile")
			sb.writeUserFile(df, "FROM "+bdBase+"\n"+c.copy+"\n")
			tag := "escape-" + c.name
			r := sb.run(runOpts{}, "build", "-t", tag, "-f", df, ctx)
			if r.code != 0 {
				// Refused: fine, when the error names the source and the context.
				assertContains(t, r.stderr, strings.Fields(c.copy)[1], "the error of a refused COPY")
				assertContains(t, r.stderr, ctx, "the error of a refused COPY")
				return
			}
			if strings.Contains(string(bdSaved(sb, tag)), strings.TrimSpace(bdOutsideSecret)) {
				t.Fatalf("%s copied a file from outside the context into the image:\n%s", c.copy, r)
			}
		})
	}
}

// bdEvilArchive is one trick an ADD archive plays, after a good entry.
type bdEvilArchive struct {
	name    string
	entries func(hostDir, hostFile string) []tarEntry
	lands   string // when the build succeeds, a file of this name is inside the image
}

func TestBuildAddArchiveEscape(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	// The targets are the user's own: a naive extraction as the user would succeed.
	hostDir := sb.path("work", "host-dir")
	hostFile := sb.path("work", "host-file")
	sb.writeUserFile(filepath.Join(hostDir, ".keep"), "")
	sb.writeUserFile(hostFile, bdOutsideSecret)
	up := strings.Repeat("../", 30)
	link := func(name, target string, typ byte) tarEntry {
		return tarEntry{name: name, typ: typ, linkname: target, mode: 0o777}
	}
	cases := []bdEvilArchive{
		{"dotdot", func(d, f string) []tarEntry {
			return []tarEntry{fileEntry(up+d[1:]+"/dotdot", []byte("escaped\n"), 0o644)}
		}, "dotdot"},
		{"absolute", func(d, f string) []tarEntry {
			return []tarEntry{fileEntry(d+"/absolute", []byte("escaped\n"), 0o644)}
		}, "absolute"},
		{"symlink-then-file", func(d, f string) []tarEntry {
			return []tarEntry{link("evil", d, 0x32), fileEntry("evil/planted", []byte("escaped\n"), 0o644)}
		}, "planted"},
		{"relative-symlink-then-file", func(d, f string) []tarEntry {
			return []tarEntry{link("evil", up+d[1:], 0x32), fileEntry("evil/planted-rel", []byte("escaped\n"), 0o644)}
		}, "planted-rel"},
		{"hardlink-outside", func(d, f string) []tarEntry {
			return []tarEntry{link("hl", up+f[1:], 0x31)}
		}, ""},
		{"hardlink-then-write", func(d, f string) []tarEntry {
			return []tarEntry{link("hl", f, 0x31), fileEntry("hl", []byte("OVERWRITTEN\n"), 0o644)}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb := lcAt(sb, t)
			ctx := sb.path("work", "ctx-"+c.name)
			es := append([]tarEntry{dirEntry("etc/"), fileEntry("etc/from-archive", []byte("good\n"), 0o644)}, c.entries(hostDir, hostFile)...)
			raw, err := makeTar(es)
			if err != nil {
				t.Fatal(err)
			}
			sb.writeUserFile(ctx+"/evil.tar", string(raw))
			sb.writeUserFile(ctx+"/Dockerfile", "FROM "+bdBase+"\nADD evil.tar /unpacked/\n")
			tag := "evil-" + c.name
			r := sb.run(runOpts{}, "build", "-t", tag, ctx)
			// The host is untouched, whatever the build did.
			es2, _ := os.ReadDir(hostDir)
			for _, e := range es2 {
				if e.Name() != ".keep" {
					t.Fatalf("ADD of an archive wrote %s on the host:\n%s", filepath.Join(hostDir, e.Name()), r)
				}
			}
			assertEqual(t, string(readFile(t, hostFile)), bdOutsideSecret, "the host file after the ADD")
			var st syscall.Stat_t
			if err := syscall.Stat(hostFile, &st); err != nil {
				t.Fatal(err)
			}
			if st.Nlink != 1 {
				t.Fatalf("the host file has %d links after the ADD: the archive hard-linked it", st.Nlink)
			}
			if r.code != 0 {
				// Refused: fine, when the error says which archive.
				assertContains(t, r.stderr, "evil.tar", "the error of a refused ADD archive")
				return
			}
			if strings.Contains(string(bdSaved(sb, tag)), strings.TrimSpace(bdOutsideSecret)) {
				t.Fatalf("the image holds the host file's content:\n%s", r)
			}
			assertEqual(t, bdRun(sb, tag, "cat", "/unpacked/etc/from-archive"), "good\n", "the good entry of the archive")
			if c.lands != "" {
				found := bdRun(sb, tag, "find", "/", "-xdev", "-name", c.lands)
				if strings.TrimSpace(found) == "" {
					t.Fatalf("the build succeeded but %s is nowhere in the image (nor on the host): where did it go?\n%s", c.lands, r)
				}
			}
		})
	}
}
