package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// volumeJSON is one volume of `hutch volume inspect` / `volume ls --format json`.
type volumeJSON struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	Anonymous  bool              `json:"Anonymous"`
}

func inspectVolume(t *testing.T, sb *sandbox, name string) volumeJSON {
	t.Helper()
	r := sb.ok("volume", "inspect", name)
	var vs []volumeJSON
	mustJSON(t, r, &vs)
	if len(vs) != 1 || vs[0].Name != name {
		t.Fatalf("volume inspect %s:\n%s", name, r)
	}
	return vs[0]
}

func isHexID(s string) bool { return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" }

func sameStrings(t *testing.T, got, want []string, what string) {
	t.Helper()
	g, w := append([]string{}, got...), append([]string{}, want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("%s: got %q, want %q", what, g, w)
	}
}

// TestVolumeCommands: volume create (named, random, labelled, idempotent), ls (table,
// -q, json), inspect, rm (refused while a container uses the volume), prune; and bad
// names and unknown volumes.
func TestVolumeCommands(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		assertEqual(t, sb.ok("volume", "ls", "-q").stdout, "", "volume ls -q of a new store")
		assertEqual(t, strings.TrimSpace(sb.ok("volume", "ls", "--format", "json").stdout), "[]", "volume ls --format json of a new store")

		assertEqual(t, sb.ok("volume", "create", "data").stdout, "data\n", "volume create data")
		assertEqual(t, sb.ok("volume", "create", "data").stdout, "data\n", "volume create data again (idempotent)")
		assertEqual(t, sb.ok("volume", "create", "-l", "team=blue", "--label", "tier=db", "lab").stdout, "lab\n", "volume create -l")
		random := strings.TrimSpace(sb.ok("volume", "create").stdout)
		if !isHexID(random) {
			t.Fatalf("volume create without a name printed %q, want a 64-hex name", random)
		}
		sameStrings(t, listVolumes(t, sb), []string{"data", "lab", random}, "volume ls -q")
		table := sb.ok("volume", "ls").stdout
		assertContains(t, table, "VOLUME NAME", "volume ls header")
		for _, l := range lines(table)[1:] {
			if f := strings.Fields(l); len(f) != 2 || f[0] != "local" {
				t.Fatalf("volume ls row %q: want DRIVER NAME\n%s", l, table)
			}
		}
		var listed []volumeJSON
		mustJSON(t, sb.ok("volume", "ls", "--format", "json"), &listed)
		assertEqual(t, len(listed), 3, "volumes in volume ls --format json")

		v := inspectVolume(t, sb, "lab")
		assertEqual(t, v.Driver, "local", "Driver")
		assertEqual(t, v.Scope, "local", "Scope")
		assertEqual(t, v.Labels["team"]+","+v.Labels["tier"], "blue,db", "Labels")
		assertEqual(t, v.Mountpoint, sb.path("data", "hutch", "volumes", "lab", "_data"), "Mountpoint (under XDG_DATA_HOME)")
		if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
			t.Fatalf("the Mountpoint %s is not a directory: %v", v.Mountpoint, err)
		}
		assertEqual(t, sb.ok("volume", "inspect", "--format", "{{.Name}} {{.Labels.tier}}", "lab").stdout, "lab db\n", "volume inspect --format")

		r := sb.expect(125, "volume", "inspect", "nosuch")
		assertOneLineError(t, r, "nosuch", "hutch volume ls")
		for _, bad := range []string{"bad/name", "-dash", ".dot", "sp ace"} {
			r = sb.run(runOpts{}, "volume", "create", "--", bad)
			if r.code == 0 {
				t.Fatalf("volume create %q succeeded:\n%s", bad, r)
			}
			assertOneLineError(t, r, bad)
		}
		r = sb.expect(1, "volume", "rm", "nosuch")
		assertOneLineError(t, r, "nosuch")

		// rm is refused while a container (running or not) uses the volume, and says which.
		sb.ok("create", "--name", "holder", "-v", "data:/data", imgRun, "true")
		r = sb.expect(1, "volume", "rm", "data")
		assertOneLineError(t, r, "data", "holder")
		sameStrings(t, listVolumes(t, sb), []string{"data", "lab", random}, "volumes after the refused rm")
		// prune: without confirmation nothing; with it, every volume no container uses.
		r = sb.expectWith(runOpts{stdin: strings.NewReader("n\n")}, 0, "volume", "prune")
		sameStrings(t, listVolumes(t, sb), []string{"data", "lab", random}, "volumes after prune answered no")
		r = sb.expectWith(runOpts{stdin: strings.NewReader("y\n")}, 0, "volume", "prune")
		sameStrings(t, lines(r.stdout), []string{"lab", random}, "volume prune output")
		sameStrings(t, listVolumes(t, sb), []string{"data"}, "volumes after prune")
		sb.ok("rm", "holder")
		assertEqual(t, sb.ok("volume", "rm", "data").stdout, "data\n", "volume rm once the container is gone")
		if _, err := os.Stat(sb.path("data", "hutch", "volumes", "data")); err == nil {
			t.Fatal("volume rm left the volume's directory")
		}
		// -f removes a volume in use.
		sb.ok("create", "--name", "holder2", "-v", "forced:/x", imgRun, "true")
		sb.ok("volume", "create", "forced")
		sb.ok("volume", "rm", "-f", "forced")
		assertEqual(t, len(listVolumes(t, sb)), 0, "volumes after rm -f")
		sb.ok("rm", "holder2")
		sb.ok("volume", "prune", "-f")
		assertNothingLeft(t, sb, nil, "the volume commands")
	})
}

// TestVolumeUse: a named volume keeps data between containers, is created on first use
// and filled from the image's content at its mount point (once, owners and modes kept),
// mounts read-only with :ro; an image's VOLUME gets an anonymous volume, removed with
// the container by rm -v or --rm; --mount type=volume works too.
func TestVolumeUse(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun, imgVol)
		u := sb.user

		// Data persists; files keep their mapped owners on the host.
		sb.ok("run", "--rm", "-v", "data:/data", imgRun, "sh", "-c", "echo persisted > /data/f; cp -a /home/user/owned /data/owned")
		v := inspectVolume(t, sb, "data")
		assertEqual(t, v.Anonymous, false, "a volume named by -v is not anonymous")
		assertEqual(t, string(readFile(t, filepath.Join(v.Mountpoint, "f"))), "persisted\n", "the volume's file on the host")
		if uid, _ := fileOwner(t, filepath.Join(v.Mountpoint, "f")); uid != u.uid {
			t.Fatalf("a file written by the container's root into a volume is uid %d on the host, want %d", uid, u.uid)
		}
		if uid, gid := fileOwner(t, filepath.Join(v.Mountpoint, "owned")); uid != u.subUID.start+ownedUID-1 || gid != u.subGID.start+ownedUID-1 {
			t.Fatalf("a file owned by 1000 in a volume is %d:%d on the host, want %d:%d", uid, gid, u.subUID.start+ownedUID-1, u.subGID.start+ownedUID-1)
		}
		r := sb.ok("run", "--rm", "-v", "data:/elsewhere:ro", imgRun, "sh", "-c",
			"cat /elsewhere/f; stat -c %u:%g /elsewhere/owned; (echo x > /elsewhere/g) 2>&1; true")
		assertContains(t, r.stdout, "persisted\n1000:1000\n", "the volume in a second container")
		assertContains(t, r.stdout, "Read-only file system", "writing to a :ro volume")
		r = sb.ok("run", "--rm", "--mount", "type=volume,source=data,target=/m", imgRun, "cat", "/m/f")
		assertEqual(t, r.stdout, "persisted\n", "--mount type=volume,source=data")

		// Created on first use and filled from the image (owners and modes kept), once.
		r = sb.ok("run", "--rm", "-v", "seeded:/srv/seed", imgRun, "sh", "-c",
			"cat /srv/seed/file /srv/seed/sub/deep; stat -c %u:%g:%a /srv/seed/file; echo added > /srv/seed/added")
		assertEqual(t, r.stdout, seedContent+deepContent+"1000:2000:640\n", "a new named volume over /srv/seed")
		v = inspectVolume(t, sb, "seeded")
		assertEqual(t, string(readFile(t, filepath.Join(v.Mountpoint, "sub", "deep"))), deepContent, "the copied file on the host")
		if uid, gid := fileOwner(t, filepath.Join(v.Mountpoint, "file")); uid != u.subUID.start+aliceUID-1 || gid != u.subGID.start+extraGID-1 {
			t.Fatalf("the copied file is %d:%d on the host, want %d:%d", uid, gid, u.subUID.start+aliceUID-1, u.subGID.start+extraGID-1)
		}
		sb.ok("run", "--rm", "-v", "seeded:/srv/seed", imgRun, "rm", "-r", "/srv/seed/file", "/srv/seed/sub")
		r = sb.ok("run", "--rm", "-v", "seeded:/srv/seed", imgRun, "ls", "/srv/seed")
		assertEqual(t, r.stdout, "added\n", "a used volume is not filled again")
		// A volume created beforehand is filled at its first use too.
		sb.ok("volume", "create", "pre")
		r = sb.ok("run", "--rm", "-v", "pre:/srv/seed", imgRun, "cat", "/srv/seed/sub/deep")
		assertEqual(t, r.stdout, deepContent, "a created, unused volume at its first use")

		// An image VOLUME: an anonymous volume, filled from the image, kept with the
		// container, removed by rm -v.
		before := listVolumes(t, sb)
		sb.ok("run", "--name", "anon", imgVol, "sh", "-c", "ls /srv/seed > /tmp/l && mv /tmp/l /srv/seed/listing")
		var anon string
		for _, n := range listVolumes(t, sb) {
			if !strings.Contains(strings.Join(before, " "), n) {
				anon = n
			}
		}
		if !isHexID(anon) {
			t.Fatalf("the image's VOLUME made no anonymous volume: before %v, after %v", before, listVolumes(t, sb))
		}
		v = inspectVolume(t, sb, anon)
		assertEqual(t, v.Anonymous, true, "the image VOLUME's volume is anonymous")
		assertEqual(t, string(readFile(t, filepath.Join(v.Mountpoint, "listing"))), "file\nsub\n", "the anonymous volume, filled from the image")
		r = sb.expect(1, "volume", "rm", anon)
		assertOneLineError(t, r, anon, "anon")
		sb.ok("rm", "-v", "anon")
		sameStrings(t, listVolumes(t, sb), before, "volumes after rm -v")
		// --rm removes the anonymous volume; a named volume over the VOLUME replaces it
		// and stays.
		sb.ok("run", "--rm", imgVol, "true")
		sb.ok("run", "--rm", "--mount", "type=volume,target=/anon2", imgRun, "true")
		sb.ok("run", "--rm", "-v", "over:/srv/seed", imgVol, "true")
		sameStrings(t, listVolumes(t, sb), append(before, "over"), "volumes after --rm runs")
		// Without -v, rm keeps the anonymous volume (as Docker does).
		sb.ok("run", "--name", "anon2", imgVol, "true")
		sb.ok("rm", "anon2")
		if n := len(listVolumes(t, sb)); n != len(before)+2 {
			t.Fatalf("rm without -v should keep the anonymous volume: %v", listVolumes(t, sb))
		}
		assertNothingLeft(t, sb, nil, "the volume runs")
	})
}
