package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/images"
)

// manifestFor writes the manifest of an image whose configuration is cfg and whose
// top layer is top: one uncompressed layer per layer of the chain, as the store keeps
// them (go.podman.io/image compresses on push).
func (b *Builder) manifestFor(cfgBytes []byte, top string) ([]byte, error) {
	return images.Manifest(b.store, cfgBytes, top, b.o.Format, dockerOnlyAnnotations(cfgBytes))
}

// writeImage stores st as an image (or finds it stored already) and returns its ID.
// Intermediate images (one per layer step) carry images.BuildCacheMetadata.
func (b *Builder) writeImage(st *state, intermediate bool) (string, error) {
	cfgBytes := configBytes(&st.Config)
	id := digest.FromBytes(cfgBytes).Encoded()
	if img, err := b.store.Image(id); err == nil {
		// The same configuration means the same layer digests: an image stored with
		// other layer records (pulled, say) has the same content, and is kept.
		if !intermediate && img.TopLayer == st.Layer {
			if err := b.reformat(id, cfgBytes, st.Layer); err != nil {
				return "", err
			}
		}
		return id, nil
	}
	mBytes, err := b.manifestFor(cfgBytes, st.Layer)
	if err != nil {
		return "", err
	}
	md := digest.FromBytes(mBytes)
	meta := ""
	if intermediate {
		meta = images.BuildCacheMetadata
	}
	opts := &cstorage.ImageOptions{
		Digest: md,
		BigData: []cstorage.ImageBigDataOption{
			{Key: digest.FromBytes(cfgBytes).String(), Data: cfgBytes, Digest: digest.FromBytes(cfgBytes)},
			{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + md.String(), Data: mBytes, Digest: md},
			{Key: cstorage.ImageDigestBigDataKey, Data: mBytes, Digest: md},
		},
	}
	if st.Config.Created != nil {
		opts.CreationDate = *st.Config.Created
	}
	if _, err := b.store.CreateImage(id, nil, st.Layer, meta, opts); err != nil {
		if errors.Is(err, cstorage.ErrDuplicateID) {
			return id, nil
		}
		return "", fmt.Errorf("writing image %s: %w", id[:12], err)
	}
	return id, nil
}

// commit writes the final image with --label applied and gives it the -t names.
func (b *Builder) commit(st *state) (*Result, error) {
	if len(b.o.Labels) > 0 {
		cfg := cloneConfig(st.Config)
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		for _, k := range sortedKeys(b.o.Labels) {
			cfg.Config.Labels[k] = b.o.Labels[k]
		}
		st = &state{Config: cfg, Layer: st.Layer}
	}
	c := &st.Config.Config
	if b.o.Format == "oci" && (c.Healthcheck != nil || len(c.Shell) > 0 || len(c.OnBuild) > 0) {
		var what []string
		if c.Healthcheck != nil {
			what = append(what, "HEALTHCHECK")
		}
		if len(c.Shell) > 0 {
			what = append(what, "SHELL")
		}
		if len(c.OnBuild) > 0 {
			what = append(what, "ONBUILD")
		}
		fmt.Fprintf(b.o.Stderr, "note: %s: not part of the OCI image format; kept as annotations of the image's manifest (dev.hutch.image.*) and in its configuration, where hutch inspect shows them and hutch uses them (other OCI tools may ignore them); --format docker stores them natively\n",
			strings.Join(what, ", "))
	}
	var names []string
	for _, t := range b.o.Tags {
		n, err := images.NormalizeLocal(t)
		if err != nil {
			return nil, err
		}
		names = append(names, n.String())
	}
	if len(names) > 0 {
		fmt.Fprintf(b.o.Stdout, "COMMIT %s\n", strings.Join(b.o.Tags, " "))
	} else {
		fmt.Fprintln(b.o.Stdout, "COMMIT")
	}
	if err := b.sig.err(); err != nil {
		return nil, err
	}
	id, err := b.writeImage(st, false)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		// Only names the image lacks: a rewrite of the image list costs a disk flush.
		var missing []string
		if img, err := b.store.Image(id); err == nil {
			for _, n := range names {
				if !slices.Contains(img.Names, n) {
					missing = append(missing, n)
				}
			}
		} else {
			missing = names
		}
		if len(missing) > 0 {
			if err := b.store.AddNames(id, missing); err != nil {
				return nil, fmt.Errorf("naming image %s: %w", id[:12], err)
			}
		}
	}
	fmt.Fprintf(b.o.Stdout, "--> %s\n", id[:12])
	for _, n := range names {
		fmt.Fprintf(b.o.Stdout, "Successfully tagged %s\n", n)
	}
	return &Result{ID: id, Names: names}, nil
}

// reformat gives an image that exists already the manifest of the asked --format
// (the configuration, and so the ID, is the same in both formats).
func (b *Builder) reformat(id string, cfgBytes []byte, top string) error {
	cur, err := b.store.ImageBigData(id, cstorage.ImageDigestBigDataKey)
	want := manifest.DockerV2Schema2MediaType
	if b.o.Format == "oci" {
		want = imgspecv1.MediaTypeImageManifest
	}
	if err == nil && manifest.GuessMIMEType(cur) == want {
		return nil
	}
	mBytes, err := b.manifestFor(cfgBytes, top)
	if err != nil {
		return err
	}
	md := digest.FromBytes(mBytes)
	for _, k := range []string{cstorage.ImageDigestManifestBigDataNamePrefix + "-" + md.String(), cstorage.ImageDigestBigDataKey} {
		if err := b.store.SetImageBigData(id, k, mBytes, manifest.Digest); err != nil {
			return fmt.Errorf("writing the manifest of image %s: %w", id[:12], err)
		}
	}
	return nil
}

// Manifest annotations that carry what the OCI format has no field for.
const (
	AnnotationHealthcheck = "dev.hutch.image.healthcheck"
	AnnotationShell       = "dev.hutch.image.shell"
	AnnotationOnBuild     = "dev.hutch.image.onbuild"
)

// dockerOnlyAnnotations keeps HEALTHCHECK, SHELL and ONBUILD (as JSON) in an OCI
// manifest, beside the configuration fields hutch itself reads.
func dockerOnlyAnnotations(cfgBytes []byte) map[string]string {
	var cfg images.Config
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return nil
	}
	out := map[string]string{}
	add := func(k string, v any) {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			out[k] = strings.TrimSpace(b.String())
		}
	}
	c := cfg.Config
	if c.Healthcheck != nil {
		add(AnnotationHealthcheck, c.Healthcheck)
	}
	if len(c.Shell) > 0 {
		add(AnnotationShell, c.Shell)
	}
	if len(c.OnBuild) > 0 {
		add(AnnotationOnBuild, c.OnBuild)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
