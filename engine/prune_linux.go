package engine

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/images"
)

// PruneOptions choose what Prune removes. Filter (until=, label=, label!=) narrows every
// part: containers and volumes by their creation time and labels, images as `image
// prune`, the build cache by its entries' age (no entry has labels, so a label= filter
// keeps them all).
type PruneOptions struct {
	Containers bool // stopped containers (system prune)
	Images     bool // dangling images, or with All every image no container uses
	Volumes    bool // volumes no container uses (system prune --volumes)
	BuildCache bool // the build cache: unused entries, or with All all of it
	All        bool
	Filter     *images.Filter
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Containers, Images, Volumes []string
	Cache                       builder.PruneReport
	CacheImages                 []string // the build cache's intermediate images
	Freed                       int64    // bytes: layers and cache entries
}

// Prune is `system prune`, `image prune` and `builder prune`: each part as asked, in
// Docker's order (containers first, so that their images become unused).
func (s *Session) Prune(o PruneOptions) (*PruneReport, error) {
	r := &PruneReport{}
	m, err := s.Containers()
	if err != nil {
		return r, err
	}
	if o.Containers {
		sums, err := m.Records.Summaries()
		if err != nil {
			return r, err
		}
		for _, c := range sums {
			if c.State.Status == container.StatusRunning || !o.Filter.Match(images.Summary{Created: c.Config.Created}, c.Config.Labels) {
				continue
			}
			if err := m.Remove(c.Config, false); err != nil {
				return r, fmt.Errorf("removing container %s: %w", c.Config.Name, err)
			}
			r.Containers = append(r.Containers, c.Config.ID)
		}
	}
	st, unlock, err := s.LockedStore()
	if err != nil {
		return r, err
	}
	defer unlock()
	mounted, err := m.MountedImages()
	if err != nil {
		return r, err
	}
	if o.Images {
		removed, freed, err := images.Prune(st, images.PruneOptions{All: o.All, Filter: o.Filter, Mounted: mounted})
		r.Images, r.Freed = removed, r.Freed+freed
		if err != nil {
			return r, err
		}
	}
	if o.BuildCache {
		// The layer half: intermediate images no image is built on (with All, every
		// one no container uses), within the filter.
		removed, freed, err := images.Prune(st, images.PruneOptions{All: o.All, Filter: o.Filter, BuildCacheOnly: true, Mounted: mounted})
		r.CacheImages, r.Freed = removed, r.Freed+freed
		if err != nil {
			return r, err
		}
	}
	if o.Images || o.BuildCache || o.Containers {
		// What removals and loads cut short left: containers' half-removed records and
		// store entries, then the layers nothing uses any more.
		if _, err := m.RemoveLeftovers(); err != nil {
			return r, err
		}
		_, freed, err := images.PruneLayers(st)
		r.Freed += freed
		if err != nil {
			return r, err
		}
	}
	// The step cache: the entries of layers now gone (what image prune and system prune
	// always do, at the cost of what goes), and with builder or system prune, the rest
	// as asked.
	co := builder.PruneOptions{}
	if o.BuildCache && !o.Filter.NeedsLabels() {
		co = builder.PruneOptions{All: o.All && o.Filter.Until().IsZero(), Until: o.Filter.Until()}
	}
	cr, err := builder.PruneCache(st.Store, co)
	r.Cache, r.Freed = cr, r.Freed+cr.Freed
	if err != nil {
		return r, fmt.Errorf("pruning the build cache: %w", err)
	}
	if o.Volumes {
		users, err := m.VolumeUsers()
		if err != nil {
			return r, err
		}
		vs, err := m.Volumes.List()
		if err != nil {
			return r, err
		}
		for _, v := range vs {
			if len(users[v.Name]) > 0 || !o.Filter.Match(images.Summary{Created: v.CreatedAt}, v.Labels) {
				continue
			}
			if err := m.Volumes.Remove(v.Name, nil, false); err != nil {
				return r, err
			}
			r.Volumes = append(r.Volumes, v.Name)
		}
	}
	return r, nil
}

// DiskUsage is `hutch system df`: Docker's rows (Images, Containers, Local Volumes,
// Build Cache) and, for -v, the build cache's records.
type DiskUsage struct {
	Rows  []images.Usage
	Cache []CacheRecord
}

// CacheRecord is one record of the build cache in `system df -v`.
type CacheRecord struct {
	ID      string    `json:"ID"`
	Type    string    `json:"CacheType"` // "regular": a step's entry; "layer": an intermediate image
	Size    int64     `json:"Size"`
	Created time.Time `json:"CreatedAt"`
	InUse   bool      `json:"InUse"`
}

// DiskUsage reads what `system df` shows; the records only with verbose.
func (s *Session) DiskUsage(verbose bool) (*DiskUsage, error) {
	st, err := s.Store()
	if err != nil {
		return nil, err
	}
	cat, err := images.ReadCatalog(st)
	if err != nil {
		return nil, err
	}
	vols, err := s.volumeUsage()
	if err != nil {
		return nil, err
	}
	bc := cat.BuildCacheUsage()
	steps, err := builder.Usage(st.GraphRoot())
	if err != nil {
		return nil, err
	}
	bc.Total += steps.Entries
	bc.Size += steps.Size
	bc.Reclaimable += steps.Size
	du := &DiskUsage{Rows: []images.Usage{cat.ImageUsage(), cat.ContainerUsage(), vols, bc}}
	if verbose {
		for _, sum := range cat.Summaries() {
			if sum.BuildCache && sum.Containers == 0 {
				du.Cache = append(du.Cache, CacheRecord{ID: sum.ID, Type: "layer", Size: sum.Size, Created: sum.Created, InUse: sum.Built})
			}
		}
		recs, err := builder.Records(st.GraphRoot())
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			du.Cache = append(du.Cache, CacheRecord{ID: rec.Key, Type: "regular", Size: rec.Size, Created: rec.Created})
		}
		sort.SliceStable(du.Cache, func(i, j int) bool { return du.Cache[i].Created.After(du.Cache[j].Created) })
	}
	return du, nil
}

// volumeUsage is the Local Volumes row: the volumes, those containers use, and the bytes
// of their files (what can be read of them).
func (s *Session) volumeUsage() (images.Usage, error) {
	u := images.Usage{Type: "Local Volumes"}
	m, err := s.Containers()
	if err != nil {
		return u, err
	}
	vs, err := m.Volumes.List()
	if err != nil {
		return u, err
	}
	users, err := m.VolumeUsers()
	if err != nil {
		return u, err
	}
	for _, v := range vs {
		u.Total++
		size := dirSize(v.Mountpoint)
		u.Size += size
		if len(users[v.Name]) > 0 {
			u.Active++
		} else {
			u.Reclaimable += size
		}
	}
	return u, nil
}

// dirSize sums the sizes of the regular files under dir (not following links).
func dirSize(dir string) int64 {
	var n int64
	var walk func(string)
	walk = func(d string) {
		f, err := os.Open(d)
		if err != nil {
			return
		}
		entries, _ := f.Readdir(-1)
		f.Close()
		for _, e := range entries {
			switch {
			case e.Mode().IsRegular():
				n += e.Size()
			case e.IsDir():
				walk(d + "/" + e.Name())
			}
		}
	}
	if strings.TrimSpace(dir) != "" {
		walk(dir)
	}
	return n
}
