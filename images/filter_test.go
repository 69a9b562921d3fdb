package images

import (
	"strings"
	"testing"
	"time"

	cstorage "go.podman.io/storage"
)

func TestParseFilterRefusals(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		args []string
		keys []string
		want string
	}{
		{[]string{"dangling"}, ListFilterKeys, "use KEY=VALUE"},
		{[]string{"=x"}, ListFilterKeys, "use KEY=VALUE"},
		{[]string{"colour=red"}, ListFilterKeys, `unknown key "colour"`},
		{[]string{"reference=x"}, PruneFilterKeys, `unknown key "reference"`},
		{[]string{"dangling=maybe"}, ListFilterKeys, "true or false"},
		{[]string{"dangling=true", "dangling=false"}, ListFilterKeys, "given twice"},
		{[]string{"label="}, ListFilterKeys, "label=KEY"},
		{[]string{"label!==v"}, ListFilterKeys, "label!=KEY"},
		{[]string{"before="}, ListFilterKeys, "name an image"},
		{[]string{"reference=["}, ListFilterKeys, "bad pattern"},
		{[]string{"id=xyz"}, ListFilterKeys, "hexadecimal"},
		{[]string{"id="}, ListFilterKeys, "hexadecimal"},
		{[]string{"until=yesterday"}, PruneFilterKeys, "is not a time"},
	} {
		_, err := ParseFilter(tc.args, tc.keys, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFilter(%q): %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// The same value twice is no conflict.
	if _, err := ParseFilter([]string{"dangling=true", "dangling=1"}, ListFilterKeys, now); err != nil {
		t.Errorf("dangling=true twice: %v", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 5e8)},
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.Local)},
	} {
		got, err := ParseTimestamp(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestMatchReference(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"localhost/foo:latest", "localhost/foo:latest", true},
		{"foo", "localhost/foo:latest", true},
		{"foo:latest", "localhost/foo:latest", true},
		{"foo:1", "localhost/foo:latest", false},
		{"alpine", "docker.io/library/alpine:3.20", true},
		{"alpine:3.*", "docker.io/library/alpine:3.20", true},
		{"library/alpine", "docker.io/library/alpine:3.20", true},
		{"me/*", "quay.io/me/app:1", true},
		{"quay.io/me/*", "quay.io/me/app:1", true},
		{"quay.io/me/*:1", "quay.io/me/app:1", true},
		{"quay.io/me/*:2", "quay.io/me/app:1", false},
		{"app", "quay.io/me/app:1", true},
		{"pp", "quay.io/me/app:1", false},
		{"other/*", "quay.io/me/app:1", false},
		{"*", "localhost/foo:latest", true},
	} {
		if got := MatchReference(tc.pattern, tc.name); got != tc.want {
			t.Errorf("MatchReference(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	all := []cstorage.Image{
		{ID: "aaaa1111", Names: []string{"localhost/old:1"}, Created: base},
		{ID: "bbbb2222", Names: []string{"localhost/mid:1"}, Created: base.Add(time.Hour)},
		{ID: "cccc3333", Names: []string{"localhost/new:1"}, Created: base.Add(2 * time.Hour)},
	}
	sum := func(id string, names []string, created time.Time) Summary {
		return Summary{ID: id, Names: names, Dangling: len(names) == 0, Created: created}
	}
	old := sum("aaaa1111", []string{"localhost/old:1"}, base)
	mid := sum("bbbb2222", []string{"localhost/mid:1", "quay.io/me/mid:2"}, base.Add(time.Hour))
	newest := sum("cccc3333", []string{"localhost/new:1"}, base.Add(2*time.Hour))
	dangling := sum("dddd4444", []string{}, base.Add(90*time.Minute))
	labelled := map[string]string{"team": "web", "tier": "front"}
	now := base.Add(3 * time.Hour)

	for _, tc := range []struct {
		args   []string
		s      Summary
		labels map[string]string
		want   bool
	}{
		{nil, old, nil, true},
		{[]string{"dangling=true"}, dangling, nil, true},
		{[]string{"dangling=true"}, old, nil, false},
		{[]string{"dangling=false"}, old, nil, true},
		{[]string{"dangling=false"}, dangling, nil, false},
		// Labels: every label= must hold (Docker's AND), no label!= may.
		{[]string{"label=team"}, mid, labelled, true},
		{[]string{"label=team=web"}, mid, labelled, true},
		{[]string{"label=team=db"}, mid, labelled, false},
		{[]string{"label=team", "label=tier=front"}, mid, labelled, true},
		{[]string{"label=team", "label=owner"}, mid, labelled, false},
		{[]string{"label=team"}, mid, nil, false},
		{[]string{"label!=team=db"}, mid, labelled, true},
		{[]string{"label!=team"}, mid, labelled, false},
		// Before and since: strictly, by the named images' creation.
		{[]string{"before=mid:1"}, old, nil, true},
		{[]string{"before=mid:1"}, mid, nil, false},
		{[]string{"before=mid:1"}, newest, nil, false},
		{[]string{"since=mid:1"}, newest, nil, true},
		{[]string{"since=mid:1"}, mid, nil, false},
		{[]string{"since=old:1", "before=new:1"}, mid, nil, true},
		{[]string{"since=old:1", "before=new:1"}, newest, nil, false},
		// Two before=: each must hold (the earlier bound wins).
		{[]string{"before=new:1", "before=mid:1"}, mid, nil, false},
		// Reference and id: any value may match (OR).
		{[]string{"reference=old"}, old, nil, true},
		{[]string{"reference=old", "reference=mid"}, mid, nil, true},
		{[]string{"reference=nope"}, mid, nil, false},
		{[]string{"reference=quay.io/me/*"}, mid, nil, true},
		{[]string{"reference=old"}, dangling, nil, false},
		{[]string{"id=bbbb"}, mid, nil, true},
		{[]string{"id=sha256:bbbb22"}, mid, nil, true},
		{[]string{"id=aaaa", "id=bbbb"}, mid, nil, true},
		{[]string{"id=cccc"}, mid, nil, false},
		// Different keys: all must hold (AND).
		{[]string{"reference=mid", "dangling=false"}, mid, nil, true},
		{[]string{"reference=mid", "dangling=true"}, mid, nil, false},
		{[]string{"reference=mid", "id=aaaa"}, mid, nil, false},
		{[]string{"until=1h"}, mid, nil, true},      // created 2 h before now
		{[]string{"until=30m"}, newest, nil, true},  // 1 h before now
		{[]string{"until=90m"}, newest, nil, false}, // created after now-90m
		{[]string{"until=2h30m"}, mid, nil, false},  // created after now-150m
		{[]string{"until=2025-06-01T01:30:00Z"}, mid, nil, true},
	} {
		f, err := ParseFilter(tc.args, ListFilterKeys, now)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.args, err)
		}
		if err := f.Bind(all); err != nil {
			t.Fatalf("Bind(%q): %v", tc.args, err)
		}
		if got := f.Match(tc.s, tc.labels); got != tc.want {
			t.Errorf("filter %q on %s %v: %v, want %v", tc.args, tc.s.ID, tc.s.Names, got, tc.want)
		}
	}

	// before= of an image that is not there is an error naming it.
	f, _ := ParseFilter([]string{"before=ghost"}, ListFilterKeys, now)
	if err := f.Bind(all); err == nil || !strings.Contains(err.Error(), "before=ghost") {
		t.Errorf("before=ghost: %v", err)
	}
	// An image found by reference is listed under its matching names only.
	f, _ = ParseFilter([]string{"reference=quay.io/*/*"}, ListFilterKeys, now)
	if got := f.Names(mid.Names); len(got) != 1 || got[0] != "quay.io/me/mid:2" {
		t.Errorf("Names = %v", got)
	}
	if (&Filter{}).Empty() != true || f.Empty() {
		t.Error("Empty is wrong")
	}
	if f.NeedsLabels() {
		t.Error("a reference filter needs no labels")
	}
}
