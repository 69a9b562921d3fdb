package engine

import (
	"reflect"
	"testing"

	"go.podman.io/storage/pkg/archive"
)

func TestContainerChanges(t *testing.T) {
	ch := func(kind archive.ChangeType, p string) archive.Change { return archive.Change{Path: p, Kind: kind} }
	in := []archive.Change{
		ch(archive.ChangeModify, "/etc"), ch(archive.ChangeAdd, "/etc/hosts"), ch(archive.ChangeAdd, "/etc/hostname"),
		ch(archive.ChangeAdd, "/proc"), ch(archive.ChangeAdd, "/sys"), ch(archive.ChangeAdd, "/dev"),
		ch(archive.ChangeModify, "/run"), ch(archive.ChangeAdd, "/run/.containerenv"), ch(archive.ChangeAdd, "/run/app.pid"),
		ch(archive.ChangeDelete, "/tmp/gone"), ch(archive.ChangeModify, "/tmp"), ch(archive.ChangeAdd, "data"),
	}
	// Of a container: the mount points go, and /etc with them (nothing else changed
	// there); /run stays (app.pid is the container's own).
	got := containerChanges(in, true)
	want := []Change{{"A", "/data"}, {"C", "/run"}, {"A", "/run/app.pid"}, {"C", "/tmp"}, {"D", "/tmp/gone"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("container changes:\n got %v\nwant %v", got, want)
	}
	// /etc changed by the container as well: it stays.
	got = containerChanges(append(in, ch(archive.ChangeAdd, "/etc/motd")), true)
	if got[1] != (Change{"C", "/etc"}) || got[2] != (Change{"A", "/etc/motd"}) {
		t.Errorf("with /etc/motd added: %v", got)
	}
	// Of an image: everything, sorted.
	got = containerChanges(in, false)
	if len(got) != len(in) || got[0] != (Change{"A", "/data"}) || got[1] != (Change{"A", "/dev"}) {
		t.Errorf("image changes: %v", got)
	}
}
