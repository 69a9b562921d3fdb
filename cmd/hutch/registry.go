package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"
	"golang.org/x/term"

	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
)

// registryFlags are the flags every registry command shares.
type registryFlags struct {
	tlsVerify bool
}

func (f *registryFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS with a trusted certificate (false also allows plain HTTP)")
}

// skipTLS is --tls-verify=false.
func (f *registryFlags) skipTLS() bool { return f != nil && !f.tlsVerify }

// progress is where go.podman.io/image reports: stderr, or nothing with -q.
func progress(quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return os.Stderr
}

func newPullCommand(a *app) *cobra.Command {
	var quiet, allTags bool
	var platform, policy string
	rf := &registryFlags{}
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry (alpine means docker.io/library/alpine:latest)",
		Example: `  hutch pull alpine
  hutch pull --tls-verify=false 127.0.0.1:5000/me/app:1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if platform != "" && platform != "linux/"+goarch() {
				return fmt.Errorf("--platform %q: only this machine's platform (linux/%s) can run here", platform, goarch())
			}
			p, err := images.ParsePullPolicy(policy)
			if err != nil {
				return fmt.Errorf("--policy: %w", err)
			}
			if p != images.PullAlways {
				if allTags {
					return fmt.Errorf("--all-tags pulls every tag: it takes no --policy %s", policy)
				}
				img, _, err := a.sess.EnsureImage(context.Background(), engine.ImageRequest{
					Ref: args[0], Policy: p, SkipTLSVerify: rf.skipTLS(), Progress: progress(quiet)})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), img.ID)
				return nil
			}
			// A pull writes its blobs into the store's tmp dir, which every locked command
			// clears of leftovers: hold the lock, as load does, so that a `hutch tag` meanwhile
			// does not delete them under it (and so that this pull clears a killed one's).
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			svc := &images.Service{Store: s, Sys: a.sess.SystemContext(rf.skipTLS())}
			pulled, err := svc.Pull(context.Background(), args[0], images.PullOptions{
				Registries: a.sess.Registries(), AllTags: allTags, Progress: progress(quiet), Retries: 3,
			})
			for _, p := range pulled {
				if quiet {
					fmt.Fprintln(cmd.OutOrStdout(), p.ID)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "Pulled %s\n", p.Name)
					fmt.Fprintln(cmd.OutOrStdout(), p.ID)
				}
			}
			return err
		},
	}
	rf.register(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	c.Flags().BoolVarP(&allTags, "all-tags", "a", false, "pull every tag of the repository")
	c.Flags().StringVar(&platform, "platform", "", "os/arch to pull (only this machine's)")
	c.Flags().StringVar(&policy, "policy", string(images.PullAlways), "when to pull: always, missing (not when the store has it), never (only check the store) or newer (when the registry's differs)")
	a.authFileFlag(c)
	return onStore(c)
}

func newPushCommand(a *app) *cobra.Command {
	var format, compression, digestFile string
	var quiet bool
	rf := &registryFlags{}
	c := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [DESTINATION]",
		Short: "Push an image to a registry",
		Example: `  hutch push 127.0.0.1:5000/me/app:1
  hutch push --tls-verify=false demo 127.0.0.1:5000/me/demo:latest`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			dest := ""
			if len(args) == 2 {
				dest = strings.TrimPrefix(args[1], "docker://")
			}
			svc := &images.Service{Store: s, Sys: a.sess.SystemContext(rf.skipTLS())}
			named, d, err := svc.Push(context.Background(), args[0], dest, images.PushOptions{
				Format: format, Compression: compression, Progress: progress(quiet), Retries: 3,
			})
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "Pushed %s@%s\n", named.String(), d)
			}
			if digestFile != "" {
				if err := os.WriteFile(digestFile, []byte(d.String()), 0o644); err != nil {
					return fmt.Errorf("--digestfile: %w", err)
				}
			}
			return nil
		},
	}
	rf.register(c)
	c.Flags().StringVarP(&format, "format", "f", "", "manifest format: oci or v2s2 (default: keep the image's)")
	c.Flags().StringVar(&compression, "compression-format", "", "layer compression: gzip (default) or zstd")
	c.Flags().StringVar(&digestFile, "digestfile", "", "write the pushed manifest's digest to this file")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	a.authFileFlag(c)
	return onStore(c)
}

func newLoginCommand(a *app) *cobra.Command {
	var user, password string
	var stdin bool
	rf := &registryFlags{}
	c := &cobra.Command{
		Use:   "login [OPTIONS] REGISTRY",
		Short: "Log in to a registry (credentials kept in ~/.config/hutch/auth.json, mode 0600)",
		Example: `  hutch login -u me 127.0.0.1:5000
  echo "$TOKEN" | hutch login -u me --password-stdin quay.io`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if password != "" && stdin {
				return errors.New("--password and --password-stdin cannot be combined")
			}
			in := bufio.NewReader(os.Stdin)
			if user == "" {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return errors.New("login: give the user name with -u")
				}
				fmt.Fprint(cmd.ErrOrStderr(), "Username: ")
				line, _ := in.ReadString('\n')
				user = strings.TrimSpace(line)
			}
			switch {
			case stdin:
				b, err := fsutil.Password.ReadStream(in, "(standard input)")
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			case password == "":
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return errors.New("login: give the password with -p or --password-stdin")
				}
				fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				password = string(b)
			}
			registry := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
			if err := images.Login(context.Background(), a.sess.SystemContext(rf.skipTLS()), registry, user, password); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded!")
			return nil
		},
	}
	rf.register(c)
	c.Flags().StringVarP(&user, "username", "u", "", "user name")
	c.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	c.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	a.authFileFlag(c)
	return c
}

func newLogoutCommand(a *app) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:     "logout [OPTIONS] [REGISTRY]",
		Short:   "Remove stored registry credentials",
		Example: "  hutch logout registry.example.com\n  hutch logout -a",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return errors.New("logout: name a registry, or use -a for all")
			}
			registry := ""
			if len(args) == 1 {
				registry = args[0]
			}
			if err := images.Logout(a.sess.SystemContext(false), registry); err != nil {
				return err
			}
			if all {
				fmt.Fprintln(cmd.OutOrStdout(), "Removed login credentials for all registries")
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Removed login credentials for %s\n", registry)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials of every registry")
	a.authFileFlag(c)
	return c
}

func goarch() string { return runtime.GOARCH }

// ensureImage applies run's and create's --pull: the image, found or pulled.
func (a *app) ensureImage(ref, policy string, rf *registryFlags, quiet bool) (*cstorage.Image, error) {
	p, err := images.ParsePullPolicy(policy)
	if err != nil {
		return nil, err
	}
	var progress io.Writer = os.Stderr
	if quiet {
		progress = io.Discard
	}
	img, pulled, err := a.sess.EnsureImage(context.Background(), engine.ImageRequest{
		Ref: ref, Policy: p, SkipTLSVerify: rf.skipTLS(), Progress: progress})
	for _, pl := range pulled {
		fmt.Fprintf(progress, "Pulled %s\n", pl.Name)
	}
	return img, err
}
