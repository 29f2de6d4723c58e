# The README's two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps demo test build release format lint

# System packages (Debian). Uses sudo only when not root.
APT_PACKAGES := pkg-config libncursesw5-dev libsixel-dev libpng-dev libjpeg62-turbo-dev \
  libopenblas-dev libsqlite3-dev libpq-dev postgresql tmux xterm xvfb x11-apps xdotool imagemagick python3
deps:
	@bash tools/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job.
demo: release
	@bash tools/demo.sh

# The whole test suite: build everything (the executable too), then run every test, with a
# throwaway PostgreSQL cluster for the shared-workspace tests (tools/with-test-postgres.sh).
test: deps
	$(SWIFT) build --build-tests
	bash tools/with-test-postgres.sh $(SWIFT) test --skip-build

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

lint:
	$(SWIFT) format lint --recursive Sources Tests Package.swift
