package container

import (
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/network"
)

// rm --depend: the containers joining the named ones' namespaces, deepest first.
func TestDependents(t *testing.T) {
	r := &Records{Dir: t.TempDir()}
	id := func(c byte) string { return strings.Repeat(string(c), 64) }
	save := func(c *Config) {
		t.Helper()
		c.Version = recordVersion
		if err := r.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	save(&Config{ID: id('a'), Name: "web"})
	joiner := &Config{ID: id('b'), Name: "joiner"}
	joiner.Network = network.Config{Mode: network.ModeContainer, Container: id('a')}
	save(joiner)
	sidecar := &Config{ID: id('c'), Name: "sidecar"}
	sidecar.UTSMode = "container:" + id('b')
	save(sidecar)
	save(&Config{ID: id('d'), Name: "other"})
	got, err := r.Dependents([]string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{id('c'), id('b')}; !reflect.DeepEqual(got, want) {
		t.Errorf("dependents of web: %q, want %q", got, want)
	}
	if got, _ := r.Dependents([]string{"other", "nosuch"}); len(got) != 0 {
		t.Errorf("dependents of other: %q", got)
	}
}
