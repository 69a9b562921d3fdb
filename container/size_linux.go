package container

import (
	cstorage "go.podman.io/storage"
)

// Size is what `ps -s` and `inspect -s` show of a container: the bytes its writable
// layer holds (Docker's SizeRw) and those of its whole root file system, its image's
// layers included (SizeRootFs, the "virtual" size). -1: unknown (the store has no such
// container).
type Size struct {
	RW, RootFS int64
}

// Sizes reads the sizes of the containers ids from the store: the writable layer is
// measured (overlay: its upper directory; vfs: compared with the image), the image's
// layers are as recorded.
func Sizes(store cstorage.Store, ids []string) map[string]Size {
	out := make(map[string]Size, len(ids))
	for _, id := range ids {
		sz := Size{RW: -1, RootFS: -1}
		ctr, err := store.Container(id)
		if err != nil {
			out[id] = sz
			continue
		}
		if n, err := store.DiffSize("", ctr.LayerID); err == nil {
			sz.RW = n
		}
		var image int64
		if l, err := store.Layer(ctr.LayerID); err == nil {
			for p := l.Parent; p != ""; {
				pl, err := store.Layer(p)
				if err != nil {
					break
				}
				image += pl.UncompressedSize
				p = pl.Parent
			}
		}
		if sz.RW >= 0 {
			sz.RootFS = image + sz.RW
		}
		out[id] = sz
	}
	return out
}
