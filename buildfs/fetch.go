package buildfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// FetchTimeout bounds connecting and waiting for the response headers of an ADD <URL>;
// the body may take as long as ctx allows, but not stall for longer than this.
var FetchTimeout = 60 * time.Second

var fetchClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	},
}

// Fetch downloads rawURL (http or https) into dir for ADD <URL> and returns the file's
// path and the name Docker gives it: the file name of Content-Disposition when the
// server sends one, else the last element of the URL's path ("__unnamed__" when it has
// none). checksum ("sha256:<hex>", "" for none) is verified. The file's mtime comes from
// Last-Modified when the server sends it.
func Fetch(ctx context.Context, rawURL, checksum, dir string) (string, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: invalid URL: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("ADD %s: only http:// and https:// URLs can be downloaded", rawURL)
	}
	var want string
	if checksum != "" {
		algo, hexsum, ok := strings.Cut(checksum, ":")
		if !ok || algo != "sha256" || len(hexsum) != 64 {
			return "", "", fmt.Errorf("ADD %s: unsupported --checksum %q: use sha256:<64 hex digits>", rawURL, checksum)
		}
		if _, err := hex.DecodeString(hexsum); err != nil {
			return "", "", fmt.Errorf("ADD %s: invalid --checksum %q: %w", rawURL, checksum, err)
		}
		want = strings.ToLower(hexsum)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	resp, err := fetchClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: downloading failed: %w", rawURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", "", fmt.Errorf("ADD %s: the server answered %s", rawURL, resp.Status)
	}
	name := fileNameFor(resp)
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	// A body that stalls for FetchTimeout is given up.
	stall := time.AfterFunc(FetchTimeout, cancel)
	body := &stallReader{r: resp.Body, t: stall, d: FetchTimeout}
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		if ctx.Err() != nil && !stall.Stop() {
			return "", "", fmt.Errorf("ADD %s: the download stalled for %s", rawURL, FetchTimeout)
		}
		return "", "", fmt.Errorf("ADD %s: downloading failed: %w", rawURL, err)
	}
	stall.Stop()
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return "", "", fmt.Errorf("ADD %s: checksum mismatch: expected sha256:%s, got sha256:%s", rawURL, want, got)
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			if err := os.Chtimes(tmp.Name(), t, t); err != nil {
				return "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
			}
		}
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	tmp = nil
	return final, name, nil
}

// fileNameFor is the name Docker gives a download: Content-Disposition's filename, else
// the last element of the (final, after redirects) URL path.
func fileNameFor(resp *http.Response) string {
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			if n := safeName(params["filename"]); n != "" {
				return n
			}
		}
	}
	p := resp.Request.URL.Path
	if n := safeName(path.Base(p)); n != "" && !strings.HasSuffix(p, "/") {
		return n
	}
	return "__unnamed__"
}

// safeName keeps a name usable as one file name ("" when it cannot be).
func safeName(n string) string {
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	if n == "." || n == ".." || n == "/" || strings.ContainsRune(n, 0) {
		return ""
	}
	return n
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// stallReader pushes the stall timer back on every read that makes progress.
type stallReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.d)
	}
	return n, err
}
