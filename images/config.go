package images

import (
	"encoding/json"
	"fmt"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// Config is an image's configuration blob: the OCI image config, plus the fields only
// the Docker format has (Healthcheck, Shell, OnBuild …), so nothing a Dockerfile said is lost.
type Config struct {
	Created      *time.Time      `json:"created,omitempty"`
	Author       string          `json:"author,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       ContainerConfig `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history,omitempty"`
	Comment      string          `json:"comment,omitempty"`
}

// ContainerConfig is the run-time defaults an image carries.
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
}

// Healthcheck is Docker's HEALTHCHECK.
type Healthcheck struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	// StartInterval is the interval between checks during the start period.
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// RootFS lists the layers' uncompressed digests.
type RootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

// History is one step that made the image.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// ReadManifest returns the stored manifest of an image and its MIME type.
func ReadManifest(store cstorage.Store, id string) ([]byte, string, error) {
	m, err := store.ImageBigData(id, "manifest")
	if err != nil {
		return nil, "", fmt.Errorf("reading the manifest of image %s: %w", ShortID(id), err)
	}
	return m, manifest.GuessMIMEType(m), nil
}

// ReadConfig returns the parsed configuration of an image (found through its manifest).
func ReadConfig(store cstorage.Store, id string) (*Config, digest.Digest, error) {
	m, mt, err := ReadManifest(store, id)
	if err != nil {
		return nil, "", err
	}
	parsed, err := manifest.FromBlob(m, mt)
	if err != nil {
		return nil, "", fmt.Errorf("parsing the manifest of image %s: %w", ShortID(id), err)
	}
	cd := parsed.ConfigInfo().Digest
	raw, err := store.ImageBigData(id, cd.String())
	if err != nil {
		return nil, "", fmt.Errorf("reading the configuration of image %s: %w", ShortID(id), err)
	}
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, "", fmt.Errorf("parsing the configuration of image %s: %w", ShortID(id), err)
	}
	return &c, cd, nil
}
