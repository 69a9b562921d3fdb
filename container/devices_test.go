package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDevices(t *testing.T) {
	devs, cdi, err := ParseDevices([]string{"/dev/fuse", "/dev/sdc:/dev/xvdc:r", "/dev/zero:rw", "vendor.com/class=a"}, "device=0,1")
	if err != nil {
		t.Fatal(err)
	}
	want := []DeviceSpec{{"/dev/fuse", "/dev/fuse", "rwm"}, {"/dev/sdc", "/dev/xvdc", "r"}, {"/dev/zero", "/dev/zero", "rw"}}
	if len(devs) != 3 || devs[0] != want[0] || devs[1] != want[1] || devs[2] != want[2] {
		t.Fatalf("devices: %+v", devs)
	}
	if strings.Join(cdi, " ") != "vendor.com/class=a nvidia.com/gpu=0 nvidia.com/gpu=1" {
		t.Fatalf("CDI names: %q", cdi)
	}
	for _, bad := range []string{"", "dev/x", "/dev/x:rel", "/dev/x:/y:rwx", "/a:/b:r:x", "/dev/x:/y:rr"} {
		if _, _, err := ParseDevices([]string{bad}, ""); err == nil {
			t.Errorf("--device %q accepted", bad)
		}
	}
	if _, _, err := ParseDevices(nil, "3"); err == nil {
		t.Error("--gpus 3 accepted")
	}
}

func TestResolveCDI(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(dir, name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "v.yaml", "cdiVersion: 0.6.0\nkind: v.com/c\ncontainerEdits: {env: [S=1]}\ndevices:\n- name: x\n  containerEdits: {deviceNodes: [{path: /dev/x, hostPath: /dev/zero}], env: [X=a]}\n- name: y\n  containerEdits: {mounts: [{hostPath: /srv, containerPath: /y, options: [ro]}]}\n")
	// A later directory's device of the same name wins.
	write(b, "v.json", `{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"x","containerEdits":{"env":["X=b"]}}]}`)
	write(b, "ignored.txt", "not a spec")
	e, err := ResolveCDI([]string{a, b, "/nonexistent"}, []string{"v.com/c=x", "v.com/c=y"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.Env, " ") != "X=b S=1" || len(e.Devices) != 0 || len(e.Mounts) != 1 || !e.Mounts[0].ReadOnly || e.Mounts[0].Destination != "/y" {
		t.Fatalf("edits: %+v", e)
	}
	e, err = ResolveCDI([]string{a}, []string{"v.com/c=x", "v.com/c=y"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.Env, " ") != "X=a S=1" || len(e.Devices) != 1 || e.Devices[0].PathOnHost != "/dev/zero" || e.Devices[0].PathInContainer != "/dev/x" {
		t.Fatalf("edits (the spec's own applied once): %+v", e)
	}
	if _, err := ResolveCDI([]string{a}, []string{"v.com/c=z"}); err == nil || !strings.Contains(err.Error(), "v.com/c=x, v.com/c=y") {
		t.Fatalf("an unknown device: %v", err)
	}
	if _, err := ResolveCDI([]string{a}, []string{"nvidia.com/gpu=all"}); err == nil || !strings.Contains(err.Error(), "nvidia-ctk") {
		t.Fatalf("no GPU spec: %v", err)
	}
}

func TestOverlayEscape(t *testing.T) {
	if got := overlayEscape(`/a,b:c\d`); got != `/a\,b\:c\\d` {
		t.Fatalf("overlayEscape = %q", got)
	}
}
