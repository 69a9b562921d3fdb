package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
)

// benchLayer is a gzip layer of real files (/usr/lib and /usr/share, up to 64 MiB
// uncompressed), made once.
var benchLayer []byte

func layerForBench(b *testing.B) []byte {
	b.Helper()
	if benchLayer != nil {
		return benchLayer
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	total := int64(0)
	for _, root := range []string{"/usr/lib", "/usr/share"} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || total > 64<<20 {
				return filepath.SkipDir
			}
			fi, err := d.Info()
			if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
				return nil
			}
			hdr, err := tar.FileInfoHeader(fi, "")
			if err != nil {
				return nil
			}
			hdr.Name = p[1:]
			if fi.Mode().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					return nil
				}
				hdr.Size = int64(len(data))
				if tw.WriteHeader(hdr) != nil {
					return nil
				}
				_, _ = tw.Write(data)
				total += int64(len(data))
				return nil
			}
			_ = tw.WriteHeader(hdr)
			return nil
		})
	}
	tw.Close()
	zw.Close()
	benchLayer = buf.Bytes()
	b.Logf("layer: %d MiB uncompressed, %d MiB gzip", total>>20, len(benchLayer)>>20)
	return benchLayer
}

// BenchmarkPullLayerPass is what go.podman.io/image does with a pulled blob as it
// arrives (gunzip to compute the diffID), without the guard: the floor.
func BenchmarkPullLayerPass(b *testing.B) {
	blob := layerForBench(b)
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(sha256.New(), zr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPullLayerPassGuarded is the same pass with the blob going through the layer
// guard, as every pulled or loaded blob does: the guard's scan (its own gunzip and tar
// parse) runs beside it, at most queueLimit behind.
func BenchmarkPullLayerPassGuarded(b *testing.B) {
	blob := layerForBench(b)
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		rc := guardWith(1<<40).watch(io.NopCloser(bytes.NewReader(blob)), digest.FromBytes(nil))
		zr, err := gzip.NewReader(rc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(sha256.New(), zr); err != nil {
			b.Fatal(err)
		}
		// Read to the end of the blob, so that the guard's verdict is waited for.
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkGuardScan is the guard's scan alone: the CPU the guard adds to a pull.
func BenchmarkGuardScan(b *testing.B) {
	blob := layerForBench(b)
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		if err := guardWith(1<<40).scan(bytes.NewReader(blob), digest.FromBytes(nil)); err != nil {
			b.Fatal(err)
		}
	}
}
