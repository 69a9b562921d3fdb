package buildfs_test

import (
	"fmt"
	"os"
	"path/filepath"

	"hutch.dev/hutch/buildfs"
)

// What the builder does for `COPY --chown=1000:1000 src/ *.txt /app/`.
func Example() {
	ctx, _ := os.MkdirTemp("", "context")
	rootfs, _ := os.MkdirTemp("", "rootfs")
	defer os.RemoveAll(ctx)
	defer os.RemoveAll(rootfs)
	_ = os.MkdirAll(filepath.Join(ctx, "src"), 0o755)
	_ = os.WriteFile(filepath.Join(ctx, "src", "main.go"), []byte("package main\n"), 0o644)
	_ = os.WriteFile(filepath.Join(ctx, "src", "debug.log"), []byte("noise\n"), 0o644)
	_ = os.WriteFile(filepath.Join(ctx, "notes.txt"), []byte("hello\n"), 0o644)
	_ = os.WriteFile(filepath.Join(ctx, ".dockerignore"), []byte("**/*.log\n"), 0o644)

	ign, err := buildfs.LoadIgnore(ctx, filepath.Join(ctx, "Dockerfile"))
	if err != nil {
		panic(err)
	}
	srcs, err := buildfs.Sources(ctx, []string{"src/", "*.txt"}, ign)
	if err != nil {
		panic(err)
	}
	key, _ := buildfs.Digest(srcs, ign) // part of the step's cache key
	fmt.Println(len(key))
	err = buildfs.CopyInto(rootfs, "/app/", srcs, buildfs.CopyOptions{Chown: &buildfs.IDPair{UID: 1000, GID: 1000}, Ignore: ign})
	if err != nil {
		panic(err)
	}
	_ = filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(rootfs, p)
		fmt.Println(rel)
		return nil
	})
	// Output:
	// 71
	// .
	// app
	// app/main.go
	// app/notes.txt
}
