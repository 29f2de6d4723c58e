# The README's two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps demo test build release install uninstall format lint

# Where `make install` puts things (Debian's layout; see tools/install.sh).
PREFIX ?= /usr/local
DESTDIR ?=

# System packages (Debian). Uses sudo only when not root.
APT_PACKAGES := pkg-config libncursesw5-dev libsixel-dev libpng-dev libjpeg62-turbo-dev \
  libopenblas-dev libsqlite3-dev libpq-dev postgresql iproute2 openssl tmux xterm xvfb x11-apps xdotool imagemagick python3 \
  python3-torch python3-numpy python3-pil
deps:
	@bash tools/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

# The release binary, with the git commit in `blastview --version`.
release: deps
	SWIFT=$(SWIFT) bash tools/build-release.sh

# The binary, shipped models and themes, manual page and shell completions under $(PREFIX).
install:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) SWIFT=$(SWIFT) bash tools/install.sh install

uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) bash tools/install.sh uninstall

# The main job.
demo: release
	@bash tools/demo.sh

# The PyTorch reference's DDP test (TorchrunCheckpointTests: torchrun, two processes, gloo) runs
# on Debian's CPU torch (python3-torch, with /usr/bin/torchrun beside /usr/bin/python3): about
# 190 MB from Debian, against about 3 GB for PyPI's CUDA wheel (docs/deployment.md). A developer
# may point BLASTVIEW_TORCH_PYTHON at a venv instead; under CI=true the test must run.
export BLASTVIEW_TORCH_PYTHON ?= /usr/bin/python3
ifeq ($(CI),true)
export BLASTVIEW_REQUIRE_TORCH ?= 1
endif

# The whole test suite: build everything (the executable too), then run every test, with a
# throwaway PostgreSQL cluster for the shared-workspace tests (tools/with-test-postgres.sh).
test: deps
	$(SWIFT) build --build-tests
	bash tools/with-test-postgres.sh $(SWIFT) test --skip-build --skip SharedWorkspaceTests
	# The PostgreSQL tests one at a time: roles (bvlead, bvben, ...) are cluster-wide, and suites
	# that give the same OS user different roles would otherwise race each other.
	bash tools/with-test-postgres.sh $(SWIFT) test --skip-build --filter SharedWorkspaceTests --no-parallel

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

lint:
	$(SWIFT) format lint --recursive Sources Tests Package.swift
