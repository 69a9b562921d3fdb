package inroot

import (
	"path"
	"path/filepath"
	"strings"
)

// Rel cleans a slash path relative to a root: "" and "/" become ".", `..` stops at the
// root, a leading "/" or "./" is dropped. Every path a Root takes goes through it.
func Rel(p string) string {
	p = path.Clean("/" + filepath.ToSlash(p))
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "."
	}
	return p
}
