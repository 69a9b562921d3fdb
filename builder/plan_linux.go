package builder

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/network"
)

// A step is planned before it runs, and runs only on a cache miss:
//
//	planStep   expands the instruction (ENV and ARGs), checks what hutch build does
//	           not support (check*), and resolves the inputs its result depends on:
//	           the build context's files (their content digest), URLs (downloaded to
//	           digest them), earlier stages and images (their identity);
//	the key    the instruction's text, the ARGs and stepPlan.key, hashed;
//	run        only then, with the plan: copyStep, runStep.
//
// A plan is made for one step and handed to its run: nothing else keeps it.

// stepPlan is what a COPY, ADD or RUN needs before it runs.
type stepPlan struct {
	// key is what the cache key holds beyond the instruction's text and the ARGs.
	key      []string
	srcs     []buildfs.Source // COPY/ADD sources (the build context)
	fetched  []fetchedFile    // ADD URLs, downloaded
	noUnpack bool             // ADD --unpack=false: archives are copied as files
	mounts   []*instructions.Mount
}

type fetchedFile struct{ path, name string }

// planStep plans instruction c of the stage at st (a metadata instruction needs no
// plan: its key is its text).
func (b *Builder) planStep(st *state, c instructions.Command) (*stepPlan, error) {
	exp := b.expander(st)
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if err := c.Expand(exp); err != nil {
			return nil, err
		}
		// --from takes ARGs too (COPY --from=$BUILDER); Expand leaves it alone.
		from, err := exp(c.From)
		if err != nil {
			return nil, err
		}
		c.From = from
		if err := checkCopy(c); err != nil {
			return nil, err
		}
		if err := b.expandHeredocs(st, &c.SourcesAndDest); err != nil {
			return nil, err
		}
		return b.copyInputs(st, c, &stepPlan{key: copyKey(c)})
	case *instructions.AddCommand:
		if err := c.Expand(exp); err != nil {
			return nil, err
		}
		if err := checkAdd(c, b.o.Network); err != nil {
			return nil, err
		}
		if err := b.expandHeredocs(st, &c.SourcesAndDest); err != nil {
			return nil, err
		}
		return b.addInputs(c, &stepPlan{key: addKey(c), noUnpack: c.Unpack != nil && !*c.Unpack})
	case *instructions.RunCommand:
		if err := c.Expand(exp); err != nil {
			return nil, err
		}
		if err := checkRun(c); err != nil {
			return nil, err
		}
		p := &stepPlan{key: runKey(c, b.runNetwork(c)), mounts: instructions.GetMounts(c)}
		return b.runInputs(st, p)
	}
	return &stepPlan{}, nil
}

// checkCopy refuses the COPY forms hutch build does not support.
func checkCopy(c *instructions.CopyCommand) error {
	if c.Parents {
		return fmt.Errorf("COPY --parents is not supported by hutch build: copy each directory to its destination")
	}
	if len(c.ExcludePatterns) > 0 {
		return fmt.Errorf("COPY --exclude is not supported by hutch build: leave the files out with .dockerignore")
	}
	return nil
}

// checkAdd refuses the ADD forms hutch build does not support, and a download the
// build's network cannot make (before anything is downloaded).
func checkAdd(c *instructions.AddCommand, n network.Config) error {
	if len(c.ExcludePatterns) > 0 {
		return fmt.Errorf("ADD --exclude is not supported by hutch build: leave the files out with .dockerignore")
	}
	for _, s := range c.SourcePaths {
		switch {
		case isURL(s) && n.Mode == network.ModeNone:
			return fmt.Errorf("ADD %s: the build runs with --network none, so nothing is downloaded: build with --network slirp4netns (the default) or host, or put the file in the build context", s)
		case !isURL(s) && c.Checksum != "":
			return fmt.Errorf("ADD --checksum is only for URL sources, not %q", s)
		}
	}
	return nil
}

// checkRun refuses the RUN forms hutch build does not support.
func checkRun(c *instructions.RunCommand) error {
	if instructions.GetSecurity(c) == instructions.SecurityInsecure {
		return fmt.Errorf("RUN --security=insecure is not supported: hutch build does not grant that entitlement (the step runs with Docker's default capabilities)")
	}
	if len(instructions.GetDevices(c)) > 0 {
		return fmt.Errorf("RUN --device is not supported by hutch build")
	}
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeCache && m.From != "" {
			return fmt.Errorf("RUN --mount=type=cache,from=%s: seeding a cache from a stage or image is not supported; drop from= (the cache starts empty)", m.From)
		}
	}
	return nil
}

// copyKey, addKey and runKey are what an expanded instruction puts in its cache key
// before its inputs: its flags and heredocs.
func copyKey(c *instructions.CopyCommand) []string {
	return heredocKey([]string{"chown=" + c.Chown, "chmod=" + c.Chmod, "dest=" + c.DestPath}, c.SourceContents)
}

func addKey(c *instructions.AddCommand) []string {
	return heredocKey([]string{"chown=" + c.Chown, "chmod=" + c.Chmod, "dest=" + c.DestPath, "checksum=" + c.Checksum,
		fmt.Sprintf("unpack=%v", c.Unpack != nil && !*c.Unpack)}, c.SourceContents)
}

func runKey(c *instructions.RunCommand, n network.Config) []string {
	key := []string{"network=" + n.Mode}
	for _, f := range c.Files {
		key = append(key, "heredoc="+f.Name+"\x00"+f.Data)
	}
	return key
}

// mountKey is what a RUN's --mount puts in its cache key, before what it shows.
func mountKey(m *instructions.Mount) string {
	return fmt.Sprintf("mount=%s,%s,%s,%s,%v", m.Type, m.From, m.Source, m.Target, m.ReadOnly)
}

func heredocKey(key []string, docs []instructions.SourceContent) []string {
	for _, sc := range docs {
		key = append(key, "heredoc="+sc.Path+"\x00"+sc.Data)
	}
	return key
}

// copyInputs resolves a COPY's sources: another stage or an image (its identity is the
// key; its files are only looked at when the step runs), or the build context's files
// (their content).
func (b *Builder) copyInputs(st *state, c *instructions.CopyCommand, p *stepPlan) (*stepPlan, error) {
	if c.From != "" {
		from, err := b.fromKey(c.From, st.stage)
		if err != nil {
			return nil, err
		}
		p.key = append(p.key, "from="+from)
		return p, nil
	}
	ign, err := b.ignore()
	if err != nil {
		return nil, err
	}
	p.key = append(p.key, "from=context")
	if len(c.SourcePaths) == 0 {
		return p, nil
	}
	srcs, err := buildfs.Sources(b.o.Context, c.SourcePaths, ign)
	if err != nil {
		return nil, err
	}
	d, err := buildfs.Digest(srcs, ign)
	if err != nil {
		return nil, err
	}
	p.srcs, p.key = srcs, append(p.key, "content="+d)
	return p, nil
}

// addInputs resolves an ADD's sources: URLs are downloaded (their content is the key),
// the others are the build context's files.
func (b *Builder) addInputs(c *instructions.AddCommand, p *stepPlan) (*stepPlan, error) {
	ign, err := b.ignore()
	if err != nil {
		return nil, err
	}
	var local []string
	for _, s := range c.SourcePaths {
		if !isURL(s) {
			local = append(local, s)
			continue
		}
		f, d, err := b.fetch(s, c.Checksum)
		if err != nil {
			return nil, err
		}
		p.fetched = append(p.fetched, f)
		p.key = append(p.key, "url="+s+"\x00"+f.name+"\x00"+d)
	}
	if len(local) == 0 {
		return p, nil
	}
	srcs, err := buildfs.Sources(b.o.Context, local, ign)
	if err != nil {
		var nf *buildfs.NotFoundError
		if errors.As(err, &nf) {
			nf.Instruction = "ADD"
		}
		return nil, err
	}
	d, err := buildfs.Digest(srcs, ign)
	if err != nil {
		return nil, err
	}
	p.srcs, p.key = srcs, append(p.key, "content="+d)
	return p, nil
}

// fetch downloads an ADD URL into a directory of the build's and returns it with the
// sha256 of its content.
func (b *Builder) fetch(url, checksum string) (fetchedFile, string, error) {
	dir, err := os.MkdirTemp(b.tmp, "build-fetch-")
	if err != nil {
		return fetchedFile{}, "", err
	}
	b.tmpDirs = append(b.tmpDirs, dir)
	fp, name, err := buildfs.Fetch(b.ctx, url, checksum, dir)
	if err != nil {
		return fetchedFile{}, "", err
	}
	d, err := fileDigest(fp)
	if err != nil {
		return fetchedFile{}, "", err
	}
	return fetchedFile{fp, name}, d, nil
}

// runInputs adds a RUN's mounts to its key, each with what a bind mount shows: an
// earlier stage or an image (its identity), or the build context (its content, ignore
// rules applied).
func (b *Builder) runInputs(st *state, p *stepPlan) (*stepPlan, error) {
	for _, m := range p.mounts {
		p.key = append(p.key, mountKey(m))
		if m.Type != instructions.MountTypeBind {
			continue
		}
		if m.From != "" {
			from, err := b.fromKey(m.From, st.stage)
			if err != nil {
				return nil, err
			}
			p.key = append(p.key, "from="+from)
			continue
		}
		ign, err := b.ignore()
		if err != nil {
			return nil, err
		}
		src := m.Source
		if src == "" {
			src = "."
		}
		srcs, err := buildfs.Sources(b.o.Context, []string{src}, ign)
		if err != nil {
			return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
		}
		d, err := buildfs.Digest(srcs, ign)
		if err != nil {
			return nil, err
		}
		p.key = append(p.key, "from=context", "content="+d)
	}
	return p, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
