package images

import (
	"encoding/json"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// Manifest writes the manifest of an image whose configuration is cfgBytes and whose
// top layer is top: one uncompressed layer per layer of the chain, as the store keeps
// them (go.podman.io/image compresses on push). format is "docker" (Docker's schema 2)
// or anything else for OCI, whose manifest carries annotations.
func Manifest(store cstorage.Store, cfgBytes []byte, top, format string, annotations map[string]string) ([]byte, error) {
	var chain []*cstorage.Layer
	for id := top; id != ""; {
		l, err := store.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", id, err)
		}
		if l.UncompressedDigest == "" {
			return nil, fmt.Errorf("layer %s has no recorded digest", id)
		}
		chain = append([]*cstorage.Layer{l}, chain...)
		id = l.Parent
	}
	cd := digest.FromBytes(cfgBytes)
	if format == "docker" {
		m := manifest.Schema2{
			SchemaVersion: 2, MediaType: manifest.DockerV2Schema2MediaType,
			ConfigDescriptor:  manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Digest: cd, Size: int64(len(cfgBytes))},
			LayersDescriptors: []manifest.Schema2Descriptor{},
		}
		for _, l := range chain {
			m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{
				MediaType: manifest.DockerV2SchemaLayerMediaTypeUncompressed, Digest: l.UncompressedDigest, Size: l.UncompressedSize})
		}
		return json.Marshal(m)
	}
	m := imgspecv1.Manifest{
		Versioned:   imgspec.Versioned{SchemaVersion: 2},
		MediaType:   imgspecv1.MediaTypeImageManifest,
		Config:      imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfgBytes))},
		Layers:      []imgspecv1.Descriptor{},
		Annotations: annotations,
	}
	for _, l := range chain {
		m.Layers = append(m.Layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayer, Digest: l.UncompressedDigest, Size: l.UncompressedSize})
	}
	return json.Marshal(m)
}

// WriteImage stores an image of configuration cfg on layer top (its manifest in format,
// "oci" or "docker") and gives it names (normalised already; a name another image had
// moves here, as with `docker tag`). The image's ID is its configuration's digest: the
// same configuration stored already is that image.
func WriteImage(store cstorage.Store, cfg *Config, top, format string, names []string) (string, error) {
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cd := digest.FromBytes(cfgBytes)
	id := cd.Encoded()
	mBytes, err := Manifest(store, cfgBytes, top, format, nil)
	if err != nil {
		return "", err
	}
	md := digest.FromBytes(mBytes)
	opts := &cstorage.ImageOptions{
		Digest: md,
		BigData: []cstorage.ImageBigDataOption{
			{Key: cd.String(), Data: cfgBytes, Digest: cd},
			{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + md.String(), Data: mBytes, Digest: md},
			{Key: cstorage.ImageDigestBigDataKey, Data: mBytes, Digest: md},
		},
	}
	if cfg.Created != nil {
		opts.CreationDate = *cfg.Created
	}
	if _, err := store.CreateImage(id, nil, top, "", opts); err != nil && !errors.Is(err, cstorage.ErrDuplicateID) {
		return "", fmt.Errorf("writing image %s: %w", ShortID(id), err)
	}
	if len(names) > 0 {
		if err := store.AddNames(id, names); err != nil {
			return "", fmt.Errorf("naming image %s: %w", ShortID(id), err)
		}
	}
	return id, nil
}
