package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/inroot"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/storage"
)

// A container's image mounts (--mount type=image) are the store's: MountImage mounts
// the image's top layer read-only and counts the mount, as many times as containers
// mount it, and UnmountImage takes one count back (the last one unmounts). What a
// container holds is recorded in its directory (imageMountsFile: one image ID per
// count), written after each mount and read when the container ends, so that each
// count is given back once, by whoever ends it: its owner, `hutch rm`, or `hutch
// system check --repair` after a killed owner.
const imageMountsFile = "image-mounts"

// HasImageMounts says whether c mounts an image (--mount type=image).
func (c *Config) HasImageMounts() bool {
	for _, mt := range c.Mounts {
		if mt.Type == "image" {
			return true
		}
	}
	return false
}

// HeldImageMounts are the image IDs whose mounts container id holds now (one per count).
func (r *Records) HeldImageMounts(id string) []string {
	b, err := os.ReadFile(filepath.Join(r.dir(id), imageMountsFile))
	if err != nil {
		return nil
	}
	var ids []string
	_ = json.Unmarshal(b, &ids)
	return ids
}

func (r *Records) saveImageMounts(id string, ids []string) error {
	p := filepath.Join(r.dir(id), imageMountsFile)
	if len(ids) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(p, b, 0o600)
}

// lockImageMounts takes the lock of container id's image mount record.
func (r *Records) lockImageMounts(id string) (*lock.Lock, error) {
	return lock.Acquire(filepath.Join(r.dir(id), imageMountsFile+".lock"), nil)
}

// imageMount mounts the image of c's i-th mount and returns the mount the init makes:
// a read-only bind of the image's root (or of its subpath= inside it), or with rw=true
// an overlay whose upper layer is the container's own, emptied at every start.
func (m *Manager) imageMount(c *Config, i int, mt MountSpec) (nsinit.Mount, error) {
	what := fmt.Sprintf("--mount type=image,source=%s,target=%s", mt.Source, mt.Destination)
	root, err := storage.MountImage(m.Store, mt.ImageID)
	if err != nil {
		if errors.Is(err, cstorage.ErrImageUnknown) {
			return nsinit.Mount{}, fmt.Errorf("%s: image %s is no longer in the store (removed with `hutch rmi -f`): pull it again (`hutch pull %s`) and recreate the container", what, images.ShortID(mt.ImageID), mt.Source)
		}
		return nsinit.Mount{}, fmt.Errorf("%s: mounting the image: %w", what, err)
	}
	l, err := m.Records.lockImageMounts(c.ID)
	if err == nil {
		err = m.Records.saveImageMounts(c.ID, append(m.Records.HeldImageMounts(c.ID), mt.ImageID))
		l.Unlock()
	}
	if err != nil {
		_, _ = m.Store.UnmountImage(mt.ImageID, false)
		return nsinit.Mount{}, err
	}
	src, dir, err := resolveIn(root, mt.SubPath)
	if err != nil {
		return nsinit.Mount{}, fmt.Errorf("%s: subpath=%s: %w", what, mt.SubPath, err)
	}
	if mt.ReadOnly {
		return nsinit.Mount{Type: "bind", Source: src, Destination: mt.Destination, ReadOnly: true, File: !dir}, nil
	}
	if !dir {
		return nsinit.Mount{}, fmt.Errorf("%s,rw=true: subpath=%s is a file; a writable layer goes over a directory", what, mt.SubPath)
	}
	// rw=true: the writes go to a layer of the container's own, thrown away at the next
	// start (and with the container).
	layer := filepath.Join(m.Records.dir(c.ID), "image-overlay", strconv.Itoa(i))
	if err := os.RemoveAll(layer); err != nil {
		return nsinit.Mount{}, fmt.Errorf("%s,rw=true: clearing the last run's writes: %w", what, err)
	}
	upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nsinit.Mount{}, fmt.Errorf("%s,rw=true: %w", what, err)
		}
	}
	return nsinit.Mount{Type: "overlay", Source: src, Destination: mt.Destination,
		Options: []string{"lowerdir=" + overlayEscape(src), "upperdir=" + overlayEscape(upper),
			"workdir=" + overlayEscape(work), "userxattr"}}, nil
}

// resolveIn resolves rel inside the directory tree root as if root were "/" (a `..`
// stops at it, a symbolic link is followed inside it) and returns the host path it
// leads to, and whether that is a directory.
func resolveIn(root, rel string) (string, bool, error) {
	if rel == "" || inroot.Rel(rel) == "." {
		return root, true, nil
	}
	r, err := inroot.OpenRoot(root)
	if err != nil {
		return "", false, err
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err != nil {
		return "", false, unwrapPath(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", false, err
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFDIR && kind != unix.S_IFREG {
		return "", false, fmt.Errorf("%s is a %s: an image mount is of a directory or a file", r.Show(rel), inroot.Kind(st.Mode))
	}
	// Where the kernel resolved it (inside root), as a path the init can bind.
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return "", false, err
	}
	if p != root && !strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
		return "", false, fmt.Errorf("%s resolved outside the image (%s)", r.Show(rel), p)
	}
	return p, kind == unix.S_IFDIR, nil
}

// releaseImageMounts gives back the image mounts container id holds (HeldImageMounts),
// one count each; an image or layer gone meanwhile (`rmi -f`) has none to give back.
func (m *Manager) releaseImageMounts(id string) {
	if _, err := os.Lstat(filepath.Join(m.Records.dir(id), imageMountsFile)); err != nil {
		return // none held (the common case: no lock taken)
	}
	// The owner ending the container and `rm -f` may release at once: one gives back.
	l, err := m.Records.lockImageMounts(id)
	if err != nil {
		return
	}
	defer l.Unlock()
	held := m.Records.HeldImageMounts(id)
	for len(held) > 0 {
		img := held[len(held)-1]
		_, err := m.Store.UnmountImage(img, false)
		if err != nil && !errors.Is(err, cstorage.ErrImageUnknown) && !errors.Is(err, cstorage.ErrLayerUnknown) && !errors.Is(err, cstorage.ErrLayerNotMounted) {
			break // kept on record: `hutch system check` finds it
		}
		held = held[:len(held)-1]
		if m.Records.saveImageMounts(id, held) != nil {
			return
		}
	}
}

// ReleaseImageMounts is releaseImageMounts for `hutch system check --repair`: the image
// mounts of a container whose owner died.
func (m *Manager) ReleaseImageMounts(id string) { m.releaseImageMounts(id) }

// unmount undoes a start's mounts: the container's root (by force: whoever mounted it,
// cp or diff too, it is not mounted once its run is over) and its image mounts.
func (m *Manager) unmount(id string) {
	_, _ = m.Store.Unmount(id, true)
	m.releaseImageMounts(id)
}

// ImageMountUsers are the containers (IDs) that mount image imageID (--mount
// type=image), running or not: the image is in use by them as by containers made from it.
func (m *Manager) ImageMountUsers(imageID string) ([]string, error) {
	all, err := m.Records.List()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range all {
		for _, mt := range c.Mounts {
			if mt.Type == "image" && mt.ImageID == imageID {
				ids = append(ids, c.ID)
				break
			}
		}
	}
	return ids, nil
}

// MountedImages are the images containers mount (--mount type=image), running or not.
func (m *Manager) MountedImages() (map[string]bool, error) {
	all, err := m.Records.List()
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, c := range all {
		for _, mt := range c.Mounts {
			if mt.Type == "image" {
				ids[mt.ImageID] = true
			}
		}
	}
	return ids, nil
}
