package buildfs

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The builder runs as root in a user namespace whose ids map to a subordinate range.
// This test runs the helper below in such a namespace (0-999 -> host 200000-200999).
func TestInUserNamespace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to map a user namespace onto host ids 200000-200999")
	}
	const base = 200000
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	} // testing's own directory is 0700
	ctx, rootfs := filepath.Join(dir, "ctx"), filepath.Join(dir, "rootfs")
	tree(t, ctx, map[string]string{"a.txt": "A", "d/f": "F", "d/l": "->f", "d/ro/f": "in a read-only dir"})
	if err := os.Chmod(filepath.Join(ctx, "d/ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(rootfs, base, base); err != nil {
		t.Fatal(err)
	}
	archive := writeTemp(t, makeTar(t, []tarEntry{
		{Name: "x/mine", Body: "m", UID: 7, GID: 8},
		{Name: "x/unmapped", Body: "u", UID: 5000, GID: 5000},
		{Name: "x/null", Type: tar.TypeChar},
		{Name: "ro/", Type: tar.TypeDir, Mode: 0o555},
		{Name: "ro/f", Body: "in a read-only dir", Mode: 0o444},
	}))
	if err := os.Chmod(filepath.Dir(archive), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(filepath.Dir(archive)), 0o755); err != nil {
		t.Fatal(err)
	}
	// The namespace's root (host uid 200000) cannot reach go test's private build
	// directory: run a copy of the test binary.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "buildfs.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BUILDFS_USERNS_HELPER="+strings.Join([]string{ctx, rootfs, archive}, ":"))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: 1000}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: 1000}},
		// Become root of the namespace (host uid 200000), as the builder is.
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
		GidMappingsEnableSetgroups: true,
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "helper passed") {
		t.Fatalf("helper in the user namespace: %v\n%s", err, out)
	}
	for p, id := range map[string]int{
		"app/a.txt": base, "app/f": base, "app/l": base,
		"owned": base + 500, "owned/a.txt": base + 500,
		"x/mine": base + 7, "x/unmapped": base,
		"app/ro/f": base, "ro/f": base,
	} {
		_, st := lstat(t, filepath.Join(rootfs, p))
		if int(st.Uid) != id {
			t.Errorf("%s: host uid %d, want %d", p, st.Uid, id)
		}
	}
	wantNotExist(t, filepath.Join(rootfs, "x/null"))
}

// TestMain runs usernsHelper instead of the tests when TestInUserNamespace asks.
func TestMain(m *testing.M) {
	if env := os.Getenv("BUILDFS_USERNS_HELPER"); env != "" {
		if err := usernsHelper(strings.Split(env, ":")); err != nil {
			fmt.Println("helper failed:", err)
			os.Exit(1)
		}
		fmt.Println("helper passed")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// usernsHelper is what the builder does, as root in its user namespace.
func usernsHelper(args []string) error {
	ctx, rootfs, archive := args[0], args[1], args[2]
	srcs, err := Sources(ctx, []string{"a.txt", "d"}, nil)
	if err != nil {
		return err
	}
	if err := CopyInto(rootfs, "/app", srcs, CopyOptions{}); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := CopyInto(rootfs, "/owned/", srcs[:1], CopyOptions{Chown: &IDPair{500, 500}}); err != nil {
		return fmt.Errorf("copy --chown: %w", err)
	}
	err = CopyInto(rootfs, "/bad/", srcs[:1], CopyOptions{Chown: &IDPair{5000, 5000}})
	if err == nil || !strings.Contains(err.Error(), "not mapped") || !strings.Contains(err.Error(), "5000:5000") {
		return fmt.Errorf("an unmapped --chown gave %w", err)
	}
	_, err = ExtractArchive(rootfs, "/y", archive, CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), `"x/unmapped"`) {
		return fmt.Errorf("an unmapped archive owner gave %w", err)
	}
	skipped, err := ExtractArchive(rootfs, "/", archive, CopyOptions{IgnoreChownErrors: true})
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if fmt.Sprint(skipped) != "[x/null]" {
		return fmt.Errorf("skipped %v", skipped)
	}
	return nil
}
