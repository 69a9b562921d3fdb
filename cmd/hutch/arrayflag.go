package main

import (
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// arrayValue is pflag's stringArray (every occurrence of the flag appends its value as
// is, no comma splitting), without its cost: pflag renders a stringArray's default
// through encoding/csv and a 4 KiB bufio.Writer when the flag is defined, and hutch
// defines some forty of them in every process, used or not (0.2 ms and 300 kB of
// every command's start).
type arrayValue struct {
	p       *[]string
	changed bool
}

func (a *arrayValue) Set(v string) error {
	if !a.changed {
		*a.p = (*a.p)[:0]
		a.changed = true
	}
	*a.p = append(*a.p, v)
	return nil
}

func (a *arrayValue) Type() string { return "stringArray" }

// String is "" while empty (the default no help text shows, as pflag's "[]" is not shown).
func (a *arrayValue) String() string {
	if len(*a.p) == 0 {
		return ""
	}
	q := make([]string, len(*a.p))
	for i, s := range *a.p {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// The pflag.SliceValue methods, as stringArray has them.
func (a *arrayValue) Append(v string) error { *a.p = append(*a.p, v); return nil }
func (a *arrayValue) Replace(vs []string) error {
	*a.p = append([]string{}, vs...)
	return nil
}
func (a *arrayValue) GetSlice() []string { return *a.p }

// stringArrayVarP defines a repeatable string flag into p (see arrayValue).
func stringArrayVarP(fs *pflag.FlagSet, p *[]string, name, short, usage string) {
	*p = nil
	fs.VarP(&arrayValue{p: p}, name, short, usage)
}

// stringArrayVar is stringArrayVarP without a shorthand.
func stringArrayVar(fs *pflag.FlagSet, p *[]string, name, usage string) {
	stringArrayVarP(fs, p, name, "", usage)
}

// stringArrayP defines a repeatable string flag and returns where its values go.
func stringArrayP(fs *pflag.FlagSet, name, short, usage string) *[]string {
	p := new([]string)
	stringArrayVarP(fs, p, name, short, usage)
	return p
}
