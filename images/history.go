package images

import (
	"slices"
	"time"

	cstorage "go.podman.io/storage"
)

// HistoryEntry is one step that made an image, as `hutch history` lists them (newest
// first), in the names of Docker's API.
type HistoryEntry struct {
	// ID is the image whose top this step is, when the store has one (the image itself
	// for the newest step; an unnamed build step's image further down), else ""
	// (Docker's <missing>).
	ID        string    `json:"Id"`
	Created   time.Time `json:"Created"`
	CreatedBy string    `json:"CreatedBy"`
	// Size is what the step's layer holds (uncompressed); 0 for a step that made none.
	Size       int64    `json:"Size"`
	Comment    string   `json:"Comment"`
	Tags       []string `json:"Tags"`
	EmptyLayer bool     `json:"EmptyLayer"`
}

// ImageHistory lists the steps that made img, newest first, each with the layer it
// made: the configuration's history, whose steps that are not marked empty_layer made
// the layers in order from the bottom. An image without history gets one step per
// layer. A step shows the ID of the image it ended (as Podman and Docker's classic
// builder do): img for the newest, and an image of the store whose history is the
// first steps of img's and whose top layer is that step's (a build's unnamed step
// image, or the base image).
func ImageHistory(store cstorage.Store, img *cstorage.Image) ([]HistoryEntry, error) {
	cfg, _, err := ReadConfig(store, img.ID)
	if err != nil {
		return nil, err
	}
	cat, err := ReadCatalog(store)
	if err != nil {
		return nil, err
	}
	chain := cat.chain(img.TopLayer)
	slices.Reverse(chain) // bottom first
	steps := cfg.History
	if len(steps) == 0 {
		for range chain {
			steps = append(steps, History{Created: cfg.Created})
		}
	}
	// layerOf[j]: the index in chain of the layer step j leaves on top (-1: none).
	layerOf := make([]int, len(steps))
	n := -1
	for j, h := range steps {
		if !h.EmptyLayer {
			n++
		}
		layerOf[j] = n
		if n >= len(chain) {
			layerOf[j] = -1 // more steps than layers: the configuration is inconsistent
		}
	}
	ended := map[int]*cstorage.Image{len(steps) - 1: img}
	onChain := map[string]int{}
	for i, l := range chain {
		onChain[l] = i
	}
	for i := range cat.Images {
		o := &cat.Images[i]
		at, ok := onChain[o.TopLayer]
		if o.ID == img.ID || !ok {
			continue
		}
		oc, _, err := ReadConfig(store, o.ID)
		if err != nil {
			continue // an image that cannot be read is not shown, as if it were missing
		}
		k := len(oc.History)
		if k == 0 || k > len(steps) || layerOf[k-1] != at || ended[k-1] != nil {
			continue
		}
		same := true
		for j := range k {
			same = same && oc.History[j].CreatedBy == steps[j].CreatedBy && oc.History[j].EmptyLayer == steps[j].EmptyLayer
		}
		if same {
			ended[k-1] = o
		}
	}
	out := make([]HistoryEntry, 0, len(steps))
	for j := len(steps) - 1; j >= 0; j-- {
		h := steps[j]
		e := HistoryEntry{CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer, Tags: []string{}}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if o := ended[j]; o != nil {
			e.ID = o.ID
			e.Tags = append(e.Tags, o.Names...)
		}
		if !h.EmptyLayer && layerOf[j] >= 0 {
			e.Size = cat.layerSize(chain[layerOf[j]])
		}
		out = append(out, e)
	}
	return out, nil
}
