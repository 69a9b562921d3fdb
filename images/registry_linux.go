package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"
	dockerconfig "go.podman.io/image/v5/pkg/docker/config"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/fsutil"
)

// Registries is what config.toml says about registries.
type Registries struct {
	Search  []string          // registries tried, in order, for a short name (default docker.io)
	Aliases map[string]string // short name → full name
}

// DefaultSearch is where short names go, as Docker users expect.
var DefaultSearch = []string{"docker.io"}

// Candidates turns what the user typed into the full names to try, in order: the name
// itself when it names a registry, an alias, or the name in each search registry
// ("alpine" → docker.io/library/alpine:latest).
func (r Registries) Candidates(ref string) ([]reference.Named, error) {
	if strings.ContainsAny(ref, " \t") || ref == "" {
		return nil, fmt.Errorf("invalid image reference %q", ref)
	}
	if hasDomain(ref) {
		n, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
		return []reference.Named{reference.TagNameOnly(n)}, nil
	}
	base, tagOrDigest := ref, ""
	if i := strings.IndexAny(ref, "@:"); i >= 0 {
		base, tagOrDigest = ref[:i], ref[i:]
	}
	if full, ok := r.Aliases[base]; ok {
		n, err := reference.ParseNormalizedNamed(full + tagOrDigest)
		if err != nil {
			return nil, fmt.Errorf("alias %s = %q in config.toml: %w", base, full, err)
		}
		return []reference.Named{reference.TagNameOnly(n)}, nil
	}
	search := r.Search
	if len(search) == 0 {
		search = DefaultSearch
	}
	var out []reference.Named
	for _, reg := range search {
		n, err := reference.ParseNormalizedNamed(reg + "/" + ref)
		if err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
		// docker.io/alpine is docker.io/library/alpine.
		if reg == "docker.io" {
			if n, err = reference.ParseNormalizedNamed(ref); err != nil {
				return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
			}
		}
		out = append(out, reference.TagNameOnly(n))
	}
	return out, nil
}

// PullOptions are `hutch pull`'s.
type PullOptions struct {
	Registries Registries
	AllTags    bool
	Progress   io.Writer // nil: quiet
	Retries    int
}

// Pulled is one image a pull stored.
type Pulled struct {
	Name string
	ID   string
}

// withCredentials points sys at the credentials for ref: hutch's auth.json first, then
// ~/.docker/config.json, as Docker users expect their `docker login` to count.
func withCredentials(sys *types.SystemContext, ref reference.Named) *types.SystemContext {
	c := *sys
	if auth, err := dockerconfig.GetCredentialsForRef(&c, ref); err == nil && (auth.Username != "" || auth.IdentityToken != "") {
		c.DockerAuthConfig = &auth
		return &c
	}
	if home, err := os.UserHomeDir(); err == nil {
		d := c
		d.AuthFilePath = filepath.Join(home, ".docker", "config.json")
		// Docker's file is only a fallback: one that is not a sane file is passed over.
		if fsutil.RegistryFile.Check(d.AuthFilePath) != nil {
			return &c
		}
		if auth, err := dockerconfig.GetCredentialsForRef(&d, ref); err == nil && (auth.Username != "" || auth.IdentityToken != "") {
			c.DockerAuthConfig = &auth
		}
	}
	return &c
}

// CheckRegistryFiles refuses the registry configuration files go.podman.io/image would
// read whole (auth.json, certs.d/*/*.{crt,cert,key}, registries.conf.d/*.conf,
// registries.d/*.{yaml,yml}) when one is not a regular file or is over
// fsutil.RegistryFile's limit: a symlink to /dev/zero there must not be read until
// memory runs out.
func CheckRegistryFiles(sys *types.SystemContext) error {
	if sys == nil {
		return nil
	}
	files := []string{sys.AuthFilePath}
	for _, pattern := range []string{
		filepath.Join(sys.DockerPerHostCertDirPath, "*", "*.crt"),
		filepath.Join(sys.DockerPerHostCertDirPath, "*", "*.cert"),
		filepath.Join(sys.DockerPerHostCertDirPath, "*", "*.key"),
		filepath.Join(sys.SystemRegistriesConfDirPath, "*.conf"),
		filepath.Join(sys.RegistriesDirPath, "*.yaml"),
		filepath.Join(sys.RegistriesDirPath, "*.yml"),
	} {
		if m, err := filepath.Glob(pattern); err == nil && filepath.IsAbs(pattern) {
			files = append(files, m...)
		}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := fsutil.RegistryFile.Check(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Pull copies an image (or every tag of a repository) from a registry into the store.
func (s *Service) Pull(ctx context.Context, ref string, o PullOptions) ([]Pulled, error) {
	if err := CheckRegistryFiles(s.Sys); err != nil {
		return nil, err
	}
	cands, err := o.Registries.Candidates(ref)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, named := range cands {
		if o.AllTags {
			return s.pullAllTags(ctx, named, o)
		}
		p, err := s.pullOne(ctx, named, o)
		if err == nil {
			return []Pulled{p}, nil
		}
		errs = append(errs, err.Error())
	}
	if len(errs) == 1 {
		return nil, errors.New(errs[0])
	}
	return nil, fmt.Errorf("pulling %s: %s", ref, strings.Join(errs, "; "))
}

func (s *Service) pullAllTags(ctx context.Context, named reference.Named, o PullOptions) ([]Pulled, error) {
	repo := reference.TrimNamed(named)
	src, err := docker.NewReference(reference.TagNameOnly(repo))
	if err != nil {
		return nil, err
	}
	tags, err := docker.GetRepositoryTags(ctx, withCredentials(s.Sys, repo), src)
	if err != nil {
		return nil, registryError(reference.Domain(repo), err)
	}
	var out []Pulled
	for _, t := range tags {
		tagged, err := reference.WithTag(repo, t)
		if err != nil {
			return out, err
		}
		p, err := s.pullOne(ctx, tagged, o)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Service) pullOne(ctx context.Context, named reference.Named, o PullOptions) (Pulled, error) {
	src, err := docker.NewReference(named)
	if err != nil {
		return Pulled{}, err
	}
	dst, err := istorage.Transport.NewStoreReference(s.Store, named, "")
	if err != nil {
		return Pulled{}, err
	}
	sys := withCredentials(s.Sys, named)
	m, err := s.copyWithRetry(ctx, dst, src, sys, o.Progress, o.Retries)
	if err != nil {
		return Pulled{}, registryError(reference.Domain(named), err)
	}
	id := ""
	if parsed, err := manifest.FromBlob(m, manifest.GuessMIMEType(m)); err == nil {
		id = parsed.ConfigInfo().Digest.Encoded()
	}
	if _, img, err := istorage.ResolveReference(dst); err == nil {
		id = img.ID
	}
	events.Image(events.Pull, named.String(), named.String()) // Docker's: the reference, not the ID
	return Pulled{Name: named.String(), ID: id}, nil
}

// RemoteDiffers tells whether the registry's manifest for ref differs from the stored
// image img: Podman's test for --pull newer (digests, not times, are compared). A
// registry that cannot be asked gives false with the reason; a digest reference never
// differs.
func (s *Service) RemoteDiffers(ctx context.Context, ref string, img *cstorage.Image, r Registries) (bool, error) {
	if strings.Contains(ref, "@") {
		return false, nil
	}
	cands, err := r.Candidates(ref)
	if err != nil {
		return false, err
	}
	var last error
	for _, named := range cands {
		src, err := docker.NewReference(named)
		if err != nil {
			last = err
			continue
		}
		d, err := docker.GetDigest(ctx, withCredentials(s.Sys, named), src)
		if err != nil {
			last = registryError(reference.Domain(named), err)
			continue
		}
		if d == img.Digest {
			return false, nil
		}
		for _, have := range img.Digests {
			if have == d {
				return false, nil
			}
		}
		return true, nil
	}
	return false, last
}

// copyWithRetry copies, trying again with backoff when the failure looks like the
// network's (blobs already stored are not fetched again).
func (s *Service) copyWithRetry(ctx context.Context, dst, src types.ImageReference, sys *types.SystemContext, progress io.Writer, retries int) ([]byte, error) {
	if err := s.ensureTmpDir(); err != nil {
		return nil, err
	}
	pc, err := policy()
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Destroy() }()
	opts := &copy.Options{SourceCtx: sys, DestinationCtx: sys, ReportWriter: progress}
	delay := time.Second
	for attempt := 0; ; attempt++ {
		// What the layers unpack is bounded by the store's free space (layerGuard),
		// measured afresh for each attempt.
		g, err := s.newGuard()
		if err != nil {
			return nil, err
		}
		m, err := copy.Image(ctx, pc, dst, g.ref(src), opts)
		if err != nil && g.refused() {
			return nil, g.explain(err)
		}
		if err == nil || attempt >= retries || !transient(err) {
			return m, g.explain(err)
		}
		if progress != nil {
			fmt.Fprintf(progress, "Retrying in %s after: %s\n", delay, oneLine(err))
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// transient tells network trouble (worth a retry) from answers (not worth one): a
// registry that speaks HTTP, refuses credentials or lacks the image answered.
func transient(err error) bool {
	msg := err.Error()
	for _, s := range []string{"HTTP response to HTTPS client", "x509:", "certificate", "no such host"} {
		if strings.Contains(msg, s) {
			return false // an answer, however it reached us
		}
	}
	// A connection that failed or broke mid-request, however Go words it (refused,
	// reset, broken pipe, use of closed network connection, EOF …).
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if strings.HasSuffix(msg, ": EOF") {
		return true
	}
	for _, s := range []string{"connection reset", "broken pipe", "use of closed network connection", "connection refused", "unexpected EOF", "i/o timeout", "TLS handshake timeout", "502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// noSuchTag is how registryError words a registry's answer that it has no such image.
const noSuchTag = " has no such image or tag ("

// IsNotInRegistry says err is a pull's failure because the registry has no such image
// or tag (an answer, not trouble reaching it): a build's --cache-from miss.
func IsNotInRegistry(err error) bool {
	return err != nil && strings.Contains(err.Error(), noSuchTag)
}

// registryError turns go.podman.io/image's answer into one line that says what to do.
func registryError(registry string, err error) error {
	msg := oneLine(err).Error()
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s speaks plain HTTP, not HTTPS: use --tls-verify=false, or list it in config.toml under [registries] insecure = [\"%s\"]", registry, registry)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return fmt.Errorf("%s: TLS certificate not trusted (%s): put its CA certificate in ~/.config/hutch/certs.d/%s/ca.crt, or use --tls-verify=false", registry, msg, registry)
	case strings.Contains(msg, "unauthorized") || strings.Contains(msg, "authentication required") || strings.Contains(msg, "invalid username/password"):
		return fmt.Errorf("%s refused the credentials (%s): log in with `hutch login %s`", registry, msg, registry)
	case strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "name unknown") || strings.Contains(msg, "repository name not known"):
		return fmt.Errorf("%s"+noSuchTag+"%s): check the name, and `hutch login %s` if it is private", registry, msg, registry)
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") || strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf("cannot reach registry %s: %s", registry, msg)
	case strings.Contains(msg, "is blocked in"):
		// go.podman.io/image names the registries.conf hutch generates; the user's file
		// is config.toml.
		return fmt.Errorf("registry %s is blocked by config.toml [registries] blocked: remove it from that list to use it", registry)
	}
	return fmt.Errorf("registry %s: %s", registry, msg)
}

// PushOptions are `hutch push`'s.
type PushOptions struct {
	Format      string // "oci", "v2s2" or "" (keep)
	Compression string // "gzip", "zstd" or ""
	Progress    io.Writer
	Retries     int
}

// Push copies a local image to a registry and returns the manifest digest pushed.
func (s *Service) Push(ctx context.Context, image, dest string, o PushOptions) (reference.Named, digest.Digest, error) {
	if err := CheckRegistryFiles(s.Sys); err != nil {
		return nil, "", err
	}
	img, err := Resolve(s.Store, image)
	if err != nil {
		return nil, "", err
	}
	if dest == "" {
		// The name the user typed (localhost/demo:1 for demo:1), not the first name that
		// merely ends like it: the same image may also be 127.0.0.1:5000/me/demo:1.
		dest = image
		if len(img.Names) > 0 {
			dest = matchingName(img, image)
		}
	}
	named, err := reference.ParseNormalizedNamed(dest)
	if err != nil {
		return nil, "", fmt.Errorf("invalid destination %q: %w", dest, err)
	}
	if reference.Domain(named) == LocalDomain {
		return nil, "", fmt.Errorf("%s is a local name: give the registry to push to, e.g. `hutch push %s 127.0.0.1:5000/%s`", dest, image, reference.Path(named))
	}
	named = reference.TagNameOnly(named)
	dst, err := docker.NewReference(named)
	if err != nil {
		return nil, "", err
	}
	src, err := istorage.Transport.NewStoreReference(s.Store, nil, img.ID)
	if err != nil {
		return nil, "", err
	}
	sys := withCredentials(s.Sys, named)
	if err := s.ensureTmpDir(); err != nil {
		return nil, "", err
	}
	pc, err := policy()
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = pc.Destroy() }()
	opts := &copy.Options{SourceCtx: sys, DestinationCtx: sys, ReportWriter: o.Progress}
	switch o.Format {
	case "":
	case "oci":
		opts.ForceManifestMIMEType = "application/vnd.oci.image.manifest.v1+json"
	case "v2s2", "docker":
		opts.ForceManifestMIMEType = manifest.DockerV2Schema2MediaType
	default:
		return nil, "", fmt.Errorf("--format %q: use oci or v2s2", o.Format)
	}
	// An explicit choice is forced: without ForceCompressionFormat, go.podman.io/image
	// reuses a blob of the other compression that the registry already holds (the
	// blob-info cache remembers every earlier push), and zstd silently comes out gzip.
	switch o.Compression {
	case "":
	case "gzip", "zstd":
		alg := compression.Gzip
		if o.Compression == "zstd" {
			if o.Format == "v2s2" || o.Format == "docker" {
				return nil, "", errors.New("zstd layers need --format oci")
			}
			alg = compression.Zstd
		}
		sysc := *sys
		sysc.CompressionFormat = &alg
		opts.DestinationCtx = &sysc
		opts.ForceCompressionFormat = true
	default:
		return nil, "", fmt.Errorf("--compression-format %q: use gzip or zstd", o.Compression)
	}
	var m []byte
	delay := time.Second
	for attempt := 0; ; attempt++ {
		m, err = copy.Image(ctx, pc, dst, src, opts)
		if err == nil || attempt >= o.Retries || !transient(err) {
			break
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "Retrying in %s after: %s\n", delay, oneLine(err))
		}
		time.Sleep(delay)
		delay *= 2
	}
	if err != nil {
		return nil, "", registryError(reference.Domain(named), err)
	}
	d, err := manifest.Digest(m)
	if err != nil {
		return nil, "", err
	}
	events.Image(events.Push, named.String(), named.String())
	return named, d, nil
}

// Login checks the credentials against the registry and stores them in auth.json.
func Login(ctx context.Context, sys *types.SystemContext, registry, user, password string) error {
	if registry == "" {
		return errors.New("login: name the registry, e.g. `hutch login 127.0.0.1:5000`")
	}
	if err := CheckRegistryFiles(sys); err != nil {
		return err
	}
	if strings.Contains(registry, "/") && !strings.Contains(strings.SplitN(registry, "/", 2)[0], ".") && !strings.Contains(strings.SplitN(registry, "/", 2)[0], ":") {
		return fmt.Errorf("login: %q is not a registry host", registry)
	}
	if err := docker.CheckAuth(ctx, sys, user, password, registry); err != nil {
		if msg := oneLine(err).Error(); strings.Contains(msg, "unauthorized") || strings.Contains(msg, "invalid username/password") {
			return fmt.Errorf("%s refused user %s: wrong user name or password (%s)", registry, user, msg)
		}
		return registryError(registry, err)
	}
	if err := os.MkdirAll(filepath.Dir(sys.AuthFilePath), 0o700); err != nil {
		return err
	}
	if _, err := dockerconfig.SetCredentials(sys, registry, user, password); err != nil {
		return fmt.Errorf("saving credentials in %s: %w", sys.AuthFilePath, err)
	}
	return os.Chmod(sys.AuthFilePath, 0o600)
}

// Logout removes stored credentials for one registry, or all with registry "".
func Logout(sys *types.SystemContext, registry string) error {
	if err := CheckRegistryFiles(sys); err != nil {
		return err
	}
	if registry == "" {
		return dockerconfig.RemoveAllAuthentication(sys)
	}
	err := dockerconfig.RemoveAuthentication(sys, registry)
	if errors.Is(err, dockerconfig.ErrNotLoggedIn) {
		return fmt.Errorf("not logged in to %s", registry)
	}
	return err
}
