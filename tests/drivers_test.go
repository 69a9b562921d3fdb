package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDriverProbed: with no config hutch probes, picks native overlay on this kernel,
// says why, and records the choice in the store.
func TestDriverProbed(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	in := sb.info()
	d := in.Store.Driver
	assertEqual(t, d.Name, "overlay", "probed driver")
	assertEqual(t, d.Forced, false, "forced")
	if d.Reason == "" || d.MountProgram != "" {
		t.Fatalf("probed driver: reason %q, mountProgram %q; want a reason and no mount program", d.Reason, d.MountProgram)
	}
	// Native overlay works on this kernel, so it is the only step tried.
	if len(d.Probe) != 1 || !strings.Contains(d.Probe[0], "native overlay") || !strings.HasSuffix(d.Probe[0], ": ok") {
		t.Fatalf("probe log %q: want one step, native overlay ok", d.Probe)
	}
	text := sb.ok("info").stdout
	assertContains(t, text, "driver: overlay\n", "info text")
	assertContains(t, text, "why: "+d.Reason, "info text")

	var rec struct {
		Driver struct{ Name string } `json:"driver"`
	}
	b, err := os.ReadFile(filepath.Join(sb.graphRoot(), "hutch-store.json"))
	if err != nil {
		t.Fatalf("the store does not record its driver: %v", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Driver.Name != "overlay" {
		t.Fatalf("hutch-store.json: %v %s", err, b)
	}
	// An image really goes into the overlay layout.
	sb.ok("load", "-i", fix.docker.path)
	if _, err := os.Stat(filepath.Join(sb.graphRoot(), "overlay-layers", "layers.json")); err != nil {
		t.Fatalf("no overlay layer store after a load: %v", err)
	}
}

// TestDriverForced: a driver forced in config.toml is the one used, reported and
// recorded, on every leg of the matrix.
func TestDriverForced(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		want := sb.driver
		in := sb.info()
		d := in.Store.Driver
		assertEqual(t, d.Name, want, "driver")
		assertEqual(t, d.Forced, true, "forced")
		assertContains(t, d.Reason, "forced", "reason")
		text := sb.ok("info").stdout
		assertContains(t, text, "driver: "+want+" (forced in config.toml)", "info text")
		switch want {
		case "fuse-overlayfs":
			if d.MountProgram == "" {
				t.Fatal("fuse-overlayfs without a mountProgram")
			}
			if fi, err := os.Stat(d.MountProgram); err != nil || fi.Mode()&0o111 == 0 {
				t.Fatalf("mountProgram %s is not an executable: %v", d.MountProgram, err)
			}
			assertContains(t, text, "mount program: "+d.MountProgram, "info text")
		default:
			if d.MountProgram != "" {
				t.Fatalf("%s with mountProgram %q", want, d.MountProgram)
			}
		}
		sb.ok("load", "-i", fix.docker.path)
		layout := map[string]string{"overlay": "overlay-layers", "fuse-overlayfs": "overlay-layers", "vfs": "vfs-layers"}[want]
		if _, err := os.Stat(filepath.Join(sb.graphRoot(), layout, "layers.json")); err != nil {
			t.Fatalf("driver %s: no %s after a load: %v", want, layout, err)
		}
		// Removing the line keeps the recorded driver (and the images).
		if err := os.Remove(sb.configFile()); err != nil {
			t.Fatal(err)
		}
		in = sb.info()
		assertEqual(t, in.Store.Driver.Name, want, "driver after removing the config line")
		assertEqual(t, in.Store.Images, 1, "images after removing the config line")
		sb.writeConfig("[storage]\ndriver = \"" + want + "\"\n")
	})
}

// TestDriverMismatch: a store made with one driver is not opened with another; the error
// names both and the way out, and `system reset -f` is that way.
func TestDriverMismatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, to string }{{"vfs", "overlay"}, {"overlay", "vfs"}, {"fuse-overlayfs", "overlay"}} {
		t.Run(tc.from+"-to-"+tc.to, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			sb.writeConfig("[storage]\ndriver = \"" + tc.from + "\"\n")
			sb.ok("load", "-i", fix.docker.path)
			before := sb.images(true)

			sb.writeConfig("[storage]\ndriver = \"" + tc.to + "\"\n")
			for _, args := range [][]string{{"images"}, {"load", "-i", fix.oci.path}, {"system", "df"}} {
				r := sb.expect(125, args...)
				assertOneLineError(t, r, "created with the "+tc.from+" driver", "asks for "+tc.to, sb.configFile(), "hutch system reset")
			}
			// info still answers, and shows the problem.
			in := sb.ok("info", "--format", "json")
			assertContains(t, in.stdout, "created with the "+tc.from+" driver", "info --format json")

			// Nothing was lost: back to the old driver, the image is there.
			sb.writeConfig("[storage]\ndriver = \"" + tc.from + "\"\n")
			after := sb.images(true)
			if len(after) != 1 || after[0].ID != before[0].ID {
				t.Fatalf("images changed across the refused switch: %+v -> %+v", before, after)
			}

			sb.writeConfig("[storage]\ndriver = \"" + tc.to + "\"\n")
			sb.ok("system", "reset", "-f")
			if got := sb.images(true); len(got) != 0 {
				t.Fatalf("images after reset: %+v", got)
			}
			assertEqual(t, sb.info().Store.Driver.Name, tc.to, "driver after reset")
			sb.ok("load", "-i", fix.docker.path)
			if img := findImage(sb.images(false), fix.docker.name); img == nil {
				t.Fatalf("the %s store does not work after reset", tc.to)
			}
			sb.driver = tc.to
		})
	}
}
