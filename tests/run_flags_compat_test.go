package tests

// Docker's run flags that scripts pass and that mean little or nothing here: -q,
// --annotation, --mac-address, --disable-content-trust, --volume-driver, --isolation,
// and the cgroup v1 knobs discarded with a warning, as Docker does on cgroup v2.

import (
	"strings"
	"testing"
)

func TestRunFlagsCompat(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)

	t.Run("quiet", func(t *testing.T) {
		reg := startRegistry(t, false)
		sb := lcAt(sb, t)
		dest := reg.host + "/compat/lc:1"
		sb.ok("tag", lcImage, dest)
		sb.ok("push", "--tls-verify=false", dest)
		sb.ok("rmi", dest)
		r := sb.ok("run", "--rm", "--pull", "always", "--tls-verify=false", dest, "echo", "ran")
		assertContains(t, r.stderr, "Pulled "+dest, "run's pull report without -q")
		r = sb.ok("run", "--rm", "-q", "--pull", "always", "--tls-verify=false", dest, "echo", "ran")
		assertEqual(t, r.stdout, "ran\n", "run -q: the command's output")
		assertEqual(t, r.stderr, "", "run -q: nothing about the pull")
	})

	t.Run("annotation", func(t *testing.T) {
		sb := lcAt(sb, t)
		sb.ok("create", "--name", "ann", "--annotation", "org.example.team=web", "--annotation", "note=a=b", lcImage, "true")
		r := sb.ok("inspect", "--format", "{{index .HostConfig.Annotations \"org.example.team\"}} {{index .Config.Annotations \"note\"}}", "ann")
		assertEqual(t, r.stdout, "web a=b\n", "annotations in inspect (Docker's and Podman's places)")
		r = sb.expect(125, "create", "--annotation", "novalue", lcImage, "true")
		assertContains(t, r.stderr, "--annotation", "an annotation without =")
	})

	t.Run("mac-address", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := sb.ok("run", "--rm", "--mac-address", "92:d0:c6:0a:29:33", lcImage, "cat", "/sys/class/net/tap0/address")
		assertEqual(t, r.stdout, "92:d0:c6:0a:29:33\n", "--mac-address on slirp4netns's tap0")
		sb.ok("create", "--name", "mac", "--mac-address", "02:42:ac:11:00:02", lcImage, "true")
		r = sb.ok("inspect", "--format", "{{.NetworkSettings.Networks.slirp4netns.MacAddress}}", "mac")
		assertEqual(t, r.stdout, "02:42:ac:11:00:02\n", "the MAC address in inspect")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--mac-address", "01:00:5e:00:00:01"}, "multicast"},
			{[]string{"--mac-address", "nope"}, "not an Ethernet address"},
			{[]string{"--mac-address", "02:42:ac:11:00:02", "--network", "none"}, "only a slirp4netns network"},
		} {
			r := sb.expect(125, append(append([]string{"run", "--rm"}, c.args...), lcImage, "true")...)
			assertContains(t, r.stderr, c.want, strings.Join(c.args, " "))
		}
	})

	t.Run("accepted-and-refused", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := sb.ok("run", "--rm", "--disable-content-trust", "--volume-driver", "local", "--isolation", "default", lcImage, "echo", "ok")
		assertEqual(t, r.stdout, "ok\n", "flags that ask for what hutch does")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--disable-content-trust=false"}, "no content trust"},
			{[]string{"--volume-driver", "convoy"}, "local driver"},
			{[]string{"--isolation", "hyperv"}, "Windows"},
		} {
			r := sb.expect(125, append(append([]string{"run", "--rm"}, c.args...), lcImage, "true")...)
			assertContains(t, r.stderr, c.want, strings.Join(c.args, " "))
		}
	})

	t.Run("cgroup-v1-knobs", func(t *testing.T) {
		sb := lcAt(sb, t)
		r := sb.ok("run", "--rm", "--memory-swappiness", "10", "--kernel-memory", "50m", "--oom-kill-disable", lcImage, "echo", "ran")
		assertEqual(t, r.stdout, "ran\n", "the container runs")
		for _, f := range []string{"--memory-swappiness", "--kernel-memory", "--oom-kill-disable"} {
			assertContains(t, r.stderr, "Warning: "+f+" discarded", "the warning for "+f)
		}
		r = sb.ok("run", "--rm", lcImage, "true")
		assertEqual(t, r.stderr, "", "no warning without those flags")
	})
}
