package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.podman.io/image/v5/copy"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/fsutil"
)

// Archive formats.
const (
	FormatDocker = "docker-archive"
	FormatOCI    = "oci-archive"
)

// Service does image work against one store. Sys must point every path go.podman.io/image
// would otherwise take from the host or from Podman at hutch's own folders.
type Service struct {
	Store cstorage.Store
	Sys   *types.SystemContext
}

// Loaded is one image that Load put in the store.
type Loaded struct {
	ID    string
	Names []string
}

func policy() (*signature.PolicyContext, error) {
	return signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
}

// ensureTmpDir creates the directory go.podman.io/image puts its temporary files in
// (archive extraction, blobs on their way into the store): it does not create it itself,
// and a fresh (or just reset) store has none yet.
func (s *Service) ensureTmpDir() error {
	if s.Sys == nil || s.Sys.BigFilesTemporaryDir == "" {
		return nil
	}
	return os.MkdirAll(s.Sys.BigFilesTemporaryDir, 0o700)
}

func (s *Service) copyImage(ctx context.Context, dst, src types.ImageReference) ([]byte, error) {
	if err := s.ensureTmpDir(); err != nil {
		return nil, err
	}
	pc, err := policy()
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Destroy() }()
	return copy.Image(ctx, pc, dst, src, &copy.Options{SourceCtx: s.Sys, DestinationCtx: s.Sys})
}

// DetectArchive tells a docker-archive from an oci-archive by the files at its root
// (manifest.json versus oci-layout/index.json); compressed archives are looked into.
func DetectArchive(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return "", fmt.Errorf("%s: not an image archive: %w", path, err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	seen := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if seen == 0 {
				return "", fmt.Errorf("%s is not an image archive (not a tar file: %w)", path, err)
			}
			return "", fmt.Errorf("%s is truncated or corrupt: %w", path, err)
		}
		seen++
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return FormatDocker, nil
		case "oci-layout", "index.json":
			return FormatOCI, nil
		}
	}
	return "", fmt.Errorf("%s is not an image archive: it has neither manifest.json (docker-archive) nor index.json (oci-archive)", path)
}

// Load copies every image in the archive at path into the store, with its names.
func (s *Service) Load(ctx context.Context, path string) ([]Loaded, error) {
	format, err := DetectArchive(path)
	if err != nil {
		return nil, err
	}
	if err := s.ensureTmpDir(); err != nil {
		return nil, err
	}
	// Everything the load unpacks is bounded by the store's free space (layerGuard).
	g, err := s.newGuard()
	if err != nil {
		return nil, err
	}
	readPath, cleanup, err := g.expandArchive(path, format, s.Sys.BigFilesTemporaryDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var srcs []archiveImage
	switch format {
	case FormatDocker:
		srcs, err = dockerArchiveImages(s.Sys, readPath)
	default:
		srcs, err = ociArchiveImages(readPath)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is truncated or corrupt: %v", path, strings.ReplaceAll(err.Error(), readPath, path))
	}
	var out []Loaded
	for _, src := range srcs {
		src.ref = g.ref(src.ref)
		l, err := s.loadOne(ctx, src)
		if err != nil {
			msg := strings.ReplaceAll(oneLine(g.explain(err)).Error(), readPath, path)
			return out, fmt.Errorf("loading %s: %s", path, msg)
		}
		out = append(out, l)
		events.Image(events.Load, l.ID, firstName(l.Names))
	}
	return out, nil
}

// firstName is names[0], or "".
func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// archiveImage is one image inside an archive and the names it should get.
type archiveImage struct {
	ref   types.ImageReference
	names []string
}

func dockerArchiveImages(sys *types.SystemContext, path string) ([]archiveImage, error) {
	r, err := dockerarchive.NewReader(sys, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	lists, err := r.List()
	if err != nil {
		return nil, err
	}
	var out []archiveImage
	for _, refs := range lists {
		ai := archiveImage{ref: refs[0]}
		for _, ref := range refs {
			if named := ref.DockerReference(); named != nil {
				ai.names = append(ai.names, named.String())
			}
		}
		// refs[0] carries a tag when the image has one; a stable, index-based reference
		// keeps working after the reader is closed.
		if len(ai.names) > 0 {
			named, err := reference.ParseNormalizedNamed(ai.names[0])
			if err != nil {
				return nil, err
			}
			nt, _ := named.(reference.NamedTagged)
			if ai.ref, err = dockerarchive.NewReference(path, nt); err != nil {
				return nil, err
			}
		} else if ai.ref, err = dockerarchive.NewIndexReference(path, len(out)); err != nil {
			return nil, err
		}
		out = append(out, ai)
	}
	return out, nil
}

// ociArchiveImages reads index.json: each manifest becomes an image, named by its
// org.opencontainers.image.ref.name annotation when that is a full name.
func ociArchiveImages(path string) ([]archiveImage, error) {
	idx, err := readOCIIndex(path)
	if err != nil {
		return nil, err
	}
	if len(idx.Manifests) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	var out []archiveImage
	for _, m := range idx.Manifests {
		refName := m.Annotations["org.opencontainers.image.ref.name"]
		if len(idx.Manifests) > 1 && refName == "" {
			return nil, errors.New("index.json lists several images, and one has no org.opencontainers.image.ref.name to tell it apart")
		}
		ref, err := ociarchive.NewReference(path, refNameOrEmpty(refName, len(idx.Manifests)))
		if err != nil {
			return nil, err
		}
		ai := archiveImage{ref: ref}
		if strings.Contains(refName, "/") || strings.Contains(refName, ":") {
			if named, err := normalizeArchiveName(refName); err == nil {
				ai.names = []string{named}
			}
		}
		out = append(out, ai)
	}
	return out, nil
}

func refNameOrEmpty(name string, n int) string {
	if n == 1 {
		return ""
	}
	return name
}

// normalizeArchiveName gives a name from an archive its full form.
func normalizeArchiveName(name string) (string, error) {
	if hasDomain(name) {
		r, err := reference.ParseNamed(name)
		if err != nil {
			return "", err
		}
		return reference.TagNameOnly(r).String(), nil
	}
	r, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(r).String(), nil
}

type ociIndex struct {
	Manifests []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

func readOCIIndex(path string) (*ociIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("no index.json: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") == "index.json" {
			var idx ociIndex
			data, err := fsutil.ArchiveIndex.ReadStream(tr, "in "+path)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(data, &idx); err != nil {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			return &idx, nil
		}
	}
}

// loadOne copies one image; the store keeps the configuration digest as the image ID,
// so a save/load round trip returns the same ID.
func (s *Service) loadOne(ctx context.Context, src archiveImage) (Loaded, error) {
	id, err := configID(ctx, s.Sys, src.ref)
	if err != nil {
		return Loaded{}, err
	}
	var named reference.Named
	if len(src.names) > 0 {
		if named, err = reference.ParseNormalizedNamed(src.names[0]); err != nil {
			return Loaded{}, err
		}
	}
	dst, err := istorage.Transport.NewStoreReference(s.Store, named, id)
	if err != nil {
		return Loaded{}, err
	}
	if _, err := s.copyImage(ctx, dst, src.ref); err != nil {
		return Loaded{}, err
	}
	if len(src.names) > 1 {
		if err := s.Store.AddNames(id, src.names[1:]); err != nil {
			return Loaded{}, err
		}
	}
	img, err := s.Store.Image(id)
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{ID: img.ID, Names: img.Names}, nil
}

// configID reads an image's manifest and returns its config digest, hex only.
func configID(ctx context.Context, sys *types.SystemContext, ref types.ImageReference) (string, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return "", err
	}
	defer src.Close()
	m, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", err
	}
	parsed, err := manifest.FromBlob(m, mt)
	if err != nil {
		return "", err
	}
	return parsed.ConfigInfo().Digest.Encoded(), nil
}

// Save writes the images to path as a docker-archive (several images, with their tags)
// or an oci-archive (one image). refs are resolved as Resolve does.
func (s *Service) Save(ctx context.Context, path, format string, refs []string) (retErr error) {
	type sel struct {
		img  *cstorage.Image
		name reference.NamedTagged
	}
	var sels []sel
	for _, r := range refs {
		img, err := Resolve(s.Store, r)
		if err != nil {
			return err
		}
		var nt reference.NamedTagged
		// Keep the name the user gave (`foo` stands for localhost/foo:latest) when it
		// is one of the image's names, else the first name with a tag.
		if len(img.Names) > 0 {
			if parsed, err := reference.ParseNormalizedNamed(matchingName(img, r)); err == nil {
				nt, _ = parsed.(reference.NamedTagged)
			}
		}
		for _, n := range img.Names {
			if nt != nil {
				break
			}
			if parsed, err := reference.ParseNormalizedNamed(n); err == nil {
				nt, _ = parsed.(reference.NamedTagged)
			}
		}
		sels = append(sels, sel{img, nt})
	}
	defer func() {
		for _, x := range sels {
			if retErr == nil {
				name := ""
				if x.name != nil {
					name = x.name.String()
				}
				events.Image(events.Save, x.img.ID, name)
			}
		}
	}()
	switch format {
	case "", FormatDocker:
		w, err := dockerarchive.NewWriter(s.Sys, path)
		if err != nil {
			return err
		}
		for _, x := range sels {
			dst, err := w.NewReference(x.name)
			if err != nil {
				w.Close()
				return err
			}
			src, err := istorage.Transport.NewStoreReference(s.Store, nil, x.img.ID)
			if err != nil {
				w.Close()
				return err
			}
			if _, err := s.copyImage(ctx, dst, src); err != nil {
				w.Close()
				return fmt.Errorf("saving %s: %w", ShortID(x.img.ID), oneLine(err))
			}
		}
		return w.Close()
	case FormatOCI:
		if len(sels) != 1 {
			return fmt.Errorf("an oci-archive holds one image here; save several images with --format docker-archive")
		}
		name := ""
		if sels[0].name != nil {
			name = sels[0].name.String()
		}
		dst, err := ociarchive.NewReference(path, name)
		if err != nil {
			return err
		}
		src, err := istorage.Transport.NewStoreReference(s.Store, nil, sels[0].img.ID)
		if err != nil {
			return err
		}
		if _, err := s.copyImage(ctx, dst, src); err != nil {
			return fmt.Errorf("saving %s: %w", ShortID(sels[0].img.ID), oneLine(err))
		}
		return nil
	default:
		return fmt.Errorf("unknown --format %q: use docker-archive or oci-archive", format)
	}
}

// oneLine folds a multi-line library error into one line.
func oneLine(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return errors.New(msg)
}
