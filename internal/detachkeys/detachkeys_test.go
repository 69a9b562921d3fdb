package detachkeys

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string][]byte{
		"ctrl-p,ctrl-q":                       {0x10, 0x11},
		"ctrl-a,x":                            {0x01, 'x'},
		"CTRL-A,X":                            {0x01, 'X'},
		"ctrl-@":                              {0x00},
		"ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_": {0x1b, 0x1c, 0x1d, 0x1e, 0x1f},
		"a,b,c":                               {'a', 'b', 'c'},
		"":                                    nil,
	} {
		got, err := Parse(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"ctrl-", "ctrl-1", "ctrl-pq", "1", "ctrl-p,", ",", "ctrl-p, ctrl-q", "DEL", "é", "shift-a"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "detach keys") {
			t.Errorf("Parse(%q) = %v; want an error naming the detach keys", in, err)
		}
	}
}

// chunks is a reader that returns its chunks one Read at a time.
type chunks struct{ c []string }

func (r *chunks) Read(b []byte) (int, error) {
	if len(r.c) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.c[0])
	r.c[0] = r.c[0][n:]
	if r.c[0] == "" {
		r.c = r.c[1:]
	}
	return n, nil
}

// run reads the proxy to its end, in reads of size n: what it passed on, and whether
// it detached.
func run(t *testing.T, keys string, n int, in ...string) (string, bool) {
	t.Helper()
	k, err := Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProxy(&chunks{c: in}, k)
	var out bytes.Buffer
	buf := make([]byte, n)
	for {
		m, err := p.Read(buf)
		out.Write(buf[:m])
		if errors.Is(err, ErrDetach) {
			return out.String(), true
		}
		if errors.Is(err, io.EOF) {
			return out.String(), false
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestProxy(t *testing.T) {
	for _, tc := range []struct {
		name, keys string
		in         []string
		out        string
		detached   bool
	}{
		{"plain", Default, []string{"ls\r"}, "ls\r", false},
		{"detach", Default, []string{"ls\r\x10\x11"}, "ls\r", true},
		{"split across reads", Default, []string{"ab\x10", "\x11"}, "ab", true},
		{"after the sequence nothing", Default, []string{"a\x10\x11bc"}, "a", true},
		{"false start", Default, []string{"\x10x"}, "\x10x", false},
		{"false start split", Default, []string{"\x10", "x", "y"}, "\x10xy", false},
		{"false start then detach", Default, []string{"\x10\x10\x11"}, "\x10", true},
		{"held at the end goes on", Default, []string{"a\x10"}, "a\x10", false},
		{"custom", "ctrl-a,x", []string{"\x01y\x01", "x"}, "\x01y", true},
		{"overlapping", "a,a,b", []string{"aaab"}, "a", true},
		{"disabled", "", []string{"\x10\x11"}, "\x10\x11", false},
		{"one key", "ctrl-d", []string{"q\x04"}, "q", true},
	} {
		for _, n := range []int{1, 2, 1024} {
			out, det := run(t, tc.keys, n, append([]string{}, tc.in...)...)
			if out != tc.out || det != tc.detached {
				t.Errorf("%s (reads of %d): passed %q, detached %v; want %q, %v", tc.name, n, out, det, tc.out, tc.detached)
			}
		}
	}
}
