#!/usr/bin/env bash
# Checks what `make install` ships, as a distribution would package it: `make`, then
# `make install DESTDIR=TMP`, and then that every file is where it belongs, that man
# renders every page without a warning, that the bash, zsh and fish completion scripts
# load and (bash, fish) really complete through the installed binary, that the binary
# names the commit of this checkout, and that `make uninstall` removes it all.
# hack/test.sh runs it (CI); alone: hack/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
dest=$(mktemp -d /tmp/hutch-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail() {
	echo "test-install: $*" >&2
	exit 1
}

make --no-print-directory >/dev/null
make --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local >/dev/null
p=$dest/usr/local
for f in bin/hutch share/man/man1/hutch.1 share/man/man1/hutch-run.1 share/man/man1/hutch-container-ls.1 \
	share/man/man1/hutch-volume-rm.1 share/man/man5/hutch-config.toml.5 \
	share/bash-completion/completions/hutch share/zsh/site-functions/_hutch \
	share/fish/vendor_completions.d/hutch.fish share/doc/hutch/LICENSE share/doc/hutch/NOTICE; do
	[ -f "$p/$f" ] || fail "make install did not install $f (installed: $(cd "$dest" && find . -type f | head -20))"
done
[ -x "$p/bin/hutch" ] || fail "bin/hutch is not executable"
pages=$(find "$p/share/man/man1" -name '*.1' | wc -l)
[ "$pages" -ge 80 ] || fail "only $pages pages in man1"

# Every page renders, at 80 columns, without a warning from groff or man.
for f in "$p"/share/man/man1/*.1 "$p"/share/man/man5/*.5; do
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null) || fail "man -l $f failed: $warn"
	[ -z "$warn" ] || fail "man -l $(basename "$f") warns: $warn"
done
run=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$p/share/man/man1/hutch-run.1" 2>/dev/null)
for want in "HUTCH-RUN(1)" "--stop-timeout" "EXAMPLE" "hutch run --rm"; do
	grep -q -F -- "$want" <<<"$run" || fail "hutch-run(1) has no '$want'"
done
LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$p/share/man/man5/hutch-config.toml.5" 2>/dev/null | grep -q 'mount_program' ||
	fail "hutch-config.toml(5) does not list the keys of docs/config.md"

# The completion scripts load, and complete through the installed binary.
export PATH="$p/bin:$PATH"
got=$(bash -c "source '$p/share/bash-completion/completions/hutch' && complete -p hutch")
grep -q '__start_hutch hutch' <<<"$got" || fail "bash: the script does not register hutch: $got"
# As an interactive shell has it: bash-completion's helpers, then hutch's script.
got=$(bash -c "source /usr/share/bash-completion/bash_completion; source '$p/share/bash-completion/completions/hutch'
	COMP_WORDS=(hutch run --network ''); COMP_CWORD=3; COMP_LINE='hutch run --network '; COMP_POINT=\${#COMP_LINE}
	__start_hutch 2>/dev/null; printf '%s\n' \"\${COMPREPLY[@]}\"" | sort | tr '\n' ' ')
[ "$got" = "host none slirp4netns " ] || fail "bash: hutch run --network <TAB> offered '$got'"
got=$(zsh -f -c "autoload -U compinit && compinit -u -D && source '$p/share/zsh/site-functions/_hutch' && print -r -- \$_comps[hutch]")
[ "$got" = "_hutch" ] || fail "zsh: the script does not register _hutch: '$got'"
got=$(HOME=$dest fish --no-config -c "source '$p/share/fish/vendor_completions.d/hutch.fish'; complete -C 'hutch --log-level '" | cut -f1 | sort | tr '\n' ' ')
[ "$got" = "debug error info warn " ] || fail "fish: hutch --log-level <TAB> offered '$got'"

# The binary names this checkout's commit.
head=$(git rev-parse HEAD)
got=$(hutch version --format '{{.Client.GitCommit}}')
[ "$got" = "$head" ] || fail "hutch version names commit '$got', the checkout is at $head"

make --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local >/dev/null
left=$(cd "$dest" && find . -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-install: ok ($pages pages in man1, completions for bash, zsh and fish, commit ${head:0:12})"
