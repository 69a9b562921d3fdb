# hutch's Makefile: the binary (through hack/build.sh, which holds the build flags), its
# man pages and shell completions (generated, never committed), installing them, and the
# tests (hack/test.sh).
#
#   make                                   bin/hutch, bin/man/, bin/completions/
#   sudo make install [PREFIX=/usr/local] [DESTDIR=]
#   sudo make uninstall [PREFIX=/usr/local] [DESTDIR=]
#   sudo make test                         = sudo hack/test.sh (CI)
#   make clean
#
# `make install` installs what `make` built (it builds only what is missing), so that
# `make && sudo make install` does not build as root.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/hutch
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

export PATH := /usr/local/go/bin:$(PATH)

# The man pages' date: SOURCE_DATE_EPOCH, else the commit's, so that they are reproducible.
DOCDATE ?= $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null))

COMPLETIONS := bin/completions/hutch.bash bin/completions/_hutch bin/completions/hutch.fish
BUILT       := bin/hutch bin/man/.done $(COMPLETIONS)

.PHONY: all binary man completions install uninstall test clean FORCE

# One step at a time: go build is parallel itself, and the completions need the binary.
.NOTPARALLEL:

all: binary man completions

# Go decides what is stale; the script also stamps the commit, so it always runs.
binary:
	hack/build.sh bin/hutch

bin/hutch:
	hack/build.sh bin/hutch

man: bin/man/.done

bin/man/.done: FORCE
	hack/build.sh bin/hutch-docgen hutch_docgen
	rm -rf bin/man
	bin/hutch-docgen -out bin/man -config docs/config.md $(if $(DOCDATE),-date $(DOCDATE))
	touch $@

completions: $(COMPLETIONS)

bin/completions/hutch.bash: bin/hutch
	@mkdir -p $(@D)
	bin/hutch completion bash > $@.tmp && mv $@.tmp $@

bin/completions/_hutch: bin/hutch
	@mkdir -p $(@D)
	bin/hutch completion zsh > $@.tmp && mv $@.tmp $@

bin/completions/hutch.fish: bin/hutch
	@mkdir -p $(@D)
	bin/hutch completion fish > $@.tmp && mv $@.tmp $@

# Builds only when something is missing (see above).
install: $(if $(filter-out $(wildcard $(BUILT)),$(BUILT)),all)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 bin/hutch $(DESTDIR)$(BINDIR)/hutch
	install -m 0644 bin/man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 bin/man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 bin/completions/hutch.bash $(DESTDIR)$(BASHCOMPDIR)/hutch
	install -m 0644 bin/completions/_hutch $(DESTDIR)$(ZSHCOMPDIR)/_hutch
	install -m 0644 bin/completions/hutch.fish $(DESTDIR)$(FISHCOMPDIR)/hutch.fish
	install -m 0644 LICENSE NOTICE README.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hutch
	rm -f $(DESTDIR)$(MANDIR)/man1/hutch.1 $(DESTDIR)$(MANDIR)/man1/hutch-*.1
	rm -f $(DESTDIR)$(MANDIR)/man5/hutch-config.toml.5
	rm -f $(DESTDIR)$(BASHCOMPDIR)/hutch $(DESTDIR)$(ZSHCOMPDIR)/_hutch $(DESTDIR)$(FISHCOMPDIR)/hutch.fish
	rm -rf $(DESTDIR)$(DOCDIR)

test:
	hack/test.sh

clean:
	rm -rf bin

FORCE:
