package engine

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
)

// CommitOptions are `commit`'s flags.
type CommitOptions struct {
	Name    string   `json:"name,omitempty"` // the new image's name, "" for none
	Author  string   `json:"author,omitempty"`
	Message string   `json:"message,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Format  string   `json:"format,omitempty"` // oci (default) or docker
	Squash  bool     `json:"squash,omitempty"`
	Pause   bool     `json:"pause,omitempty"`
	// Done hears the new image's ID (in the process that made it).
	Done func(id string) `json:"-"`
}

type commitRequest struct {
	layerRequest
	CommitOptions
}

// Commit is `commit CONTAINER [IMAGE]`: a new image of the container's changes on top
// of its image (or, with Squash, of its whole file system in one layer), with the
// container's configuration and Changes on top of the image's. A running container is
// held still while its layer is read (Records.Hold), unless Pause is false; it is read
// where its owner mounted it, as diff and export read it.
func (s *Session) Commit(ref string, o CommitOptions) error {
	switch o.Format {
	case "":
		o.Format = "oci"
	case "oci", "docker":
	default:
		return fmt.Errorf("--format %q: commit writes oci or docker", o.Format)
	}
	for _, ch := range o.Changes { // refused before anything is held
		if err := images.ApplyChange(&images.ContainerConfig{}, ch); err != nil {
			return err
		}
	}
	if o.Name != "" {
		n, err := images.NormalizeLocal(o.Name)
		if err != nil {
			return err
		}
		o.Name = n.String()
	}
	release := func() {}
	defer func() { release() }()
	return RunSplit(s, Split[commitRequest]{
		Name: "commit",
		Outside: func() (commitRequest, Place, error) {
			req, place, err := s.containerPlace(ref)
			if err != nil {
				return commitRequest{}, Nowhere, err
			}
			if o.Pause {
				ct, err := s.Records().Get(req.Container)
				if err != nil {
					return commitRequest{}, Nowhere, err
				}
				if release, err = s.Records().Hold(ct); err != nil {
					return commitRequest{}, Nowhere, err
				}
			}
			return commitRequest{layerRequest: req, CommitOptions: o}, place, nil
		},
		Inside: func(req commitRequest) error {
			req.Done = o.Done
			return s.commitInside(req)
		},
	})
}

func (s *Session) commitInside(req commitRequest) error {
	st, unlock, err := s.LockedStore()
	if err != nil {
		return err
	}
	defer unlock()
	ct, err := s.Records().Get(req.Container)
	if err != nil {
		return err
	}
	sc, err := st.Container(req.Container)
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.Name, err)
	}
	img, err := st.Image(sc.ImageID)
	if err != nil {
		return fmt.Errorf("the image of container %s: %w", ct.Name, err)
	}
	icfg, _, err := images.ReadConfig(st, img.ID)
	if err != nil {
		return err
	}
	// What hutch made in the layer for its own mounts is not the container's.
	changes, err := st.Changes("", sc.LayerID)
	if err != nil {
		return fmt.Errorf("reading the changes of container %s: %w", ct.Name, err)
	}
	var made []string
	for _, c := range changes {
		if p := filepath.Clean("/" + c.Path); mountPoints[p] && c.Kind == archive.ChangeAdd {
			made = append(made, p)
		}
	}

	var (
		rc     io.ReadCloser
		parent string
	)
	if req.Squash {
		rootfs, done, err := s.containerRoot(req.layerRequest)
		if err != nil {
			return err
		}
		defer done()
		var exclude []string
		for _, p := range made {
			exclude = append(exclude, strings.TrimPrefix(p, "/"))
		}
		rc, err = chrootarchive.Tar(rootfs, &archive.TarOptions{Compression: archive.Uncompressed, ExcludePatterns: exclude}, rootfs)
		if err != nil {
			return fmt.Errorf("commit %s: reading its file system: %w", ct.Name, err)
		}
	} else {
		u := archive.Uncompressed
		d, err := st.Diff("", sc.LayerID, &cstorage.DiffOptions{Compression: &u})
		if err != nil {
			return fmt.Errorf("commit %s: reading its layer: %w", ct.Name, err)
		}
		rc, parent = dropEntries(d, made), img.TopLayer
	}
	// Spooled first: the store keeps the layers locked while a diff is read, and
	// PutLayer takes them for writing.
	tmpDir := filepath.Join(st.GraphRoot(), "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		rc.Close()
		return err
	}
	spool, err := os.CreateTemp(tmpDir, "commit-")
	if err != nil {
		rc.Close()
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	_, err = io.Copy(spool, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("commit %s: reading its file system: %w", ct.Name, err)
	}
	layer, _, err := st.PutLayer("", parent, nil, "", false, nil, spool)
	if err != nil {
		return fmt.Errorf("commit %s: writing the layer: %w", ct.Name, err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = st.DeleteLayer(layer.ID)
		}
	}()

	now := time.Now().UTC()
	cfg := *icfg
	cfg.Created = &now
	cfg.Author = req.Author
	cfg.Comment = req.Message
	cfg.Config = ct.CommitConfig(icfg.Config)
	for _, ch := range req.Changes {
		if err := images.ApplyChange(&cfg.Config, ch); err != nil {
			return err
		}
	}
	step := images.History{Created: &now, CreatedBy: strings.Join(ct.Args, " "), Author: req.Author, Comment: req.Message}
	if req.Squash {
		// The steps stay in the history, none of them a layer now but the commit's.
		cfg.History = nil
		for _, h := range icfg.History {
			h.EmptyLayer = true
			cfg.History = append(cfg.History, h)
		}
		cfg.RootFS.DiffIDs = []digest.Digest{layer.UncompressedDigest}
	} else {
		cfg.History = append([]images.History{}, icfg.History...)
		cfg.RootFS.DiffIDs = append(append([]digest.Digest{}, icfg.RootFS.DiffIDs...), layer.UncompressedDigest)
	}
	cfg.RootFS.Type = "layers"
	cfg.History = append(cfg.History, step)
	var names []string
	if req.Name != "" {
		names = []string{req.Name}
	}
	id, err := images.WriteImage(st, &cfg, layer.ID, req.Format, names)
	if err != nil {
		return err
	}
	keep = true
	ct.Emit(events.Commit, "imageID", "sha256:"+id, "imageRef", req.Name, "comment", req.Message)
	if req.Name != "" {
		events.Image(events.Tag, id, req.Name)
	}
	if req.Done != nil {
		req.Done(id)
	}
	return nil
}

// dropEntries passes the tar stream r on without the entries at the paths drop (and
// under them).
func dropEntries(r io.ReadCloser, drop []string) io.ReadCloser {
	if len(drop) == 0 {
		return r
	}
	pr, pw := io.Pipe()
	go func() {
		defer r.Close()
		tr, tw := tar.NewReader(r), tar.NewWriter(pw)
		err := func() error {
			for {
				hdr, err := tr.Next()
				if errors.Is(err, io.EOF) {
					return tw.Close()
				}
				if err != nil {
					return err
				}
				p := filepath.Clean("/" + hdr.Name)
				skip := false
				for _, d := range drop {
					skip = skip || p == d || strings.HasPrefix(p, d+"/")
				}
				if skip {
					continue
				}
				if err := tw.WriteHeader(hdr); err != nil {
					return err
				}
				if _, err := io.Copy(tw, tr); err != nil {
					return err
				}
			}
		}()
		pw.CloseWithError(err)
	}()
	return pr
}
