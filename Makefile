# ocfkit: static OCF agents and hooks for Linux and BSD clusters.
#   make          build bin/ocf-sockd, bin/ocf-vipcheck, bin/carp-hook
#   make test     install what the tests need, then run every test
#   make demo     install, build and show ocf-sockd on a throwaway Dante
#   make install  install binaries and OCF agents (DESTDIR, PREFIX, OCF_ROOT)
#   make bench    benchmarks against their peers, measured in the same run
#   make deps-check   every command the tests use is installed from scripts/packages.txt
#   make fresh-root   the same proven in a pristine Debian 12 root (debootstrap, cached)

PREFIX   ?= /usr
OCF_ROOT ?= /usr/lib/ocf
DESTDIR  ?=
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO       ?= $(shell command -v go || echo /usr/local/go/bin/go)
LDFLAGS  := -s -w -X github.com/ocfkit/ocfkit/agents/ocf.Version=$(VERSION)
export CGO_ENABLED = 0
# The build tags of the shipped binaries, in build.tags (one source for
# make, the tests, the packages and the benches): urfave/cli without its
# man-page generator (0.5 ms less start-up per run) and net/http without
# HTTP/2 (ocf-vipcheck speaks HTTP/1.1 only; 16 KB less).
export GOFLAGS = -tags=$(shell cat build.tags)

# Every command under cmd/ becomes a binary.
COMMANDS := $(notdir $(wildcard cmd/*))
# OCF agents: provider/type=command.
AGENTS   := dante/sockd=ocf-sockd ocfkit/vipcheck=ocf-vipcheck ocfkit/realserver=ocf-realserver

.PHONY: all build install uninstall deps deps-check fresh-root test demo bench clean
all: build

build:
	@mkdir -p bin
	@# The meta-data table parsed ahead of time must match the documents,
	@# or every action of the binaries fails (metadata.ErrStale).
	cd metadata && $(GO) run gen.go -check
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(COMMANDS))

install: build
	install -d -m 0755 $(DESTDIR)$(PREFIX)/sbin
	for c in $(COMMANDS); do install -m 0755 bin/$$c $(DESTDIR)$(PREFIX)/sbin/$$c; done
	for a in $(AGENTS); do \
	  dest=$${a%%=*}; cmd=$${a#*=}; [ -f bin/$$cmd ] || continue; \
	  install -d -m 0755 $(DESTDIR)$(OCF_ROOT)/resource.d/$${dest%/*}; \
	  install -m 0755 bin/$$cmd $(DESTDIR)$(OCF_ROOT)/resource.d/$$dest; \
	done

uninstall:
	for c in $(COMMANDS); do rm -f $(DESTDIR)$(PREFIX)/sbin/$$c; done
	for a in $(AGENTS); do rm -f $(DESTDIR)$(OCF_ROOT)/resource.d/$${a%%=*}; done

deps:
	@scripts/deps.sh

deps-check:
	@tests/deps-check.sh

fresh-root:
	@scripts/fresh-root.sh

test: deps
	@tests/run.sh

demo: deps build
	@scripts/demo.sh

bench: deps build
	@for b in bench/*.sh; do [ -x "$$b" ] && "$$b"; done; true
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bench/sockd/ ./bench/cluster/

clean:
	rm -rf bin

# Packaging (docs/install.md). Man pages and shell completion are generated
# from the programs' command definitions and the agents' meta-data by
# tools/docgen, a build-time tool run with GOFLAGS cleared: the
# urfave_cli_no_docs tag is for the shipped binaries only.
#   make man         build/man/*.[578]
#   make completion  build/completion/{bash,zsh}/
#   make deb         build/ocfkit_VERSION_ARCH.deb (dpkg-deb)
#   make dist-bsd    build/carp-hook-VERSION-{freebsd,openbsd}-amd64.tar.gz
DOC_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)
DOCGEN    = GOFLAGS= $(GO) run ./tools/docgen -version $(VERSION) -date $(DOC_DATE)
.PHONY: man completion deb dist-bsd

man:
	rm -rf build/man
	$(DOCGEN) man build/man

completion:
	rm -rf build/completion
	$(DOCGEN) completion build/completion

deb: build man completion
	GO=$(GO) packaging/deb/build.sh $(VERSION) build

dist-bsd: man
	GO=$(GO) packaging/bsd/build.sh $(VERSION) build

clean: clean-build
.PHONY: clean-build
clean-build:
	rm -rf build
