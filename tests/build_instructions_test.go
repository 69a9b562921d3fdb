package tests

// Every Dockerfile instruction, each checked by what the built image holds or does:
// FROM (ARG in the name, AS, an earlier stage by name and by index), RUN (shell, exec,
// heredoc, --network, --mount=type=cache|bind|secret), the metadata instructions and
// ARG scoping, ONBUILD in a child build, STOPSIGNAL honoured by stop, HEALTHCHECK, SHELL
// and ONBUILD kept in both image formats, and the parser directives.

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuildFrom(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	bdImport(t, sb, bdBase2)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "ARG BASE=" + bdBase + "\n" +
			"FROM ${BASE} AS first\n" +
			"RUN echo first-stage > /first\n" +
			"FROM first AS second\n" +
			"RUN cat /first > /second && echo second-stage >> /second\n" +
			"FROM " + bdBase + "\n" +
			"COPY --from=second /second /from-name\n" +
			"COPY --from=0 /first /from-index\n" +
			"ARG PICK=first\n" +
			"COPY --from=${PICK} /first /from-arg\n" +
			`CMD ["cat", "/from-name", "/from-index", "/from-arg"]` + "\n",
	})
	bdBuild(sb, "-t", "from-default", ctx)
	assertEqual(t, bdRun(sb, "from-default"), "first-stage\nsecond-stage\nfirst-stage\nfirst-stage\n", "stages by name, by index and by an ARG in --from")

	// The ARG in FROM takes --build-arg: the first stage starts from bbase2 (its label
	// shows), and the stage built FROM it inherits it.
	bdBuild(sb, "-t", "from-arg", "--target", "second", "--build-arg", "BASE="+bdBase2, ctx)
	in, _ := bdInspectImage(sb, "from-arg")
	assertEqual(t, in.Config.Labels["which"], "two", "the label of the base named by --build-arg BASE")
	bdBuild(sb, "-t", "from-arg-default", "--target", "second", ctx)
	in, _ = bdInspectImage(sb, "from-arg-default")
	assertEqual(t, in.Config.Labels["which"], "", "the label without --build-arg (bbase has none)")
}

func TestBuildRunForms(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"RUN echo \"shell $0\" > /shell\n" +
			`RUN ["/bin/sh", "-c", "echo exec-form > /exec"]` + "\n" +
			"RUN <<EOF\n" +
			"echo heredoc-line-1 > /heredoc\n" +
			"echo heredoc-line-2 >> /heredoc\n" +
			"EOF\n" +
			"RUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /netdevs\n" +
			// A predefined proxy ARG needs no ARG line, and stays out of the image.
			"RUN echo \"proxy=$HTTP_PROXY\" > /proxy\n" +
			`CMD ["cat", "/shell", "/exec", "/heredoc", "/netdevs", "/proxy"]` + "\n",
	})
	bdBuild(sb, "-t", "runforms", "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128", ctx)
	assertEqual(t, bdRun(sb, "runforms"), "shell /bin/sh\nexec-form\nheredoc-line-1\nheredoc-line-2\nlo\nproxy=http://proxy.invalid:3128\n", "what the RUN forms wrote")
	_, raw := bdInspectImage(sb, "runforms")
	assertNotContains(t, raw.stdout, "proxy.invalid", "inspect (Env and history) of an image built with --build-arg HTTP_PROXY")

	// build --network: none leaves the RUN steps only lo; host gives them the host's.
	netCtx := bdCtx(t, sb, "net", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort > /netdevs\nCMD [\"cat\", \"/netdevs\"]\n",
	})
	bdBuild(sb, "--network", "none", "-t", "net-none", netCtx)
	assertEqual(t, bdRun(sb, "net-none"), "lo\n", "network devices of a RUN in build --network none")
	bdBuild(sb, "--network", "host", "--no-cache", "-t", "net-host", netCtx)
	var hostDevs []string
	for _, l := range strings.Split(string(readFile(t, "/proc/net/dev")), "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			hostDevs = append(hostDevs, strings.TrimSpace(name))
		}
	}
	slices.Sort(hostDevs)
	assertEqual(t, bdRun(sb, "net-host"), strings.Join(hostDevs, "\n")+"\n", "network devices of a RUN in build --network host (the host's)")
}

func TestBuildRunMounts(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	const secret = "s3cr3t-VALUE-7f1e"
	secretFile := sb.path("work", "token.txt")
	sb.writeUserFile(secretFile, secret)
	sum := sha256.Sum256([]byte(secret))
	secretSum := hex.EncodeToString(sum[:])
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + " AS src\n" +
			"RUN echo from-other-stage > /data\n" +
			"FROM " + bdBase + "\n" +
			"RUN --mount=type=cache,target=/cache echo run >> /cache/count && wc -l < /cache/count | tr -d ' ' > /count\n" +
			// rw: the step may write there; the write is thrown away (the next mount of
			// the stage shows its own /data).
			"RUN --mount=type=bind,from=src,target=/mnt/src,rw echo scratch > /mnt/src/data && cat /mnt/src/data > /rw\n" +
			"RUN --mount=type=bind,from=src,target=/mnt/src cat /mnt/src/data > /bound\n" +
			// The Dockerfile names the secret's checksum, not the secret: it lands in history.
			"RUN --mount=type=secret,id=tok test \"$(sha256sum < /run/secrets/tok | cut -d' ' -f1)\" = " + secretSum + " && echo secret-was-readable > /seen\n" +
			// env=: the secret in a variable of that step only.
			"RUN --mount=type=secret,id=tok,env=TOK test \"$(printf %s \"$TOK\" | sha256sum | cut -d' ' -f1)\" = " + secretSum + " && echo env-was-set >> /seen\n" +
			`CMD ["sh", "-c", "cat /count /bound /seen; find /cache /mnt/src /run/secrets -type f 2>/dev/null | wc -l"]` + "\n",
	})
	bdBuild(sb, "-t", "mounts", "--secret", "id=tok,src="+secretFile, ctx)
	assertEqual(t, bdRun(sb, "mounts"), "1\nfrom-other-stage\nsecret-was-readable\nenv-was-set\n0\n", "first build: cache count, bind from a stage, secret, and no mount left in the image")

	assertEqual(t, bdRun(sb, "mounts", "cat", "/rw"), "scratch\n", "what a step wrote in its rw bind mount")

	// The cache mount persists across builds (a --no-cache build runs the RUN again and
	// finds the count of the first).
	bdBuild(sb, "-t", "mounts", "--no-cache", "--secret", "id=tok,src="+secretFile, ctx)
	assertEqual(t, strings.SplitN(bdRun(sb, "mounts"), "\n", 2)[0], "2", "the cache mount's count after a second build")

	// The secret is in no layer, no config and no history of the image.
	saved := bdSaved(sb, "mounts")
	if !strings.Contains(string(saved), "from-other-stage") {
		t.Fatalf("the scan of the saved image does not see the content of /bound: it could not see a secret either")
	}
	if strings.Contains(string(saved), secret) {
		t.Fatalf("the secret's content is in the saved image (layers, config or history)")
	}
	_, raw := bdInspectImage(sb, "mounts")
	assertNotContains(t, raw.stdout, secret, "inspect of the image")
	// Nor in the image's file system.
	assertEqual(t, strings.TrimSpace(bdRun(sb, "mounts", "sh", "-c", "find / -xdev -type f -exec grep -l "+secret+" {} + 2>/dev/null | wc -l")), "0", "files holding the secret in the image")
}

// TestBuildMetadata covers CMD, ENTRYPOINT, ENV, ARG (global and per stage, --build-arg,
// meta ARG re-declared), LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK,
// SHELL and ONBUILD in the docker format, then in the OCI format.
func TestBuildMetadata(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "ARG GLOBAL=global-default\n" +
			"ARG GLOBAL2=global2-default\n" +
			"ARG ONLYMETA=meta-only\n" +
			"FROM " + bdBase + "\n" +
			"ARG GLOBAL\n" +
			"ARG GLOBAL2\n" +
			"ARG LOCAL=local-default\n" +
			"ENV FROMENV=${GLOBAL}-${LOCAL} PLAIN=plain\n" +
			"RUN echo \"g=$GLOBAL g2=$GLOBAL2 l=$LOCAL m=${ONLYMETA:-unset} e=$FROMENV\" > /args\n" +
			"LABEL com.example.a=\"label a\" b=2\n" +
			"EXPOSE 8080/tcp 53/udp\n" +
			"VOLUME /data\n" +
			"WORKDIR /app\n" +
			"RUN pwd > /app/pwd\n" +
			"USER alice\n" +
			"RUN id -u > /tmp/uid\n" +
			"STOPSIGNAL SIGUSR1\n" +
			"HEALTHCHECK --interval=5s --timeout=3s --retries=4 CMD cat /etc/hello\n" +
			`SHELL ["/bin/env", "SHELLMARK=via-shell", "/bin/sh", "-c"]` + "\n" +
			"RUN echo $SHELLMARK > /tmp/shellmark\n" +
			"ONBUILD RUN echo onbuild-ran > /tmp/onbuild\n" +
			`ENTRYPOINT ["/bin/echo", "ep"]` + "\n" +
			`CMD ["default-arg"]` + "\n",
	})
	bdBuild(sb, "-t", "meta", "--format", "docker", "--build-arg", "GLOBAL=cli-global", "--build-arg", "LOCAL=cli-local", ctx)
	in, raw := bdInspectImage(sb, "meta")
	c := in.Config
	for _, kv := range []string{"FROMENV=cli-global-cli-local", "PLAIN=plain"} {
		if !bdHasEnv(c.Env, kv) {
			t.Fatalf("Config.Env %q lacks %s", c.Env, kv)
		}
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e, "GLOBAL") || strings.HasPrefix(e, "LOCAL=") || strings.HasPrefix(e, "ONLYMETA=") {
			t.Fatalf("an ARG leaked into the image's Env: %q", c.Env)
		}
	}
	assertEqual(t, c.Labels["com.example.a"], "label a", "LABEL com.example.a")
	assertEqual(t, c.Labels["b"], "2", "LABEL b")
	for _, p := range []string{"8080/tcp", "53/udp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Fatalf("ExposedPorts %v lacks %s", c.ExposedPorts, p)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Fatalf("Volumes %v, want /data", c.Volumes)
	}
	assertEqual(t, c.WorkingDir, "/app", "WorkingDir")
	assertEqual(t, c.User, "alice", "User")
	assertEqual(t, c.StopSignal, "SIGUSR1", "StopSignal")
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD-SHELL", "cat /etc/hello"}) ||
		c.Healthcheck.Interval != int64(5*time.Second) || c.Healthcheck.Timeout != int64(3*time.Second) || c.Healthcheck.Retries != 4 {
		t.Fatalf("Healthcheck %+v, want Test [CMD-SHELL, cat /etc/hello], 5s, 3s, 4 retries:\n%s", c.Healthcheck, raw.stdout)
	}
	if !slices.Equal(c.Shell, []string{"/bin/env", "SHELLMARK=via-shell", "/bin/sh", "-c"}) {
		t.Fatalf("Shell %q", c.Shell)
	}
	if !slices.Equal(c.OnBuild, []string{"RUN echo onbuild-ran > /tmp/onbuild"}) {
		t.Fatalf("OnBuild %q, want [RUN echo onbuild-ran > /tmp/onbuild]", c.OnBuild)
	}
	if !slices.Equal(c.Entrypoint, []string{"/bin/echo", "ep"}) || !slices.Equal(c.Cmd, []string{"default-arg"}) {
		t.Fatalf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}

	// What the RUN steps saw, and how the image runs.
	assertEqual(t, bdRun(sb, "meta"), "ep default-arg\n", "ENTRYPOINT + CMD")
	assertEqual(t, bdRun(sb, "meta", "other"), "ep other\n", "ENTRYPOINT + arguments")
	got := bdRun(sb, "--entrypoint", "/bin/sh", "meta", "-c", "cat /args /app/pwd /tmp/uid /tmp/shellmark; id -u; pwd; echo $FROMENV; ls -d /data")
	want := "g=cli-global g2=global2-default l=cli-local m=unset e=cli-global-cli-local\n/app\n1000\nvia-shell\n1000\n/app\ncli-global-cli-local\n/data\n"
	assertEqual(t, got, want, "ARG scoping, WORKDIR, USER and SHELL as the RUN steps saw them, and the run's user, dir and env")

	// STOPSIGNAL: `stop` sends SIGUSR1, which the process traps (TERM is ignored).
	cid := lcRunD(sb, "--entrypoint", "/bin/sh", "meta", "-c", "trap 'exit 10' USR1; trap '' TERM; echo ready; sleep 1000 & wait")
	lcWaitLog(sb, cid, "ready", 10*time.Second)
	sb.ok("stop", "-t", "20", cid)
	if st := lcInspect(sb, cid).State; st.Status != "exited" || st.ExitCode != 10 {
		t.Fatalf("after stop, the container is %s with %d, want exited with 10 (its SIGUSR1 trap)", st.Status, st.ExitCode)
	}
	sb.ok("rm", cid)

	// ONBUILD: the trigger runs first thing in a child build, as the parent's user, and
	// the child does not inherit it.
	child := bdCtx(t, sb, "child", map[string]string{
		"Dockerfile": "FROM meta\nRUN cat /tmp/onbuild > /tmp/child-saw\n",
	})
	bdBuild(sb, "-t", "meta-child", child)
	assertEqual(t, bdRun(sb, "--entrypoint", "cat", "meta-child", "/tmp/child-saw"), "onbuild-ran\n", "the ONBUILD trigger ran in the child build")
	cin, _ := bdInspectImage(sb, "meta-child")
	if len(cin.Config.OnBuild) != 0 {
		t.Fatalf("the child image kept the parent's ONBUILD triggers: %q", cin.Config.OnBuild)
	}

	// The OCI format has no field for HEALTHCHECK, SHELL, ONBUILD: the build keeps them
	// (in the manifest's annotations) and says so; inspect still shows them; STOPSIGNAL
	// is native.
	r, _ := bdBuild(sb, "-t", "meta-oci", "--format", "oci", "--build-arg", "GLOBAL=cli-global", ctx)
	oin, oraw := bdInspectImage(sb, "meta-oci")
	assertEqual(t, oin.Config.StopSignal, "SIGUSR1", "StopSignal in the OCI image")
	for _, s := range []string{"cat /etc/hello", "SHELLMARK=via-shell", "onbuild-ran"} {
		assertContains(t, oraw.stdout, s, "inspect of the OCI image (HEALTHCHECK, SHELL, ONBUILD)")
	}
	// …and a child of the OCI image still runs its ONBUILD trigger.
	ochild := bdCtx(t, sb, "ochild", map[string]string{
		"Dockerfile": "FROM meta-oci\nRUN cat /tmp/onbuild > /tmp/child-saw\n",
	})
	bdBuild(sb, "-t", "meta-oci-child", ochild)
	assertEqual(t, bdRun(sb, "--entrypoint", "cat", "meta-oci-child", "/tmp/child-saw"), "onbuild-ran\n", "the ONBUILD trigger of an OCI parent")

	// The annotations of the image's OCI manifest carry them (as an OCI archive shows).
	ann := bdOCIAnnotations(sb, "meta-oci")
	all := ""
	for k, v := range ann {
		all += k + "=" + v + "\n"
	}
	for _, s := range []string{"cat /etc/hello", "SHELLMARK=via-shell", "onbuild-ran"} {
		if !strings.Contains(all, s) {
			t.Errorf("the OCI manifest's annotations do not hold %q (HEALTHCHECK, SHELL, ONBUILD in --format oci); they are:\n%s", s, all)
		}
	}
	out := strings.ToLower(bdOut(r))
	if !strings.Contains(out, "annotation") || !strings.Contains(out, "healthcheck") {
		t.Errorf("a --format oci build should say that HEALTHCHECK (SHELL, ONBUILD) are kept as annotations:\n%s", r)
	}
}

func TestBuildDirectives(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "# syntax=docker/dockerfile:1\n" +
			"# escape=`\n" +
			"FROM " + bdBase + "\n" +
			"RUN echo one `\n" +
			"    two > /escaped && printf '%s\\n' 'a\\b' > /backslash\n" +
			`CMD ["cat", "/escaped", "/backslash"]` + "\n",
	})
	bdBuild(sb, "-t", "directives", ctx)
	assertEqual(t, bdRun(sb, "directives"), "one two\na\\b\n", "the backtick continues the line, the backslash is plain")

	// `# syntax=` alone is accepted too (a frontend image is not pulled).
	ctx2 := bdCtx(t, sb, "ctx2", map[string]string{
		"Dockerfile": "# syntax=docker.io/docker/dockerfile:1.7\nFROM " + bdBase + "\nRUN echo ok > /ok\n",
	})
	bdBuild(sb, "--pull=never", "-t", "syntax", ctx2)
	assertEqual(t, bdRun(sb, "syntax", "cat", "/ok"), "ok\n", "a build with # syntax=")
}
