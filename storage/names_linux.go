package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ImageRecord is an image as the store's index lists it: its ID and names.
type ImageRecord struct {
	ID    string   `json:"id"`
	Names []string `json:"names"`
}

// ReadImageNames lists the images of the store at graphRoot from go.podman.io/storage's
// own index (DRIVER-images/images.json), read-only, without opening the store: no user
// namespace, no lock, no driver. It is for shell completion, which must be fast and may
// run where the store cannot be opened; everything else opens the store. The index is
// replaced by rename when it changes, so a read sees one whole version of it. A store
// that does not exist yet has no images.
func ReadImageNames(graphRoot string) ([]ImageRecord, error) {
	b, err := os.ReadFile(filepath.Join(graphRoot, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("store record %s: %w", filepath.Join(graphRoot, ManifestFile), err)
	}
	index := filepath.Join(graphRoot, m.Driver.StorageDriver()+"-images", "images.json")
	b, err = os.ReadFile(index)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ImageRecord
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("image index %s: %w", index, err)
	}
	return out, nil
}
