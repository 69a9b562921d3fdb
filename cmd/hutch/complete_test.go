package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/security"
)

// whole are the values that are complete as offered (not a KEY= to go on typing).
func whole(values []string) []string {
	var out []string
	for _, v := range values {
		w, _, _ := strings.Cut(v, "\t")
		if !strings.ContainsAny(w[len(w)-1:], "=:,") {
			out = append(out, w)
		}
	}
	return out
}

// TestCompletedValuesParse: every value completion offers is one the flag's parser
// takes, so that completing never leads to an error.
func TestCompletedValuesParse(t *testing.T) {
	for _, v := range whole(networkModes) {
		if _, err := network.Parse(v, network.Defaults{}); err != nil {
			t.Errorf("--network %s: %v", v, err)
		}
	}
	for _, v := range whole(slirpOptions) {
		if _, err := network.Parse("slirp4netns:"+v, network.Defaults{}); err != nil {
			t.Errorf("--network slirp4netns:%s: %v", v, err)
		}
	}
	for _, v := range pullPolicies {
		if _, err := images.ParsePullPolicy(v); err != nil {
			t.Errorf("--pull %s: %v", v, err)
		}
		if _, err := images.ParseBuildPullPolicy(v); err != nil {
			t.Errorf("build --pull %s: %v", v, err)
		}
	}
	for _, v := range []string{"true", "false"} {
		if _, err := images.ParseBuildPullPolicy(v); err != nil {
			t.Errorf("build --pull %s: %v", v, err)
		}
	}
	for _, v := range whole(restartValues) {
		if err := container.ValidRestart(v); err != nil {
			t.Errorf("--restart %s: %v", v, err)
		}
	}
	if err := container.ValidRestart("on-failure:3"); err != nil {
		t.Errorf("--restart on-failure:3 (what on-failure: leads to): %v", err)
	}
	for _, v := range usernsValues {
		if _, err := container.ParseUserns(v); err != nil {
			t.Errorf("--userns %s: %v", v, err)
		}
	}
	for _, v := range mountForms {
		// A form to go on from: completed (a path, a volume's name), the parser takes it.
		rest := map[string]string{"bind": "/x,target=/y", "volume": "v,target=/y", "tmpfs": "/t", "image": "alpine,target=/y"}
		typ, _, _ := strings.Cut(strings.TrimPrefix(v, "type="), ",")
		if _, err := container.ParseMounts(nil, []string{v + rest[typ]}, nil); err != nil {
			t.Errorf("--mount %s: %v", v+rest[typ], err)
		}
	}
	for _, v := range whole(securityValues) {
		if _, err := security.Parse([]string{v}); err != nil {
			t.Errorf("--security-opt %s: %v", v, err)
		}
	}
	for _, withSIG := range []bool{false, true} {
		for _, v := range signalNames(withSIG) {
			if _, err := container.ParseSignal(v); err != nil {
				t.Errorf("kill -s %s: %v", v, err)
			}
		}
	}
	for _, v := range logLevels {
		if _, err := logrus.ParseLevel(v); err != nil {
			t.Errorf("--log-level %s: %v", v, err)
		}
	}
	for _, v := range imageSortKeys {
		if _, err := imageSorter(v); err != nil {
			t.Errorf("images --sort %s: %v", v, err)
		}
	}
	for _, v := range []string{"dangling=true", "dangling=false"} {
		if _, err := images.ParseFilter([]string{v}, images.ListFilterKeys, time.Now()); err != nil {
			t.Errorf("images --filter %s: %v", v, err)
		}
	}
	for _, v := range statusValues {
		if _, err := container.ParseFilters([]string{"status=" + v}); err != nil {
			t.Errorf("ps --filter status=%s: %v", v, err)
		}
	}
	for _, v := range eventFilterValues {
		if _, err := events.ParseFilters([]string{v + "x"}); err != nil {
			t.Errorf("events --filter %sx: %v", v, err)
		}
	}
	for _, k := range filterKeys {
		v := map[string]string{"status=": "running", "exited=": "0", "id=": "ab", "publish=": "80",
			"expose=": "80/tcp", "health=": "none"}[k]
		if v == "" {
			v = "x"
		}
		if _, err := container.ParseFilters([]string{k + v}); err != nil {
			t.Errorf("ps --filter %s%s: %v", k, v, err)
		}
	}
	if enumFormats["save"][0] != images.FormatDocker {
		t.Errorf("save --format: %q first, want the default %q", enumFormats["save"], images.FormatDocker)
	}
}

// completeInProcess runs `hutch __complete ARGS…` in this process and returns the words
// offered (without descriptions) and the directive line.
func completeInProcess(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	root, a := newRootCommand()
	registerCompletions(root, a)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	ls := strings.Split(strings.TrimSpace(out.String()), "\n")
	var words []string
	for _, l := range ls[:len(ls)-1] {
		w, _, _ := strings.Cut(l, "\t")
		words = append(words, w)
	}
	return words, ls[len(ls)-1]
}

func TestFlagCompletion(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      string
		directive string
	}{
		{[]string{"run", "--network", ""}, "slirp4netns none host", ":4"},
		{[]string{"container", "create", "--net", "n"}, "none", ":4"},
		{[]string{"build", "--network", "h"}, "host", ":4"},
		{[]string{"run", "--network", "slirp4netns:c"}, "slirp4netns:cidr=", ":6"},
		{[]string{"--log-level", ""}, "debug info warn error", ":4"},
		{[]string{"ps", "--log-level", "w"}, "warn", ":4"},
		{[]string{"run", "--pull", ""}, "missing always never newer", ":4"},
		{[]string{"build", "--pull="}, "missing always never newer true false", ":4"},
		{[]string{"pull", "--policy", "n"}, "never newer", ":4"},
		{[]string{"run", "--restart", "un"}, "unless-stopped", ":4"},
		{[]string{"run", "--security-opt", "no-"}, "no-new-privileges no-new-privileges=true no-new-privileges=false", ":4"},
		{[]string{"run", "--security-opt", "sec"}, "seccomp=unconfined seccomp=builtin seccomp=", ":4"},
		{[]string{"run", "--security-opt", "ma"}, "mask=", ":6"},
		{[]string{"kill", "-s", "te"}, "TERM", ":4"},
		{[]string{"run", "--stop-signal", "SIGQ"}, "SIGQUIT", ":4"},
		{[]string{"run", "--cap-drop", "CHO"}, "CHOWN", ":4"},
		{[]string{"run", "--userns", ""}, "keep-id host", ":4"},
		{[]string{"images", "--format", "{{.Rep"}, "{{.Repository}}", ":6"},
		{[]string{"ps", "--format", "table {{.ID}}\\t{{.Na"}, "table {{.ID}}\\t{{.Names}}", ":6"},
		{[]string{"stats", "--format", "j"}, "json", ":4"},
		{[]string{"version", "--format", "{{.Client.Git"}, "{{.Client.GitCommit}} {{.Client.GitTreeState}}", ":6"},
		{[]string{"save", "--format", ""}, "docker-archive oci-archive", ":4"},
		{[]string{"push", "--format", ""}, "oci v2s2", ":4"},
		{[]string{"build", "--format", ""}, "oci docker", ":4"},
		{[]string{"ps", "--filter", "st"}, "status=", ":6"},
		{[]string{"ps", "--filter", "status=ex"}, "status=exited", ":4"},
		{[]string{"run", "--name", ""}, "", ":4"},
		{[]string{"run", "--memory", ""}, "", ":4"},
		{[]string{"stop", "-t", ""}, "", ":4"},
		{[]string{"build", ""}, "", ":16"},  // a directory
		{[]string{"import", ""}, "", ":0"},  // a file
		{[]string{"cp", "./"}, "", ":0"},    // a host path
		{[]string{"version", ""}, "", ":4"}, // no arguments
		{[]string{"ps", ""}, "", ":4"},      // no arguments
		{[]string{"volume", "ls", ""}, "", ":4"},
	} {
		words, directive := completeInProcess(t, tc.args...)
		if got := strings.Join(words, " "); got != tc.want || directive != tc.directive {
			t.Errorf("__complete %q: got %q %s, want %q %s", tc.args, got, directive, tc.want, tc.directive)
		}
	}
}

// TestNameCompletionRegistered: every command whose arguments name a container, an image
// or a volume completes them, and the table of commands names only commands that exist.
func TestNameCompletionRegistered(t *testing.T) {
	root, a := newRootCommand()
	registerCompletions(root, a)
	found := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if _, ok := specFor(c); ok {
			group := ""
			if c.Parent().HasParent() {
				group = c.Parent().Name()
			}
			found[group+" "+c.Name()] = true
		}
		use := strings.SplitN(c.Use, " ", 2)
		if len(use) == 2 && strings.ContainsAny(use[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			for _, word := range []string{"CONTAINER", "IMAGE", "VOLUME", "NAME|ID", "SOURCE_IMAGE", "CONTEXT"} {
				if strings.Contains(use[1], word) && c.ValidArgsFunction == nil {
					t.Errorf("%s (%s) has no completion of its arguments", c.CommandPath(), c.Use)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for group, cmds := range argSpecs {
		for name := range cmds {
			if !found[group+" "+name] {
				t.Errorf("completion table names %q %q, which is no command", group, name)
			}
		}
	}
}
