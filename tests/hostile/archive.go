package hostile

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// WriteBlob writes a layer into dir with gen (a plain tar stream), gzip-compressed when
// gz, and returns what an archive needs to name it.
func WriteBlob(dir string, gz bool, gen func(w io.Writer) error) (Blob, error) {
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return Blob{}, err
	}
	defer f.Close()
	file := newHashWriter()
	diff := newHashWriter()
	out := io.MultiWriter(f, file)
	if gz {
		zw := gzipWriter(out)
		if err := gen(io.MultiWriter(zw, diff)); err != nil {
			return Blob{}, err
		}
		if err := zw.Close(); err != nil {
			return Blob{}, err
		}
	} else if err := gen(io.MultiWriter(out, diff)); err != nil {
		return Blob{}, err
	}
	if err := f.Close(); err != nil {
		return Blob{}, err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return Blob{}, err
	}
	return Blob{Path: f.Name(), Digest: file.hex(), Size: file.n, DiffID: diff.hex(), Gzip: gz}, nil
}

// config is the image configuration of a one-image archive; its digest is the ID.
func config(blobs []Blob) []byte {
	var diffIDs []string
	var history []map[string]any
	for i, b := range blobs {
		diffIDs = append(diffIDs, "sha256:"+b.DiffID)
		history = append(history, map[string]any{"created": epoch, "created_by": fmt.Sprintf("hostile layer %d", i)})
	}
	b, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": epoch,
		"config":  map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/bin"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	return b
}

// DockerArchive writes a `docker save` archive at path holding one image named name
// whose layers are blobs (base first), streamed from their files.
func DockerArchive(path, name string, blobs ...Blob) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	cfg := config(blobs)
	cfgName := sha(cfg) + ".json"
	var layers []string
	for _, b := range blobs {
		p := b.Digest + "/layer.tar"
		layers = append(layers, p)
		if err := addFile(tw, p, b.Path, b.Size); err != nil {
			return err
		}
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{name}, "Layers": layers}})
	for _, m := range []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {"manifest.json", manifest}} {
		if err := addBytes(tw, m.name, m.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, 0o644)
}

func addBytes(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644, ModTime: epoch}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func addFile(tw *tar.Writer, name, path string, size int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644, ModTime: epoch}); err != nil {
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(tw, in)
	return err
}

func sha(b []byte) string {
	hw := newHashWriter()
	_, _ = hw.Write(b)
	return hw.hex()
}

// Public makes path readable by the test users (0644 files, 0755 directories up to
// stop).
func Public(path string) error {
	return filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
}
