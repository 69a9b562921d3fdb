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
	"github.com/moby/sys/user"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
)

// prepared holds what keyExtra worked out for a COPY/ADD/RUN, for the step to use.
type prepared struct {
	srcs    []buildfs.Source // COPY/ADD sources (context or another stage)
	fetched []fetchedFile    // ADD URLs
	mounts  []*instructions.Mount
	// noUnpack is ADD --unpack=false: archives are copied as files.
	noUnpack bool
}

type fetchedFile struct{ path, name string }

// keyExtra is what the cache key needs beyond the instruction text and the ARGs: the
// content of COPY/ADD sources, the stages and images they come from, and RUN mounts.
func (b *Builder) keyExtra(st *state, c instructions.Command) (string, error) {
	exp := b.expander(st)
	p := &prepared{}
	b.prepared[c] = p
	switch c := c.(type) {
	case *instructions.CopyCommand:
		var err error
		if err = c.Expand(exp); err != nil {
			return "", err
		}
		// --from takes ARGs too (COPY --from=$BUILDER); Expand leaves it alone.
		if c.From, err = exp(c.From); err != nil {
			return "", err
		}
		if c.Parents {
			return "", fmt.Errorf("COPY --parents is not supported by hutch build: copy each directory to its destination")
		}
		if len(c.ExcludePatterns) > 0 {
			return "", fmt.Errorf("COPY --exclude is not supported by hutch build: leave the files out with .dockerignore")
		}
		if err := b.expandHeredocs(st, &c.SourcesAndDest); err != nil {
			return "", err
		}
		parts := []string{"chown=" + c.Chown, "chmod=" + c.Chmod, "dest=" + c.DestPath}
		for _, sc := range c.SourceContents {
			parts = append(parts, "heredoc="+sc.Path+"\x00"+sc.Data)
		}
		if c.From != "" {
			// Another stage or an image: its identity is the key; its files are only
			// looked at when the step runs.
			from, err := b.fromKey(c.From, st.stage)
			if err != nil {
				return "", err
			}
			return strings.Join(append(parts, "from="+from), "\n"), nil
		}
		ctxDir, ign := b.o.Context, (*buildfs.Ignore)(nil)
		if ign, err = b.ignore(); err != nil {
			return "", err
		}
		parts = append(parts, "from=context")
		if len(c.SourcePaths) > 0 {
			srcs, err := buildfs.Sources(ctxDir, c.SourcePaths, ign)
			if err != nil {
				return "", err
			}
			p.srcs = srcs
			if c.From == "" {
				d, err := buildfs.Digest(srcs, ign)
				if err != nil {
					return "", err
				}
				parts = append(parts, "content="+d)
			}
		}
		return strings.Join(parts, "\n"), nil
	case *instructions.AddCommand:
		if err := c.Expand(exp); err != nil {
			return "", err
		}
		if len(c.ExcludePatterns) > 0 {
			return "", fmt.Errorf("ADD --exclude is not supported by hutch build: leave the files out with .dockerignore")
		}
		p.noUnpack = c.Unpack != nil && !*c.Unpack
		if err := b.expandHeredocs(st, &c.SourcesAndDest); err != nil {
			return "", err
		}
		parts := []string{"chown=" + c.Chown, "chmod=" + c.Chmod, "dest=" + c.DestPath, "checksum=" + c.Checksum, fmt.Sprintf("unpack=%v", c.Unpack != nil && !*c.Unpack)}
		for _, sc := range c.SourceContents {
			parts = append(parts, "heredoc="+sc.Path+"\x00"+sc.Data)
		}
		ign, err := b.ignore()
		if err != nil {
			return "", err
		}
		var localPats []string
		for _, s := range c.SourcePaths {
			if isURL(s) {
				if b.o.Network.Mode == network.ModeNone {
					return "", fmt.Errorf("ADD %s: the build runs with --network none, so nothing is downloaded: build with --network slirp4netns (the default) or host, or put the file in the build context", s)
				}
				dir, err := os.MkdirTemp(b.tmp, "build-fetch-")
				if err != nil {
					return "", err
				}
				b.tmpDirs = append(b.tmpDirs, dir)
				fp, name, err := buildfs.Fetch(b.ctx, s, c.Checksum, dir)
				if err != nil {
					return "", err
				}
				p.fetched = append(p.fetched, fetchedFile{fp, name})
				d, err := fileDigest(fp)
				if err != nil {
					return "", err
				}
				parts = append(parts, "url="+s+"\x00"+name+"\x00"+d)
				continue
			}
			if c.Checksum != "" {
				return "", fmt.Errorf("ADD --checksum is only for URL sources, not %q", s)
			}
			localPats = append(localPats, s)
		}
		if len(localPats) > 0 {
			srcs, err := buildfs.Sources(b.o.Context, localPats, ign)
			if err != nil {
				var nf *buildfs.NotFoundError
				if errors.As(err, &nf) {
					nf.Instruction = "ADD"
				}
				return "", err
			}
			p.srcs = srcs
			d, err := buildfs.Digest(srcs, ign)
			if err != nil {
				return "", err
			}
			parts = append(parts, "content="+d)
		}
		return strings.Join(parts, "\n"), nil
	case *instructions.RunCommand:
		if err := c.Expand(exp); err != nil {
			return "", err
		}
		if instructions.GetSecurity(c) == instructions.SecurityInsecure {
			return "", fmt.Errorf("RUN --security=insecure is not supported: hutch build does not grant that entitlement (the step runs with Docker's default capabilities)")
		}
		if len(instructions.GetDevices(c)) > 0 {
			return "", fmt.Errorf("RUN --device is not supported by hutch build")
		}
		mounts := instructions.GetMounts(c)
		for _, m := range mounts {
			if m.Type == instructions.MountTypeCache && m.From != "" {
				return "", fmt.Errorf("RUN --mount=type=cache,from=%s: seeding a cache from a stage or image is not supported; drop from= (the cache starts empty)", m.From)
			}
		}
		p.mounts = mounts
		parts := []string{"network=" + b.runNetwork(c).Mode}
		for _, f := range c.Files {
			parts = append(parts, "heredoc="+f.Name+"\x00"+f.Data)
		}
		for _, m := range mounts {
			parts = append(parts, fmt.Sprintf("mount=%s,%s,%s,%s,%v", m.Type, m.From, m.Source, m.Target, m.ReadOnly))
			if m.Type == instructions.MountTypeBind {
				if m.From != "" {
					from, err := b.fromKey(m.From, st.stage)
					if err != nil {
						return "", err
					}
					parts = append(parts, "from="+from)
				} else {
					ign, err := b.ignore()
					if err != nil {
						return "", err
					}
					ctxDir := b.o.Context
					src := m.Source
					if src == "" {
						src = "."
					}
					srcs, err := buildfs.Sources(ctxDir, []string{src}, ign)
					if err != nil {
						return "", fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
					}
					d, err := buildfs.Digest(srcs, ign)
					if err != nil {
						return "", err
					}
					parts = append(parts, "from=context", "content="+d)
				}
			}
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", nil
}

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

// fromKey is what the cache key records for --from / mount from=: the earlier stage's
// key, or the image's ID.
func (b *Builder) fromKey(from string, stage int) (string, error) {
	if j, ok := b.f.stageIndex(from, stage); ok {
		prev := b.results[j]
		if prev == nil {
			return "", fmt.Errorf("--from=%s: stage %d was not built", from, j)
		}
		return "stage:" + prev.key, nil
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
		layer, key = prev.Layer, "stage:"+prev.key
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

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// run executes an instruction that missed the cache.
func (b *Builder) run(st *state, c instructions.Command) error {
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
	p := b.prepared[c]
	delete(b.prepared, c)
	if p == nil {
		p = &prepared{}
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
func (b *Builder) copyStep(st *state, ins, from string, sd instructions.SourcesAndDest, chown, chmod string, p *prepared, text string) error {
	dest := destPath(st.Config.Config.WorkingDir, sd.DestPath)
	var mode *fs.FileMode
	if chmod != "" {
		v, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || v > 0o7777 {
			return fmt.Errorf("%s --chmod=%s: give an octal mode such as 0755", ins, chmod)
		}
		m := fs.FileMode(v&0o777) | modeBits(v)
		mode = &m
	}
	if ins == "COPY" && from != "" && len(sd.SourcePaths) > 0 {
		_, dir, _, err := b.copySource(from, st.stage)
		if err != nil {
			return err
		}
		srcs, err := buildfs.Sources(dir, sd.SourcePaths, nil)
		if err != nil {
			var nf *buildfs.NotFoundError
			if errors.As(err, &nf) {
				return fmt.Errorf("COPY --from=%s: %q not found in that %s", from, nf.Source, map[bool]string{true: "stage", false: "image"}[b.isStage(from, st.stage)])
			}
			return err
		}
		p.srcs = srcs
	}
	err := b.layerStep(st, func(rootfs string) error {
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
		var plain []buildfs.Source
		if ins == "ADD" {
			for _, s := range p.srcs {
				if s.Info.Mode().IsRegular() && !p.noUnpack {
					arch, err := buildfs.IsArchive(s.Path)
					if err != nil {
						return err
					}
					if arch {
						skipped, err := buildfs.ExtractArchive(rootfs, dest, s.Path, o)
						if err != nil {
							return err
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
					return err
				}
				plain = append(plain, buildfs.Source{Rel: f.name, Path: f.path, Info: fi})
			}
		} else {
			plain = p.srcs
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
	})
	if err != nil {
		return err
	}
	b.historyLayer(st, "/bin/sh -c #(nop) "+strings.TrimSpace(text))
	return nil
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
// root's /etc/passwd and /etc/group (resolved inside it).
func resolveChown(rootfs, spec string) (*buildfs.IDPair, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, uerr := strconv.Atoi(u)
	gid := -1
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		}
	}
	if uerr == nil && (gid >= 0 || !hasGroup) {
		if !hasGroup {
			gid = uid
		}
		return &buildfs.IDPair{UID: uid, GID: gid}, nil
	}
	passwd, group, err := fsutil.ReadUserDB(rootfs)
	if err != nil {
		return nil, err
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		return nil, fmt.Errorf("no such user or group in the image's /etc/passwd and /etc/group: use numeric ids (--chown=1000:1000)")
	}
	if !hasGroup {
		// Docker: a user without a group gets the group of the same number.
		return &buildfs.IDPair{UID: eu.Uid, GID: eu.Uid}, nil
	}
	return &buildfs.IDPair{UID: eu.Uid, GID: eu.Gid}, nil
}
