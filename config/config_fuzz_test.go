package config

import (
	"strings"
	"testing"
)

// FuzzConfig decodes any config.toml: no panic; an error says "config:" and names the
// file; what is accepted validates.
//
//	go test -run '^$' -fuzz FuzzConfig -fuzztime 10m ./config/
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"", "[storage]\ndriver = \"vfs\"\n", "[storage]\ngraphroot = \"/var/tmp/x\"\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
		"[engine]\nlog_level = \"debug\"\n", "[network]\ndefault = \"none\"\n",
		"[registries]\ninsecure = [\"localhost:5000\"]\n[[registries.mirror]]\nregistry = \"docker.io\"\nlocation = \"m.example\"\n",
		"[cgroups]\non_unavailable = \"warn\"\nparent = \"/user.slice\"\n", "[unknown]\nx = 1\n", "[storage\n", "a = = b",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := &Config{}
		if err := decode("config.toml", data, cfg); err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), "config.toml") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if err := cfg.validate(); err != nil && !strings.HasPrefix(err.Error(), "config: ") {
			t.Fatalf("a validation error without its prefix: %v", err)
		}
	})
}
