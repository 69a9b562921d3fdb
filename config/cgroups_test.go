package config

import (
	"strings"
	"testing"
)

func TestLoadCgroupsTable(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.toml", "[cgroups]\nparent = \"/sys/fs/cgroup/unified/deleg\"\non_unavailable = \"warn\"\n")
	cfg, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cgroups.Parent != "/sys/fs/cgroup/unified/deleg" || cfg.Cgroups.OnUnavailable != "warn" {
		t.Errorf("cgroups = %+v", cfg.Cgroups)
	}
	for content, want := range map[string]string{
		"[cgroups]\non_unavailable = \"ignore\"\n": `on_unavailable = "ignore"`,
		"[cgroups]\nparent = \"deleg\"\n":          "must be an absolute path",
		"[cgroups]\nparnet = \"/x\"\n":             `unknown key "cgroups.parnet"`,
	} {
		_, _, err := Load(writeFile(t, dir, "bad.toml", content))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", content, err, want)
		}
	}
}
