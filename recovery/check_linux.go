// Package recovery is `hutch system check`: it finds what a crash (kill -9, a power
// cut, a full disk) can leave behind — in go.podman.io/storage's store (through its own
// Check and Repair) and in hutch's records around it — and, when asked, repairs it.
// Every problem is reported with what the repair will do; nothing changes without
// Options.Repair.
package recovery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/diskspace"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/hold"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/volumes"
)

// Options say how thoroughly to check, and whether to repair.
type Options struct {
	// Repair repairs what the check finds; without it nothing is changed.
	Repair bool
	// Quick leaves out the checks that read every layer's content (digests, mounts).
	Quick bool
	// MaxAge is how old a layer no image or container uses must be to count as left
	// over. hutch holds its store lock while it checks, so no image is being written
	// and 0 (every such layer) is right; go.podman.io/storage's default is 24h.
	MaxAge time.Duration
}

// Problem is one thing found, and what repairing it does (or did).
type Problem struct {
	// Kind is what is damaged: layer, image, container, record, mount, network,
	// cgroup, volume, build-cache, scratch or lock.
	Kind string `json:"Kind"`
	ID   string `json:"ID"`
	Name string `json:"Name,omitempty"`
	// Found says what is wrong; Repair what --repair does about it.
	Found  string `json:"Found"`
	Repair string `json:"Repair"`
	// Repaired is set once the repair worked; Error says why it did not.
	Repaired bool   `json:"Repaired"`
	Error    string `json:"Error,omitempty"`

	fix func() error
}

// Report is what a check found.
type Report struct {
	// Checked says what was looked at, one line per part.
	Checked  []string   `json:"Checked"`
	Problems []*Problem `json:"Problems"`
	// Repair is set when the check was asked to repair; Remaining counts the problems
	// a second check still found afterwards.
	Repair    bool `json:"Repair"`
	Remaining int  `json:"Remaining"`
}

// Clean tells whether nothing is wrong now: no problem found, or (with Repair) every
// one repaired and none found by the check that followed.
func (r *Report) Clean() bool {
	if !r.Repair {
		return len(r.Problems) == 0
	}
	for _, p := range r.Problems {
		if !p.Repaired {
			return false
		}
	}
	return r.Remaining == 0
}

// Checker checks one user's store and hutch's state around it (the Manager's NetDir
// and SlotDir, in the runtime directory, included).
type Checker struct {
	Store   cstorage.Store
	Manager *container.Manager
	Volumes *volumes.Store

	// handled are the containers (by short ID) whose repair releases their mount,
	// network state and cgroup already: those are not listed again.
	handled map[string]bool
}

// Run checks and, with o.Repair, repairs, then checks again to count what remains. The
// caller holds hutch's store lock (no image is being written meanwhile).
func (c *Checker) Run(o Options) (*Report, error) {
	if o.Repair {
		// A repair on a full disk needs room for the store's metadata.
		diskspace.ReleaseIfLow(c.Store.GraphRoot())
	}
	r, err := c.check(o)
	if err != nil || !o.Repair {
		return r, err
	}
	r.Repair = true
	// Repairing can leave more to repair (the build cache entries of the layers just
	// removed): a few rounds, each repairing what the check after the last one found.
	todo := r.Problems
	for round := 0; ; round++ {
		for _, p := range todo {
			if p.Repaired || p.fix == nil {
				continue
			}
			if err := p.fix(); err != nil {
				p.Error = err.Error()
				continue
			}
			p.Repaired = true
		}
		again, err := c.check(Options{Quick: true, MaxAge: o.MaxAge})
		if err != nil {
			return r, fmt.Errorf("checking again after the repair: %w", err)
		}
		r.Remaining = len(again.Problems)
		todo = nil
		for _, p := range again.Problems {
			var known *Problem
			for _, q := range r.Problems {
				if q.Kind == p.Kind && q.ID == p.ID {
					known = q
				}
			}
			switch {
			case known == nil:
				// Left by the repair itself: repaired in the next round.
				r.Problems = append(r.Problems, p)
				todo = append(todo, p)
			case known.Repaired:
				known.Repaired = false
				known.Error = "still found after the repair: " + p.Found
			}
		}
		if len(todo) == 0 || round == 2 {
			for _, p := range todo {
				p.Error = "found after the repair"
			}
			return r, nil
		}
	}
}

func (c *Checker) check(o Options) (*Report, error) {
	r := &Report{Problems: []*Problem{}}
	c.handled = map[string]bool{}
	add := func(p *Problem) {
		if p.Kind == "container" || p.Kind == "record" {
			c.handled[short(p.ID)] = p.fix != nil
		}
		r.Problems = append(r.Problems, p)
	}
	for _, part := range []struct {
		name string
		fn   func(Options, func(*Problem)) (string, error)
	}{
		{"containers", c.containers},
		{"store", c.store},
		{"mounts", c.mounts},
		{"network", c.network},
		{"cgroups", c.cgroups},
		{"volumes", c.volumes},
		{"build cache", c.buildCache},
		{"scratch space", c.scratch},
	} {
		what, err := part.fn(o, add)
		if err != nil {
			return r, fmt.Errorf("checking the %s: %w", part.name, err)
		}
		r.Checked = append(r.Checked, what)
	}
	return r, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// containers compares hutch's records with the store's containers and the processes
// that own them.
func (c *Checker) containers(_ Options, add func(*Problem)) (string, error) {
	m := c.Manager
	recs, err := m.Records.List()
	if err != nil {
		return "", err
	}
	stored, err := c.Store.Containers()
	if err != nil {
		return "", err
	}
	byID := map[string]*cstorage.Container{}
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	for _, cfg := range recs {
		cfg := cfg
		p := &Problem{Kind: "container", ID: cfg.ID, Name: cfg.Name}
		st, err := m.Records.State(cfg.ID)
		if err != nil {
			p.Kind = "record"
			p.Found = "its state record is damaged (" + err.Error() + ")"
			p.Repair = "records it as exited (its last exit code is lost), releasing its mount, network state and cgroup"
			p.fix = func() error {
				now := time.Now().UTC()
				if err := m.Records.SaveState(cfg.ID, &container.State{Status: container.StatusExited, ExitCode: 137,
					FinishedAt: now, Error: "its state record was damaged; hutch system check rewrote it"}); err != nil {
					return err
				}
				return m.Reap(cfg)
			}
			add(p)
			continue
		}
		alive := container.Alive(st)
		sc := byID[cfg.ID]
		switch {
		case sc == nil && alive:
			p.Found = "its store entry is gone while it runs (its image was removed with force)"
			p.Repair = "nothing while it runs: stop it (`hutch stop " + cfg.Name + "`), then check again"
		case sc == nil:
			p.Found = "its store entry is gone (its removal was cut short)"
			p.Repair = "finishes removing it (its records)"
			p.fix = func() error { return m.Remove(cfg, false) }
		case cfg.AutoRemove && st.Status == container.StatusExited:
			p.Found = "it ran with --rm and ended, but the hutch that ran it is gone and did not remove it"
			p.Repair = "removes it"
			p.fix = func() error { return m.Remove(cfg, true) }
		case cfg.AutoRemove && cfg.ByRun && st.Status == container.StatusCreated && !m.CreatorAlive(cfg.ID):
			p.Found = "`hutch run --rm` created it, but was gone before it started it"
			p.Repair = "removes it"
			p.fix = func() error { return m.Remove(cfg, true) }
		case st.Status == container.StatusRunning && !alive:
			p.Found = fmt.Sprintf("it is recorded as running, but its monitor (PID %d) is gone", st.MonitorPid)
			if cfg.AutoRemove {
				p.Repair = "removes it (it was started with --rm)"
			} else {
				p.Repair = "records its end (exit 137) and releases its mount, network state and cgroup"
			}
			p.fix = func() error { return m.Reap(cfg) }
		default:
			if want := storeNames(cfg); !sameNames(sc.Names, want) {
				p.Found = fmt.Sprintf("the store names it %q, its record %q (a rename was cut short)", strings.Join(sc.Names, ","), cfg.Name)
				p.Repair = "gives the store entry the record's name"
				p.fix = func() error { return c.Store.SetNames(cfg.ID, want) }
			}
		}
		if p.Found != "" {
			add(p)
		}
	}
	left, err := m.Records.Leftovers()
	if err != nil {
		return "", err
	}
	for _, l := range left {
		l := l
		if !l.Removing && m.CreatorAlive(l.ID) {
			continue // being created right now
		}
		p := &Problem{Kind: "record", ID: l.ID, Found: "a record directory that is no container's: " + l.Problem, Repair: "deletes it (and the store entry, if any)"}
		p.fix = func() error {
			if err := m.RemoveRef(l.ID, false); err != nil && !errors.Is(err, container.ErrNotFound) {
				return err
			}
			return os.RemoveAll(l.Path)
		}
		add(p)
	}
	orphans, err := m.Orphans()
	if err != nil {
		return "", err
	}
	for _, o := range orphans {
		id := o.ID
		if c.handled[short(id)] {
			continue // a half-written record of it is listed: its repair removes this too
		}
		name := ""
		if len(o.Names) > 0 {
			name = o.Names[0]
		}
		add(&Problem{Kind: "container", ID: id, Name: name,
			Found:  "a store entry without hutch's records (a creation or removal was cut short)",
			Repair: "removes it from the store (which frees its name)",
			fix: func() error {
				if err := m.RemoveRef(id, false); err != nil && !errors.Is(err, container.ErrNotFound) {
					return err
				}
				return nil
			}})
	}
	return fmt.Sprintf("containers: %d records, %d store entries", len(recs), len(stored)), nil
}

// storeNames are the names the store should hold for a container.
func storeNames(c *container.Config) []string {
	if !c.Named() {
		return nil
	}
	return []string{c.Name}
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string{}, a...), append([]string{}, b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// store is go.podman.io/storage's own check of its layers, images and containers.
func (c *Checker) store(o Options, add func(*Problem)) (string, error) {
	opts := cstorage.CheckEverything()
	if o.Quick {
		opts = &cstorage.CheckOptions{LayerData: true, ImageData: true, ContainerData: true}
	}
	age := o.MaxAge
	opts.LayerUnreferencedMaximumAge = &age
	// The store's check mounts every layer (in this process's mount namespace) and
	// unmounts it, which renames a fresh directory over its `merged`: a layer another
	// hutch process has mounted (a running container's, one being started, a build's)
	// would lose that process's mount. With the mounts lock held no mount begins, so the
	// layers the records count as mounted are all there are; if there are any, no layer
	// is mounted here (go.podman.io/storage's check cannot leave some out).
	mounts, err := storage.HoldMounts(c.Store)
	if err != nil {
		return "", err
	}
	layers, _ := c.Store.Layers()
	inUse := 0
	for _, l := range layers {
		if l.MountCount > 0 {
			inUse++
		}
	}
	if inUse > 0 {
		opts.LayerMountable, opts.LayerContents = false, false
	}
	rep, err := c.Store.Check(opts)
	mounts.Unlock()
	if err != nil {
		return "", err
	}
	imgs, _ := c.Store.Images()
	names := map[string]string{}
	for _, img := range imgs {
		if len(img.Names) > 0 {
			names[img.ID] = img.Names[0]
		}
	}
	// The containers the store calls damaged go with their records, first: then their
	// images and layers can go (go.podman.io/storage's Repair, without its containers).
	for id, errs := range rep.Containers {
		id := id
		add(&Problem{Kind: "container", ID: id, Found: describe(errs), Repair: "removes the container (its store entry and records)",
			fix: func() error {
				if err := c.Manager.RemoveRef(id, false); err != nil && !errors.Is(err, container.ErrNotFound) {
					return err
				}
				return nil
			}})
	}
	// What a running build holds is its own business: a working layer being written, a
	// step's layer no image holds yet.
	live, err := hold.Held(c.Store.GraphRoot())
	if err != nil {
		return "", err
	}
	for id := range rep.Layers {
		if _, held := live.Holds(id); held {
			delete(rep.Layers, id)
		}
	}
	storeRepair := &storeRepair{c: c, rep: rep}
	for id, errs := range rep.Images {
		add(&Problem{Kind: "image", ID: id, Name: names[id], Found: describe(errs),
			Repair: "removes the image (pull, load or build it again)", fix: storeRepair.run(id)})
	}
	for id, errs := range rep.Layers {
		c.handled[short(id)] = true // the store's repair unmounts it before removing it
		p := &Problem{Kind: "layer", ID: id, Found: describe(errs), fix: storeRepair.run(id)}
		p.Repair = "removes the layer"
		if allUnreferenced(errs) {
			p.Found = "no image or container uses it (left by a load, pull, build or removal cut short)"
		}
		add(p)
	}
	for id, errs := range rep.ROLayers {
		add(&Problem{Kind: "layer", ID: id, Found: describe(errs), Repair: "nothing: it is in a read-only store"})
	}
	for id, errs := range rep.ROImages {
		add(&Problem{Kind: "image", ID: id, Found: describe(errs), Repair: "nothing: it is in a read-only store"})
	}
	how := "every layer's content read"
	switch {
	case o.Quick:
		how = "records only (--quick)"
	case inUse > 0:
		how = fmt.Sprintf("every layer's content read; none mounted: %d in use by running containers, builds or image mounts", inUse)
	}
	return fmt.Sprintf("store: %d layers, %d images (%s)", len(layers), len(imgs), how), nil
}

// storeRepair runs go.podman.io/storage's Repair once for all the images and layers its
// check found, then tells each problem how it went.
type storeRepair struct {
	c    *Checker
	rep  cstorage.CheckReport
	done bool
	errs []error
}

func (s *storeRepair) run(id string) func() error {
	return func() error {
		if !s.done {
			s.done = true
			rep := s.rep
			rep.Containers = map[string][]error{}
			s.errs = s.c.Store.Repair(rep, &cstorage.RepairOptions{RemoveContainers: false})
		}
		for _, err := range s.errs {
			if strings.Contains(err.Error(), id) {
				return err
			}
		}
		return nil
	}
}

func allUnreferenced(errs []error) bool {
	for _, e := range errs {
		if !errors.Is(e, cstorage.ErrLayerUnreferenced) {
			return false
		}
	}
	return len(errs) > 0
}

// describe says in one line what go.podman.io/storage found, without the IDs it repeats.
func describe(errs []error) string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		var msg string
		switch {
		case errors.Is(e, cstorage.ErrLayerUnreferenced):
			msg = "no image or container uses it"
		case errors.Is(e, cstorage.ErrLayerUnaccounted):
			msg = "the storage driver has data for it, but the store no record (a layer creation or removal cut short)"
		case errors.Is(e, cstorage.ErrLayerMissing), errors.Is(e, cstorage.ErrImageLayerMissing):
			msg = "a layer it is built on is missing"
		case errors.Is(e, cstorage.ErrLayerIncorrectContentDigest), errors.Is(e, cstorage.ErrLayerIncorrectContentSize):
			msg = "its content does not match its digest (the data was changed or damaged)"
		case errors.Is(e, cstorage.ErrLayerContentModified):
			msg = "its files were changed after it was stored"
		case errors.Is(e, cstorage.ErrLayerDataMissing), errors.Is(e, cstorage.ErrImageDataMissing), errors.Is(e, cstorage.ErrContainerDataMissing):
			msg = "a data file it records is missing"
		case errors.Is(e, cstorage.ErrImageDataIncorrectSize), errors.Is(e, cstorage.ErrContainerDataIncorrectSize):
			msg = "a data file it records has the wrong size"
		case errors.Is(e, cstorage.ErrContainerImageMissing):
			msg = "its image is gone"
		default:
			msg = e.Error()
		}
		if !seen[msg] {
			seen[msg] = true
			out = append(out, msg)
		}
	}
	return strings.Join(out, "; ")
}

// mounts finds mounts nothing uses any more: layers the store counts as mounted though
// no running container or build holds them, and fuse-overlayfs processes left serving
// mounts of a killed hutch.
func (c *Checker) mounts(_ Options, add func(*Problem)) (string, error) {
	m := c.Manager
	layers, err := c.Store.Layers()
	if err != nil {
		return "", err
	}
	stored, err := c.Store.Containers()
	if err != nil {
		return "", err
	}
	live, err := hold.Held(c.Store.GraphRoot())
	if err != nil {
		return "", err
	}
	ctrOf := map[string]string{} // layer → container
	for _, sc := range stored {
		ctrOf[sc.LayerID] = sc.ID
	}
	imageMounts, err := c.imageMountHolders()
	if err != nil {
		return "", err
	}
	releasing := map[string]bool{} // containers whose repair gives back their mounts
	counted := 0
	var imageLayers []cstorage.Layer
	for _, l := range layers {
		if l.MountCount <= 0 {
			continue
		}
		counted++
		l := l
		if id, ok := ctrOf[l.ID]; ok {
			if c.handled[short(id)] {
				releasing[id] = true
				continue
			}
			st, err := m.Records.State(id)
			if err == nil && (container.Alive(st) || container.OwnerBusy(st) || container.Starting(st)) {
				continue // running, or its owner is starting or releasing it right now
			}
			if err == nil && st.Status != container.StatusRunning && m.CreatorAlive(id) {
				continue // being created and started right now
			}
			releasing[id] = true
			add(&Problem{Kind: "mount", ID: id, Found: fmt.Sprintf("the store counts container %s as mounted %d time(s), but nothing runs it", short(id), l.MountCount),
				Repair: "unmounts it and the images it mounts (and ends the mount program serving it, if any)",
				fix:    func() error { m.ReleaseMount(id); return nil }})
			continue
		}
		if _, ok := imageMounts[l.ID]; ok {
			imageLayers = append(imageLayers, l) // after every container's verdict
			continue
		}
		// An image's layer is mounted only by a build: by none if no running build
		// holds it.
		if _, held := live.Holds(l.ID); held || c.handled[short(l.ID)] {
			continue
		}
		add(&Problem{Kind: "mount", ID: l.ID, Found: fmt.Sprintf("the store counts layer %s as mounted %d time(s), but no running build holds it", short(l.ID), l.MountCount),
			Repair: "unmounts it",
			fix: func() error {
				_, err := c.Store.Unmount(l.ID, true)
				if errors.Is(err, cstorage.ErrLayerNotMounted) || errors.Is(err, cstorage.ErrLayerUnknown) {
					return nil
				}
				return err
			}})
	}
	for _, l := range imageLayers {
		c.imageMounts(l, imageMounts[l.ID], releasing, live, add)
	}
	strays := strayMountPrograms(c.Store.GraphRoot())
	for _, s := range strays {
		s := s
		add(&Problem{Kind: "mount", ID: fmt.Sprint(s.pid), Found: fmt.Sprintf("fuse-overlayfs (PID %d) still serves %s for a hutch that is gone", s.pid, s.what),
			Repair: "ends it", fix: s.kill})
	}
	return fmt.Sprintf("mounts: %d layers counted as mounted, %d stray mount programs", counted, len(strays)), nil
}

// imageMountHolder is a container that records holding a mount of an image
// (--mount type=image): count times, by the image imageID.
type imageMountHolder struct {
	id, imageID string
	count       int
}

// imageMountHolders are the containers that hold image mounts, by the image's top layer.
func (c *Checker) imageMountHolders() (map[string][]imageMountHolder, error) {
	imgs, err := c.Store.Images()
	if err != nil {
		return nil, err
	}
	top := map[string]string{}
	for _, img := range imgs {
		top[img.ID] = img.TopLayer
	}
	recs, err := c.Manager.Records.List()
	if err != nil {
		return nil, err
	}
	out := map[string][]imageMountHolder{}
	for _, cfg := range recs {
		n := map[string]int{}
		for _, img := range c.Manager.Records.HeldImageMounts(cfg.ID) {
			n[img]++
		}
		for img, k := range n {
			if l, ok := top[img]; ok {
				out[l] = append(out[l], imageMountHolder{id: cfg.ID, imageID: img, count: k})
			}
		}
	}
	// Every image top layer is a key, so that a count nobody holds is found too.
	for _, l := range top {
		if _, ok := out[l]; !ok {
			out[l] = nil
		}
	}
	return out, nil
}

// imageMounts checks an image's layer that the store counts as mounted against the
// containers that hold mounts of it: the count beyond the running ones' (and beyond
// what the repair of a dead one gives back) is a mount a killed owner left.
func (c *Checker) imageMounts(l cstorage.Layer, holders []imageMountHolder, releasing map[string]bool, builds *hold.Builds, add func(*Problem)) {
	m := c.Manager
	if _, held := builds.Holds(l.ID); held || c.handled[short(l.ID)] {
		return // a running build's (or the store check's to repair)
	}
	live, released := 0, 0
	var gone, dead []imageMountHolder // not running; of those, the ones no other repair releases
	for _, h := range holders {
		st, err := m.Records.State(h.id)
		switch {
		case err == nil && (container.Alive(st) || container.OwnerBusy(st)),
			err == nil && st.Status != container.StatusRunning && m.CreatorAlive(h.id):
			live += h.count
			continue
		case releasing[h.id] || c.handled[short(h.id)]:
			released += h.count
		default:
			dead = append(dead, h)
		}
		gone = append(gone, h)
	}
	if l.MountCount-live-released <= 0 && len(dead) == 0 {
		return
	}
	var names []string
	for _, h := range dead {
		names = append(names, short(h.id))
	}
	found := fmt.Sprintf("the store counts image layer %s as mounted %d time(s), but the running containers that mount it (--mount type=image) hold %d", short(l.ID), l.MountCount, live)
	if len(holders) == 0 {
		found = fmt.Sprintf("the store counts image layer %s as mounted %d time(s), but no running build or container (--mount type=image) holds it", short(l.ID), l.MountCount)
	}
	if len(names) > 0 {
		found += "; container " + strings.Join(names, ", ") + ", which no longer runs, still records holding it"
	}
	add(&Problem{Kind: "mount", ID: l.ID, Found: found,
		Repair: "gives back the mounts nothing holds (unmounting the image when no running container mounts it)",
		fix: func() error {
			for _, h := range gone {
				m.ReleaseImageMounts(h.id) // its own counts (none left if its repair gave them back)
			}
			n, err := c.Store.Mounted(l.ID)
			if err != nil {
				return nil // gone meanwhile
			}
			for ; n > live; n-- {
				if _, err := c.Store.Unmount(l.ID, live == 0); err != nil {
					if errors.Is(err, cstorage.ErrLayerNotMounted) || errors.Is(err, cstorage.ErrLayerUnknown) {
						return nil
					}
					return err
				}
				if live == 0 {
					return nil // forced: unmounted at once
				}
			}
			return nil
		}})
}

// network finds network state directories of containers that no longer run, and root
// file system slots of foreground runs that are gone.
func (c *Checker) network(_ Options, add func(*Problem)) (string, error) {
	m := c.Manager
	// The directories first, their owners after: a directory made in between belongs
	// to a start the owners' records show.
	var entries []os.DirEntry
	if m.NetDir != "" {
		var err error
		entries, err = os.ReadDir(m.NetDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	slots, _ := os.ReadDir(m.SlotDir)
	running, err := c.runningKeys()
	if err != nil {
		return "", err
	}
	n := 0
	if m.NetDir != "" {
		for _, e := range entries {
			n++
			name := e.Name()
			if running[name] || c.handled[name] {
				continue
			}
			if pid, ok := strings.CutPrefix(name, "p"); ok && processExists(pid) {
				continue // a run attaching the network before its container was created
			}
			p := filepath.Join(m.NetDir, name)
			add(&Problem{Kind: "network", ID: name, Found: "network state of a container that no longer runs (" + p + ")",
				Repair: "deletes it", fix: func() error { return os.RemoveAll(p) }})
		}
	}
	if m.SlotDir != "" {
		for _, e := range slots {
			if running[container.NetKey(e.Name())] || m.CreatorAlive(e.Name()) {
				continue // its run lives (or is creating it)
			}
			p, name := filepath.Join(m.SlotDir, e.Name()), e.Name()
			// In the kept mount namespace a killed run's slot may still be bound; a
			// container removed just before (with --rm) took it along.
			add(&Problem{Kind: "mount", ID: name, Found: "the root file system slot of a run that is gone (" + p + ")",
				Repair: "deletes it", fix: func() error { return m.DropSlot(name) }})
		}
	}
	return fmt.Sprintf("network state: %d directories", n), nil
}

// runningKeys are the short IDs of the containers whose owner lives (running, being
// started, or finishing a run that just ended) and of those whose creator lives (run
// attaches the network while it creates the container).
func (c *Checker) runningKeys() (map[string]bool, error) {
	m := c.Manager
	recs, err := m.Records.List()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		if st, err := m.Records.State(r.ID); err == nil && (container.Alive(st) || container.OwnerBusy(st) || container.Starting(st)) {
			out[container.NetKey(r.ID)] = true
		}
	}
	stored, err := c.Store.Containers()
	if err != nil {
		return nil, err
	}
	for _, sc := range stored {
		if !out[container.NetKey(sc.ID)] && m.CreatorAlive(sc.ID) {
			out[container.NetKey(sc.ID)] = true
		}
	}
	return out, nil
}

// cgroupGrace is how old an empty container cgroup must be before it counts as left
// over: a run makes its container's cgroup before it records the container.
const cgroupGrace = 30 * time.Second

// cgroups finds containers' cgroups in the delegated cgroup whose container is gone or
// stopped.
func (c *Checker) cgroups(_ Options, add func(*Problem)) (string, error) {
	d := cgroups.Discover(c.Manager.Cgroups)
	if !d.Usable() {
		return "cgroups: none delegated", nil
	}
	entries, err := os.ReadDir(d.Base)
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), cgroups.Prefix)
		if !ok || !e.IsDir() || e.Name() == cgroups.LeafName || len(id) != 64 {
			continue
		}
		n++
		cg := cgroups.At(filepath.Join(d.Base, e.Name()))
		if cg.Populated() || c.handled[short(id)] {
			continue // a container's processes live in it
		}
		cfg, err := c.Manager.Records.Get(id)
		if err == nil {
			if st, err := c.Manager.Records.State(cfg.ID); err == nil && container.Alive(st) {
				continue
			}
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < cgroupGrace {
			continue // made a moment ago for a container being started
		}
		add(&Problem{Kind: "cgroup", ID: id, Found: "the cgroup " + cg.Dir + " of a container that no longer runs",
			Repair: "removes it", fix: cg.Remove})
	}
	return fmt.Sprintf("cgroups: %d in %s", n, d.Base), nil
}

// volumeGrace is how old a volume directory without its record must be to count as
// left over (one being created has none for a moment).
const volumeGrace = time.Minute

func (c *Checker) volumes(_ Options, add func(*Problem)) (string, error) {
	if c.Volumes == nil {
		return "volumes: none", nil
	}
	left, err := c.Volumes.Leftovers(volumeGrace)
	if err != nil {
		return "", err
	}
	for _, l := range left {
		p := l.Path
		add(&Problem{Kind: "volume", ID: l.Name, Found: l.Problem + " (" + p + ")", Repair: "deletes it",
			fix: func() error { return os.RemoveAll(p) }})
	}
	vs, err := c.Volumes.List()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("volumes: %d", len(vs)), nil
}

func (c *Checker) buildCache(_ Options, add func(*Problem)) (string, error) {
	stale, err := builder.StaleCache(c.Store)
	if err != nil {
		return "", err
	}
	if len(stale) > 0 {
		add(&Problem{Kind: "build-cache", ID: fmt.Sprintf("%d entries", len(stale)),
			Found:  fmt.Sprintf("%d build cache entries lead to layers that are gone", len(stale)),
			Repair: "deletes them (the next build runs those steps again)",
			fix: func() error {
				for _, p := range stale {
					if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
				return nil
			}})
	}
	return fmt.Sprintf("build cache: %d stale entries", len(stale)), nil
}

// lockedScratch are the scratch entries only commands holding the store lock make (a
// build's own directory, build-TOKEN, is left only when no running build has that
// token: internal/hold).
var lockedScratch = []string{"container_images_", "import-", "build-", "hutch-build-"}

// scratch finds what killed commands left in the store's scratch directory (its tmp).
func (c *Checker) scratch(_ Options, add func(*Problem)) (string, error) {
	dir := filepath.Join(c.Store.GraphRoot(), "tmp")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "scratch space: empty", nil
	}
	if err != nil {
		return "", err
	}
	open := openUnder(dir)
	live, err := hold.Held(c.Store.GraphRoot())
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range entries {
		name, p := e.Name(), filepath.Join(dir, e.Name())
		left := false
		for _, pre := range []string{images.SaveTempPrefix, images.SpoolTempPrefix} {
			if _, ok := fsutil.OwnerPID(name, pre); ok {
				left = fsutil.OwnerGone(name, pre)
			}
		}
		for _, pre := range lockedScratch {
			if strings.HasPrefix(name, pre) {
				left = true // the lock is ours: nobody uses it
			}
		}
		if token, ok := strings.CutPrefix(name, "build-"); ok && live.Tokens[token] {
			left = false // a running build's
		}
		if !left && !open[p] {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				left = true // unknown, unused, and old
			}
		}
		if !left || open[p] {
			continue
		}
		n++
		add(&Problem{Kind: "scratch", ID: name, Found: "a scratch file of a command that is gone (" + p + ")", Repair: "deletes it",
			fix: func() error { return os.RemoveAll(p) }})
	}
	return fmt.Sprintf("scratch space: %d entries", len(entries)), nil
}
