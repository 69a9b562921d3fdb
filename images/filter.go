package images

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// Filter keys, as Docker and Podman name them.
const (
	FilterDangling  = "dangling"
	FilterLabel     = "label"
	FilterNotLabel  = "label!"
	FilterBefore    = "before"
	FilterSince     = "since"
	FilterReference = "reference"
	FilterID        = "id"
	FilterUntil     = "until"
)

// ListFilterKeys are the keys `images --filter` takes; PruneFilterKeys those of
// `image prune --filter` (Docker's).
var (
	ListFilterKeys  = []string{FilterDangling, FilterLabel, FilterNotLabel, FilterBefore, FilterSince, FilterReference, FilterID, FilterUntil}
	PruneFilterKeys = []string{FilterUntil, FilterLabel, FilterNotLabel}
)

// Filter is a parsed set of --filter KEY=VALUE arguments. Different keys must all hold
// (AND), as Docker has it. Several values of one key: reference and id match when any
// of them does (OR); label=, label!= all must hold, as Docker's label filter does;
// before and since keep the strictest bound (each one must hold); dangling takes one
// value (Docker refuses two).
type Filter struct {
	dangling  *bool
	labels    []labelCond // every one must hold
	notLabels []labelCond // none may hold
	before    []string    // image references, bound to times by Bind
	since     []string
	refs      []string // glob patterns
	ids       []string // ID prefixes
	until     time.Time

	beforeT, sinceT time.Time // bound
	bound           bool
}

type labelCond struct {
	key, value string
	anyValue   bool
}

func (l labelCond) holds(labels map[string]string) bool {
	v, ok := labels[l.key]
	return ok && (l.anyValue || v == l.value)
}

// ParseFilter parses --filter arguments (KEY=VALUE; label!=… for the negated label),
// allowing only keys; now is the reference for until's durations.
func ParseFilter(args []string, keys []string, now time.Time) (*Filter, error) {
	f := &Filter{}
	for _, a := range args {
		key, value, ok := strings.Cut(a, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE (keys: %s)", a, keyList(keys))
		}
		if !slices.Contains(keys, key) {
			return nil, fmt.Errorf("--filter %q: unknown key %q (keys: %s)", a, key, keyList(keys))
		}
		switch key {
		case FilterDangling:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("--filter %q: dangling takes true or false", a)
			}
			if f.dangling != nil && *f.dangling != b {
				return nil, fmt.Errorf("--filter %q: dangling is given twice, as true and as false", a)
			}
			f.dangling = &b
		case FilterLabel, FilterNotLabel:
			k, v, hasValue := strings.Cut(value, "=")
			if k == "" {
				return nil, fmt.Errorf("--filter %q: use %s=KEY or %s=KEY=VALUE", a, key, key)
			}
			c := labelCond{key: k, value: v, anyValue: !hasValue}
			if key == FilterLabel {
				f.labels = append(f.labels, c)
			} else {
				f.notLabels = append(f.notLabels, c)
			}
		case FilterBefore, FilterSince:
			if value == "" {
				return nil, fmt.Errorf("--filter %q: name an image", a)
			}
			if key == FilterBefore {
				f.before = append(f.before, value)
			} else {
				f.since = append(f.since, value)
			}
		case FilterReference:
			if value == "" {
				return nil, fmt.Errorf("--filter %q: give a name or a pattern (reference='me/*')", a)
			}
			if _, err := path.Match(value, ""); err != nil {
				return nil, fmt.Errorf("--filter %q: bad pattern: %w", a, err)
			}
			f.refs = append(f.refs, value)
		case FilterID:
			id := strings.TrimPrefix(value, "sha256:")
			if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
				return nil, fmt.Errorf("--filter %q: an image ID (or the start of one) is hexadecimal", a)
			}
			f.ids = append(f.ids, id)
		case FilterUntil:
			t, err := ParseTimestamp(value, now)
			if err != nil {
				return nil, fmt.Errorf("--filter %q: %w", a, err)
			}
			// Several: the earliest, so that each one holds.
			if f.until.IsZero() || t.Before(f.until) {
				f.until = t
			}
		}
	}
	return f, nil
}

func keyList(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if k == FilterNotLabel {
			out[i] = "label!"
		} else {
			out[i] = k
		}
	}
	return strings.Join(out, ", ")
}

// ParseTimestamp reads an until= or since= time as Docker does: a duration before now
// (10m, 24h), a Unix time (1700000000, with an optional fraction), or an RFC 3339 date
// and time (2026-01-02T15:04:05Z, or a date alone, taken in local time).
func ParseTimestamp(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "eE") {
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use a duration (24h), a Unix time, or RFC 3339 (2026-01-02T15:04:05Z)", v)
}

// Empty reports whether the filter lets every image through.
func (f *Filter) Empty() bool {
	return f == nil || f.dangling == nil && len(f.labels) == 0 && len(f.notLabels) == 0 && len(f.before) == 0 &&
		len(f.since) == 0 && len(f.refs) == 0 && len(f.ids) == 0 && f.until.IsZero()
}

// NeedsLabels reports whether matching reads the images' labels (from their
// configurations: one read per image).
func (f *Filter) NeedsLabels() bool { return f != nil && len(f.labels)+len(f.notLabels) > 0 }

// Bind finds the images before= and since= name among all, for their creation times.
func (f *Filter) Bind(all []cstorage.Image) error {
	if f == nil {
		return nil
	}
	for _, ref := range f.before {
		img, err := resolveIn(all, ref)
		if err != nil {
			return fmt.Errorf("--filter before=%s: %w", ref, err)
		}
		if f.beforeT.IsZero() || img.Created.Before(f.beforeT) {
			f.beforeT = img.Created
		}
	}
	for _, ref := range f.since {
		img, err := resolveIn(all, ref)
		if err != nil {
			return fmt.Errorf("--filter since=%s: %w", ref, err)
		}
		if img.Created.After(f.sinceT) {
			f.sinceT = img.Created
		}
	}
	f.bound = true
	return nil
}

// Until is until= (zero without it).
func (f *Filter) Until() time.Time {
	if f == nil {
		return time.Time{}
	}
	return f.until
}

// Match reports whether the image passes the filter; labels are its labels (read only
// when NeedsLabels). Bind must have been called when before= or since= is given.
func (f *Filter) Match(s Summary, labels map[string]string) bool {
	if f == nil {
		return true
	}
	if f.dangling != nil && *f.dangling != s.Dangling {
		return false
	}
	for _, l := range f.labels {
		if !l.holds(labels) {
			return false
		}
	}
	for _, l := range f.notLabels {
		if l.holds(labels) {
			return false
		}
	}
	if len(f.before) > 0 && (!f.bound || !s.Created.Before(f.beforeT)) {
		return false
	}
	if len(f.since) > 0 && (!f.bound || !s.Created.After(f.sinceT)) {
		return false
	}
	if !f.until.IsZero() && !s.Created.Before(f.until) {
		return false
	}
	if len(f.ids) > 0 && !slices.ContainsFunc(f.ids, func(p string) bool { return strings.HasPrefix(s.ID, p) }) {
		return false
	}
	if len(f.refs) > 0 && len(f.Names(s.Names)) == 0 {
		return false
	}
	return true
}

// Names are those of names that reference= lets through (all of them without it): as
// Docker does, an image found by reference is listed under its matching names only.
func (f *Filter) Names(names []string) []string {
	if f == nil || len(f.refs) == 0 {
		return names
	}
	var out []string
	for _, n := range names {
		for _, p := range f.refs {
			if MatchReference(p, n) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// MatchReference reports whether the glob pattern (path.Match's syntax, as Docker's
// reference= filter) matches the image name n, written in full
// (localhost/foo:latest), without its tag, in the short forms people type (foo:latest
// for localhost/foo:latest, alpine for docker.io/library/alpine), or by its last path
// components (app for quay.io/me/app:1).
func MatchReference(pattern, n string) bool {
	for _, c := range referenceForms(n) {
		if ok, _ := path.Match(pattern, c); ok {
			return true
		}
	}
	return false
}

func referenceForms(n string) []string {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return []string{n}
	}
	repo := named.Name()
	tag := ""
	if t, ok := named.(reference.Tagged); ok {
		tag = ":" + t.Tag()
	}
	forms := []string{repo + tag, repo}
	// Every trailing part of the repository, at a "/": localhost/me/app → me/app, app
	// (and docker.io/library/alpine → library/alpine, alpine).
	for r := repo; ; {
		_, rest, ok := strings.Cut(r, "/")
		if !ok {
			break
		}
		forms = append(forms, rest+tag, rest)
		r = rest
	}
	return forms
}

// Select lists the catalog's images (newest first) that pass f, reading the labels of
// each only when f needs them.
func Select(store cstorage.Store, c *Catalog, f *Filter) ([]Summary, error) {
	if err := f.Bind(c.Images); err != nil {
		return nil, err
	}
	var out []Summary
	for _, s := range c.Summaries() {
		var labels map[string]string
		if f.NeedsLabels() {
			// An image whose configuration cannot be read has no labels to match (listing
			// the others goes on; `hutch image inspect` says what is wrong with it).
			labels, _ = Labels(store, s.ID)
		}
		if f.Match(s, labels) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Labels are the labels in an image's configuration.
func Labels(store cstorage.Store, id string) (map[string]string, error) {
	cfg, _, err := ReadConfig(store, id)
	if err != nil {
		return nil, err
	}
	return cfg.Config.Labels, nil
}
