package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"hutch.dev/hutch/images"
)

func TestImageSorter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []imageRow{
		{Repository: "localhost/b", Tag: "2", fullID: "cc", size: 10, created: t0.Add(time.Hour)},
		{Repository: "localhost/a", Tag: "3", fullID: "aa", size: 30, created: t0},
		{Repository: "localhost/c", Tag: "1", fullID: "bb", size: 20, created: t0.Add(2 * time.Hour)},
	}
	for key, want := range map[string]string{
		"created": "c b a", "": "c b a", "id": "a c b", "repository": "a b c", "tag": "c b a", "size": "b c a",
	} {
		less, err := imageSorter(key)
		if err != nil {
			t.Fatal(err)
		}
		rs := append([]imageRow{}, rows...)
		sort.SliceStable(rs, func(i, j int) bool { return less(rs[i], rs[j]) })
		var got []string
		for _, r := range rs {
			got = append(got, strings.TrimPrefix(r.Repository, "localhost/"))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("--sort %q: %v, want %s", key, got, want)
		}
	}
	if _, err := imageSorter("name"); err == nil || !strings.Contains(err.Error(), "created, id, repository, size or tag") {
		t.Errorf("--sort name: %v", err)
	}
}

func TestWithoutHeading(t *testing.T) {
	for in, want := range map[string]string{
		"table {{.ID}}\t{{.Tag}}": "{{.ID}}\t{{.Tag}}",
		"{{.ID}}":                 "{{.ID}}",
		"table":                   "",
	} {
		if got := withoutHeading(in); got != want {
			t.Errorf("withoutHeading(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHistoryRows(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	id := strings.Repeat("ab", 32)
	long := "/bin/sh -c apt-get update &&\tapt-get install -y build-essential curl git"
	steps := []images.HistoryEntry{
		{ID: id, Created: now.Add(-48 * time.Hour), CreatedBy: long, Size: 1234567, Comment: "c", Tags: []string{"localhost/a:1"}},
		{CreatedBy: "ENV A=1"},
	}
	r := historyRows(steps, true, true, now)
	if r[0].ID != id[:12] || r[1].ID != "<missing>" {
		t.Errorf("IDs %q %q", r[0].ID, r[1].ID)
	}
	if r[0].CreatedSince != "2 days ago" || r[0].Size != "1.23MB" || r[1].CreatedSince != "N/A" || r[1].Size != "0B" {
		t.Errorf("human: %+v", r)
	}
	if !strings.HasSuffix(r[0].CreatedBy, "…") || len([]rune(r[0].CreatedBy)) != 45 || strings.Contains(r[0].CreatedBy, "\t") {
		t.Errorf("truncated step %q", r[0].CreatedBy)
	}
	if r[0].Tags != "localhost/a:1" || r[0].Comment != "c" {
		t.Errorf("row %+v", r[0])
	}
	r = historyRows(steps, false, false, now)
	if r[0].ID != "sha256:"+id || r[0].Size != "1234567" || r[0].CreatedBy != strings.ReplaceAll(long, "\t", " ") {
		t.Errorf("untruncated, not human: %+v", r[0])
	}
	if _, err := time.Parse(time.RFC3339, r[0].CreatedSince); err != nil || r[0].CreatedSince != r[0].CreatedAt {
		t.Errorf("-H=false: CREATED is %q, want an RFC 3339 time", r[0].CreatedSince)
	}
}
