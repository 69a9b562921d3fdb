package images

import (
	"sort"
	"time"

	cstorage "go.podman.io/storage"
)

// Summary is one image as `hutch images` shows it.
type Summary struct {
	ID           string    `json:"Id"`
	Names        []string  `json:"Names"`
	Digest       string    `json:"Digest"`
	Created      time.Time `json:"Created"`
	Size         int64     `json:"Size"`
	Containers   int       `json:"Containers"`
	Dangling     bool      `json:"Dangling"`     // no name
	Intermediate bool      `json:"Intermediate"` // no name and another image builds on it
	TopLayer     string    `json:"-"`
	// BuildCache marks an intermediate image of `hutch build` (one per layer step);
	// Built says another image is built on it (so prune keeps it).
	BuildCache bool `json:"-"`
	Built      bool `json:"-"`
}

// BuildCacheMetadata is the store metadata of the intermediate images `hutch build`
// writes for its step cache.
const BuildCacheMetadata = `{"hutch-build-cache":true}`

// Catalog is one consistent read of images, layers and containers.
type Catalog struct {
	Images     []cstorage.Image
	Layers     map[string]cstorage.Layer
	Containers []cstorage.Container
}

// ReadCatalog reads what List, DiskUsage and Prune need, once.
func ReadCatalog(store cstorage.Store) (*Catalog, error) {
	imgs, err := store.Images()
	if err != nil {
		return nil, err
	}
	layers, err := store.Layers()
	if err != nil {
		return nil, err
	}
	ctrs, err := store.Containers()
	if err != nil {
		return nil, err
	}
	c := &Catalog{Images: imgs, Layers: make(map[string]cstorage.Layer, len(layers)), Containers: ctrs}
	for _, l := range layers {
		c.Layers[l.ID] = l
	}
	return c, nil
}

// chain returns the layer IDs from top down to the base.
func (c *Catalog) chain(top string) []string {
	var ids []string
	for id := top; id != ""; {
		l, ok := c.Layers[id]
		if !ok {
			break
		}
		ids = append(ids, id)
		id = l.Parent
	}
	return ids
}

func (c *Catalog) layerSize(id string) int64 {
	l := c.Layers[id]
	if l.UncompressedSize > 0 {
		return l.UncompressedSize
	}
	return 0
}

// Summaries lists every image, newest first.
func (c *Catalog) Summaries() []Summary {
	// Layers that some image sits on top of: an unnamed image whose top layer is one of
	// them is an intermediate step of a build, hidden unless -a.
	below := map[string]bool{}
	tops := map[string]int{}
	for _, img := range c.Images {
		if img.Metadata != BuildCacheMetadata {
			tops[img.TopLayer]++
		}
		for i, id := range c.chain(img.TopLayer) {
			if i > 0 {
				below[id] = true
			}
		}
	}
	users := map[string]int{}
	for _, ctr := range c.Containers {
		users[ctr.ImageID]++
	}
	out := make([]Summary, 0, len(c.Images))
	for _, img := range c.Images {
		s := Summary{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created,
			Containers: users[img.ID], Dangling: len(img.Names) == 0, TopLayer: img.TopLayer}
		if s.Names == nil {
			s.Names = []string{}
		}
		for _, id := range c.chain(img.TopLayer) {
			s.Size += c.layerSize(id)
		}
		s.Intermediate = s.Dangling && below[img.TopLayer]
		if img.Metadata == BuildCacheMetadata {
			// A build's step: hidden unless -a; kept by prune while an image sits on its
			// layer (a later step's, or an image that is no step on the same layer).
			s.BuildCache = true
			s.Built = below[img.TopLayer] || tops[img.TopLayer] > 0
			s.Intermediate = s.Dangling
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Usage is one row of `hutch system df`.
type Usage struct {
	Type        string `json:"Type"`
	Total       int    `json:"Total"`
	Active      int    `json:"Active"`
	Size        int64  `json:"Size"`
	Reclaimable int64  `json:"Reclaimable"`
}

// ImageUsage counts each layer once however many images share it; the reclaimable part
// is the layers no container's image needs. The intermediate images of builds are the
// build cache's (BuildCacheUsage), as in Docker.
func (c *Catalog) ImageUsage() Usage {
	u := Usage{Type: "Images"}
	activeImg := map[string]bool{}
	for _, ctr := range c.Containers {
		activeImg[ctr.ImageID] = true
	}
	needed, all := map[string]bool{}, map[string]bool{}
	for _, img := range c.Images {
		if img.Metadata == BuildCacheMetadata && !activeImg[img.ID] {
			continue
		}
		u.Total++
		if activeImg[img.ID] {
			u.Active++
		}
		for _, id := range c.chain(img.TopLayer) {
			all[id] = true
			if activeImg[img.ID] {
				needed[id] = true
			}
		}
	}
	for id := range all {
		u.Size += c.layerSize(id)
		if !needed[id] {
			u.Reclaimable += c.layerSize(id)
		}
	}
	return u
}

// BuildCacheUsage is the layer half of the build cache: the intermediate images of
// builds, and the layers only they hold. Active are those another image is built on
// (prune keeps them), whose layers are not reclaimable.
func (c *Catalog) BuildCacheUsage() Usage {
	u := Usage{Type: "Build Cache"}
	images := map[string]bool{}
	for _, ctr := range c.Containers {
		images[ctr.ImageID] = true
	}
	for _, img := range c.Images {
		if img.Metadata != BuildCacheMetadata || images[img.ID] {
			for _, id := range c.chain(img.TopLayer) {
				images["layer:"+id] = true
			}
		}
	}
	built := map[string]bool{}
	for _, s := range c.Summaries() {
		if s.BuildCache && s.Built {
			built[s.ID] = true
		}
	}
	counted, kept := map[string]bool{}, map[string]bool{}
	for _, img := range c.Images {
		if img.Metadata != BuildCacheMetadata || images[img.ID] {
			continue
		}
		u.Total++
		if built[img.ID] {
			u.Active++
		}
		for _, id := range c.chain(img.TopLayer) {
			if images["layer:"+id] {
				break // below: an image's own
			}
			if built[img.ID] {
				kept[id] = true
			}
			counted[id] = true
		}
	}
	for id := range counted {
		u.Size += c.layerSize(id)
		if !kept[id] {
			u.Reclaimable += c.layerSize(id)
		}
	}
	return u
}

// ContainerUsage sums the writable layers of the store's containers.
func (c *Catalog) ContainerUsage() Usage {
	u := Usage{Type: "Containers", Total: len(c.Containers)}
	for _, ctr := range c.Containers {
		u.Size += c.layerSize(ctr.LayerID)
	}
	return u
}
