package security

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

var defaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// vm runs a compiled program on seccomp_data, as the kernel would.
type vm struct {
	t  *testing.T
	m  *bpf.VM
	ar uint32
}

func newVM(t *testing.T, p *Program, audit uint32) *vm {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(p.Insns))
	for i, in := range p.Insns {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the program does not disassemble")
	}
	m, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("the program is not valid BPF: %v", err)
	}
	return &vm{t: t, m: m, ar: audit}
}

// run evaluates syscall nr with args. x/net/bpf's VM loads words big-endian (it is
// made for packets), so each 32-bit word of seccomp_data is written that way at the
// offset the kernel would have it.
func (v *vm) run(nr uint32, args ...uint64) uint32 {
	v.t.Helper()
	in := make([]byte, 64)
	binary.BigEndian.PutUint32(in[0:], nr)
	binary.BigEndian.PutUint32(in[4:], v.ar)
	for i, a := range args {
		lo, hi := argOffsets(uint(i))
		binary.BigEndian.PutUint32(in[lo:], uint32(a))
		binary.BigEndian.PutUint32(in[hi:], uint32(a>>32))
	}
	r, err := v.m.Run(in)
	if err != nil {
		v.t.Fatal(err)
	}
	return uint32(r)
}

func nativeAudit(t *testing.T) (*archInfo, uint32) {
	a, ok := nativeArches[runtime.GOARCH]
	if !ok {
		t.Skip("no seccomp compiler for " + runtime.GOARCH)
	}
	return a[0], a[0].audit
}

func nr(t *testing.T, a *archInfo, name string) uint32 {
	t.Helper()
	n, ok := a.lookup(name)
	if !ok {
		t.Fatalf("%s: no syscall %s", a.name, name)
	}
	return n
}

const (
	eperm  = retErrno | uint32(unix.EPERM)
	enosys = retErrno | uint32(unix.ENOSYS)
)

// TestDefaultProfileDecisions runs for each architecture hutch compiles for (the
// profile is resolved for this machine's, which only changes arch-specific rules).
func TestDefaultProfileDecisions(t *testing.T) {
	for goarch, arches := range nativeArches {
		t.Run(goarch, func(t *testing.T) { defaultDecisions(t, arches) })
	}
}

func defaultDecisions(t *testing.T, arches [2]*archInfo) {
	a, audit := arches[0], arches[0].audit
	r, err := resolve(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	if arches != nativeArches[runtime.GOARCH] {
		// The compat architecture as the native profile names it.
		for i, x := range r.Architectures {
			if x == nativeArches[runtime.GOARCH][1].name {
				r.Architectures[i] = arches[1].name
			}
		}
	}
	p, err := compileFor(r, arches)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Insns) > 3000 {
		t.Errorf("%d instructions", len(p.Insns))
	}
	v := newVM(t, p, audit)
	for _, c := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", nil, retAllow},
		{"write", nil, retAllow},
		{"execve", nil, retAllow},
		{"uname", nil, retAllow},
		{"setresuid", nil, retAllow},
		{"capset", nil, retAllow},
		{"keyctl", nil, eperm},
		{"add_key", nil, eperm},
		{"request_key", nil, eperm},
		{"io_uring_setup", nil, eperm},
		{"perf_event_open", nil, eperm},
		{"bpf", nil, eperm},
		{"userfaultfd", nil, eperm},
		{"kexec_load", nil, eperm},
		{"open_by_handle_at", nil, eperm},
		{"mount", nil, eperm},
		{"unshare", nil, eperm},
		{"setns", nil, eperm},
		{"ptrace", nil, retAllow}, // allowed on kernels >= 4.8, as in Docker
		{"clone3", nil, enosys},   // so that libc falls back to clone
		{"personality", []uint64{0}, retAllow},
		{"personality", []uint64{0x0008}, retAllow},
		{"personality", []uint64{0xffffffff}, retAllow},
		{"personality", []uint64{0x0400000}, eperm}, // READ_IMPLIES_EXEC
		{"personality", []uint64{1<<32 | 0}, eperm}, // the high word counts
		{"clone", []uint64{uint64(unix.SIGCHLD)}, retAllow},
		{"clone", []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"clone", []uint64{unix.CLONE_NEWNS}, eperm},
		{"socket", []uint64{unix.AF_UNIX}, retAllow},
		{"socket", []uint64{unix.AF_INET}, retAllow},
		{"socket", []uint64{unix.AF_INET6}, retAllow},
		{"socket", []uint64{unix.AF_NETLINK}, retAllow},
		{"socket", []uint64{unix.AF_VSOCK}, eperm},
		{"socket", []uint64{unix.AF_ALG}, eperm},
		{"socket", []uint64{1<<32 | unix.AF_INET}, eperm},
	} {
		if got := v.run(nr(t, a, c.name), c.args...); got != c.want {
			t.Errorf("%s(%#x): %#x, want %#x", c.name, c.args, got, c.want)
		}
	}
	// A syscall newer than any the profile names: ENOSYS, so programs fall back.
	if got := v.run(1000); got != enosys {
		t.Errorf("syscall 1000: %#x, want ENOSYS", got)
	}
	if a.x32 {
		if got := v.run(0x40000000 | 1); got != enosys {
			t.Errorf("x32 write: %#x, want ENOSYS", got)
		}
	}
	// An architecture the profile does not name.
	other := newVM(t, p, unix.AUDIT_ARCH_S390X)
	if got := other.run(0); got != enosys {
		t.Errorf("another architecture: %#x, want ENOSYS", got)
	}
}

func TestDefaultProfileCompat(t *testing.T) {
	for goarch, arches := range nativeArches {
		t.Run(goarch, func(t *testing.T) { compatDecisions(t, arches) })
	}
}

func compatDecisions(t *testing.T, arches [2]*archInfo) {
	r, err := resolve(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	r.Architectures = append(r.Architectures, arches[1].name)
	p, err := compileFor(r, arches)
	if err != nil {
		t.Fatal(err)
	}
	compat := arches[1]
	v := newVM(t, p, compat.audit)
	if got := v.run(nr(t, compat, "read")); got != retAllow {
		t.Errorf("compat read: %#x", got)
	}
	if got := v.run(nr(t, compat, "keyctl")); got != eperm {
		t.Errorf("compat keyctl: %#x", got)
	}
}

func TestCapabilityRules(t *testing.T) {
	a, audit := nativeAudit(t)
	p, err := (&Cache{}).Program(Seccomp{Mode: SeccompBuiltin}, append(defaultCaps, "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, p, audit)
	for _, name := range []string{"mount", "unshare", "setns", "clone3"} {
		if got := v.run(nr(t, a, name)); got != retAllow {
			t.Errorf("with CAP_SYS_ADMIN %s: %#x, want allowed", name, got)
		}
	}
	if got := v.run(nr(t, a, "clone"), unix.CLONE_NEWUSER); got != retAllow {
		t.Errorf("with CAP_SYS_ADMIN clone(CLONE_NEWUSER): %#x", got)
	}
}

// TestOperators checks each comparison against values on both sides, in both words.
func TestOperators(t *testing.T) {
	a, audit := nativeAudit(t)
	const val = 0x1_0000_0010
	for _, c := range []struct {
		op   specs.LinuxSeccompOperator
		two  uint64
		hold func(x uint64) bool
	}{
		{specs.OpEqualTo, 0, func(x uint64) bool { return x == val }},
		{specs.OpNotEqual, 0, func(x uint64) bool { return x != val }},
		{specs.OpLessThan, 0, func(x uint64) bool { return x < val }},
		{specs.OpLessEqual, 0, func(x uint64) bool { return x <= val }},
		{specs.OpGreaterThan, 0, func(x uint64) bool { return x > val }},
		{specs.OpGreaterEqual, 0, func(x uint64) bool { return x >= val }},
		{specs.OpMaskedEqual, 0x10, func(x uint64) bool { return x&val == 0x10 }},
	} {
		prof := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: val, ValueTwo: c.two, Op: c.op}}}},
		}
		p, err := Compile(prof)
		if err != nil {
			t.Fatal(err)
		}
		v := newVM(t, p, audit)
		for _, x := range []uint64{0, 0x10, 0x11, 0xf, val - 1, val, val + 1, 0x1_0000_0000, 0x2_0000_0000, 0x0_ffff_ffff, 0x1_ffff_ffff, 0xffff_ffff_ffff_ffff} {
			want := uint32(retAllow)
			if c.hold(x) {
				want = eperm
			}
			if got := v.run(nr(t, a, "uname"), 0, 0, x); got != want {
				t.Errorf("%s %#x: arg %#x: %#x, want %#x", c.op, uint64(val), x, got, want)
			}
		}
	}
}

// TestSameArgumentTwice: two conditions on one argument are two rules (either
// matches), as runc makes them.
func TestSameArgumentTwice(t *testing.T) {
	a, audit := nativeAudit(t)
	e := uint(unix.EACCES)
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, ErrnoRet: &e,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, p, audit)
	for x, want := range map[uint64]uint32{0: retAllow, 1: retErrno | uint32(e), 2: retErrno | uint32(e), 3: retAllow} {
		if got := v.run(nr(t, a, "uname"), x); got != want {
			t.Errorf("uname(%d): %#x, want %#x", x, got, want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	for name, p := range map[string]*specs.LinuxSeccomp{
		"no action":      {DefaultAction: ""},
		"notify":         {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActNotify}}},
		"bad op":         {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_XX"}}}}},
		"arg 6":          {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		"unknown flag":   {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_X"}},
		"listener":       {DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"},
		"unknown action": {DefaultAction: "SCMP_ACT_MAYBE"},
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// TestARMPrivateSyscalls: the 32-bit ARM ABI's own syscalls (__ARM_NR_BASE + n: set_tls,
// cacheflush, breakpoint …), which Docker's profile allows on arm and arm64, are allowed
// in the compat architecture — glibc sets up thread-local storage with set_tls, so
// without it no 32-bit program starts — while a syscall newer than the profile still
// gets ENOSYS, on either side of them.
func TestARMPrivateSyscalls(t *testing.T) {
	prof := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchAARCH64, specs.ArchARM},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"breakpoint", "cacheflush", "set_tls"}, Action: specs.ActAllow},
		},
	}
	p, err := compileFor(prof, nativeArches["arm64"])
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, p, archARM.audit)
	for name, n := range map[string]uint32{"breakpoint": 0xf0001, "cacheflush": 0xf0002, "set_tls": 0xf0005} {
		if got := v.run(n); got != retAllow {
			t.Errorf("arm %s (%#x): %#x, want allowed", name, n, got)
		}
	}
	for _, n := range []uint32{nr(t, &archARM, "read"), nr(t, &archARM, "exit_group")} {
		if got := v.run(n); got != retAllow {
			t.Errorf("arm syscall %d: %#x, want allowed", n, got)
		}
	}
	if got := v.run(nr(t, &archARM, "ptrace")); got != eperm {
		t.Errorf("arm ptrace: %#x, want EPERM", got)
	}
	// Newer than every regular syscall the profile names, below the private ones; and
	// above them all.
	for _, n := range []uint32{1000, 0xeffff, 0xf0100} {
		if got := v.run(n); got != enosys {
			t.Errorf("arm syscall %#x: %#x, want ENOSYS", n, got)
		}
	}
	if got := v.run(0xf0003); got != eperm {
		t.Errorf("arm usr26 (not in the profile): %#x, want EPERM", got)
	}
	// arm64 has no such numbers.
	if got := newVM(t, p, archARM64.audit).run(0xf0005); got != enosys {
		t.Errorf("arm64 %#x: %#x, want ENOSYS", 0xf0005, got)
	}
}
