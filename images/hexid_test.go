package images

import (
	"regexp"
	"strings"
	"testing"
)

// TestIsHexID: the hand-written check accepts exactly `^[a-f0-9]{3,64}$`.
func TestIsHexID(t *testing.T) {
	re := regexp.MustCompile(`^[a-f0-9]{3,64}$`)
	for _, s := range []string{"", "ab", "abc", "ABC", "0123456789abcdef", strings.Repeat("a", 64), strings.Repeat("a", 65), "abg", "sha256:abc", "12 3"} {
		if got, want := isHexID(s), re.MatchString(s); got != want {
			t.Errorf("isHexID(%q) = %v, want %v", s, got, want)
		}
	}
}
