package security

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// compilerVersion changes whenever the compiler's output for the same profile changes:
// it is part of every cache key.
const compilerVersion = "hutch-seccomp-2"

// sysEntry is one syscall of an architecture's table (zsyscalls.go).
type sysEntry struct {
	name string
	nr   uint32
}

// archInfo is what the compiler needs of one architecture.
type archInfo struct {
	name  specs.Arch
	audit uint32 // AUDIT_ARCH_*: what seccomp_data.arch holds
	table []sysEntry
	// x32 says that syscall numbers with bit 30 set are the x32 ABI (same audit arch).
	x32 bool
	// private, when not 0, is where the architecture's own syscalls start (ARM's
	// __ARM_NR_BASE), far above the regular ones; privTable names them (sorted by name:
	// x/sys/unix, which zsyscalls is made from, does not list them).
	private   uint32
	privTable []sysEntry
}

var (
	archAMD64 = archInfo{name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, table: sysAMD64[:], x32: true}
	arch386   = archInfo{name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, table: sys386[:]}
	archARM64 = archInfo{name: specs.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64, table: sysARM64[:]}
	archARM   = archInfo{name: specs.ArchARM, audit: unix.AUDIT_ARCH_ARM, table: sysARM[:],
		private: armNRBase, privTable: sysARMPrivate}
)

// armNRBase is __ARM_NR_BASE (arch/arm/include/uapi/asm/unistd.h): the 32-bit ARM ABI's
// own syscalls are numbered from it. Docker's profile allows breakpoint, cacheflush and
// set_tls there; glibc sets up thread-local storage with set_tls, so no 32-bit program
// starts without it.
const armNRBase = 0x0f0000

var sysARMPrivate = []sysEntry{
	{"breakpoint", armNRBase + 1},
	{"cacheflush", armNRBase + 2},
	{"get_tls", armNRBase + 6},
	{"set_tls", armNRBase + 5},
	{"usr26", armNRBase + 3},
	{"usr32", armNRBase + 4},
}

// nativeArches is, per GOARCH, the native architecture and the compat one its kernel
// may run (32-bit binaries), when the profile lists it.
var nativeArches = map[string][2]*archInfo{
	"amd64": {&archAMD64, &arch386},
	"arm64": {&archARM64, &archARM},
}

// Supported reports whether hutch can compile seccomp filters for this architecture.
func Supported() bool { _, ok := nativeArches[runtime.GOARCH]; return ok }

func (a *archInfo) lookup(name string) (uint32, bool) {
	for _, t := range [][]sysEntry{a.table, a.privTable} {
		i := sort.Search(len(t), func(i int) bool { return t[i].name >= name })
		if i < len(t) && t[i].name == name {
			return t[i].nr, true
		}
	}
	return 0, false
}

// Seccomp return values (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

// Filter flags (linux/seccomp.h).
const (
	flagTSync     = 1 << 0
	flagLog       = 1 << 1
	flagSpecAllow = 1 << 2
)

// Program is a compiled seccomp filter: the BPF instructions (struct sock_filter, in
// the machine's byte order) and the flags for seccomp(SECCOMP_SET_MODE_FILTER).
type Program struct {
	Insns []unix.SockFilter
	Flags uint32
}

// Bytes is the program as the kernel reads it (8 bytes an instruction).
func (p *Program) Bytes() []byte {
	b := make([]byte, 0, 8*len(p.Insns))
	for _, in := range p.Insns {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// programFromBytes reads what Bytes wrote.
func programFromBytes(b []byte, flags uint32) (*Program, error) {
	if len(b) == 0 || len(b)%8 != 0 || len(b)/8 > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("%d bytes are not a BPF program", len(b))
	}
	p := &Program{Flags: flags, Insns: make([]unix.SockFilter, len(b)/8)}
	for i := range p.Insns {
		o := b[8*i:]
		p.Insns[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(o), Jt: o[2], Jf: o[3], K: binary.NativeEndian.Uint32(o[4:])}
	}
	return p, nil
}

// rule is one condition set of a syscall and what happens when it holds.
type rule struct {
	args   []specs.LinuxSeccompArg // all must hold; none: always
	action uint32
}

// syscallRules is everything a profile says about one syscall number.
type syscallRules struct {
	nr          uint32
	conditional []rule  // tried in the profile's order
	fallback    *uint32 // an unconditional rule's action, else the default
}

// action maps an OCI action to the seccomp return value; ERRNO and TRACE without
// errnoRet return EPERM, as runc does.
func action(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errno != nil {
		if *errno > 0xffff {
			return 0, fmt.Errorf("errnoRet %d is out of range", *errno)
		}
		data = uint32(*errno)
	}
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY needs a seccomp agent, which hutch does not run")
	case "":
		return 0, errors.New("a rule has no action")
	}
	return 0, fmt.Errorf("unknown action %q (use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)", a)
}

// Compile turns a resolved profile (conditions on capabilities, kernel and
// architecture already applied, as moby/profiles does) into a BPF program for this
// machine's architecture, and its compat architecture when the profile lists it.
//
// The semantics are libseccomp's as runc uses it: for each syscall, rules with
// argument conditions are tried in order (conditions of one rule must all hold; several
// conditions on the same argument make one rule each, as runc does), then an
// unconditional rule, then the default action. Names the architecture does not have
// are skipped. A syscall numbered above every syscall the profile names gets ENOSYS
// rather than the default (as runc does), so that a program falls back from a syscall
// newer than the profile. The x32 ABI and architectures the profile does not list get
// ENOSYS.
func Compile(p *specs.LinuxSeccomp) (*Program, error) {
	if p == nil {
		return nil, errors.New("no profile")
	}
	arches, ok := nativeArches[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("hutch compiles seccomp filters for amd64 and arm64, not %s", runtime.GOARCH)
	}
	return compileFor(p, arches)
}

// compileFor compiles for a native architecture and its compat one (the tests compile
// for every architecture hutch supports, whatever the machine).
func compileFor(p *specs.LinuxSeccomp, arches [2]*archInfo) (*Program, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	if p.ListenerPath != "" {
		return nil, errors.New("listenerPath: hutch runs no seccomp agent")
	}
	flags := uint32(flagTSync)
	for _, f := range p.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= flagLog
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= flagSpecAllow
		case specs.LinuxSeccompFlagWaitKillableRecv:
		default:
			return nil, fmt.Errorf("flags: unknown flag %q (use SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW)", f)
		}
	}
	targets := []*archInfo{arches[0]}
	for _, a := range p.Architectures {
		if a == arches[1].name {
			targets = append(targets, arches[1])
		}
	}
	enosys := retErrno | uint32(unix.ENOSYS)
	var asm assembler
	asm.ld(offArch)
	sections := make([]label, len(targets))
	for i, a := range targets {
		sections[i] = asm.newLabel()
		asm.jeq(a.audit, 0, 1)
		asm.ja(sections[i])
	}
	asm.ret(enosys) // an architecture the profile does not name
	for i, a := range targets {
		calls, err := collect(p, a, def)
		if err != nil {
			return nil, err
		}
		asm.set(sections[i])
		asm.ld(offNr)
		if a.x32 {
			asm.jge(0x40000000, 0, 1)
			asm.ret(enosys)
		}
		if def != retAllow && len(calls) > 0 {
			asm.jgt(calls[len(calls)-1].nr, 0, 1)
			asm.ret(enosys)
		}
		newer := def // a syscall newer than the profile
		if def != retAllow {
			newer = enosys
		}
		body, err := treeCode(intervals(a, calls, def, newer), def)
		if err != nil {
			return nil, err
		}
		for _, in := range body {
			asm.emit(in)
		}
	}
	insns, err := asm.assemble()
	if err != nil {
		return nil, err
	}
	return &Program{Insns: insns, Flags: flags}, nil
}

// collect gathers the profile's rules by syscall number for one architecture, sorted
// by number.
func collect(p *specs.LinuxSeccomp, a *archInfo, def uint32) ([]*syscallRules, error) {
	byNr := map[uint32]*syscallRules{}
	for i, sc := range p.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] (%s): %w", i, strings.Join(sc.Names, ", "), err)
		}
		for _, arg := range sc.Args {
			if arg.Index > 5 {
				return nil, fmt.Errorf("syscalls[%d] (%s): argument index %d (a syscall has arguments 0 to 5)", i, strings.Join(sc.Names, ", "), arg.Index)
			}
			switch arg.Op {
			case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
			default:
				return nil, fmt.Errorf("syscalls[%d] (%s): unknown operator %q", i, strings.Join(sc.Names, ", "), arg.Op)
			}
		}
		if act == def {
			continue // as runc: a rule that does what the default does changes nothing
		}
		var rules []rule
		if sameArgTwice(sc.Args) {
			for _, c := range sc.Args {
				rules = append(rules, rule{args: []specs.LinuxSeccompArg{c}, action: act})
			}
		} else if len(sc.Args) > 0 {
			rules = []rule{{args: sc.Args, action: act}}
		}
		for _, name := range sc.Names {
			nr, ok := a.lookup(name)
			if !ok {
				continue // not a syscall of this architecture (or newer than the table)
			}
			s := byNr[nr]
			if s == nil {
				s = &syscallRules{nr: nr}
				byNr[nr] = s
			}
			if len(rules) == 0 {
				if s.fallback == nil {
					v := act
					s.fallback = &v
				}
				continue
			}
			s.conditional = append(s.conditional, rules...)
		}
	}
	out := make([]*syscallRules, 0, len(byNr))
	for _, s := range byNr {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].nr < out[j].nr })
	return out, nil
}

func sameArgTwice(args []specs.LinuxSeccompArg) bool {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			return true
		}
		seen[a.Index] = true
	}
	return false
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// argOffsets are the offsets of an argument's low and high 32-bit words.
func argOffsets(i uint) (lo, hi uint32) {
	base := uint32(offArgs + 8*i)
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 { // little-endian
		return base, base + 4
	}
	return base + 4, base
}

type label int

// insn is an instruction whose jumps may name labels (resolved by assemble).
type insn struct {
	f            unix.SockFilter
	jtL, jfL, jL label // 0: none (use f's relative offsets)
}

// assembler emits classic BPF with labels: conditional jumps to labels must land
// within 255 instructions (the compiler only makes short ones); `ja` reaches anywhere.
type assembler struct {
	code   []insn
	labels []int // label → instruction index (-1 until set)
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels)) // 1-based: 0 means none
}

func (a *assembler) set(l label) { a.labels[l-1] = len(a.code) }

func (a *assembler) emit(f unix.SockFilter) { a.code = append(a.code, insn{f: f}) }

func (a *assembler) ld(off uint32) {
	a.emit(unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}
func (a *assembler) and(k uint32) {
	a.emit(unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: k})
}
func (a *assembler) ret(k uint32) { a.emit(unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}) }
func (a *assembler) ja(l label) {
	a.code = append(a.code, insn{f: unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA}, jL: l})
}

// Conditional jumps with relative offsets.
func (a *assembler) jeq(k uint32, jt, jf uint8) { a.jmp(unix.BPF_JEQ, k, jt, jf) }
func (a *assembler) jge(k uint32, jt, jf uint8) { a.jmp(unix.BPF_JGE, k, jt, jf) }
func (a *assembler) jgt(k uint32, jt, jf uint8) { a.jmp(unix.BPF_JGT, k, jt, jf) }
func (a *assembler) jmp(op uint16, k uint32, jt, jf uint8) {
	a.emit(unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: jt, Jf: jf})
}

// jmpL is a conditional jump whose targets are labels (0: the next instruction).
func (a *assembler) jmpL(op uint16, k uint32, t, f label) {
	a.code = append(a.code, insn{f: unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k}, jtL: t, jfL: f})
}

func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if len(a.code) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("the filter has %d instructions; the kernel takes at most %d", len(a.code), unix.BPF_MAXINSNS)
	}
	out := make([]unix.SockFilter, len(a.code))
	rel := func(i int, l label) (int, error) {
		t := a.labels[l-1]
		if t < 0 {
			return 0, errors.New("internal error: a label was never placed")
		}
		if t <= i {
			return 0, errors.New("internal error: a backward jump")
		}
		return t - i - 1, nil
	}
	for i, in := range a.code {
		f := in.f
		for _, j := range []struct {
			l   label
			dst *uint8
		}{{in.jtL, &f.Jt}, {in.jfL, &f.Jf}} {
			if j.l == 0 {
				continue
			}
			d, err := rel(i, j.l)
			if err != nil {
				return nil, err
			}
			if d > 255 {
				return nil, fmt.Errorf("a rule is too long: a conditional jump of %d instructions (at most 255)", d)
			}
			*j.dst = uint8(d)
		}
		if in.jL != 0 {
			d, err := rel(i, in.jL)
			if err != nil {
				return nil, err
			}
			f.K = uint32(d)
		}
		out[i] = f
	}
	return out, nil
}

// interval is a run of syscall numbers, from lo up to the next interval's lo, that
// get the same answer: action, or the argument checks of one syscall (rules).
type interval struct {
	lo     uint32
	action uint32
	rules  *syscallRules
}

// intervals cuts the architecture's syscall numbers into runs with one answer each.
// Numbers the architecture does not assign join the run before them (the kernel
// answers ENOSYS for them whatever the filter says); a syscall with argument rules is
// a run of its own. On an architecture with syscalls of its own far above the regular
// ones (ARM), the numbers between the regular syscalls the profile names and those get
// newer's answer, as the numbers above every syscall the profile names do (compileFor):
// a kernel newer than the table assigns them.
func intervals(a *archInfo, calls []*syscallRules, def, newer uint32) []interval {
	byNr := make(map[uint32]*syscallRules, len(calls))
	limit := uint32(0)
	regular, hasRegular, hasPrivate := uint32(0), false, false // the regular syscalls' limit
	for _, s := range calls {
		byNr[s.nr] = s
		limit = max(limit, s.nr)
		if a.private == 0 || s.nr < a.private {
			regular, hasRegular = max(regular, s.nr), true
		} else {
			hasPrivate = true
		}
	}
	nrs := make([]uint32, 0, len(a.table)+len(a.privTable))
	for _, t := range [][]sysEntry{a.table, a.privTable} {
		for _, e := range t {
			if e.nr <= limit && (!hasPrivate || e.nr >= a.private || e.nr <= regular) {
				nrs = append(nrs, e.nr)
			}
		}
	}
	slices.Sort(nrs)
	nrs = slices.Compact(nrs)
	iv := []interval{{lo: 0, action: def}}
	add := func(n, act uint32, r *syscallRules) {
		last := &iv[len(iv)-1]
		if r == nil && last.rules == nil && last.action == act {
			return // the run goes on
		}
		if last.lo == n { // replaces the start (only the first run, from 0)
			*last = interval{lo: n, action: act, rules: r}
			return
		}
		iv = append(iv, interval{lo: n, action: act, rules: r})
	}
	gap := hasPrivate && hasRegular
	for i, n := range nrs {
		if gap && n >= a.private {
			add(regular+1, newer, nil)
			gap = false
		}
		s := byNr[n]
		switch {
		case s != nil && len(s.conditional) > 0:
			add(n, 0, s)
			if i+1 == len(nrs) || nrs[i+1] != n+1 {
				add(n+1, def, nil) // the numbers after it are not its
			}
		case s != nil:
			add(n, *s.fallback, nil)
		default:
			add(n, def, nil)
		}
	}
	if len(calls) > 0 {
		add(limit+1, def, nil)
	}
	return iv
}

// treeCode is a binary search over the intervals (A holds the syscall number): about
// log2(n) comparisons for n runs, where a list would take one per syscall. Every path
// ends in a return, so the code is self-contained (relative jumps only).
func treeCode(iv []interval, def uint32) ([]unix.SockFilter, error) {
	if len(iv) == 1 {
		if iv[0].rules == nil {
			return []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: iv[0].action}}, nil
		}
		var asm assembler
		if err := asm.block(iv[0].rules, def); err != nil {
			return nil, err
		}
		return asm.assemble()
	}
	mid := len(iv) / 2
	left, err := treeCode(iv[:mid], def)
	if err != nil {
		return nil, err
	}
	right, err := treeCode(iv[mid:], def)
	if err != nil {
		return nil, err
	}
	jge := unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: iv[mid].lo}
	var out []unix.SockFilter
	if len(left) <= 255 {
		jge.Jt = uint8(len(left))
		out = append(out, jge)
	} else {
		jge.Jf = 1
		out = append(out, jge, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(left))})
	}
	out = append(out, left...)
	return append(out, right...), nil
}

// block checks one syscall's argument rules in order; every path ends in a return.
// A run of rules that each compare one argument for equality, with the same action
// and the same high word (Docker's list of socket families), is one list of tests.
func (a *assembler) block(s *syscallRules, def uint32) error {
	rules := s.conditional
	for len(rules) > 0 {
		n := equalityRun(rules)
		if n >= 3 {
			c0 := rules[0].args[0]
			lo, hi := argOffsets(c0.Index)
			fail, hit := a.newLabel(), a.newLabel()
			a.ld(hi)
			a.jmpL(unix.BPF_JEQ, uint32(c0.Value>>32), 0, fail)
			a.ld(lo)
			for _, r := range rules[:n] {
				a.jmpL(unix.BPF_JEQ, uint32(r.args[0].Value), hit, 0)
			}
			a.ja(fail)
			a.set(hit)
			a.ret(rules[0].action)
			a.set(fail)
			rules = rules[n:]
			continue
		}
		fail := a.newLabel()
		for _, c := range rules[0].args {
			a.cond(c, fail)
		}
		a.ret(rules[0].action)
		a.set(fail)
		rules = rules[1:]
	}
	if s.fallback != nil {
		a.ret(*s.fallback)
	} else {
		a.ret(def)
	}
	return nil
}

// equalityRun counts the rules at the start of rules that each test one argument (the
// same) for equality with a value of the same high word, with one action.
func equalityRun(rules []rule) int {
	first := rules[0]
	if len(first.args) != 1 || first.args[0].Op != specs.OpEqualTo {
		return 0
	}
	n := 0
	for _, r := range rules {
		if len(r.args) != 1 || r.args[0].Op != specs.OpEqualTo || r.args[0].Index != first.args[0].Index ||
			r.args[0].Value>>32 != first.args[0].Value>>32 || r.action != first.action || n == 200 {
			break
		}
		n++
	}
	return n
}

// cond compares a 64-bit argument with a value, in two 32-bit halves: it falls
// through when the condition holds and jumps to fail when not.
func (a *assembler) cond(c specs.LinuxSeccompArg, fail label) {
	lo, hi := argOffsets(c.Index)
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	pass := a.newLabel()
	switch c.Op {
	case specs.OpEqualTo:
		a.ld(hi)
		a.jmpL(unix.BPF_JEQ, vhi, 0, fail)
		a.ld(lo)
		a.jmpL(unix.BPF_JEQ, vlo, 0, fail)
	case specs.OpNotEqual:
		a.ld(hi)
		a.jmpL(unix.BPF_JEQ, vhi, 0, pass)
		a.ld(lo)
		a.jmpL(unix.BPF_JEQ, vlo, fail, 0)
	case specs.OpMaskedEqual: // (arg & Value) == ValueTwo
		a.ld(hi)
		a.and(vhi)
		a.jmpL(unix.BPF_JEQ, uint32(c.ValueTwo>>32), 0, fail)
		a.ld(lo)
		a.and(vlo)
		a.jmpL(unix.BPF_JEQ, uint32(c.ValueTwo), 0, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.ld(hi)
		a.jmpL(unix.BPF_JGT, vhi, pass, 0)
		a.jmpL(unix.BPF_JEQ, vhi, 0, fail)
		a.ld(lo)
		op := uint16(unix.BPF_JGT)
		if c.Op == specs.OpGreaterEqual {
			op = unix.BPF_JGE
		}
		a.jmpL(op, vlo, 0, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.ld(hi)
		a.jmpL(unix.BPF_JGE, vhi, 0, pass) // hi < vhi: holds
		a.jmpL(unix.BPF_JEQ, vhi, 0, fail) // hi > vhi: fails
		a.ld(lo)
		op := uint16(unix.BPF_JGE) // lo >= vlo fails LT
		if c.Op == specs.OpLessEqual {
			op = unix.BPF_JGT // lo > vlo fails LE
		}
		a.jmpL(op, vlo, fail, 0)
	}
	a.set(pass)
}
