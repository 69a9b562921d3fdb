// Package detachkeys reads Docker's --detach-keys sequences and watches a terminal's
// input for one: the escape proxy that lets a user leave a container running
// (`run -it`, `attach`, `exec -it`, `start -ai`).
package detachkeys

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Default is Docker's and Podman's sequence: ctrl-p, then ctrl-q.
const Default = "ctrl-p,ctrl-q"

// ErrDetach is what a Proxy's Read returns once the whole sequence was typed.
var ErrDetach = errors.New("detached")

// Parse reads a sequence in Docker's syntax: comma-separated keys, each a letter
// (a-z, A-Z) or ctrl-X with X one of a-z, @, [, \, ], ^, _. The empty string is no
// sequence (nil: detaching is off).
func Parse(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		b, ok := key(k)
		if !ok {
			return nil, fmt.Errorf("detach keys %q: %q is not a key: use letters (a-z) or ctrl-X with X one of a-z, @, [, \\, ], ^, _, separated by commas (e.g. %q), or \"\" to turn detaching off", s, k, Default)
		}
		keys = append(keys, b)
	}
	return keys, nil
}

// Choose is the sequence in force: the flag's when it was given (set), else the
// configuration's (config.toml's [engine] detach_keys, nil when unset), else Default.
func Choose(flag string, set bool, config *string) ([]byte, error) {
	switch {
	case set:
		keys, err := Parse(flag)
		if err != nil {
			return nil, fmt.Errorf("--detach-keys: %w", err)
		}
		return keys, nil
	case config != nil:
		return Parse(*config)
	}
	return Parse(Default)
}

func key(k string) (byte, bool) {
	if len(k) == 1 {
		c := k[0]
		return c, c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	rest, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
	if !ok || len(rest) != 1 {
		return 0, false
	}
	switch c := rest[0]; {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 1, true
	case c == '@':
		return 0, true
	case c == '[', c == '\\', c == ']', c == '^', c == '_':
		return c - '@', true
	}
	return 0, false
}

// Proxy passes input on, but for the detach sequence: the bytes that may begin it are
// held until the next one tells (a lone ctrl-p followed by another key passes both
// on); once the whole sequence is read, Read returns what came before it with
// ErrDetach, and the sequence itself goes nowhere.
type Proxy struct {
	r       io.Reader
	keys    []byte
	matched int    // keys[:matched] read and held
	out     []byte // passed on, not yet returned
	err     error  // to return once out is empty
	buf     []byte
}

// NewProxy watches r for keys (nil or empty: it passes everything on).
func NewProxy(r io.Reader, keys []byte) *Proxy {
	return &Proxy{r: r, keys: keys}
}

func (p *Proxy) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for len(p.out) == 0 && p.err == nil {
		if len(p.buf) < len(b) {
			p.buf = make([]byte, len(b))
		}
		n, err := p.r.Read(p.buf[:len(b)])
		for i := 0; i < n && p.err == nil; i++ {
			p.feed(p.buf[i])
		}
		if err != nil && p.err == nil {
			// The input ended: what was held was typed, and goes on.
			p.out = append(p.out, p.keys[:p.matched]...)
			p.matched = 0
			p.err = err
		}
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	if len(p.out) == 0 && p.err != nil {
		return n, p.err
	}
	return n, nil
}

// feed takes one byte of input.
func (p *Proxy) feed(c byte) {
	if p.err != nil {
		return // detached: the rest of the input goes nowhere
	}
	if len(p.keys) == 0 {
		p.out = append(p.out, c)
		return
	}
	if c == p.keys[p.matched] {
		p.matched++
		if p.matched == len(p.keys) {
			p.matched = 0
			p.err = ErrDetach
		}
		return
	}
	if p.matched == 0 {
		p.out = append(p.out, c)
		return
	}
	// A false start: its first byte goes on, and the rest, with c, is looked at again
	// (it may begin the sequence itself: ctrl-p ctrl-p ctrl-q detaches).
	again := append(append([]byte{}, p.keys[1:p.matched]...), c)
	p.out = append(p.out, p.keys[0])
	p.matched = 0
	for _, a := range again {
		p.feed(a)
	}
}
