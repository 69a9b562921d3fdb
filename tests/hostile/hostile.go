// Package hostile generates the inputs of hutch's hostile-input tests (tests/hostile_test.go):
// image layers and build contexts that try to write or read outside where they belong,
// or to exhaust memory, disk or time. Nothing is checked in: every case is written by
// the test that uses it, aimed at directories of that test.
//
// A layer case is one layer's tar stream; the tests feed it to `hutch load` (in a
// docker-archive), `hutch pull` (from a registry), `hutch import` (as a root file
// system) and `hutch build` (ADD of the archive). A context case is a build context.
// Each case says what an error must name when hutch refuses it; the tests assert that
// nothing outside the store or the destination changed, whether hutch refused or
// accepted it.
package hostile

import (
	"archive/tar"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Host is where a case aims on the host. Every path is the test user's own, so that only
// hutch's confinement, not file permissions, stops an escape.
type Host struct {
	Target string // a directory outside the store and the destination, writable by the user
	Secret string // a file of the user's (content Secret) that links and COPY try to reach
	Victim string // a file in Target that whiteouts try to delete
}

// SecretContent is the content of Host.Secret: it must never show up in an image.
const SecretContent = "HOST-SECRET-4b1d\n"

// up climbs far enough to reach / from any layer or context path.
var up = strings.Repeat("../", 40)

func rel(abs string) string { return up + strings.TrimPrefix(abs, "/") }

// Layer is a hostile layer.
type Layer struct {
	Name string
	Doc  string
	Gzip bool
	// Entries are the layer's members; Write, when set, streams them instead (large cases).
	Entries func(h Host) []Entry
	Write   func(w io.Writer, h Host) error
	// Mention is what hutch's error names when it refuses the layer (the entry).
	Mention func(h Host) string
	// Refuse says where hutch must refuse the layer: RefuseAll (every route),
	// RefuseStore (load, pull and import; build's ADD unpacks an archive as Docker's
	// does, resolving every path inside the image), RefuseImport (import only: load and
	// pull keep an absolute name inside the layer, as Docker does), or "" (it may be
	// accepted: its entries stay inside the image, or are left out).
	Refuse string
	// Lands is the name of the hostile entry that, when hutch accepts the layer, must be
	// found inside the image (it went somewhere: not on the host).
	Lands string
	// Bomb marks a case that expands beyond the space of the test's store.
	Bomb bool
	// Heavy cases are large: the tests run them once, on one driver, and time them.
	Heavy bool
}

// Tar writes the layer's uncompressed tar stream.
func (l Layer) Tar(w io.Writer, h Host) error {
	if l.Write != nil {
		return l.Write(w, h)
	}
	return WriteTar(w, l.Entries(h))
}

// Where a layer must be refused.
const (
	RefuseAll    = "all"
	RefuseStore  = "store"
	RefuseImport = "import"
)

// good comes first in every layer: a refusal half-way must not leave these behind.
func good() []Entry {
	return []Entry{Dir("etc/"), File("etc/from-layer", "good\n")}
}

func named(s string) func(Host) string { return func(Host) string { return s } }

// BombSize is the logical size of the bombs: far more than the small file system the
// tests give the store, and than the expansion limit hutch keeps (docs/security.md).
const BombSize = 2 << 30

// ManyFiles and Depth size the two large legitimate layers.
const (
	ManyFiles = 100_000
	Depth     = 4096
)

// Layers are the hostile layer cases.
func Layers() []Layer {
	return []Layer{
		{Name: "dotdot", Doc: "a member whose name climbs out with ..",
			Entries: func(h Host) []Entry {
				return append(good(), File(rel(h.Target)+"/dotdot", "escaped\n"))
			},
			Refuse: RefuseAll, Mention: func(h Host) string { return rel(h.Target) + "/dotdot" }},
		{Name: "dotdot-nested", Doc: "a member whose name climbs out with .. after a directory",
			Entries: func(h Host) []Entry {
				return append(good(), File("etc/"+rel(h.Target)+"/nested", "escaped\n"))
			},
			Refuse: RefuseAll, Mention: func(h Host) string { return "etc/" + rel(h.Target) + "/nested" }},
		{Name: "absolute", Doc: "a member with an absolute name",
			Entries: func(h Host) []Entry { return append(good(), File(h.Target+"/absolute", "escaped\n")) },
			Refuse:  RefuseImport, Lands: "absolute", Mention: func(h Host) string { return h.Target + "/absolute" }},
		{Name: "symlink-then-write", Doc: "a symlink to a host directory, then a member written through it",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("evil", h.Target), File("evil/through-symlink", "escaped\n"))
			},
			Refuse: RefuseStore, Lands: "through-symlink", Mention: named("evil/through-symlink")},
		{Name: "relative-symlink-then-write", Doc: "a symlink climbing out with .., then a member written through it",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("evil", rel(h.Target)), File("evil/through-relative", "escaped\n"))
			},
			Refuse: RefuseStore, Lands: "through-relative", Mention: named("evil")},
		{Name: "symlink-then-overwrite", Doc: "a symlink to a host file, then a member of the same name with new content",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("etc/victim", h.Victim), File("etc/victim", "OVERWRITTEN\n"))
			},
			Refuse: RefuseStore, Mention: named("etc/victim")},
		{Name: "hardlink-outside", Doc: "a hard link to a host file, by a climbing name",
			Entries: func(h Host) []Entry { return append(good(), Hardlink("etc/link", rel(h.Secret))) },
			Refuse:  RefuseAll, Mention: named("etc/link")},
		{Name: "hardlink-absolute", Doc: "a hard link to a host file, by its absolute name",
			Entries: func(h Host) []Entry { return append(good(), Hardlink("etc/link", h.Secret)) },
			Refuse:  RefuseAll, Mention: named("etc/link")},
		{Name: "hardlink-then-write", Doc: "a hard link to a host file, then content written to the link",
			Entries: func(h Host) []Entry {
				return append(good(), Hardlink("etc/link", h.Secret), File("etc/link", "OVERWRITTEN\n"))
			},
			Refuse: RefuseAll, Mention: named("etc/link")},
		{Name: "hardlink-through-symlink", Doc: "a symlink to the host file's directory, then a hard link through it",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("sdir", filepath.Dir(h.Secret)), Hardlink("etc/link", "sdir/"+filepath.Base(h.Secret)))
			},
			Refuse: RefuseAll, Mention: named("etc/link")},
		{Name: "whiteout-through-symlink", Doc: "a symlink to a host directory, then a whiteout of a file in it",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("wdir", h.Target), File("wdir/.wh."+filepath.Base(h.Victim), ""))
			},
			Refuse: RefuseStore, Mention: named("wdir/.wh." + "victim")},
		{Name: "opaque-whiteout-through-symlink", Doc: "a symlink to a host directory, then an opaque whiteout in it",
			Entries: func(h Host) []Entry {
				return append(good(), Symlink("odir", h.Target), File("odir/.wh..wh..opq", ""))
			},
			Refuse: RefuseStore, Mention: named("odir/.wh..wh..opq")},
		{Name: "whiteout-of-parent", Doc: "a whiteout whose name is .. (the parent directory)",
			Entries: func(h Host) []Entry { return append(good(), Dir("sub/"), File("sub/.wh...", "")) },
			Refuse:  RefuseStore, Mention: named("sub/.wh...")},
		{Name: "whiteout-dotdot", Doc: "a whiteout that climbs out with ..",
			Entries: func(h Host) []Entry {
				return append(good(), File(rel(h.Target)+"/.wh."+filepath.Base(h.Victim), ""))
			},
			Refuse: RefuseAll, Mention: func(h Host) string { return rel(h.Target) + "/.wh." + filepath.Base(h.Victim) }},
		{Name: "devices", Doc: "character and block devices (/dev/mem's and a disk's numbers)",
			Entries: func(h Host) []Entry {
				return append(good(), Dir("dev/"), Device("dev/mem", tar.TypeChar, 1, 1), Device("dev/sda", tar.TypeBlock, 8, 0))
			},
			Mention: named("dev/mem")},
		{Name: "sparse", Doc: fmt.Sprintf("a sparse file of %d GiB holding one byte", int64(BombSize)>>30),
			Entries: func(h Host) []Entry {
				return append(good(), Entry{Name: "etc/sparse", Type: tar.TypeReg, Mode: 0o644, Sparse: BombSize})
			},
			Refuse: RefuseAll, Mention: named("etc/sparse"), Bomb: true},
		{Name: "gzip-bomb", Doc: fmt.Sprintf("a gzip layer expanding to a %d GiB file of zeros", int64(BombSize)>>30), Gzip: true,
			Entries: func(h Host) []Entry {
				return append(good(), Entry{Name: "etc/zeros", Type: tar.TypeReg, Mode: 0o644, Zero: BombSize})
			},
			Refuse: RefuseAll, Mention: named("etc/zeros"), Bomb: true, Heavy: true},
		{Name: "many-files", Doc: fmt.Sprintf("%d empty files in 100 directories", ManyFiles), Gzip: true, Heavy: true,
			Write: func(w io.Writer, h Host) error {
				ew := NewEntryWriter(w)
				for _, e := range good() {
					if err := ew.Add(e); err != nil {
						return err
					}
				}
				for i := 0; i < ManyFiles; i++ {
					if i%1000 == 0 {
						if err := ew.Add(Dir(fmt.Sprintf("many/%03d/", i/1000))); err != nil {
							return err
						}
					}
					if err := ew.Add(File(fmt.Sprintf("many/%03d/f%06d", i/1000, i), "")); err != nil {
						return err
					}
				}
				return ew.Close()
			}},
		{Name: "deep", Doc: fmt.Sprintf("a directory %d levels deep (a path of %d bytes)", Depth, 2*Depth), Gzip: true,
			Write: func(w io.Writer, h Host) error {
				ew := NewEntryWriter(w)
				for _, e := range good() {
					if err := ew.Add(e); err != nil {
						return err
					}
				}
				p := ""
				for i := 0; i < Depth; i++ {
					p += "d/"
					if err := ew.Add(Dir(p)); err != nil {
						return err
					}
				}
				if err := ew.Add(File(p+"bottom", "deep\n")); err != nil {
					return err
				}
				return ew.Close()
			},
			Refuse: RefuseAll, Mention: named("d/d/d/d/d/d/d/d")},
	}
}

// Context is a hostile build context. Files maps a path in the context to its content;
// Links maps a path to a symlink target ("{secret}", "{target}" and "{ctx}" are
// replaced by the host's paths); Fifos are named pipes. Args are `hutch build`'s
// options (before the context). The build must fail naming Mention, or, with Accept,
// may succeed without the secret in the image.
type Context struct {
	Name    string
	Doc     string
	Files   map[string]string
	Links   map[string]string
	Fifos   []string
	Args    []string
	Mention string
	Accept  bool
}

// Dockerfile is the Dockerfile of the cases that are not about it (FROM is filled in by
// the test with its base image).
const Dockerfile = "FROM {base}\nCOPY ok.txt /ok.txt\n"

// Expand replaces the placeholders of a link target, an argument or a mention.
func (c Context) Expand(s, ctx string, h Host) string {
	return strings.NewReplacer("{secret}", h.Secret, "{target}", h.Target, "{ctx}", ctx, "{up}", up).Replace(s)
}

// Contexts are the hostile build contexts.
func Contexts() []Context {
	df := map[string]string{"Dockerfile": Dockerfile, "ok.txt": "inside\n"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range df {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	noDF := with(map[string]string{"Dockerfile": ""})
	copyCase := func(name, copy string) Context {
		return Context{Name: "copy-" + name, Doc: "COPY " + copy, Accept: true,
			Files: with(map[string]string{"Dockerfile": "FROM {base}\nCOPY " + copy + "\n"}),
			Links: map[string]string{"abs-link": "{secret}", "rel-link": "{up}{secret}", "dir-link": "{target}"},
			// Refused: the error names the source and the context.
			Mention: strings.Fields(copy)[0]}
	}
	return []Context{
		{Name: "dockerfile-dev-zero", Doc: "Dockerfile is a symlink to /dev/zero", Files: noDF,
			Links: map[string]string{"Dockerfile": "/dev/zero"}, Mention: "{ctx}/Dockerfile: leads out of {ctx} (a symbolic link to /dev/zero)"},
		{Name: "dockerfile-fifo", Doc: "Dockerfile is a named pipe", Files: noDF,
			Fifos: []string{"Dockerfile"}, Mention: "{ctx}/Dockerfile: is a named pipe (FIFO)"},
		{Name: "dockerfile-outside", Doc: "Dockerfile is a symlink to a file of the user's outside the context", Files: noDF,
			Links: map[string]string{"Dockerfile": "{secret}"}, Mention: "{ctx}/Dockerfile: leads out of {ctx}"},
		{Name: "dockerfile-relative-outside", Doc: "Dockerfile is a symlink climbing out of the context", Files: noDF,
			Links: map[string]string{"Dockerfile": "{up}{secret}"}, Mention: "{ctx}/Dockerfile: leads out of {ctx}"},
		{Name: "containerfile-dev-zero", Doc: "no Dockerfile; Containerfile is a symlink to /dev/zero", Files: noDF,
			Links: map[string]string{"Containerfile": "/dev/zero"}, Mention: "{ctx}/Containerfile: leads out of {ctx}"},
		{Name: "dockerfile-flag-dev-zero", Doc: "-f /dev/zero", Files: df,
			Args: []string{"-f", "/dev/zero"}, Mention: "Dockerfile /dev/zero: is a character device"},
		{Name: "dockerfile-flag-link-dev-zero", Doc: "-f names a symlink in the context to /dev/zero", Files: df,
			Links: map[string]string{"build.Dockerfile": "/dev/zero"}, Args: []string{"-f", "{ctx}/build.Dockerfile"},
			Mention: "{ctx}/build.Dockerfile: is a character device (a symbolic link to /dev/zero)"},
		{Name: "dockerfile-huge", Doc: "a Dockerfile of 5 MiB", Files: with(map[string]string{"Dockerfile": Dockerfile + "# " + strings.Repeat("x", 5<<20) + "\n"}),
			Mention: "{ctx}/Dockerfile: is larger than 4 MiB"},
		{Name: "dockerignore-dev-zero", Doc: ".dockerignore is a symlink to /dev/zero", Files: df,
			Links: map[string]string{".dockerignore": "/dev/zero"}, Mention: "{ctx}/.dockerignore: leads out of {ctx}"},
		{Name: "dockerignore-fifo", Doc: ".dockerignore is a named pipe", Files: df,
			Fifos: []string{".dockerignore"}, Mention: "{ctx}/.dockerignore: is a named pipe (FIFO)"},
		{Name: "dockerignore-outside", Doc: ".dockerignore is a symlink to a file outside the context", Files: df,
			Links: map[string]string{".dockerignore": "{secret}"}, Mention: "{ctx}/.dockerignore: leads out of {ctx}"},
		{Name: "dockerfile-dockerignore-dev-zero", Doc: "Dockerfile.dockerignore is a symlink to /dev/zero", Files: df,
			Links: map[string]string{"Dockerfile.dockerignore": "/dev/zero"}, Mention: "{ctx}/Dockerfile.dockerignore: leads out of {ctx}"},
		{Name: "secret-dev-zero", Doc: "--secret src=/dev/zero", Files: with(map[string]string{"Dockerfile": "FROM {base}\nRUN --mount=type=secret,id=s cat /run/secrets/s\n"}),
			Args: []string{"--secret", "id=s,src=/dev/zero"}, Mention: "secret /dev/zero: is a character device"},
		copyCase("dotdot", "../secret.txt /got"),
		copyCase("dotdot-deep", "ok.txt/../../secret.txt /got"),
		copyCase("absolute-symlink", "abs-link /got"),
		copyCase("relative-symlink", "rel-link /got"),
		copyCase("symlinked-dir-file", "dir-link/victim /got"),
		copyCase("symlinked-dir", "dir-link /got/"),
		copyCase("symlink-contents", ". /got/"),
	}
}
