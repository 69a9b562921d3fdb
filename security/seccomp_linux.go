package security

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/fsutil"
)

// maxProfileSize bounds a profile file (Docker's default profile is about 20 KB).
const maxProfileSize = 4 << 20

// ReadProfile reads a profile in Docker's JSON format from path, checks that it parses
// and compiles, and returns it with its content and digest. Errors name the file.
func ReadProfile(path string) (*Seccomp, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seccomp profile %s: not a regular file", abs)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", abs, err)
	}
	if len(b) > maxProfileSize {
		return nil, fmt.Errorf("seccomp profile %s: larger than %d MiB", abs, maxProfileSize>>20)
	}
	sum := sha256.Sum256(b)
	s := &Seccomp{Mode: SeccompFile, Path: abs, Digest: "sha256:" + hex.EncodeToString(sum[:]), Content: string(b)}
	// Check it for a container with no capability and one with all: rules that only
	// apply with some capabilities are checked too.
	for _, caps := range [][]string{nil, allCapNames()} {
		p, err := resolve(*s, caps)
		if err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", abs, err)
		}
		if p == nil {
			return nil, fmt.Errorf("seccomp profile %s: it has no defaultAction and no syscalls (use seccomp=unconfined for no filter)", abs)
		}
		if _, err := Compile(p); err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", abs, err)
		}
	}
	return s, nil
}

// resolve applies a profile's conditions (capabilities, architecture, kernel) for a
// container with these capabilities, as moby/profiles does for Docker.
func resolve(s Seccomp, caps []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	switch s.Mode {
	case SeccompBuiltin, "":
		return seccomp.GetDefaultProfile(rs)
	case SeccompFile:
		var p seccomp.Seccomp
		if err := json.Unmarshal([]byte(s.Content), &p); err != nil {
			return nil, jsonError([]byte(s.Content), err)
		}
		return seccomp.LoadProfile(s.Content, rs)
	}
	return nil, fmt.Errorf("no profile to resolve for seccomp mode %q", s.Mode)
}

// jsonError says where in the file a JSON error is.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return fmt.Errorf("not a profile in Docker's JSON format: %w", err)
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Errorf("line %d, column %d: not a profile in Docker's JSON format: %w", line, col, err)
}

func allCapNames() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// Cache keeps compiled programs in Dir, one file per key: the profile's digest, the
// capabilities, the architecture, the kernel version (rules may depend on it) and the
// compiler's version. A damaged file is compiled again and replaced.
type Cache struct{ Dir string }

// cacheMagic starts every cached program; the header is magic, flags (4 bytes), the
// program's length (4) and its sha256 (32).
const cacheMagic = "HUTCHBPF"

const headerSize = len(cacheMagic) + 4 + 4 + sha256.Size

// Program returns the compiled filter for profile s and a container with caps (nil for
// unconfined).
func (c *Cache) Program(s Seccomp, caps []string) (*Program, error) {
	if s.Mode == SeccompUnconfined {
		return nil, nil
	}
	if !Supported() && s.Mode != SeccompFile {
		// No compiler for this architecture: the default runs unconfined, and `info`
		// warns; a profile asked for by name is an error (Compile says why).
		return nil, nil
	}
	key, err := cacheKey(s, caps)
	if err != nil {
		return nil, err
	}
	file := ""
	if c != nil && c.Dir != "" {
		file = filepath.Join(c.Dir, key+".bpf")
		if b, err := os.ReadFile(file); err == nil {
			if p, err := decodeCached(b); err == nil {
				return p, nil
			}
		}
	}
	resolved, err := resolve(s, caps)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", s.Describe(), err)
	}
	if resolved == nil {
		return nil, nil
	}
	p, err := Compile(resolved)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", s.Describe(), err)
	}
	if file != "" {
		// A cache that cannot be written only costs the next start a compile.
		if err := os.MkdirAll(c.Dir, 0o700); err == nil {
			_ = fsutil.WriteFileAtomic(file, encodeCached(p), 0o600)
		}
	}
	return p, nil
}

func encodeCached(p *Program) []byte {
	prog := p.Bytes()
	sum := sha256.Sum256(prog)
	b := make([]byte, 0, headerSize+len(prog))
	b = append(b, cacheMagic...)
	b = binary.LittleEndian.AppendUint32(b, p.Flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(prog)))
	b = append(b, sum[:]...)
	return append(b, prog...)
}

func decodeCached(b []byte) (*Program, error) {
	if len(b) < headerSize || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, errors.New("not a cached program")
	}
	h := b[len(cacheMagic):]
	flags := binary.LittleEndian.Uint32(h)
	n := binary.LittleEndian.Uint32(h[4:])
	prog := b[headerSize:]
	if uint32(len(prog)) != n {
		return nil, errors.New("cached program truncated")
	}
	if sum := sha256.Sum256(prog); !bytes.Equal(sum[:], h[8:8+sha256.Size]) {
		return nil, errors.New("cached program damaged")
	}
	return programFromBytes(prog, flags)
}

// cacheKey names a program: everything its instructions depend on.
func cacheKey(s Seccomp, caps []string) (string, error) {
	src := s.Digest
	if s.Mode != SeccompFile {
		src = builtinSource()
	}
	caps = slices.Clone(caps)
	slices.Sort(caps)
	h := sha256.New()
	for _, part := range []string{compilerVersion, runtime.GOARCH, kernelVersion(), src, strings.Join(caps, ",")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// builtinSource identifies Docker's default profile as compiled into hutch: the
// module's version and its go.sum hash (a digest of its source), read from the build
// information; the digest of the profile itself when that is missing.
var builtinSource = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/moby/profiles/seccomp" && d.Sum != "" && d.Replace == nil {
				return d.Path + "@" + d.Version + " " + d.Sum
			}
		}
	}
	return BuiltinDigest()
})

// BuiltinDigest is the sha256 of Docker's default profile as hutch has it, in its JSON form.
func BuiltinDigest() string {
	b, err := json.Marshal(seccomp.DefaultProfile())
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// BuiltinVersion is the moby/profiles module hutch was built with ("" when unknown).
func BuiltinVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/moby/profiles/seccomp" {
				return d.Path + "@" + d.Version
			}
		}
	}
	return ""
}

// kernelVersion is "MAJOR.MINOR" of the running kernel: profiles' minKernel rules
// compare with it.
func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	r := unix.ByteSliceToString(u.Release[:])
	var maj, min int
	if _, err := fmt.Sscanf(r, "%d.%d", &maj, &min); err != nil {
		return r
	}
	return fmt.Sprintf("%d.%d", maj, min)
}

// KernelSupport says whether this kernel filters syscalls with seccomp (and why not).
func KernelSupport() (bool, string) {
	if !Supported() {
		return false, "hutch compiles seccomp filters for amd64 and arm64 only, not " + runtime.GOARCH
	}
	// PR_GET_SECCOMP answers EINVAL on a kernel without CONFIG_SECCOMP.
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return false, "the kernel has no seccomp support (CONFIG_SECCOMP): " + err.Error()
	}
	return true, ""
}
