package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/nsinit"
)

// expandHeredocs expands COPY/ADD heredoc bodies that ask for it (<<EOF, not <<"EOF").
func (b *Builder) expandHeredocs(st *state, sd *instructions.SourcesAndDest) error {
	lex := shell.NewLex(b.f.Escape)
	lex.RawQuotes = true
	lex.RawEscapes = true
	g := getter(st.args, st.Config.Config.Env)
	for i, sc := range sd.SourceContents {
		if !sc.Expand {
			continue
		}
		w, _, err := lex.ProcessWord(sc.Data, g)
		if err != nil {
			return err
		}
		sd.SourceContents[i].Data = w
		sd.SourceContents[i].Expand = false
	}
	return nil
}

func (b *Builder) isStage(from string, stage int) bool {
	_, ok := b.f.stageIndex(from, stage)
	return ok
}

// stageKey is what a cache key records of an earlier stage that a step reads files
// from (COPY --from, RUN --mount from=): its layers' diffIDs, the files themselves. Two
// builds whose stage gave other files give other keys; the same files, the same key,
// whatever the stage's history and wherever its steps were run.
func stageKey(prev *state) string {
	ids := make([]string, len(prev.Config.RootFS.DiffIDs))
	for i, d := range prev.Config.RootFS.DiffIDs {
		ids[i] = d.String()
	}
	return "stage:" + hashKey(append([]string{"layers"}, ids...)...)
}

// fromKey is what the cache key records for --from / mount from=: the earlier stage's
// files (stageKey), or the image's ID.
func (b *Builder) fromKey(from string, stage int) (string, error) {
	if j, ok := b.f.stageIndex(from, stage); ok {
		prev := b.results[j]
		if prev == nil {
			return "", fmt.Errorf("--from=%s: stage %d was not built", from, j)
		}
		return stageKey(prev), nil
	}
	if _, later := b.f.stageIndex(from, -1); later {
		return "", fmt.Errorf("--from=%s: that stage comes later; use an earlier stage", from)
	}
	img, err := b.o.Image(b.ctx, from)
	if err != nil {
		return "", fmt.Errorf("--from=%s: %w%s", from, err, b.stageHint(from, stage))
	}
	return "image:" + img.ID, nil
}

// copySource resolves COPY --from / mount from=: the build context (from ""), an
// earlier stage (its root mounted for reading), or an image. It returns what the cache
// key records for it, the directory to take sources from, and the ignore rules.
func (b *Builder) copySource(from string, stage int) (string, string, *buildfs.Ignore, error) {
	if from == "" {
		ign, err := b.ignore()
		return "context", b.o.Context, ign, err
	}
	layer, key := "", ""
	if j, ok := b.f.stageIndex(from, stage); ok {
		prev := b.results[j]
		if prev == nil {
			return "", "", nil, fmt.Errorf("--from=%s: stage %d was not built", from, j)
		}
		layer, key = prev.Layer, stageKey(prev)
	} else {
		if _, later := b.f.stageIndex(from, -1); later {
			return "", "", nil, fmt.Errorf("--from=%s: that stage comes later; use an earlier stage", from)
		}
		img, err := b.o.Image(b.ctx, from)
		if err != nil {
			return "", "", nil, fmt.Errorf("--from=%s: %w%s", from, err, b.stageHint(from, stage))
		}
		layer, key = img.TopLayer, "image:"+img.ID
	}
	if layer == "" {
		dir, err := os.MkdirTemp(b.tmp, "build-empty-")
		if err != nil {
			return "", "", nil, err
		}
		b.tmpDirs = append(b.tmpDirs, dir)
		return key, dir, nil, nil
	}
	mp, err := b.mountLayer(layer)
	if err != nil {
		return "", "", nil, err
	}
	return key, mp, nil, nil
}

// stageHint suggests an earlier stage when a name that is no stage failed as an image.
func (b *Builder) stageHint(name string, before int) string {
	var names []string
	for i := 0; i < before && i < len(b.f.Stages); i++ {
		if b.f.Stages[i].Name != "" {
			names = append(names, b.f.Stages[i].Name)
		}
	}
	if s := Suggest(name, names); s != "" {
		return fmt.Sprintf(" (no stage is named %s either: did you mean the stage %s?)", name, s)
	}
	return ""
}

// run executes an instruction that missed the cache, with its plan.
func (b *Builder) run(st *state, c instructions.Command, p *stepPlan) error {
	if _, ok := c.(*instructions.ArgCommand); ok {
		b.history(st, createdBy(c), true)
		return nil
	}
	handled, err := applyMeta(st, c, b.expander(st))
	if err != nil {
		return err
	}
	if handled {
		b.history(st, createdBy(c), true)
		return nil
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		return b.runStep(st, c, p)
	case *instructions.CopyCommand:
		return b.copyStep(st, "COPY", c.From, c.SourcesAndDest, c.Chown, c.Chmod, p, c.String())
	case *instructions.AddCommand:
		return b.copyStep(st, "ADD", "", c.SourcesAndDest, c.Chown, c.Chmod, p, c.String())
	}
	return fmt.Errorf("%s: instruction not supported", c.Name())
}

// destPath resolves a COPY destination against WORKDIR, keeping a trailing "/".
func destPath(workdir, dest string) string {
	if path.IsAbs(dest) {
		return dest
	}
	if workdir == "" {
		workdir = "/"
	}
	out := path.Join(workdir, dest)
	if strings.HasSuffix(dest, "/") || dest == "." {
		out += "/"
	}
	return out
}

// copyStep runs COPY or ADD in a new layer.
func (b *Builder) copyStep(st *state, ins, from string, sd instructions.SourcesAndDest, chown, chmod string, p *stepPlan, text string) error {
	dest := destPath(st.Config.Config.WorkingDir, sd.DestPath)
	mode, err := parseChmod(ins, chmod)
	if err != nil {
		return err
	}
	if ins == "COPY" && from != "" && len(sd.SourcePaths) > 0 {
		// Another stage's or an image's files: looked at only now, the step having
		// missed the cache.
		if p.srcs, err = b.fromSources(st, from, sd.SourcePaths); err != nil {
			return err
		}
	}
	// The copying (into the mounted working layer) runs without the store lock.
	err = b.layerStep(st, func(rootfs string) error {
		return b.unlocked(func() error { return b.copyInto(rootfs, ins, chown, dest, from, mode, p, sd) })
	})
	if err != nil {
		return err
	}
	b.historyLayer(st, "/bin/sh -c #(nop) "+strings.TrimSpace(text))
	return nil
}

// copyInto copies a COPY's or ADD's sources into the working layer's root.
func (b *Builder) copyInto(rootfs, ins, chown, dest, from string, mode *fs.FileMode, p *stepPlan, sd instructions.SourcesAndDest) error {
	o := buildfs.CopyOptions{Chmod: mode, IgnoreChownErrors: b.o.SingleID}
	if chown != "" {
		pair, err := resolveChown(rootfs, chown)
		if err != nil {
			return fmt.Errorf("%s --chown=%s: %w", ins, chown, err)
		}
		o.Chown = pair
	}
	if ign, err := b.ignore(); err == nil {
		o.Ignore = ign
	}
	plain := p.srcs
	if ins == "ADD" {
		var err error
		if plain, err = b.addArchives(rootfs, dest, p, o); err != nil {
			return err
		}
	}
	if len(plain) > 0 {
		co := o
		if from != "" {
			co.Ignore = nil // the ignore file is the context's
		}
		if err := buildfs.CopyInto(rootfs, dest, plain, co); err != nil {
			return err
		}
	}
	for _, sc := range sd.SourceContents {
		if err := buildfs.WriteFile(rootfs, dest, sc.Path, []byte(sc.Data), o); err != nil {
			return err
		}
	}
	return nil
}

// parseChmod reads COPY/ADD --chmod: an octal mode, with the set-id and sticky bits.
func parseChmod(ins, chmod string) (*fs.FileMode, error) {
	if chmod == "" {
		return nil, nil
	}
	v, err := strconv.ParseUint(chmod, 8, 32)
	if err != nil || v > 0o7777 {
		return nil, fmt.Errorf("%s --chmod=%s: give an octal mode such as 0755", ins, chmod)
	}
	m := fs.FileMode(v&0o777) | modeBits(v)
	return &m, nil
}

// fromSources are the files COPY --from=FROM copies: an earlier stage's or an image's,
// its root mounted for reading.
func (b *Builder) fromSources(st *state, from string, paths []string) ([]buildfs.Source, error) {
	_, dir, _, err := b.copySource(from, st.stage)
	if err != nil {
		return nil, err
	}
	srcs, err := buildfs.Sources(dir, paths, nil)
	if err != nil {
		var nf *buildfs.NotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("COPY --from=%s: %q not found in that %s", from, nf.Source, map[bool]string{true: "stage", false: "image"}[b.isStage(from, st.stage)])
		}
		return nil, err
	}
	return srcs, nil
}

// addArchives unpacks the local archives an ADD names into dest (unless --unpack=false)
// and returns what is left to copy as it is: the other sources, and the downloads.
func (b *Builder) addArchives(rootfs, dest string, p *stepPlan, o buildfs.CopyOptions) ([]buildfs.Source, error) {
	var plain []buildfs.Source
	for _, s := range p.srcs {
		if s.Info.Mode().IsRegular() && !p.noUnpack {
			arch, err := buildfs.IsArchive(s.Path)
			if err != nil {
				return nil, err
			}
			if arch {
				skipped, err := buildfs.ExtractArchive(rootfs, dest, s.Path, o)
				if err != nil {
					return nil, err
				}
				if len(skipped) > 0 {
					fmt.Fprintf(b.o.Stderr, "note: ADD %s: left out device nodes an unprivileged build cannot create: %s\n", s.Rel, strings.Join(skipped, ", "))
				}
				continue
			}
		}
		plain = append(plain, s)
	}
	for _, f := range p.fetched {
		fi, err := os.Lstat(f.path)
		if err != nil {
			return nil, err
		}
		plain = append(plain, buildfs.Source{Rel: f.name, Path: f.path, Info: fi})
	}
	return plain, nil
}

func modeBits(v uint64) fs.FileMode {
	var m fs.FileMode
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// resolveChown turns USER[:GROUP] (names or numbers) into ids, names looked up in the
// root's /etc/passwd and /etc/group (nsinit.LookupUser).
func resolveChown(rootfs, spec string) (*buildfs.IDPair, error) {
	if uid, gid, ok := numericChown(spec); ok {
		return &buildfs.IDPair{UID: uid, GID: gid}, nil // no need to read the image's files
	}
	u, err := nsinit.LookupUser(rootfs, spec)
	if err != nil {
		return nil, userError("", "--chown=1000:1000", err) // the caller names the instruction
	}
	if _, _, hasGroup := strings.Cut(spec, ":"); !hasGroup {
		// Docker: a user without a group gets the group of the same number.
		return &buildfs.IDPair{UID: int(u.UID), GID: int(u.UID)}, nil
	}
	return &buildfs.IDPair{UID: int(u.UID), GID: int(u.GID)}, nil
}

// numericChown is a --chown of numbers only (UID, UID:GID), a user without a group
// getting the group of the same number (Docker's rule).
func numericChown(spec string) (uid, gid int, ok bool) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return 0, 0, false
	}
	if !hasGroup {
		return uid, uid, true
	}
	if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

// userError says why USER or --chown did not resolve: no such name (use numeric ids:
// numeric), or the image's /etc/passwd or /etc/group could not be read (the reader's
// error names the file and the fix). what, when not "", leads the message.
func userError(what, numeric string, err error) error {
	switch {
	case errors.Is(err, nsinit.ErrUnknownUser):
		err = fmt.Errorf("no such user or group in the image's /etc/passwd and /etc/group: use numeric ids (%s)", numeric)
	case errors.Is(err, nsinit.ErrIDRange):
		err = errors.New("id out of range")
	}
	if what == "" {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
