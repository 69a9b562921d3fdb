package tests

import (
	"os"
	"strings"
	"testing"
)

// TestConfigErrors: a mistake in the user's config.toml stops every command with one
// line naming the file, the line and the key (or the valid values), and nothing else
// happens: no store is created.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string
		mention func(file string) []string
	}{
		{"unknown-key", "[storage]\ndriverx = \"vfs\"\n", func(f string) []string {
			return []string{f + ":2:", `unknown key "storage.driverx"`}
		}},
		{"unknown-key-later-line", "[engine]\nlog_level = \"info\"\n\n[storage]\ndriver = \"vfs\"\ngraph_root = \"/x\"\n", func(f string) []string {
			return []string{f + ":6:", `"storage.graph_root"`}
		}},
		{"unknown-table", "[storage]\ndriver = \"vfs\"\n[netwrok]\nmode = \"slirp\"\n", func(f string) []string {
			return []string{f + ":", "netwrok"}
		}},
		{"syntax-error", "[storage]\n\n\ndriver = overlay\"\n", func(f string) []string {
			return []string{f + ":4:"}
		}},
		{"unterminated-table", "[storage\ndriver = \"vfs\"\n", func(f string) []string {
			return []string{f + ":1:"}
		}},
		{"wrong-type", "[storage]\ndriver = 3\n", func(f string) []string {
			return []string{f + ":2:", "driver"}
		}},
		{"bad-driver", "[storage]\ndriver = \"zfs\"\n", func(f string) []string {
			return []string{`"zfs"`, `"overlay"`, `"fuse-overlayfs"`, `"vfs"`}
		}},
		{"bad-log-level", "[engine]\nlog_level = \"loud\"\n", func(f string) []string {
			return []string{`"loud"`, "debug", "info", "warn", "error"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			sb.writeConfig(tc.content)
			for _, args := range [][]string{{"images"}, {"info"}, {"load", "-i", fix.docker.path}, {"system", "df"}} {
				r := sb.expect(125, args...)
				assertOneLineError(t, r, append([]string{"config"}, tc.mention(sb.configFile())...)...)
				if r.stdout != "" {
					t.Fatalf("a command stopped by the config printed on stdout:\n%s", r)
				}
			}
			if _, err := os.Stat(sb.graphRoot()); err == nil {
				t.Fatalf("the store %s was created although the config is invalid", sb.graphRoot())
			}
			// Fixing the file is all it takes.
			if err := os.Remove(sb.configFile()); err != nil {
				t.Fatal(err)
			}
			sb.ok("images")
		})
	}
}

// TestConfigIsRead: the keys hutch knows take effect (so the error tests above are about
// a file that really is read).
func TestConfigIsRead(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	sb.writeConfig("# comment\n[engine]\nlog_level = \"debug\"\n\n[storage]\ndriver = \"vfs\"\n")
	r := sb.ok("images")
	assertContains(t, r.stderr, "level=debug", "stderr with [engine] log_level = \"debug\"")
	// --log-level beats the file.
	r = sb.ok("--log-level", "error", "images")
	assertNotContains(t, r.stderr, "level=debug", "stderr with --log-level error")
	in := sb.info()
	assertEqual(t, in.Store.Driver.Name, "vfs", "driver from config.toml")
	assertEqual(t, in.Store.Driver.Forced, true, "driver forced")
	text := sb.ok("info").stdout
	assertContains(t, text, sb.configFile()+" (read)", "info lists the config file as read")

	// graphroot moves the store.
	sb2 := newSandbox(t, userWithRange)
	alt := sb2.path("data", "elsewhere")
	sb2.writeConfig("[storage]\ngraphroot = \"" + alt + "\"\n")
	sb2.ok("load", "-i", fix.docker.path)
	if _, err := os.Stat(alt + "/hutch-store.json"); err != nil {
		t.Fatalf("[storage] graphroot = %q was not used: %v", alt, err)
	}
	if _, err := os.Stat(sb2.graphRoot()); err == nil {
		t.Fatalf("the default store %s was created although graphroot moves it", sb2.graphRoot())
	}
	assertEqual(t, sb2.info().Paths.GraphRoot, alt, "info: paths.graphRoot")
	sb2.writeConfig("[storage]\ngraphroot = \"relative/path\"\n")
	r = sb2.expect(125, "images")
	assertOneLineError(t, r, "graphroot", "relative/path", "absolute")
	sb2.writeConfig("[storage]\ngraphroot = \"" + alt + "\"\n")
	if !strings.Contains(sb2.ok("images").stdout, "localhost/bb") {
		t.Fatal("the image in the moved store is gone")
	}
	// The sandbox's reset runs without the config: clear the moved store here.
	sb2.ok("system", "reset", "-f")
	if entries, _ := os.ReadDir(alt); len(entries) != 0 {
		t.Fatalf("system reset left %d entries in the moved store %s", len(entries), alt)
	}
}
