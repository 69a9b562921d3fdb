package builder

import (
	"runtime"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// proxyArgs are predefined: a --build-arg of theirs reaches RUN steps without an ARG,
// and never lands in the image's history or the cache key (as Docker does).
var proxyArgs = map[string]bool{}

func init() {
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"} {
		proxyArgs[k] = true
		proxyArgs[strings.ToLower(k)] = true
	}
}

// platformArgs are the automatic platform ARGs of the global scope (BuildKit's).
func platformArgs() map[string]string {
	p := "linux/" + runtime.GOARCH
	return map[string]string{
		"BUILDPLATFORM": p, "BUILDOS": "linux", "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
		"TARGETPLATFORM": p, "TARGETOS": "linux", "TARGETARCH": runtime.GOARCH, "TARGETVARIANT": "",
	}
}

// vars holds the variables of one scope: declared ARGs (a nil value is declared
// without one) in declaration order.
type vars struct {
	names  []string
	values map[string]*string
}

func newVars() *vars { return &vars{values: map[string]*string{}} }

func (v *vars) set(k string, val *string) {
	if _, ok := v.values[k]; !ok {
		v.names = append(v.names, k)
	}
	v.values[k] = val
}

func (v *vars) get(k string) (string, bool) {
	p, ok := v.values[k]
	if !ok || p == nil {
		return "", false
	}
	return *p, true
}

// argsState is what the whole build knows about ARGs: the --build-arg values (and
// which were used) and the global (meta) scope.
type argsState struct {
	build map[string]string
	used  map[string]bool
	meta  *vars
}

// newArgs evaluates the ARGs before the first FROM: defaults expanded in order,
// --build-arg overriding them.
func newArgs(f *File, build map[string]string) (*argsState, error) {
	a := &argsState{build: build, used: map[string]bool{}, meta: newVars()}
	for k, v := range platformArgs() {
		v := v
		a.meta.set(k, &v)
	}
	lex := shell.NewLex(f.Escape)
	for _, ac := range f.MetaArgs {
		for _, kv := range ac.Args {
			val, err := a.declare(lex, kv, a.meta, nil)
			if err != nil {
				return nil, f.atLine(ac.Location(), err)
			}
			a.meta.set(kv.Key, val)
		}
	}
	return a, nil
}

// declare computes the value of `ARG K[=default]` in a scope whose variables are
// scope (and env for expansion): the --build-arg wins, then the default, then (in a
// stage, for an ARG without default) the global value.
func (a *argsState) declare(lex *shell.Lex, kv instructions.KeyValuePairOptional, scope *vars, env []string) (*string, error) {
	if v, ok := a.build[kv.Key]; ok {
		a.used[kv.Key] = true
		return &v, nil
	}
	if kv.Value != nil {
		w, _, err := lex.ProcessWord(*kv.Value, getter(scope, env))
		if err != nil {
			return nil, err
		}
		return &w, nil
	}
	if scope != a.meta {
		if v, ok := a.meta.get(kv.Key); ok {
			return &v, nil
		}
	}
	return nil, nil
}

// unused lists the --build-args no ARG consumed (proxy args excepted).
func (a *argsState) unused() []string {
	var out []string
	for k := range a.build {
		if !a.used[k] && !proxyArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// proxyEnv is the proxy build args given, for RUN steps.
func (a *argsState) proxyEnv() []string {
	var out []string
	for _, k := range sortedKeys(a.build) {
		if proxyArgs[k] {
			out = append(out, k+"="+a.build[k])
		}
	}
	return out
}

// envGetter implements shell.EnvGetter: the stage's ENV wins over its ARGs.
type envGetter struct {
	args *vars
	env  []string
}

func getter(args *vars, env []string) shell.EnvGetter { return &envGetter{args: args, env: env} }

func (g *envGetter) Get(k string) (string, bool) {
	for i := len(g.env) - 1; i >= 0; i-- {
		if name, val, ok := strings.Cut(g.env[i], "="); ok && name == k {
			return val, true
		}
	}
	if g.args != nil {
		return g.args.get(k)
	}
	return "", false
}

func (g *envGetter) Keys() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range g.env {
		k, _, _ := strings.Cut(e, "=")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if g.args != nil {
		for _, k := range g.args.names {
			if _, ok := g.args.get(k); ok && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// argEnv is the ARGs a RUN step sees as environment: those with a value that no ENV
// of the same name hides, sorted.
func argEnv(args *vars, env []string) []string {
	var out []string
	for _, k := range args.names {
		v, ok := args.get(k)
		if !ok || proxyArgs[k] {
			continue
		}
		if _, hidden := (&envGetter{env: env}).Get(k); hidden {
			continue
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// setEnv sets k=v in env, replacing an earlier value in place.
func setEnv(env []string, k, v string) []string {
	out := append([]string{}, env...)
	for i, e := range out {
		if name, _, _ := strings.Cut(e, "="); name == k {
			out[i] = k + "=" + v
			return out
		}
	}
	return append(out, k+"="+v)
}
