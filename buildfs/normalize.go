package buildfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// xattrPrefix is how PAX records carry extended attributes.
const xattrPrefix = "SCHILY.xattr."

// droppedXattrs vary with the host that made the layer rather than with its content:
// security.selinux is the label the host's policy gave the file.
var droppedXattrs = map[string]bool{
	"security.selinux": true,
}

// NormalizeTar rewrites the uncompressed layer tar r to w so that the same files give
// the same bytes whoever builds them and wherever: entries in their input order (streamed,
// never buffered), PAX format, no user/group names, no access/change times, modification
// times truncated to whole seconds and, when epoch is set, clamped to it (a later time
// becomes epoch, like BuildKit's rewrite-timestamp); extended attributes are kept except
// security.selinux; every other PAX record is dropped. It returns the digest of what was
// written (the layer's diffID) and its size.
func NormalizeTar(r io.Reader, w io.Writer, epoch *time.Time) (digest.Digest, int64, error) {
	dg := digest.SHA256.Digester()
	cw := &countWriter{w: io.MultiWriter(w, dg.Hash())}
	tr := tar.NewReader(r)
	tw := tar.NewWriter(cw)
	var clamp time.Time
	if epoch != nil {
		clamp = epoch.Truncate(time.Second)
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("reading the layer: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // global records apply to the following entries: not produced by c/storage
		}
		out := &tar.Header{
			Typeflag: hdr.Typeflag,
			Name:     hdr.Name,
			Linkname: hdr.Linkname,
			Size:     hdr.Size,
			Mode:     hdr.Mode & 0o7777, // the type is in Typeflag; some writers repeat it here
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  hdr.ModTime.Truncate(time.Second),
			Devmajor: hdr.Devmajor,
			Devminor: hdr.Devminor,
			Format:   tar.FormatPAX,
		}
		switch out.Typeflag {
		case tar.TypeGNUSparse: // (tar.Reader already turns the old TypeRegA into TypeReg)
			out.Typeflag = tar.TypeReg
		}
		if out.Typeflag != tar.TypeReg {
			out.Size = 0 // only regular files carry data
		}
		if epoch != nil && out.ModTime.After(clamp) {
			out.ModTime = clamp
		}
		out.ModTime = out.ModTime.UTC()
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, xattrPrefix) && !droppedXattrs[strings.TrimPrefix(k, xattrPrefix)] {
				if out.PAXRecords == nil {
					out.PAXRecords = map[string]string{}
				}
				out.PAXRecords[k] = v
			}
		}
		if err := tw.WriteHeader(out); err != nil {
			return "", 0, fmt.Errorf("writing the layer entry %s: %w", hdr.Name, err)
		}
		if out.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return "", 0, fmt.Errorf("copying the layer entry %s: %w", hdr.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return "", 0, fmt.Errorf("writing the layer: %w", err)
	}
	return dg.Digest(), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
