package buildfs

import (
	"path/filepath"
	"testing"
)

func TestSmokeCopy(t *testing.T) {
	ctx, rootfs := t.TempDir(), t.TempDir()
	tree(t, ctx, map[string]string{"a.txt": "A", "dir/b.txt": "B", "dir/l": "->b.txt"})
	srcs := mustSources(t, ctx, nil, "a.txt", "dir")
	if err := CopyInto(rootfs, "/app/", srcs, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(rootfs, "app/a.txt")); got != "A" {
		t.Fatal(got)
	}
	if got := readFile(t, filepath.Join(rootfs, "app/l")); got != "B" {
		t.Fatal(got)
	}
	d, err := Digest(srcs, nil)
	if err != nil || len(d) != 71 {
		t.Fatal(d, err)
	}
}
