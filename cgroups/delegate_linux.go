package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Options are config.toml's [cgroups] table.
type Options struct {
	// Parent is a cgroup directory delegated to the user in which containers' cgroups
	// are made; empty: the user's own cgroup, when it is delegated.
	Parent string
	// OnUnavailable says what run and create do with a limit that cannot be applied:
	// "fail" (the default: exit 125 naming the fix) or "warn" (say so once and run).
	OnUnavailable string
}

// Warn reports whether limits that cannot be applied are only warned about.
func (o Options) Warn() bool { return o.OnUnavailable == "warn" }

// LeafName is the cgroup hutch moves the processes of the delegated cgroup into (cgroup
// v2's no-internal-process rule: a cgroup that hands controllers to its children holds
// no process itself). Containers' cgroups are its siblings, named Prefix+ID.
const (
	LeafName = "hutch-engine"
	Prefix   = "hutch-"
)

// Wanted are the controllers hutch enables for containers when the delegated cgroup
// offers them.
var Wanted = []string{"cpu", "cpuset", "io", "memory", "pids"}

// The admin's fixes, quoted by every refusal.
const (
	FixDelegate = "an admin delegates the controllers with a drop-in /etc/systemd/system/user@.service.d/delegate.conf holding `[Service]` and `Delegate=cpu cpuset io memory pids` (then `systemctl daemon-reload` and a new login)"
	FixHybrid   = "boots the host with systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all), so that cgroup v2 holds the controllers, and "
	FixParent   = "or set `[cgroups] parent = \"DIR\"` in config.toml to a cgroup directory delegated to you (yours, with its cgroup.procs and cgroup.subtree_control) and start hutch inside it"
	FixWarn     = "or set `[cgroups] on_unavailable = \"warn\"` in config.toml to run without the limits"
)

// Delegation is where this user may create cgroups, and which limits that allows.
type Delegation struct {
	Layout
	// Base is the delegated directory containers' cgroups are made in ("" = none).
	Base string `json:"delegatedDir,omitempty"`
	// BaseControllers are the controllers Base can hand to its children.
	BaseControllers []string `json:"delegatedControllers"`
	// Why says why there is no Base, with the fix.
	Why string `json:"whyNoDelegation,omitempty"`
	// Availability is, per controller, whether the limits needing it can be applied.
	Availability []Availability `json:"limitsAvailability"`
	opts         Options
}

// Availability is one controller's verdict for `hutch info`.
type Availability struct {
	Controller string   `json:"controller"`
	Flags      []string `json:"flags"`
	Available  bool     `json:"available"`
	Why        string   `json:"why,omitempty"`
}

// Discover finds the cgroup2 mount, the user's cgroup and the delegated directory in
// which hutch may make containers' cgroups. It writes nothing.
func Discover(o Options) *Delegation {
	return discover(Detect(), o)
}

func discover(l Layout, o Options) *Delegation {
	d := &Delegation{Layout: l, BaseControllers: []string{}, opts: o}
	switch {
	case l.V2Mount == "":
		d.Why = "no cgroup2 file system is mounted (cgroup v1 only): an admin " + strings.TrimSuffix(FixHybrid, " and ") + "; " + FixWarn
	case o.Parent != "":
		dir := o.Parent
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(l.V2Mount, dir)
		}
		dir = filepath.Clean(dir)
		rel, err := filepath.Rel(l.V2Mount, dir)
		switch {
		case err != nil || strings.HasPrefix(rel, ".."):
			d.Why = fmt.Sprintf("[cgroups] parent = %q is not under the cgroup2 mount %s", o.Parent, l.V2Mount)
		case !delegated(dir):
			d.Why = fmt.Sprintf("[cgroups] parent = %q is not delegated to you: %s must exist and be yours, with its cgroup.procs and cgroup.subtree_control (root: `chown $USER DIR DIR/cgroup.procs DIR/cgroup.subtree_control DIR/cgroup.threads`)", o.Parent, dir)
		case !within(filepath.Join(l.V2Mount, l.Own), dir):
			d.Why = fmt.Sprintf("hutch runs in the cgroup %s, outside the delegated [cgroups] parent %s: the kernel moves a process only between cgroups whose common ancestor you may write; start hutch from a shell inside %s (root: `echo $PID > %s/cgroup.procs`)", l.Own, dir, dir, dir)
		default:
			d.Base = dir
		}
	default:
		own := filepath.Join(l.V2Mount, l.Own)
		switch {
		case filepath.Base(own) == LeafName && delegated(filepath.Dir(own)):
			d.Base = filepath.Dir(own) // moved into the leaf by an earlier hutch
		case l.Own != "/" && delegated(own):
			d.Base = own
		default:
			d.Why = fmt.Sprintf("no cgroup is delegated to you: your cgroup %s (under the cgroup2 mount %s) is not yours, or its cgroup.procs or cgroup.subtree_control is not%s: %s; %s",
				l.Own, l.V2Mount, hybridNote(l), delegationFix(l), FixParent)
		}
	}
	if d.Base != "" {
		d.BaseControllers = readFields(filepath.Join(d.Base, "cgroup.controllers"))
		if why := d.missing([]string{"memory", "pids", "cpu", "io"}); why != "" {
			d.Limits = "unavailable: " + why
		} else {
			d.Limits = "available"
		}
	} else if o.Parent != "" {
		d.Limits = "unavailable: " + d.Why
	}
	for _, c := range Wanted {
		a := Availability{Controller: c, Available: true}
		for _, f := range Flags {
			if f.Controller == c {
				a.Flags = append(a.Flags, "--"+f.Name)
			}
		}
		if why := d.missing([]string{c}); why != "" {
			a.Available, a.Why = false, why
		}
		d.Availability = append(d.Availability, a)
	}
	return d
}

// hybridNote explains a hybrid host's missing controllers.
func hybridNote(l Layout) string {
	if l.Mode != "hybrid" {
		return ""
	}
	return fmt.Sprintf("; and the host's cgroups are hybrid: the cgroup v1 hierarchies hold the resource controllers, cgroup2 offers only [%s]", strings.Join(l.Controllers, " "))
}

func delegationFix(l Layout) string {
	if l.Mode == "hybrid" {
		return "an admin " + FixHybrid + strings.TrimPrefix(FixDelegate, "an admin ")
	}
	return FixDelegate
}

// DelegationOf is the delegated directory holding an existing container cgroup: what a
// running container's limits can be changed within, wherever the command runs from.
func DelegationOf(c *Cgroup) *Delegation {
	d := &Delegation{Layout: Detect(), Base: filepath.Dir(c.Dir)}
	d.BaseControllers = readFields(filepath.Join(d.Base, "cgroup.controllers"))
	return d
}

// missing says why the controllers cannot be used ("" when they can).
func (d *Delegation) missing(controllers []string) string {
	if d.Base == "" {
		return d.Why
	}
	var lack []string
	for _, c := range controllers {
		if !contains(d.BaseControllers, c) {
			lack = append(lack, c)
		}
	}
	if len(lack) == 0 {
		return ""
	}
	offered := strings.Join(d.BaseControllers, " ")
	why := fmt.Sprintf("the cgroup delegated to you, %s, offers the controllers [%s] but not %s", d.Base, offered, strings.Join(lack, ", "))
	why += hybridNote(d.Layout)
	return why + ": " + delegationFix(d.Layout) + "; " + FixParent
}

// Check says whether every limit r asks can be applied here: nil, or an error naming
// each limit, the controller or delegation it lacks and the admin's fix.
func (d *Delegation) Check(r *Resources) error {
	if r.Empty() {
		return nil
	}
	var asks []string
	var need []string
	for _, flag := range r.RequestedFlags() {
		f, _ := FlagByName(strings.TrimPrefix(flag, "--"))
		if f.Controller == "" {
			continue
		}
		if d.missing([]string{f.Controller}) == "" {
			continue
		}
		asks = append(asks, fmt.Sprintf("%s %s (needs the %s controller)", flag, r.Requested[flag], f.Controller))
		if !contains(need, f.Controller) {
			need = append(need, f.Controller)
		}
	}
	if len(asks) == 0 {
		return nil
	}
	return &UnavailableError{Limits: asks, Why: d.missing(need)}
}

// Applicable is r without the limits that cannot be applied here (warn mode).
func (d *Delegation) Applicable(r *Resources) *Resources {
	if r.Empty() {
		return r
	}
	out := *r
	out.Requested = map[string]string{}
	for flag, v := range r.Requested {
		f, _ := FlagByName(strings.TrimPrefix(flag, "--"))
		if f.Controller == "" || d.missing([]string{f.Controller}) == "" {
			out.Requested[flag] = v
		}
	}
	return &out
}

// UnavailableError is a limit that cannot be applied.
type UnavailableError struct {
	Limits []string
	Why    string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("cannot apply %s: %s; %s (hutch never ignores a limit silently)", strings.Join(e.Limits, ", "), e.Why, FixWarn)
}

// Warning is what on_unavailable = "warn" says instead: who (e.g. "running") goes
// without the limits, and why.
func (e *UnavailableError) Warning(who string) string {
	return fmt.Sprintf("%s without %s: %s ([cgroups] on_unavailable = \"warn\")", who, strings.Join(e.Limits, ", "), e.Why)
}

// Usable reports whether containers get cgroups of their own here.
func (d *Delegation) Usable() bool { return d.Base != "" }

// Cgroup is one container's cgroup.
type Cgroup struct {
	Dir string
}

// At is the cgroup at dir (recorded earlier).
func At(dir string) *Cgroup { return &Cgroup{Dir: dir} }

// Create makes the cgroup name under the delegated directory (replacing an empty one
// left from an earlier run), after moving the directory's own processes into a leaf and
// enabling the controllers it offers, and writes r's limits into it. It returns what was
// written.
func (d *Delegation) Create(name string, r *Resources) (*Cgroup, []Setting, error) {
	if d.Base == "" {
		return nil, nil, errors.New("no delegated cgroup: " + d.Why)
	}
	if err := d.Check(r); err != nil {
		return nil, nil, err
	}
	if err := d.prepareBase(r.Controllers()); err != nil {
		return nil, nil, err
	}
	c := &Cgroup{Dir: filepath.Join(d.Base, name)}
	if err := os.Mkdir(c.Dir, 0o755); errors.Is(err, os.ErrExist) {
		if err := c.Remove(); err != nil {
			return nil, nil, err
		}
		err = os.Mkdir(c.Dir, 0o755)
		if err != nil {
			return nil, nil, fmt.Errorf("creating the container's cgroup: %w", err)
		}
	} else if err != nil {
		return nil, nil, fmt.Errorf("creating the container's cgroup: %w", err)
	}
	applied, err := c.Apply(r, d.Base)
	if err != nil {
		_ = c.Remove()
		return nil, nil, err
	}
	return c, applied, nil
}

// EnableFor makes sure the delegated directory hands the controllers r needs to its
// children (`hutch update` of a container created without them).
func (d *Delegation) EnableFor(r *Resources) error {
	if err := d.Check(r); err != nil {
		return err
	}
	return d.prepareBase(r.Controllers())
}

// prepareBase moves the delegated directory's processes into the leaf and enables every
// wanted controller it offers; failing to enable one of need is an error.
func (d *Delegation) prepareBase(need []string) error {
	if err := evacuate(d.Base); err != nil {
		return err
	}
	enabled := readFields(filepath.Join(d.Base, "cgroup.subtree_control"))
	for _, c := range Wanted {
		if contains(enabled, c) || !contains(d.BaseControllers, c) {
			continue
		}
		if err := writeFile(d.Base, "cgroup.subtree_control", "+"+c); err != nil && contains(need, c) {
			return fmt.Errorf("enabling the %s controller for containers: %w", c, err)
		}
	}
	return nil
}

// evacuate moves every process of dir into dir/LeafName.
func evacuate(dir string) error {
	pids := readFields(filepath.Join(dir, "cgroup.procs"))
	if len(pids) == 0 {
		return nil
	}
	leaf := filepath.Join(dir, LeafName)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating the leaf cgroup for hutch's own processes: %w", err)
	}
	for _, pid := range pids {
		if err := writeFile(leaf, "cgroup.procs", pid); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("moving process %s from %s into %s (cgroup v2 lets a cgroup that hands controllers to its children hold no process itself): %w", pid, dir, leaf, err)
		}
	}
	return nil
}

// Apply writes r's limits into the cgroup; base, when set, is the delegated directory
// whose effective cpuset bounds --cpuset-cpus and --cpuset-mems.
func (c *Cgroup) Apply(r *Resources, base string) ([]Setting, error) {
	settings, err := r.Settings(func(f string) bool { return exists(filepath.Join(c.Dir, f)) })
	if err != nil {
		return nil, err
	}
	var applied []Setting
	for _, s := range settings {
		if s.Optional && !exists(filepath.Join(c.Dir, s.File)) {
			continue
		}
		if (s.File == "cpuset.cpus" || s.File == "cpuset.mems") && base != "" {
			if err := checkSubset(s, filepath.Join(base, s.File+".effective")); err != nil {
				return nil, err
			}
		}
		if err := writeFile(c.Dir, s.File, s.Value); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("applying %s %s: the cgroup has no %s (is the controller enabled, and does this kernel have it?): %w", s.Flag, s.Requested, s.File, err)
			}
			return nil, fmt.Errorf("applying %s %s: %w", s.Flag, s.Requested, err)
		}
		applied = append(applied, s)
	}
	return applied, nil
}

func checkSubset(s Setting, effective string) error {
	b, err := os.ReadFile(effective)
	if err != nil {
		return nil // the kernel will judge
	}
	avail := strings.TrimSpace(string(b))
	have, err := ParseList(avail)
	if err != nil {
		return nil
	}
	want, err := ParseList(s.Value)
	if err != nil {
		return fmt.Errorf("%s %q: %w", s.Flag, s.Value, err)
	}
	for _, w := range want {
		if !containsInt(have, w) {
			what := "CPUs"
			if s.File == "cpuset.mems" {
				what = "memory nodes"
			}
			return fmt.Errorf("%s: requested %s are not available - requested %s, available: %s", s.Flag, what, s.Value, avail)
		}
	}
	return nil
}

// Open opens the cgroup's directory, for CLONE_INTO_CGROUP.
func (c *Cgroup) Open() (*os.File, error) {
	fd, err := unix.Open(c.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: c.Dir, Err: err}
	}
	return os.NewFile(uintptr(fd), c.Dir), nil
}

// Exists reports whether the cgroup is there.
func (c *Cgroup) Exists() bool { return exists(filepath.Join(c.Dir, "cgroup.procs")) }

// Populated reports whether any process is in the cgroup.
func (c *Cgroup) Populated() bool {
	return keyValue(filepath.Join(c.Dir, "cgroup.events"), "populated") > 0
}

// OOMKills is memory.events' oom_kill: how many processes the OOM killer killed in the
// cgroup (0 without the memory controller).
func (c *Cgroup) OOMKills() int64 { return keyValue(filepath.Join(c.Dir, "memory.events"), "oom_kill") }

// Kill kills every process in the cgroup (cgroup.kill).
func (c *Cgroup) Kill() error { return writeFile(c.Dir, "cgroup.kill", "1") }

// Remove kills what is left in the cgroup and removes it; a cgroup already gone is fine.
func (c *Cgroup) Remove() error {
	if !c.Exists() {
		return nil
	}
	if c.Populated() {
		_ = c.Kill()
		waitFor(func() bool { return !c.Populated() })
	}
	var err error
	waitFor(func() bool {
		err = unix.Rmdir(c.Dir)
		return err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY)
	})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing the container's cgroup: %w", &os.PathError{Op: "rmdir", Path: c.Dir, Err: err})
	}
	return nil
}

// Freeze stops every process of the cgroup (cgroup.freeze) and waits until the kernel
// says it is frozen.
func (c *Cgroup) Freeze() error { return c.setFrozen(true) }

// Thaw lets a frozen cgroup run again.
func (c *Cgroup) Thaw() error { return c.setFrozen(false) }

func (c *Cgroup) setFrozen(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	if err := writeFile(c.Dir, "cgroup.freeze", v); err != nil {
		return err
	}
	want := int64(0)
	if on {
		want = 1
	}
	if !waitFor(func() bool { return keyValue(filepath.Join(c.Dir, "cgroup.events"), "frozen") == want }) {
		return fmt.Errorf("%s: the kernel did not report frozen %d in cgroup.events", c.Dir, want)
	}
	return nil
}

// Frozen reports whether the cgroup is asked to be frozen.
func (c *Cgroup) Frozen() bool {
	b, err := os.ReadFile(filepath.Join(c.Dir, "cgroup.freeze"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// writeFile writes value to an existing cgroup file, the error naming the path.
func writeFile(dir, file, value string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, p, unwrap(err))
	}
	return nil
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// delegated reports whether dir is a cgroup this user may manage: the directory, its
// cgroup.procs and its cgroup.subtree_control are the user's and writable.
func delegated(dir string) bool {
	if !ownedByMe(dir) {
		return false
	}
	for _, f := range []string{"cgroup.procs", "cgroup.subtree_control"} {
		if !ownedByMe(filepath.Join(dir, f)) || unix.Access(filepath.Join(dir, f), unix.W_OK) != nil {
			return false
		}
	}
	return true
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readFields(p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		return []string{}
	}
	f := strings.Fields(string(b))
	if f == nil {
		f = []string{}
	}
	return f
}

// keyValue reads KEY's number from a flat-keyed file (cgroup.events, memory.events,
// cpu.stat); -1 when absent.
func keyValue(p, key string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
