package images

import (
	"time"

	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// Inspect is `hutch image inspect` output, in the shape `docker image inspect` gives.
type Inspect struct {
	Id string `json:"Id"` //nolint:revive // Docker's name, for --format '{{.Id}}'

	RepoTags     []string        `json:"RepoTags"`
	RepoDigests  []string        `json:"RepoDigests"`
	Parent       string          `json:"Parent"`
	Comment      string          `json:"Comment"`
	Created      string          `json:"Created"`
	Author       string          `json:"Author"`
	Config       ContainerConfig `json:"Config"`
	Architecture string          `json:"Architecture"`
	Variant      string          `json:"Variant,omitempty"`
	Os           string          `json:"Os"`
	Size         int64           `json:"Size"`
	RootFS       InspectRootFS   `json:"RootFS"`
	History      []History       `json:"History"`
	Metadata     InspectMetadata `json:"Metadata"`
	// Hutch's additions: the manifest digest and type as stored.
	Digest       string `json:"Digest"`
	ManifestType string `json:"ManifestType"`
}

// InspectRootFS lists layers by uncompressed digest.
type InspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// InspectMetadata is Docker's metadata block.
type InspectMetadata struct {
	LastTagTime string `json:"LastTagTime"`
}

// InspectImage builds the Docker-shaped description of img.
func InspectImage(store cstorage.Store, img *cstorage.Image) (*Inspect, error) {
	cfg, _, err := ReadConfig(store, img.ID)
	if err != nil {
		return nil, err
	}
	_, mt, _ := ReadManifest(store, img.ID)
	out := &Inspect{
		Id:           "sha256:" + img.ID,
		RepoTags:     append([]string{}, img.Names...),
		RepoDigests:  []string{},
		Comment:      cfg.Comment,
		Author:       cfg.Author,
		Config:       cfg.Config,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		RootFS:       InspectRootFS{Type: cfg.RootFS.Type, Layers: []string{}},
		History:      cfg.History,
		Digest:       img.Digest.String(),
		ManifestType: mt,
		Metadata:     InspectMetadata{LastTagTime: time.Time{}.Format(time.RFC3339Nano)},
	}
	if cfg.Created != nil {
		out.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	} else {
		out.Created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	if out.History == nil {
		out.History = []History{}
	}
	seen := map[string]bool{}
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range img.Digests {
			rd := reference.TrimNamed(named).Name() + "@" + d.String()
			if !seen[rd] {
				seen[rd] = true
				out.RepoDigests = append(out.RepoDigests, rd)
			}
		}
	}
	cat, err := ReadCatalog(store)
	if err == nil {
		for _, id := range cat.chain(img.TopLayer) {
			out.Size += cat.layerSize(id)
		}
	}
	return out, nil
}
