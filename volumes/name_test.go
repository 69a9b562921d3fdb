package volumes

import (
	"regexp"
	"testing"
)

// TestValidName: the hand-written check accepts exactly what Docker's volume name
// pattern does.
func TestValidName(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	for _, n := range []string{"", "a", "data", "my_vol.1-x", "_x", ".x", "-x", "a/b", "..", "a b", "Ä", "x\n", "9", "a.", "ab_"} {
		if got, want := ValidName(n), re.MatchString(n); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", n, got, want)
		}
	}
}
