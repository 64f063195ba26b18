# swift-ocean: `make run` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := libevent-dev libjq-dev
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: run test build deps test-deps bench-http clean

## Install the system libraries when their headers are missing (libevent's evhttp, libjq).
deps:
	@if [ ! -f /usr/include/event2/http.h ] || [ ! -f /usr/include/jq.h ]; then \
		echo "installing $(SYSTEM_PACKAGES)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

## What the tests need beyond the build: the OpenAPI validator.
test-deps: deps
	@python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install -q 'openapi-spec-validator>=0.7'

build: deps
	$(SWIFT) build

## Build and start the service with its embedded defaults (Ctrl-C stops it gracefully).
run: build
	$$($(SWIFT) build --show-bin-path)/ocean serve --host $(HOST) --port $(PORT)

## The whole test suite (builds the ocean binary first: some tests run it).
test: test-deps
	$(SWIFT) build --build-tests
	SWIFT_BACKTRACE=enable=no $(SWIFT) test --skip-build

## wrk against /health/live: the Swift server vs a plain C evhttp server (see BENCHMARKS.md).
bench-http: deps
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }
	Benchmarks/http/run.sh $(ROUNDS) $(SECONDS_PER_ROUND)

clean:
	rm -rf .build .build-*
