package container

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
)

// FilterKeys are the keys `ps --filter` takes: Docker's (but is-task, a swarm's).
var FilterKeys = []string{"status", "name", "id", "label", "ancestor", "exited", "before", "since",
	"volume", "network", "publish", "expose", "health"}

// StatusValues are status='s values, Docker's; HealthValues health='s.
var (
	StatusValues = []string{StatusCreated, "restarting", StatusRunning, "removing", "paused", StatusExited, "dead"}
	HealthValues = []string{"starting", "healthy", "unhealthy", "none"}
)

// Filter is `ps --filter KEY=VALUE…` parsed, as Docker reads it: different keys must
// all hold (AND); several values of one key match when any does (OR), except label,
// whose values must all hold (Docker's label filter). before= and since= name
// containers, bound to their creation times by Bind.
type Filter struct {
	status, ids, ancestors, volumes, networks, health []string
	names                                             []*regexp.Regexp
	labels                                            []labelCond
	exited                                            []int
	publish, expose                                   []portRange
	before, since                                     []string

	beforeT, sinceT time.Time // the strictest bounds, once bound
}

type labelCond struct {
	key, value string
	anyValue   bool
}

type portRange struct {
	from, to int
	proto    string // "" for any
}

func (p portRange) holds(port int, proto string) bool {
	return port >= p.from && port <= p.to && (p.proto == "" || p.proto == proto)
}

// ParseFilters reads ps's --filter arguments.
func ParseFilters(args []string) (*Filter, error) {
	f := &Filter{}
	for _, a := range args {
		key, value, ok := strings.Cut(a, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE (keys: %s)", a, strings.Join(FilterKeys, ", "))
		}
		bad := func(why string) (*Filter, error) { return nil, fmt.Errorf("--filter %q: %s", a, why) }
		switch key {
		case "status":
			if !slices.Contains(StatusValues, value) {
				return bad("status is " + strings.Join(StatusValues, ", "))
			}
			f.status = append(f.status, value)
		case "name":
			re, err := regexp.Compile(value)
			if err != nil {
				return bad("name takes a regular expression: " + err.Error())
			}
			f.names = append(f.names, re)
		case "id":
			if strings.Trim(value, "0123456789abcdef") != "" {
				return bad("a container ID (or the start of one) is hexadecimal")
			}
			f.ids = append(f.ids, value)
		case "label":
			k, v, hasValue := strings.Cut(value, "=")
			if k == "" {
				return bad("use label=KEY or label=KEY=VALUE")
			}
			f.labels = append(f.labels, labelCond{key: k, value: v, anyValue: !hasValue})
		case "ancestor":
			f.ancestors = append(f.ancestors, value)
		case "exited":
			n, err := strconv.Atoi(value)
			if err != nil {
				return bad("exited takes an exit code (a number)")
			}
			f.exited = append(f.exited, n)
		case "before":
			f.before = append(f.before, value)
		case "since":
			f.since = append(f.since, value)
		case "volume":
			f.volumes = append(f.volumes, value)
		case "network":
			f.networks = append(f.networks, value)
		case "publish", "expose":
			p, err := parsePortRange(value)
			if err != nil {
				return bad(err.Error())
			}
			if key == "publish" {
				f.publish = append(f.publish, p)
			} else {
				f.expose = append(f.expose, p)
			}
		case "health":
			if !slices.Contains(HealthValues, value) {
				return bad("health is " + strings.Join(HealthValues, ", "))
			}
			f.health = append(f.health, value)
		default:
			return bad(fmt.Sprintf("unknown key %q (keys: %s)", key, strings.Join(FilterKeys, ", ")))
		}
	}
	return f, nil
}

// parsePortRange reads PORT[/PROTO] or FROM-TO[/PROTO].
func parsePortRange(v string) (portRange, error) {
	ports, proto, _ := strings.Cut(v, "/")
	if proto != "" && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return portRange{}, fmt.Errorf("the protocol is tcp, udp or sctp, not %q", proto)
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	from, err := strconv.Atoi(lo)
	to := from
	if err == nil && isRange {
		to, err = strconv.Atoi(hi)
	}
	if err != nil || from < 1 || to > 65535 || to < from {
		return portRange{}, fmt.Errorf("use PORT[/PROTO] or FROM-TO[/PROTO] (80, 80/tcp, 8000-8080/udp)")
	}
	return portRange{from: from, to: to, proto: proto}, nil
}

// ShowsStopped says whether the filters look beyond running containers without -a, as
// Docker's do: a status filter does.
func (f *Filter) ShowsStopped() bool { return len(f.status) > 0 }

// Bind finds the containers before= and since= name among all, and keeps the strictest
// bounds (each one must hold). A name no container has is an error.
func (f *Filter) Bind(all []Summary) error {
	find := func(ref string) (time.Time, error) {
		for _, s := range all {
			if s.Config.Name == ref || s.Config.ID == ref {
				return s.Config.Created, nil
			}
		}
		var found *Summary
		for i, s := range all {
			if strings.HasPrefix(s.Config.ID, ref) {
				if found != nil {
					return time.Time{}, fmt.Errorf("--filter: %q is the start of more than one container ID: give more of it", ref)
				}
				found = &all[i]
			}
		}
		if found == nil {
			return time.Time{}, fmt.Errorf("--filter: %w: %s (see `hutch ps -a`)", ErrNotFound, ref)
		}
		return found.Config.Created, nil
	}
	for _, ref := range f.before {
		t, err := find(ref)
		if err != nil {
			return err
		}
		if f.beforeT.IsZero() || t.Before(f.beforeT) {
			f.beforeT = t
		}
	}
	for _, ref := range f.since {
		t, err := find(ref)
		if err != nil {
			return err
		}
		if t.After(f.sinceT) {
			f.sinceT = t
		}
	}
	return nil
}

// HealthStatus is the container's health status as Docker's health filter names it:
// starting, healthy or unhealthy while it runs with a healthcheck, else "none".
func (s Summary) HealthStatus() string {
	if s.Health == nil || s.Health.Status == "" {
		return "none"
	}
	return s.Health.Status
}

// Match says whether the container s passes every filter.
func (f *Filter) Match(s Summary) bool {
	c, st := s.Config, s.State
	anyOf := func(n int, holds func(i int) bool) bool {
		if n == 0 {
			return true
		}
		for i := 0; i < n; i++ {
			if holds(i) {
				return true
			}
		}
		return false
	}
	if !anyOf(len(f.status), func(i int) bool { return s.StateText() == f.status[i] }) {
		return false
	}
	if !anyOf(len(f.names), func(i int) bool { return f.names[i].MatchString(c.Name) }) {
		return false
	}
	if !anyOf(len(f.ids), func(i int) bool { return strings.HasPrefix(c.ID, f.ids[i]) }) {
		return false
	}
	for _, l := range f.labels {
		v, ok := c.Labels[l.key]
		if !ok || !l.anyValue && v != l.value {
			return false
		}
	}
	if !anyOf(len(f.ancestors), func(i int) bool { return ImageMatches(f.ancestors[i], c) }) {
		return false
	}
	if !anyOf(len(f.exited), func(i int) bool { return st.Status == StatusExited && st.ExitCode == f.exited[i] }) {
		return false
	}
	if !f.beforeT.IsZero() && !c.Created.Before(f.beforeT) || !f.sinceT.IsZero() && !c.Created.After(f.sinceT) {
		return false
	}
	if !anyOf(len(f.volumes), func(i int) bool {
		return slices.ContainsFunc(c.Mounts, func(m MountSpec) bool {
			return m.Type == "volume" && m.Source == f.volumes[i] || filepath.Clean(m.Destination) == filepath.Clean(f.volumes[i])
		})
	}) {
		return false
	}
	if !anyOf(len(f.networks), func(i int) bool { return c.Network.Mode == f.networks[i] }) {
		return false
	}
	if !anyOf(len(f.publish), func(i int) bool {
		return slices.ContainsFunc(c.Ports, func(p network.PortMapping) bool { return f.publish[i].holds(p.ContainerPort, p.Protocol) })
	}) {
		return false
	}
	if !anyOf(len(f.expose), func(i int) bool {
		return slices.ContainsFunc(c.Exposed(), func(k string) bool {
			port, proto, _ := strings.Cut(k, "/")
			n, _ := strconv.Atoi(port)
			return f.expose[i].holds(n, proto)
		})
	}) {
		return false
	}
	return anyOf(len(f.health), func(i int) bool { return s.HealthStatus() == f.health[i] })
}

// Exposed are the container's exposed ports ("80/tcp"), sorted: its image's and those
// it publishes, as Docker's Config.ExposedPorts.
func (c *Config) Exposed() []string {
	out := slices.Clone(c.ExposedPorts)
	for _, p := range c.Ports {
		if k := p.Key(); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ImageMatches says whether the container was made from the image ref names: by the
// name it was given, a normalised form of it, or an ID prefix.
func ImageMatches(ref string, c *Config) bool {
	if ref == c.ImageName || strings.HasPrefix(c.ImageID, strings.TrimPrefix(ref, "sha256:")) {
		return true
	}
	if n, err := images.NormalizeLocal(ref); err == nil && n.String() == c.ImageName {
		return true
	}
	return strings.HasSuffix(c.ImageName, "/"+ref) || strings.HasSuffix(c.ImageName, "/"+ref+":latest")
}

// SortKeys are ps --sort's keys (Podman's).
var SortKeys = []string{"created", "command", "id", "image", "names", "runningfor", "size", "status"}

// Sort orders containers by key: created and runningfor newest first (ps's order), the
// others ascending; the sort is stable, so containers equal by the key stay newest
// first. size needs sizes (ps -s).
func Sort(list []Summary, key string, sizes map[string]Size) error {
	var less func(a, b Summary) bool
	switch key {
	case "created", "runningfor", "":
		less = func(a, b Summary) bool { return a.Config.Created.After(b.Config.Created) }
	case "command":
		less = func(a, b Summary) bool { return strings.Join(a.Config.Args, " ") < strings.Join(b.Config.Args, " ") }
	case "id":
		less = func(a, b Summary) bool { return a.Config.ID < b.Config.ID }
	case "image":
		less = func(a, b Summary) bool { return a.Config.ImageName < b.Config.ImageName }
	case "names":
		less = func(a, b Summary) bool { return a.Config.Name < b.Config.Name }
	case "size":
		less = func(a, b Summary) bool { return sizes[a.Config.ID].RW < sizes[b.Config.ID].RW }
	case "status":
		less = func(a, b Summary) bool { return a.StateText() < b.StateText() }
	default:
		return fmt.Errorf("--sort %q: sort by %s", key, strings.Join(SortKeys, ", "))
	}
	slices.SortStableFunc(list, func(a, b Summary) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	return nil
}

// Select is what `--all` and `--filter` pick for a verb of several containers: every
// container, newest first, that passes the filters (ps's) and state (nil: any).
func (r *Records) Select(filters []string, state func(Summary) bool) ([]Summary, error) {
	f, err := ParseFilters(filters)
	if err != nil {
		return nil, err
	}
	all, err := r.Summaries()
	if err != nil {
		return nil, err
	}
	if err := f.Bind(all); err != nil {
		return nil, err
	}
	var out []Summary
	for _, s := range all {
		if (state == nil || state(s)) && f.Match(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Running, Stopped and PausedOnly are the states Select picks for stop and kill, start,
// and unpause.
func Running(s Summary) bool    { return s.State.Status == StatusRunning }
func Stopped(s Summary) bool    { return s.State.Status != StatusRunning }
func PausedOnly(s Summary) bool { return Paused(s.State) }
