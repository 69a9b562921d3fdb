package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestArrayFlagLikeStringArray: the cheap repeatable flag parses, shows and completes
// as pflag's stringArray does: every occurrence appended as is, commas kept.
func TestArrayFlagLikeStringArray(t *testing.T) {
	for _, args := range [][]string{nil, {"-e", "A=1"}, {"-e", "A=1,B=2", "--env", "C", "-e="}} {
		ours, theirs := pflag.NewFlagSet("ours", pflag.ContinueOnError), pflag.NewFlagSet("theirs", pflag.ContinueOnError)
		var a, b []string
		stringArrayVarP(ours, &a, "env", "e", "set")
		theirs.StringArrayVarP(&b, "env", "e", nil, "set")
		if err := ours.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) && !(len(a) == 0 && len(b) == 0) {
			t.Errorf("%q: ours %q, pflag's %q", args, a, b)
		}
		fo, ft := ours.Lookup("env"), theirs.Lookup("env")
		if fo.Value.Type() != ft.Value.Type() || ours.Changed("env") != theirs.Changed("env") {
			t.Errorf("%q: ours %s, pflag's %s", args, fo.Value.Type(), ft.Value.Type())
		}
		if got, want := ours.FlagUsages(), theirs.FlagUsages(); got != want {
			t.Errorf("usage: ours %q, pflag's %q", got, want)
		}
		if sv, ok := fo.Value.(pflag.SliceValue); !ok || strings.Join(sv.GetSlice(), "|") != strings.Join(a, "|") {
			t.Errorf("%q: not a SliceValue with the values", args)
		}
	}
}
