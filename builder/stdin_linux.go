package builder

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"hutch.dev/hutch/buildfs"
)

// ContextFromStdin makes the build context of `hutch build -` in a new directory under
// parent: stdin is a tar archive (plain or compressed) extracted there as ADD extracts
// one (every entry resolved inside the directory, `..` refused, files owned by you), or,
// when it is no archive, the Dockerfile of a build with an empty context (Docker's
// `docker build - < Dockerfile`). The caller removes the returned directory.
func ContextFromStdin(stdin io.Reader, parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "hutch-build-stdin-")
	if err != nil {
		return "", fmt.Errorf("build context from standard input: %w", err)
	}
	fail := func(err error) (string, error) {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("build context from standard input: %w", err)
	}
	f, err := os.CreateTemp(parent, "hutch-build-stdin-*.tar")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, stdin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	ctx := filepath.Join(dir, "context")
	if err := os.Mkdir(ctx, 0o700); err != nil {
		return fail(err)
	}
	isTar, err := buildfs.IsArchive(f.Name())
	if err != nil {
		return fail(err)
	}
	if !isTar {
		if err := os.Rename(f.Name(), filepath.Join(ctx, "Dockerfile")); err != nil {
			return fail(err)
		}
		return ctx, nil
	}
	if _, err := buildfs.ExtractArchive(ctx, "/", f.Name(), buildfs.CopyOptions{Chown: &buildfs.IDPair{}}); err != nil {
		return fail(err)
	}
	return ctx, nil
}
