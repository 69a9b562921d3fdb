package main

// Shell completion. `hutch completion bash|zsh|fish` prints cobra's scripts; they call
// `hutch __complete ARGS… PARTIAL`, which lands in the functions below: the names of
// containers, images and volumes, and the values a flag takes. Completing must be fast
// and works as the plain user, without the user namespace: container records and
// volumes are plain files (as ps reads them), and images come from the store's own index,
// read-only (storage.ReadImageNames). The functions are attached by walking the finished
// command tree (registerCompletions, for __complete only), by command and flag name, so
// a command or flag added later gets them by its name.

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/storage"
)

// nameKind is what a positional argument names.
type nameKind int

const (
	noFile           nameKind = iota // nothing to complete
	anyContainer                     // any container
	runningContainer                 // a running (or paused) container
	stoppedContainer                 // a container that is not running
	pausedContainer                  // a paused container
	anyImage                         // an image
	anyVolume                        // a volume
	containerOrImage                 // either (top-level inspect)
	directory                        // a directory of the host (build's context)
	hostFile                         // a file of the host
	copyPath                         // cp: CONTAINER:PATH or a host path
)

// argSpec says what a command's positional arguments name: first[i] for the i-th, rest
// for every one after those (noFile: nothing).
type argSpec struct {
	first []nameKind
	rest  nameKind
}

func many(k nameKind) argSpec   { return argSpec{rest: k} }
func one(k ...nameKind) argSpec { return argSpec{first: k} }

// The containers' commands, at the top level and under `container`.
var containerArgs = map[string]argSpec{
	"rm": many(anyContainer), "logs": many(anyContainer), "wait": many(anyContainer),
	"restart": many(anyContainer), "rename": one(anyContainer), "port": one(anyContainer),
	"update": many(anyContainer), "stop": many(runningContainer), "kill": many(runningContainer),
	"pause": many(runningContainer), "stats": many(runningContainer), "exec": one(runningContainer),
	"attach": one(runningContainer), "top": one(runningContainer), "start": many(stoppedContainer),
	"unpause": many(pausedContainer), "run": one(anyImage), "create": one(anyImage),
	"cp": one(copyPath, copyPath), "export": one(anyContainer), "commit": one(anyContainer, anyImage),
}

// argSpecs by the group a command is in ("" for the top level).
var argSpecs = map[string]map[string]argSpec{
	"": merge(containerArgs, map[string]argSpec{
		"rmi": many(anyImage), "images": one(anyImage), "save": many(anyImage), "push": one(anyImage),
		"tag": one(anyImage), "build": one(directory), "import": one(hostFile), "inspect": many(containerOrImage),
		"load": one(), "pull": one(), "login": one(), "logout": one(), "info": one(), "version": one(), "ps": one(),
		"diff": one(containerOrImage), "history": one(anyImage), "untag": one(anyImage),
	}),
	"container": merge(containerArgs, map[string]argSpec{"inspect": many(anyContainer), "ls": one(), "prune": one(),
		"diff": one(anyContainer), "exists": one(anyContainer)}),
	"image": {
		"rm": many(anyImage), "ls": one(anyImage), "inspect": many(anyImage), "save": many(anyImage),
		"tag": one(anyImage), "build": one(directory), "import": one(hostFile), "load": one(), "prune": one(),
		"untag": one(anyImage), "history": one(anyImage), "diff": one(anyImage), "exists": one(anyImage),
		"pull": one(), "push": one(anyImage),
	},
	"volume":      {"rm": many(anyVolume), "inspect": many(anyVolume), "create": one(), "ls": one(), "prune": one(), "exists": one(anyVolume)},
	"system":      {"df": one(), "prune": one(), "reset": one(), "info": one()},
	"builder":     {"build": one(directory), "prune": one()},
	"healthcheck": {"run": one(runningContainer)},
}

func merge(a, b map[string]argSpec) map[string]argSpec {
	out := map[string]argSpec{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// specFor finds a command's argSpec by its group and name.
func specFor(c *cobra.Command) (argSpec, bool) {
	group := ""
	if p := c.Parent(); p != nil && p.HasParent() {
		group = p.Name()
	}
	s, ok := argSpecs[group][c.Name()]
	return s, ok
}

// Values of flags, checked against their parsers by complete_test.go.
var (
	logLevels    = []string{"debug", "info", "warn", "error"}
	networkModes = []string{
		cobra.CompletionWithDesc("slirp4netns", "a network of its own through slirp4netns (the default)"),
		cobra.CompletionWithDesc("none", "only a loopback interface"),
		cobra.CompletionWithDesc("host", "the host's network"),
	}
	slirpOptions   = []string{"mtu=", "allow_host_loopback=true", "allow_host_loopback=false", "cidr=", "enable_ipv6=true", "enable_ipv6=false"}
	pullPolicies   = []string{"missing", "always", "never", "newer"}
	restartValues  = []string{"no", "always", "unless-stopped", "on-failure", "on-failure:"}
	securityValues = []string{
		"seccomp=unconfined", "seccomp=builtin", "seccomp=", "no-new-privileges", "no-new-privileges=true",
		"no-new-privileges=false", "mask=", "unmask=ALL", "unmask=", "systempaths=unconfined",
		"label=disable", "label=nested", "apparmor=unconfined",
	}
	usernsValues  = []string{"keep-id", "host"}
	statusValues  = container.StatusValues
	filterKeys    = suffixed(container.FilterKeys, "=")
	mountForms    = []string{"type=bind,source=", "type=volume,source=", "type=tmpfs,target=", "type=image,source="}
	inspectTypes  = []string{"container", "image", "volume", "network"}
	enumFormats   = map[string][]string{"build": {"oci", "docker"}, "save": {"docker-archive", "oci-archive"}, "push": {"oci", "v2s2"}}
	compressions  = []string{"gzip", "zstd"}
	imageSortKeys = []string{"created", "id", "repository", "size", "tag"}
	freeTextFlags = map[string]bool{
		"name": true, "hostname": true, "user": true, "workdir": true, "entrypoint": true, "label": true,
		"env": true, "publish": true, "tag": true, "build-arg": true, "target": true, "username": true,
		"password": true, "since": true, "until": true, "tail": true, "change": true, "message": true,
		"tmpfs": true,
	}
)

// signalNames are the signals by name, as kill -s and --stop-signal take them.
func signalNames(withSIG bool) []string {
	var out []string
	for n := 1; n < 32; n++ {
		name := unix.SignalName(unix.Signal(n))
		if name == "" {
			continue
		}
		if !withSIG {
			name = strings.TrimPrefix(name, "SIG")
		}
		out = append(out, name)
	}
	for _, rt := range []string{"RTMIN", "RTMIN+1", "RTMIN+2", "RTMIN+3", "RTMAX"} {
		if withSIG {
			rt = "SIG" + rt
		}
		out = append(out, rt)
	}
	return out
}

func capabilityNames() []string {
	out := []string{"ALL"}
	for _, c := range capability.ListKnown() {
		out = append(out, strings.ToUpper(c.String()))
	}
	return out
}

// fixed completes from values: only those that start with what was typed, with no space
// after the word when every one left ends in '=' , ':' or ','  (a value follows).
func fixed(values []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	open := true
	for _, v := range values {
		word, _, _ := strings.Cut(v, "\t")
		if strings.HasPrefix(word, toComplete) {
			out = append(out, v)
			open = open && strings.ContainsAny(word[len(word)-1:], "=:,")
		}
	}
	d := cobra.ShellCompDirectiveNoFileComp
	if open && len(out) > 0 {
		d |= cobra.ShellCompDirectiveNoSpace
	}
	return out, d
}

func fixedFunc(values []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return fixed(values, toComplete)
	}
}

func prefixed(prefix string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = prefix + v
	}
	return out
}

// templateFields are the fields a --format flag's usage names (".ID .Image …").
var templateFields = regexp.MustCompile(`(?:^|[\s(:])(\.[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*)`)

// formatCompletion completes a --format that takes a Go template: json, table, and the
// fields its usage lists, inside {{ }} wherever the last one opens.
func formatCompletion(usage string) cobra.CompletionFunc {
	var fields []string
	for _, m := range templateFields.FindAllStringSubmatch(usage, -1) {
		fields = append(fields, m[1])
	}
	table := strings.Contains(usage, "table TEMPLATE")
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if i := strings.LastIndex(toComplete, "{{"); i >= 0 {
			out, _ := fixed(prefixed(toComplete[:i]+"{{", suffixed(fields, "}}")), toComplete)
			return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		values := []string{"json"}
		if table {
			values = append(values, "table")
		}
		values = append(values, prefixed("{{", suffixed(fields, "}}"))...)
		return fixed(values, toComplete)
	}
}

func suffixed(values []string, suffix string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v + suffix
	}
	return out
}

// registerCompletions attaches the completion functions to every command of the tree
// (run does it only for __complete: the walk costs about a millisecond).
func registerCompletions(root *cobra.Command, a *app) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if spec, ok := specFor(c); ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = a.argsCompletion(spec)
		}
		flags := c.LocalNonPersistentFlags()
		if c == root {
			flags = c.PersistentFlags()
		}
		for name, f := range flagCompletions(a, c, flags) {
			_ = c.RegisterFlagCompletionFunc(name, f)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// flagCompletions decides, by name, how each flag of a command completes.
func flagCompletions(a *app, c *cobra.Command, flags *pflag.FlagSet) map[string]cobra.CompletionFunc {
	out := map[string]cobra.CompletionFunc{}
	limit := map[string]bool{}
	for _, f := range cgroups.Flags {
		limit[f.Name] = !strings.HasPrefix(f.Name, "device-") // --device-read-bps takes a device's path
	}
	name := c.Name()
	flags.VisitAll(func(f *pflag.Flag) {
		switch f.Value.Type() {
		case "bool":
			return
		case "int", "int32", "int64", "uint", "uint16", "uint32", "uint64", "float32", "float64", "duration":
			out[f.Name] = cobra.NoFileCompletions
			return
		}
		switch f.Name {
		case "log-level":
			out[f.Name] = fixedFunc(logLevels)
		case "network", "net":
			out[f.Name] = completeNetwork
		case "pull":
			if name == "build" {
				out[f.Name] = fixedFunc(append(pullPolicies, "true", "false"))
			} else {
				out[f.Name] = fixedFunc(pullPolicies)
			}
		case "policy":
			out[f.Name] = fixedFunc(pullPolicies)
		case "restart":
			out[f.Name] = fixedFunc(restartValues)
		case "security-opt":
			out[f.Name] = completeSecurityOpt
		case "signal", "stop-signal":
			out[f.Name] = completeSignal
		case "userns":
			out[f.Name] = fixedFunc(usernsValues)
		case "cap-add", "cap-drop":
			out[f.Name] = fixedFunc(capabilityNames())
		case "mount":
			out[f.Name] = fixedFunc(mountForms)
		case "type":
			out[f.Name] = fixedFunc(inspectTypes)
		case "sort":
			out[f.Name] = fixedFunc(imageSortKeys)
		case "compression-format":
			out[f.Name] = fixedFunc(compressions)
		case "platform":
			out[f.Name] = fixedFunc([]string{runtime.GOOS + "/" + runtime.GOARCH})
		case "filter":
			switch {
			case name == "ps" || name == "ls" && c.Parent().Name() == "container":
				out[f.Name] = a.completePsFilter
			case name == "images" || name == "ls" && c.Parent().Name() == "image":
				out[f.Name] = fixedFunc(append(suffixed(images.ListFilterKeys, "="), "dangling=true", "dangling=false"))
			case name == "prune" && (c.Parent().Name() == "image" || c.Parent().Name() == "system"):
				out[f.Name] = fixedFunc(suffixed(images.PruneFilterKeys, "="))
			case name == "events":
				out[f.Name] = fixedFunc(eventFilterValues)
			default:
				out[f.Name] = cobra.NoFileCompletions
			}
		case "format":
			if v, ok := enumFormats[name]; ok {
				out[f.Name] = fixedFunc(v)
			} else if strings.Contains(f.Usage, "Go template") {
				out[f.Name] = formatCompletion(f.Usage)
			} else {
				out[f.Name] = cobra.NoFileCompletions
			}
		default:
			if freeTextFlags[f.Name] || limit[f.Name] {
				out[f.Name] = cobra.NoFileCompletions
			}
		}
	})
	return out
}

func completeNetwork(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if rest, ok := strings.CutPrefix(toComplete, "slirp4netns:"); ok {
		// Options are separated by commas: complete the last one.
		head := "slirp4netns:"
		if i := strings.LastIndex(rest, ","); i >= 0 {
			head += rest[:i+1]
		}
		return fixed(prefixed(head, slirpOptions), toComplete)
	}
	return fixed(networkModes, toComplete)
}

func completeSecurityOpt(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if rest, ok := strings.CutPrefix(toComplete, "seccomp="); ok && rest != "" &&
		!strings.HasPrefix("unconfined", rest) && !strings.HasPrefix("builtin", rest) {
		// A profile: the JSON files where the typed path points.
		dir := filepath.Dir(rest + "x")
		entries, _ := os.ReadDir(dir)
		var out []cobra.Completion
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(rest, "./") || dir == "." && strings.HasPrefix(rest, ".") {
				p = "./" + p
			}
			if e.IsDir() {
				out = append(out, "seccomp="+p+"/")
			} else if strings.HasSuffix(e.Name(), ".json") {
				out = append(out, "seccomp="+p)
			}
		}
		return fixed(out, toComplete)
	}
	return fixed(securityValues, toComplete)
}

func completeSignal(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return fixed(signalNames(strings.HasPrefix(strings.ToUpper(toComplete), "SIG")), strings.ToUpper(toComplete))
}

func (a *app) completePsFilter(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	key, val, ok := strings.Cut(toComplete, "=")
	if !ok {
		return fixed(filterKeys, toComplete)
	}
	var values []string
	switch key {
	case "status":
		values = statusValues
	case "health":
		values = container.HealthValues
	case "name", "before", "since":
		values, _ = a.names(anyContainer, nil, val, false)
	case "ancestor":
		values, _ = a.names(anyImage, nil, val, false)
	}
	return fixed(prefixed(key+"=", values), toComplete)
}

// argsCompletion completes a command's positional arguments as spec says.
func (a *app) argsCompletion(spec argSpec) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		kind := spec.rest
		if len(args) < len(spec.first) {
			kind = spec.first[len(args)]
		}
		switch kind {
		case noFile:
			return nil, cobra.ShellCompDirectiveNoFileComp
		case directory:
			return nil, cobra.ShellCompDirectiveFilterDirs
		case hostFile:
			return nil, cobra.ShellCompDirectiveDefault
		case copyPath:
			// A host path (anything with a slash or a dot first), else CONTAINER: to go on.
			if strings.ContainsAny(toComplete, "/:") || strings.HasPrefix(toComplete, ".") || strings.HasPrefix(toComplete, "~") {
				return nil, cobra.ShellCompDirectiveDefault
			}
			names, _ := a.names(anyContainer, nil, toComplete, false)
			return suffixed(names, ":"), cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
		}
		out, _ := a.names(kind, args, toComplete, true)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionSession opens the engine's session for completing names: the configuration
// and the paths, nothing more (no store, no namespace).
func (a *app) completionSession() *engine.Session {
	if a.sess == nil {
		s, err := engine.OpenWith(a.options())
		if err != nil {
			return nil
		}
		a.sess = s
	}
	return a.sess
}

// names lists the names of kind that start with toComplete, less those in skip; with
// desc, each with a description (the shells that show them do). An ID is offered only
// when what was typed is the start of it.
func (a *app) names(kind nameKind, skip []string, toComplete string, desc bool) ([]string, error) {
	s := a.completionSession()
	if s == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, x := range skip {
		seen[x] = true
	}
	var out []string
	add := func(word, description string) {
		if seen[word] || !strings.HasPrefix(word, toComplete) {
			return
		}
		seen[word] = true
		if desc && description != "" {
			word = cobra.CompletionWithDesc(word, description)
		}
		out = append(out, word)
	}
	byID := toComplete != "" && strings.Trim(toComplete, "0123456789abcdef") == ""

	if kind >= anyContainer && kind <= pausedContainer || kind == containerOrImage {
		sums, err := s.Records().Summaries()
		if err != nil {
			return nil, err
		}
		for _, c := range sums {
			st := c.State.Status
			paused := st == container.StatusRunning && container.Paused(c.State)
			switch {
			case kind == runningContainer && st != container.StatusRunning,
				kind == stoppedContainer && st == container.StatusRunning,
				kind == pausedContainer && !paused:
				continue
			}
			if paused {
				st = "paused"
			}
			d := c.Config.ImageName + ", " + st
			add(c.Config.Name, d)
			if byID {
				add(c.Config.ID[:12], c.Config.Name+", "+d)
			}
		}
	}
	if kind == anyImage || kind == containerOrImage {
		imgs, err := storage.ReadImageNames(s.Host.Paths.GraphRoot)
		if err != nil {
			return out, err
		}
		for _, im := range imgs {
			id := im.ID
			if len(id) > 12 {
				id = id[:12]
			}
			for _, n := range im.Names {
				add(n, "image "+id)
				// The short forms people type: demo:latest for localhost/demo:latest,
				// alpine:3 for docker.io/library/alpine:3.
				for _, p := range []string{"localhost/", "docker.io/library/", "docker.io/"} {
					if short, ok := strings.CutPrefix(n, p); ok {
						add(short, "image "+id)
						break
					}
				}
			}
			if byID {
				add(id, strings.Join(im.Names, ", "))
			}
		}
	}
	if kind == anyVolume {
		vols, err := s.Volumes().List()
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			add(v.Name, "volume")
		}
	}
	sort.Strings(out)
	return out, nil
}
