package container

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The run and create flags container parses for the CLI.
func TestParseRunFlags(t *testing.T) {
	dir := t.TempDir()
	ms, err := ParseMounts([]string{dir + ":/a:ro", "/anon"}, []string{"type=tmpfs,target=/m,tmpfs-size=1m"}, []string{"/t:size=2m,ro"})
	if err != nil {
		t.Fatal(err)
	}
	want := []MountSpec{{Type: "bind", Source: dir, Destination: "/a", ReadOnly: true}, {Type: "volume", Destination: "/anon"},
		{Type: "tmpfs", Destination: "/m", Options: []string{"size=1m"}, NoExec: true}, {Type: "tmpfs", Destination: "/t", ReadOnly: true, Options: []string{"size=2m"}, NoExec: true}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("mounts:\n%+v\nwant\n%+v", ms, want)
	}
	if _, err := ParseMounts(nil, []string{"type=nfs,target=/x"}, nil); err == nil || !strings.Contains(err.Error(), "type must be bind, volume, tmpfs or image") {
		t.Errorf("--mount type=nfs: %v", err)
	}

	// type=image: read-only unless rw=true; subpath= without `..`.
	for v, want := range map[string]MountSpec{
		"type=image,source=alpine,target=/m":                         {Type: "image", Source: "alpine", Destination: "/m", ReadOnly: true},
		"type=image,src=alpine,dst=/m,rw=true,subpath=/usr/share":    {Type: "image", Source: "alpine", Destination: "/m", SubPath: "/usr/share"},
		"type=image,source=alpine,target=/m,rw=false,readonly=false": {Type: "image", Source: "alpine", Destination: "/m", ReadOnly: true},
		"type=image,source=alpine,target=/m,readwrite":               {Type: "image", Source: "alpine", Destination: "/m"},
	} {
		ms, err := ParseMounts(nil, []string{v}, nil)
		if err != nil || len(ms) != 1 || !reflect.DeepEqual(ms[0], want) {
			t.Errorf("--mount %s: %+v, %v; want %+v", v, ms, err, want)
		}
	}
	for v, why := range map[string]string{
		"type=image,target=/m":                             "source=IMAGE",
		"type=image,source=a,target=/m,subpath=x/../../..": "without `..`",
		"type=image,source=a,target=/m,subpath=..":         "without `..`",
		"type=image,source=a,target=/m,rw=maybe":           "rw takes true or false",
		"type=volume,target=/m,subpath=x":                  "options of type=image",
		"type=bind,source=/,target=/m,rw=true":             "options of type=image",
	} {
		if _, err := ParseMounts(nil, []string{v}, nil); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("--mount %s: %v, want an error saying %q", v, err, why)
		}
	}

	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("A=file\nB=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvironment([]string{envFile}, []string{"B=flag", "H"}, func(k string) (string, bool) { return "host", k == "H" })
	if err != nil || !reflect.DeepEqual(env, []string{"A=file", "B=flag", "H=host"}) {
		t.Errorf("environment %q, %v", env, err)
	}

	if l, err := ParseLabels(nil); l != nil || err != nil {
		t.Errorf("no labels: %v, %v", l, err)
	}
	if l, err := ParseLabels([]string{"a=1", "b"}); err != nil || !reflect.DeepEqual(l, map[string]string{"a": "1", "b": ""}) {
		t.Errorf("labels %v, %v", l, err)
	}
	if _, err := ParseLabels([]string{"=v"}); err == nil || !strings.Contains(err.Error(), `--label "=v": expected KEY=VALUE`) {
		t.Errorf("a label without a key: %v", err)
	}

	for _, ok := range []string{"", "1000", "1000:1000", "alice:staff"} {
		if err := CheckUser(ok); err != nil {
			t.Errorf("-u %q: %v", ok, err)
		}
	}
	for _, bad := range []string{":1000", "a:b:c", "al ice", "a\tb"} {
		if err := CheckUser(bad); err == nil {
			t.Errorf("-u %q accepted", bad)
		}
	}
}
