package container

import (
	"reflect"
	"testing"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
)

func TestCommitConfig(t *testing.T) {
	ic := images.ContainerConfig{Cmd: []string{"sh"}, Env: []string{"A=1"}, Labels: map[string]string{"a": "1"}}
	entry := []string{"/init"}
	c := &Config{
		Hostname: "abc", Cwd: "/", User: "", StopSignal: "SIGUSR1",
		Env: []string{defaultPath, "A=1", "B=2", "HOSTNAME=abc"},
		Settings: Settings{Entrypoint: &entry, Labels: map[string]string{"b": "2"},
			Ports: []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
	}
	got := c.CommitConfig(ic)
	want := images.ContainerConfig{
		Entrypoint: []string{"/init"}, Env: []string{"A=1", "B=2"}, StopSignal: "SIGUSR1",
		Labels: map[string]string{"a": "1", "b": "2"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CommitConfig:\n got %+v\nwant %+v", got, want)
	}
	if len(ic.Labels) != 1 {
		t.Fatalf("the image's labels were changed: %v", ic.Labels)
	}
	// The image's own HOSTNAME and PATH stay; a command given replaces the Cmd only.
	ic = images.ContainerConfig{Entrypoint: []string{"e"}, Env: []string{"HOSTNAME=abc", defaultPath}, WorkingDir: "/w"}
	c = &Config{Hostname: "abc", Cwd: "/", Env: []string{defaultPath, "HOSTNAME=abc"}, Settings: Settings{Cmd: []string{"x"}}}
	got = c.CommitConfig(ic)
	if !reflect.DeepEqual(got.Env, []string{defaultPath, "HOSTNAME=abc"}) || got.WorkingDir != "/" ||
		!reflect.DeepEqual(got.Entrypoint, []string{"e"}) || !reflect.DeepEqual(got.Cmd, []string{"x"}) {
		t.Fatalf("CommitConfig: %+v", got)
	}
}
