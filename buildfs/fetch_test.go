package buildfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFetch(t *testing.T) {
	body := "archive bytes"
	sum := sha256.Sum256([]byte(body))
	good := "sha256:" + hex.EncodeToString(sum[:])
	lm := time.Date(2015, 6, 7, 8, 9, 10, 0, time.UTC)
	mux := http.NewServeMux()
	mux.HandleFunc("/files/app.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		_, _ = w.Write([]byte(body))
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="../../etc/real-name.txt"`)
		_, _ = w.Write([]byte(body))
	})
	mux.HandleFunc("/dir/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/files/app.tar.gz", http.StatusFound)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name     string
		path     string
		checksum string
		wantName string
		errHas   []string
	}{
		{"url name", "/files/app.tar.gz", "", "app.tar.gz", nil},
		{"query ignored", "/files/app.tar.gz?x=1", "", "app.tar.gz", nil},
		{"checksum ok", "/files/app.tar.gz", good, "app.tar.gz", nil},
		{"checksum upper case", "/files/app.tar.gz", strings.ToUpper(good[:7]) + strings.ToUpper(good[7:]), "", []string{"unsupported --checksum"}},
		{"checksum mismatch", "/files/app.tar.gz", "sha256:" + strings.Repeat("0", 64), "", []string{"/files/app.tar.gz", "expected sha256:" + strings.Repeat("0", 64), "got " + good}},
		{"bad checksum", "/files/app.tar.gz", "md5:abc", "", []string{"unsupported --checksum"}},
		{"content disposition, reduced to a base name", "/download", "", "real-name.txt", nil},
		{"no name", "/dir/", "", "__unnamed__", nil},
		{"redirect names the final file", "/redirect", "", "app.tar.gz", nil},
		{"404", "/missing", "", "", []string{"/missing", "404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			url := srv.URL + tt.path
			p, name, err := Fetch(context.Background(), url, tt.checksum, dir)
			if tt.errHas != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("%q lacks %q", err, s)
					}
				}
				if !strings.Contains(err.Error(), url) {
					t.Fatalf("%q does not name the URL", err)
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Fatalf("left %v behind", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.wantName || p != filepath.Join(dir, name) || readFile(t, p) != body {
				t.Fatalf("got %s %s", p, name)
			}
		})
	}
	t.Run("last-modified sets the mtime", func(t *testing.T) {
		p, _, err := Fetch(context.Background(), srv.URL+"/files/app.tar.gz", "", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		if !fi.ModTime().Equal(lm) {
			t.Fatalf("mtime %v", fi.ModTime())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600 as Docker gives downloads", fi.Mode())
		}
	})
	t.Run("stalled body", func(t *testing.T) {
		old := FetchTimeout
		FetchTimeout = 200 * time.Millisecond
		defer func() { FetchTimeout = old }()
		_, _, err := Fetch(context.Background(), srv.URL+"/stall", "", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, _, err := Fetch(ctx, srv.URL+"/stall", "", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "/stall") {
			t.Fatalf("got %v", err)
		}
	})
	for _, bad := range []string{"ftp://example.invalid/x", "file:///etc/passwd", "::nope"} {
		if _, _, err := Fetch(context.Background(), bad, "", t.TempDir()); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	t.Run("refused connection", func(t *testing.T) {
		s := httptest.NewServer(http.NotFoundHandler())
		u := s.URL
		s.Close()
		_, _, err := Fetch(context.Background(), u+"/x", "", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), u+"/x") {
			t.Fatalf("got %v", err)
		}
	})
}
