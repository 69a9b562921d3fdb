package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// finishHelp completes the tree's help: cobra's own commands (help, completion and its
// shells) get examples like every other command, and a usage line that names [OPTIONS]
// gets no "[flags]" after it.
func finishHelp(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	examples := map[string]string{
		"help":       "  hutch help run\n  hutch help container ls",
		"completion": "  source <(hutch completion bash)\n  hutch completion zsh > \"${fpath[1]}/_hutch\"\n  hutch completion fish > ~/.config/fish/completions/hutch.fish",
		"bash": "  source <(hutch completion bash)                  # in this shell\n" +
			"  hutch completion bash > ~/.local/share/bash-completion/completions/hutch   # in every new one",
		"zsh":        "  hutch completion zsh > \"${fpath[1]}/_hutch\"     # then start a new shell",
		"fish":       "  hutch completion fish > ~/.config/fish/completions/hutch.fish",
		"powershell": "  hutch completion powershell | Out-String | Invoke-Expression",
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if strings.Contains(c.Use, "[OPTIONS]") {
			c.DisableFlagsInUseLine = true
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = examples["help"]
		case "completion":
			c.Example = examples["completion"]
			for _, sh := range c.Commands() {
				if sh.Example == "" {
					sh.Example = examples[sh.Name()]
				}
			}
		}
	}
}
