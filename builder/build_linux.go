package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/hold"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// Options describe one `hutch build`.
type Options struct {
	Context string // the build context, an absolute path
	File    *File
	// IgnoreFile is the Dockerfile's path on the host, for `NAME.dockerignore` ("" for stdin).
	IgnoreFile string
	Tags       []string
	BuildArgs  map[string]string
	Target     string
	NoCache    bool
	Layers     bool   // keep a cache entry per step (default true)
	Format     string // "oci" (default) or "docker"
	Labels     map[string]string
	// Network is RUN steps' network (--network parsed with config.toml's defaults by
	// network.Parse; required), unless a RUN says --network=none|host; SlirpPath is the
	// slirp4netns binary ("" = $PATH).
	Network   network.Config
	SlirpPath string
	// Ulimits and ShmSize are every RUN step's resource limits and /dev/shm size
	// (--ulimit, --shm-size; 0: 64 MiB); the Network's ExtraHosts (--add-host) go to
	// every step's /etc/hosts, whatever its network.
	Ulimits []nsinit.Rlimit
	ShmSize int64
	// SSH are the SSH agents' sockets RUN --mount=type=ssh binds, by id (--ssh).
	SSH       map[string]string
	Secrets   map[string]string // id → file on the host
	Timestamp *time.Time        // --timestamp / SOURCE_DATE_EPOCH
	// Output is --output: the final stage's files are written there, and no image is
	// made unless Tags name one (nil: an image, as usual). TarStream is where a tar
	// with Dest "-" goes (standard output).
	Output    *Output
	TarStream io.Writer
	// CacheFrom and CacheTo are registry repositories (--cache-from, --cache-to; fully
	// qualified, no tag) where the image of each layer step is looked for, and pushed to,
	// tagged with the step's cache key (Buildah's scheme). CachePull pulls such an image
	// into the store (under the store lock; nil image and nil error: the registry has
	// no such tag); CachePush pushes the stored image id to ref (without the lock).
	CacheFrom []string
	CacheTo   string
	CachePull func(ctx context.Context, ref string) (*cstorage.Image, error)
	CachePush func(ctx context.Context, id, ref string) error
	// Image finds a base image in the store, pulling it as --pull says (under ctx, which
	// an interrupt cancels).
	Image func(ctx context.Context, ref string) (*cstorage.Image, error)
	// Stdout gets the steps and RUN output (io.Discard with -q); Stderr notes.
	Stdout, Stderr io.Writer
	Quiet          bool
	// RunStdout and RunStderr get RUN steps' output (nil: discarded).
	RunStdout, RunStderr *os.File
	// CacheDir holds RUN --mount=type=cache directories (per user).
	CacheDir string
	// SingleID says the user namespace maps one id only (no subordinate range): files
	// whose owner is not mapped stay 0:0.
	SingleID bool
	// Resources are the build's limits (--memory …), applied to every RUN step in a
	// cgroup of its own (nil: none asked); Cgroups is config.toml's [cgroups]; Warn
	// prints, once, the limits left out with on_unavailable = "warn".
	Resources *cgroups.Resources
	Cgroups   cgroups.Options
	Warn      func(error)
	// Security is --security-opt for RUN steps (nil: the defaults, Docker's seccomp
	// profile); Seccomp caches the compiled filter.
	Security *security.Options
	Seccomp  *security.Cache
	// Lock takes hutch's store lock and returns its release (nil: the caller holds it
	// for the whole build). The build holds it while it changes the store, and lets go
	// of it while a RUN step's process runs, COPY copies and a step's changes are read:
	// builds then overlap, and rmi, pull or tag go ahead meanwhile. What the build uses
	// while it does not hold the lock is in its hold record (internal/hold).
	Lock func() (func(), error)
}

// Result is a built image (ID "" when --output made none).
type Result struct {
	ID    string
	Names []string
}

// ErrRunFailed is a RUN step whose command failed; the build's exit status is 1.
type ErrRunFailed struct {
	Msg  string
	Code int
}

func (e *ErrRunFailed) Error() string { return e.Msg }

// ErrInterrupted is a build stopped by SIGINT or SIGTERM.
var ErrInterrupted = errors.New("the build was interrupted: nothing was committed, and its working layer is removed")

// state is a stage after some steps: the image configuration so far and its top layer.
// It is also what the step cache stores.
type state struct {
	Config images.Config `json:"config"`
	Layer  string        `json:"layer"`
	CmdSet bool          `json:"cmdSet,omitempty"`
	key    string
	args   *vars
	stage  int
}

// Builder runs one build.
type Builder struct {
	o       Options
	store   cstorage.Store
	root    string // GRAPHROOT/hutch-build
	tmp     string
	f       *File
	lex     *shell.Lex
	args    *argsState
	results map[int]*state
	needed  map[int]bool
	step    int
	steps   int
	ign     *buildfs.Ignore
	ignErr  error
	ignDone bool
	mounts  map[string]string // layer ID → mount point of layers mounted for reading
	ctx     context.Context
	sig     *interrupt
	noted   map[string]bool
	tmpDirs []string
	known   map[string]bool // layers seen to exist
	// triggerLine is the FROM line while its image's ONBUILD triggers run.
	triggerLine int
	guard       *guard
	created     []string // layers this build added to the store
	cg          *stepCgroups
	unlock      func()          // releases the store lock while the build holds it
	cacheDown   map[string]bool // --cache-from repositories that could not be asked
	rec         *hold.Record    // what the build uses (internal/hold)
}

// New prepares a build over the store.
func New(store cstorage.Store, o Options) *Builder {
	if o.Format == "" {
		o.Format = "oci"
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if find := o.Image; find != nil {
		// One image per name for the whole build: the cache key of a COPY --from=IMAGE
		// and the files it copies come from the same image, and --pull=always pulls
		// each name once.
		found := map[string]*cstorage.Image{}
		o.Image = func(ctx context.Context, ref string) (*cstorage.Image, error) {
			if img, ok := found[ref]; ok {
				return img, nil
			}
			img, err := find(ctx, ref)
			if err == nil {
				found[ref] = img
			}
			return img, err
		}
	}
	root := filepath.Join(store.GraphRoot(), "hutch-build")
	b := &Builder{o: o, store: store, root: root, tmp: filepath.Join(store.GraphRoot(), "tmp"),
		f: o.File, lex: shell.NewLex(o.File.Escape), results: map[int]*state{}, mounts: map[string]string{},
		noted: map[string]bool{}, known: map[string]bool{}, cacheDown: map[string]bool{}}
	if find := b.o.Image; find != nil {
		// An image's layers are held from the moment the build found it (under the
		// store lock), so that an rmi while a step runs does not take them away.
		b.o.Image = func(ctx context.Context, ref string) (*cstorage.Image, error) {
			img, err := find(ctx, ref)
			if err == nil {
				err = b.hold(img.TopLayer)
			}
			return img, err
		}
	}
	return b
}

// hold records that the build uses layer id (the build holds the store lock).
func (b *Builder) hold(ids ...string) error {
	if err := b.rec.Layer(ids...); err != nil {
		return fmt.Errorf("recording the layers the build uses: %w", err)
	}
	return nil
}

// unlocked runs fn without the store lock (fn does not change the store: it runs a
// step's process, copies files into a mounted working layer, reads its changes), and
// takes the lock again after it.
func (b *Builder) unlocked(fn func() error) error {
	if b.unlock == nil {
		return fn()
	}
	b.unlock()
	b.unlock = nil
	err := fn()
	u, lerr := b.o.Lock()
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	b.unlock = u
	return err
}

func (b *Builder) note(key, format string, a ...any) {
	if b.noted[key] {
		return
	}
	b.noted[key] = true
	fmt.Fprintf(b.o.Stderr, "note: "+format+"\n", a...)
}

// Build runs the Dockerfile and writes the image; nothing is left mounted, and no
// working layer is left behind, whatever happens.
func (b *Builder) Build(ctx context.Context) (_ *Result, retErr error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.ctx = ctx
	if b.o.Lock != nil {
		u, err := b.o.Lock()
		if err != nil {
			return nil, err
		}
		b.unlock = u
		// Registered first, run last: the clean-up below changes the store.
		defer func() {
			if b.unlock != nil {
				b.unlock()
			}
		}()
	}
	if err := os.MkdirAll(filepath.Join(b.root, stepsDir), 0o700); err != nil {
		return nil, err
	}
	rec, err := hold.Start(b.store.GraphRoot())
	if err != nil {
		return nil, fmt.Errorf("starting the build's record: %w", err)
	}
	b.rec = rec
	defer rec.End()
	// The build's scratch files, in a directory of its own: a build cleaning up after
	// a killed one removes only those of builds that are gone.
	b.tmp = filepath.Join(b.tmp, "build-"+rec.Token)
	if err := os.MkdirAll(b.tmp, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(b.tmp)
	b.cleanStale()
	b.sig = catchInterrupts(cancel)
	defer b.sig.stop()
	b.guard = startGuard(b.store.GraphOptions())
	defer b.guard.done()
	if !b.o.Layers {
		defer b.dropUnused()
	}
	defer b.unmountAll()

	if b.f.Syntax != "" {
		b.note("syntax", "# syntax directive ignored: hutch uses its own builder")
	}
	for _, w := range b.f.Warnings {
		fmt.Fprintln(b.o.Stderr, "warning: "+w)
	}
	if b.o.Format != "oci" && b.o.Format != "docker" {
		return nil, fmt.Errorf("--format %q: use oci or docker", b.o.Format)
	}
	if (len(b.o.CacheFrom) > 0 || b.o.CacheTo != "") && (!b.o.Layers || b.o.CachePull == nil || b.o.CachePush == nil) {
		return nil, errors.New("--cache-from and --cache-to need the step cache: drop --layers=false")
	}
	if b.o.Network.Mode == "" {
		return nil, errors.New("internal error: the build's network was not chosen (network.Parse)")
	}
	args, err := newArgs(b.f, b.o.BuildArgs)
	if err != nil {
		return nil, err
	}
	b.args = args
	target, err := b.f.TargetIndex(b.o.Target)
	if err != nil {
		return nil, err
	}
	if err := b.plan(target); err != nil {
		return nil, err
	}
	for i := 0; i <= target; i++ {
		if !b.needed[i] {
			continue
		}
		st, err := b.buildStage(i)
		if err != nil {
			if b.sig.err() != nil {
				return nil, ErrInterrupted // whatever the interrupted step said
			}
			return nil, err
		}
		b.results[i] = st
	}
	if un := b.args.unused(); len(un) > 0 {
		fmt.Fprintf(b.o.Stderr, "warning: --build-arg %s: no ARG in %s uses it\n", strings.Join(un, ", "), b.f.Name)
	}
	final := b.results[target]
	if b.o.Output != nil {
		if err := b.export(final); err != nil {
			return nil, err
		}
		if len(b.o.Tags) == 0 {
			// As Docker: the files are the result; the steps are in the cache.
			return &Result{}, nil
		}
	}
	res, err := b.commit(final)
	if err == nil {
		name := ""
		if len(res.Names) > 0 {
			name = res.Names[0]
		}
		events.Image(events.Build, res.ID, name)
	}
	return res, err
}

// plan finds the stages the target needs (FROM, COPY --from, RUN --mount from=) and
// counts their steps.
func (b *Builder) plan(target int) error {
	b.needed = map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if b.needed[i] {
			return nil
		}
		b.needed[i] = true
		s := b.f.Stages[i]
		refs := []string{}
		base, err := b.expandMeta(s.BaseName)
		if err != nil {
			return b.f.atLine(s.Location, err)
		}
		refs = append(refs, base)
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					refs = append(refs, c.From)
				}
			case *instructions.RunCommand:
				refs = append(refs, rawMountFroms(c)...)
			}
		}
		for _, r := range refs {
			if strings.Contains(r, "$") {
				// Only known at run time: build every earlier stage.
				for j := 0; j < i; j++ {
					if err := visit(j); err != nil {
						return err
					}
				}
				continue
			}
			if j, ok := b.f.stageIndex(r, i); ok {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return err
	}
	for i := range b.f.Stages {
		if b.needed[i] {
			b.steps += 1 + len(b.f.Stages[i].Commands)
		}
	}
	return nil
}

// rawMountFroms returns the from= of a RUN's mounts, before expansion.
func rawMountFroms(c *instructions.RunCommand) []string {
	var out []string
	for _, w := range strings.Fields(text(c)) {
		if !strings.HasPrefix(w, "--mount=") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimPrefix(w, "--mount="), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "from") {
				out = append(out, v)
			}
		}
	}
	return out
}

func (b *Builder) expandMeta(word string) (string, error) {
	w, _, err := b.lex.ProcessWord(word, getter(b.args.meta, nil))
	return w, err
}

func (b *Builder) printStep(text string) {
	b.step++
	fmt.Fprintf(b.o.Stdout, "STEP %d/%d: %s\n", b.step, b.steps, text)
}

// buildStage runs stage i from its FROM to its last instruction.
func (b *Builder) buildStage(i int) (*state, error) {
	s := &b.f.Stages[i]
	b.printStep(strings.TrimSpace(s.SourceCode))
	st, triggers, err := b.from(i)
	if err != nil {
		return nil, b.f.atLine(s.Location, err)
	}
	for _, t := range triggers {
		fmt.Fprintf(b.o.Stdout, "--> Running ONBUILD trigger: %s\n", t)
		cmd, err := parseTrigger(t)
		if err != nil {
			return nil, fmt.Errorf("%s: ONBUILD trigger %q of the base image: %w", b.f.Name, t, err)
		}
		b.triggerLine = 0
		if len(s.Location) > 0 {
			b.triggerLine = s.Location[0].Start.Line
		}
		err = b.exec(st, cmd, true)
		b.triggerLine = 0
		if err != nil {
			return nil, err
		}
	}
	for _, c := range s.Commands {
		if err := b.sig.err(); err != nil {
			return nil, err
		}
		b.printStep(text(c))
		if err := b.exec(st, c, false); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// parseTrigger parses an ONBUILD expression (stored in the base image) into a command.
func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr + "\n"))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("expected one instruction")
	}
	return instructions.ParseCommand(res.AST.Children[0])
}

// from starts stage i: scratch, an earlier stage, or an image (with its ONBUILD
// triggers, which run now and are not inherited further).
func (b *Builder) from(i int) (*state, []string, error) {
	s := &b.f.Stages[i]
	base, err := b.expandMeta(s.BaseName)
	if err != nil {
		return nil, nil, err
	}
	if s.Platform != "" {
		p, err := b.expandMeta(s.Platform)
		if err != nil {
			return nil, nil, err
		}
		if p != "linux/"+runtime.GOARCH {
			return nil, nil, fmt.Errorf("FROM --platform=%s: only this machine's platform (linux/%s) can be built here", p, runtime.GOARCH)
		}
	}
	st := &state{args: newVars(), stage: i}
	switch {
	case base == "":
		return nil, nil, fmt.Errorf("FROM %s expands to an empty name: give the ARG a value (--build-arg)", s.BaseName)
	case strings.EqualFold(base, "scratch"):
		st.Config = images.Config{Architecture: runtime.GOARCH, OS: "linux", RootFS: images.RootFS{Type: "layers"}}
		st.key = hashKey("from", "scratch", b.epochKey())
		return st, nil, nil
	}
	if j, ok := b.f.stageIndex(base, i); ok {
		prev := b.results[j]
		if prev == nil {
			return nil, nil, fmt.Errorf("FROM %s: stage %d was not built", base, j)
		}
		st.Config, st.Layer, st.CmdSet, st.key = cloneConfig(prev.Config), prev.Layer, prev.CmdSet, prev.key
		return st, nil, nil
	}
	if _, ok := b.f.stageIndex(base, -1); ok {
		return nil, nil, fmt.Errorf("FROM %s: that stage comes later in %s; a stage can only build on an earlier one", base, b.f.Name)
	}
	img, err := b.o.Image(b.ctx, base)
	if err != nil {
		return nil, nil, fmt.Errorf("%w%s", err, b.stageHint(base, i))
	}
	cfg, _, err := images.ReadConfig(b.store, img.ID)
	if err != nil {
		return nil, nil, err
	}
	st.Config = *cfg
	st.Layer = img.TopLayer
	st.key = hashKey("from", "image:"+img.ID, b.epochKey())
	triggers := st.Config.Config.OnBuild
	st.Config.Config.OnBuild = nil
	return st, triggers, nil
}

func (b *Builder) epochKey() string {
	if b.o.Timestamp == nil {
		return ""
	}
	return fmt.Sprint(b.o.Timestamp.Unix())
}

// now is the time steps record: the --timestamp epoch, or the clock.
func (b *Builder) now() time.Time {
	if b.o.Timestamp != nil {
		return b.o.Timestamp.UTC()
	}
	return time.Now().UTC()
}

// exec runs one instruction on st, through the cache.
func (b *Builder) exec(st *state, c instructions.Command, trigger bool) error {
	loc := c.Location()
	if b.triggerLine > 0 {
		loc = []parser.Range{{Start: parser.Position{Line: b.triggerLine}, End: parser.Position{Line: b.triggerLine}}}
	}
	if a, ok := c.(*instructions.ArgCommand); ok {
		// The ARG's value is the build's (not the cache's); its history entry goes
		// through the cache like any metadata step.
		for _, kv := range a.Args {
			val, err := b.args.declare(b.lex, kv, st.args, st.Config.Config.Env)
			if err != nil {
				return b.f.atLine(loc, err)
			}
			st.args.set(kv.Key, val)
		}
	}
	p, err := b.planStep(st, c)
	if err != nil {
		return b.f.atLine(loc, err)
	}
	key := hashKey("step", st.key, text(c), strings.Join(argKeyPart(st.args), "\n"), strings.Join(p.key, "\n"))
	useCache := b.o.Layers && !b.o.NoCache
	if useCache {
		if hit := b.lookup(key, st); hit != nil {
			if err := b.hold(hit.Layer); err != nil {
				return err
			}
			parent := st.Layer
			st.Config, st.Layer, st.CmdSet, st.key = hit.Config, hit.Layer, hit.CmdSet, key
			id := configID(&st.Config)
			fmt.Fprintf(b.o.Stdout, "--> Using cache %s\n--> %s\n", id, id[:12])
			return b.pushCache(st, c, parent, "")
		}
	}
	parentLayer := st.Layer
	var before snapshot
	if b.o.Layers {
		before = snapshotOf(st)
	}
	if useCache && len(b.o.CacheFrom) > 0 && makesLayer(c) {
		from, err := b.remoteLookup(key, st)
		if err != nil {
			return b.f.atLine(loc, err)
		}
		if from != "" {
			b.save(key, before, st)
			id := configID(&st.Config)
			fmt.Fprintf(b.o.Stdout, "--> Using cache %s from %s\n--> %s\n", id, from, id[:12])
			return b.pushCache(st, c, parentLayer, from)
		}
	}
	if err := b.run(st, c, p); err != nil {
		var rf *ErrRunFailed
		if errors.As(err, &rf) || errors.Is(err, ErrInterrupted) {
			return err
		}
		return b.f.atLine(loc, err)
	}
	st.key = key
	id := configID(&st.Config)
	if b.o.Layers {
		if st.Layer != parentLayer {
			// An intermediate image keeps the step's layer referenced (and usable).
			if _, err := b.writeImage(st, true); err != nil {
				return err
			}
		}
		b.save(key, before, st)
	}
	fmt.Fprintf(b.o.Stdout, "--> %s\n", id[:12])
	return b.pushCache(st, c, parentLayer, "")
}

// atLine prefixes err with the file and line of loc.
func (f *File) atLine(loc []parser.Range, err error) error {
	if len(loc) == 0 {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return fmt.Errorf("%s:%d: %w", f.Name, loc[0].Start.Line, err)
}

// argKeyPart is the ARGs in scope as the cache key sees them (proxy args excluded).
func argKeyPart(v *vars) []string {
	var out []string
	for _, k := range v.names {
		if proxyArgs[k] {
			continue
		}
		if val, ok := v.get(k); ok {
			out = append(out, k+"="+val)
		} else {
			out = append(out, k)
		}
	}
	return out
}

// expander expands words against the stage's ENV and ARGs.
func (b *Builder) expander(st *state) instructions.SingleWordExpander {
	g := getter(st.args, st.Config.Config.Env)
	return func(w string) (string, error) {
		out, _, err := b.lex.ProcessWord(w, g)
		return out, err
	}
}

// history appends one history entry.
func (b *Builder) history(st *state, createdBy string, empty bool) {
	t := b.now()
	st.Config.History = append(st.Config.History, images.History{Created: &t, CreatedBy: createdBy, EmptyLayer: empty})
	st.Config.Created = &t
}

// ignore loads .dockerignore once.
func (b *Builder) ignore() (*buildfs.Ignore, error) {
	if !b.ignDone {
		b.ignDone = true
		b.ign, b.ignErr = buildfs.LoadIgnore(b.o.Context, b.o.IgnoreFile)
	}
	return b.ign, b.ignErr
}
