package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// verbRef is a command as Docker or Podman users type it; lacks says why hutch has no
// such command (empty: hutch has it).
type verbRef struct {
	path  string
	lacks string
}

const (
	later     = "not yet (issue 14: a later change)"
	noNetwork = "hutch has no networks of its own: slirp4netns, none or host per container"
	noSwarm   = "no orchestration: hutch is one user's engine"
	noSearch  = "no registry search"
	noRemote  = "no remote engines: hutch runs where it is called"
	noMount   = "no mounting of images or containers on the host"
	noCheckpt = "no checkpoint/restore (CRIU)"
	noPlugins = "no plugins"
	noSign    = "no signing or trust management"
	noPods    = "no pods"
)

// dockerVerbs is `docker --help` (Docker 27) and the help of each of its management
// commands, aliases included.
var dockerVerbs = []verbRef{
	// Common commands
	{"run", ""}, {"exec", ""}, {"ps", ""}, {"build", ""}, {"pull", ""}, {"push", ""}, {"images", ""},
	{"login", ""}, {"logout", ""}, {"search", noSearch}, {"version", ""}, {"info", ""},
	// Commands
	{"attach", ""}, {"commit", ""}, {"cp", ""}, {"create", ""}, {"diff", ""}, {"events", ""},
	{"export", ""}, {"history", ""}, {"import", ""}, {"inspect", ""}, {"kill", ""}, {"load", ""},
	{"logs", ""}, {"pause", ""}, {"port", ""}, {"rename", ""}, {"restart", ""}, {"rm", ""}, {"rmi", ""},
	{"save", ""}, {"start", ""}, {"stats", ""}, {"stop", ""}, {"tag", ""}, {"top", ""}, {"unpause", ""},
	{"update", ""}, {"wait", ""},
	// docker container
	{"container attach", ""}, {"container commit", ""}, {"container cp", ""}, {"container create", ""},
	{"container diff", ""}, {"container exec", ""}, {"container export", ""}, {"container inspect", ""},
	{"container kill", ""}, {"container logs", ""}, {"container ls", ""}, {"container list", ""},
	{"container ps", ""}, {"container pause", ""}, {"container port", ""}, {"container prune", ""},
	{"container rename", ""}, {"container restart", ""}, {"container rm", ""}, {"container remove", ""},
	{"container run", ""}, {"container start", ""}, {"container stats", ""}, {"container stop", ""},
	{"container top", ""}, {"container unpause", ""}, {"container update", ""}, {"container wait", ""},
	// docker image
	{"image build", ""}, {"image history", ""}, {"image import", ""}, {"image inspect", ""},
	{"image load", ""}, {"image ls", ""}, {"image list", ""}, {"image prune", ""}, {"image pull", ""},
	{"image push", ""}, {"image rm", ""}, {"image remove", ""}, {"image save", ""}, {"image tag", ""},
	// docker system
	{"system df", ""}, {"system events", ""}, {"system info", ""}, {"system prune", ""},
	// docker volume
	{"volume create", ""}, {"volume inspect", ""}, {"volume ls", ""}, {"volume list", ""},
	{"volume prune", ""}, {"volume rm", ""}, {"volume remove", ""}, {"volume update", noSwarm},
	// docker builder
	{"builder build", ""}, {"builder prune", ""},
	// Management commands hutch has no counterpart of
	{"network", noNetwork}, {"context", noRemote}, {"manifest", "no manifest lists: pull and push take this machine's platform"},
	{"plugin", noPlugins}, {"trust", noSign}, {"checkpoint", noCheckpt},
	{"config", noSwarm}, {"node", noSwarm}, {"secret", noSwarm}, {"service", noSwarm}, {"stack", noSwarm}, {"swarm", noSwarm},
}

// podmanVerbs are Podman's (5.x) verbs of the groups hutch shares with it, and its own
// top-level verbs that Docker lacks.
var podmanVerbs = []verbRef{
	{"untag", ""}, {"unshare", ""},
	{"image build", ""}, {"image diff", ""}, {"image exists", ""}, {"image history", ""},
	{"image import", ""}, {"image inspect", ""}, {"image list", ""}, {"image load", ""}, {"image ls", ""},
	{"image mount", noMount}, {"image prune", ""}, {"image pull", ""}, {"image push", ""}, {"image rm", ""},
	{"image save", ""}, {"image scp", noRemote}, {"image search", noSearch}, {"image sign", noSign},
	{"image tag", ""}, {"image tree", "no layer tree: hutch history shows an image's steps"},
	{"image trust", noSign}, {"image unmount", noMount}, {"image untag", ""},
	{"container attach", ""}, {"container checkpoint", noCheckpt}, {"container cleanup", "no cleanup verb: monitors clean up after their containers"},
	{"container clone", "no clone"}, {"container commit", ""}, {"container cp", ""}, {"container create", ""},
	{"container diff", ""}, {"container exec", ""}, {"container exists", ""}, {"container export", ""},
	{"container init", "no init verb: start does it"}, {"container inspect", ""}, {"container kill", ""},
	{"container list", ""}, {"container logs", ""}, {"container ls", ""}, {"container mount", noMount},
	{"container pause", ""}, {"container port", ""}, {"container prune", ""}, {"container ps", ""},
	{"container rename", ""}, {"container restart", ""}, {"container restore", noCheckpt}, {"container rm", ""},
	{"container run", ""}, {"container runlabel", "no runlabel"}, {"container start", ""}, {"container stats", ""},
	{"container stop", ""}, {"container top", ""}, {"container unmount", noMount}, {"container unpause", ""},
	{"container update", ""}, {"container wait", ""},
	{"system connection", noRemote},
	{"system df", ""}, {"system events", ""}, {"system info", ""}, {"system migrate", ""},
	{"system prune", ""}, {"system renumber", "no lock numbers to renumber"}, {"system reset", ""},
	{"system service", "no API service: hutch has no daemon"},
	{"volume create", ""}, {"volume exists", ""}, {"volume export", "not yet"}, {"volume import", "not yet"},
	{"volume inspect", ""}, {"volume ls", ""}, {"volume mount", noMount}, {"volume prune", ""},
	{"volume reload", "no volume plugins"}, {"volume rm", ""}, {"volume unmount", noMount},
	{"pod", noPods},
}

// reachable says whether the words name a command of the tree that does something (a
// group counts when it has verbs).
func reachable(root *cobra.Command, path string) bool {
	words := strings.Fields(path)
	c, rest, err := root.Find(words)
	if err != nil || len(rest) != 0 || c == root {
		return false
	}
	last := words[len(words)-1]
	if c.Name() != last && !c.HasAlias(last) {
		return false
	}
	return c.Runnable() || c.HasSubCommands()
}

// TestDockerVerbsReachable walks Docker's and Podman's verb lists: each verb hutch has
// is reachable where they have it (at the top level, through its group, by its
// aliases); each it lacks is not (and the note must go when it comes).
func TestDockerVerbsReachable(t *testing.T) {
	root, _ := newRootCommand()
	for _, list := range []struct {
		who   string
		verbs []verbRef
	}{{"docker", dockerVerbs}, {"podman", podmanVerbs}} {
		for _, vr := range list.verbs {
			got := reachable(root, vr.path)
			switch {
			case vr.lacks == "" && !got:
				t.Errorf("`%s %s` has no counterpart: `hutch %s` is not reachable", list.who, vr.path, vr.path)
			case vr.lacks != "" && got:
				t.Errorf("`hutch %s` exists now: drop the note %q from %sVerbs", vr.path, vr.lacks, list.who)
			}
		}
	}
}

// TestGroupVerbsAreTheCommands: a verb reached through its group is the same command
// as at the top level (the same flags), under the group's name for it.
func TestGroupVerbsAreTheCommands(t *testing.T) {
	root, _ := newRootCommand()
	for _, p := range [][2]string{
		{"images", "image ls"}, {"rmi", "image rm"}, {"history", "image history"}, {"untag", "image untag"},
		{"ps", "container ls"}, {"export", "container export"}, {"diff", "container diff"}, {"rm", "container rm"},
		{"info", "system info"},
	} {
		top, _, err := root.Find(strings.Fields(p[0]))
		if err != nil {
			t.Fatal(err)
		}
		sub, _, err := root.Find(strings.Fields(p[1]))
		if err != nil {
			t.Fatal(err)
		}
		var a, b []string
		top.Flags().VisitAll(func(f *pflag.Flag) { a = append(a, f.Name) })
		sub.Flags().VisitAll(func(f *pflag.Flag) { b = append(b, f.Name) })
		if strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("`hutch %s` has flags %v, `hutch %s` %v", p[0], a, p[1], b)
		}
		if sub.Short != top.Short && !strings.HasPrefix(p[1], "container diff") {
			t.Errorf("`hutch %s` and `hutch %s` are described differently: %q, %q", p[0], p[1], top.Short, sub.Short)
		}
	}
	// Inspect through a group looks at that kind only.
	for path, typ := range map[string]string{"image inspect": "image", "container inspect": "container", "inspect": ""} {
		c, _, _ := root.Find(strings.Fields(path))
		if got := c.Flags().Lookup("type").Value.String(); got != typ {
			t.Errorf("`hutch %s` inspects --type %q, want %q", path, got, typ)
		}
	}
}

// TestUnknownSubcommandIsAnError: `hutch image frobnicate` is an engine error naming
// the group's help, not the group's help printed with status 0.
func TestUnknownSubcommandIsAnError(t *testing.T) {
	for _, g := range groups {
		root, _ := newRootCommand()
		root.SetArgs([]string{g.name, "frobnicate"})
		root.SetOut(&strings.Builder{})
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate" for "hutch `+g.name+`"`) {
			t.Errorf("hutch %s frobnicate: %v", g.name, err)
		}
	}
}
