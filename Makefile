# swift-ocean: `make run` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := libevent-dev libjq-dev libsqlite3-dev
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: run fake-port test test-tsan build deps test-deps bench-http bench-metrics bench-map bench-resync bench-port bench-webhook clean

## Install the system libraries when their headers are missing (libevent's evhttp, libjq, SQLite).
deps:
	@if [ ! -f /usr/include/event2/http.h ] || [ ! -f /usr/include/jq.h ] || [ ! -f /usr/include/sqlite3.h ]; then \
		echo "installing $(SYSTEM_PACKAGES)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

## What the tests need beyond the build: the OpenAPI validator, yamllint for deploy/, jq 1.8
## (Python's jq package, what Ocean uses) as the reference of the differential tests, and the
## curl and openssl the docs' commands use (the tests run them as written).
PYTHON_TEST_PACKAGES := 'openapi-spec-validator>=0.7' 'jq==1.10.0' 'yamllint>=1.30'
test-deps: deps
	@command -v curl >/dev/null && command -v openssl >/dev/null \
		|| { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq curl openssl; }
	@python3 -c 'import openapi_spec_validator, yamllint, importlib.metadata as m; assert m.version("jq") == "1.10.0"' 2>/dev/null \
		|| python3 -m pip install -q --disable-pip-version-check $(PYTHON_TEST_PACKAGES)

build: deps
	$(SWIFT) build

## Build and start the service with its embedded defaults (Ctrl-C stops it gracefully).
run: build
	$$($(SWIFT) build --show-bin-path)/ocean serve --host $(HOST) --port $(PORT)

## The Port-like API the tests use, as a process standing in for a Port organisation (started
## empty; client id `bench-client`, secret `bench-secret`): see the README's "With Port".
FAKE_PORT ?= 8010
fake-port: build
	$$($(SWIFT) build --show-bin-path)/fake-port $(FAKE_PORT)

## The whole test suite (builds the ocean binary first: some tests run it).
## One test at a time (about two minutes here): run all at once on two cores, the load stretched
## the timings the tests check. The fault suite (the real binary under descriptor exhaustion,
## SIGKILL, full disks, records that crash libjq) runs after the rest.
FAULT_SUITES := FaultTests|JQFaultTests
test: test-deps
	$(SWIFT) build --build-tests
	SWIFT_BACKTRACE=enable=no $(SWIFT) test --skip-build --no-parallel --skip '$(FAULT_SUITES)'
	SWIFT_BACKTRACE=enable=no $(SWIFT) test --skip-build --no-parallel --filter '$(FAULT_SUITES)'

## The whole suite under ThreadSanitizer, in its own build folder (a clean one takes a while), one
## test at a time like `make test`; TSAN_FILTER="--filter X" runs part of it. TSan's own runtime
## reports go to stderr; a report fails the run (halt_on_error), in a test or in an `ocean` a test
## started (its exit status is then 66). An allocation too large for TSan's allocator returns NULL,
## as malloc does (a fault test makes libjq ask for 58 GB; TSan would end the process instead).
## Left out: the records that crash libjq. The jq guard jumps out of a signal handler, and TSan's
## runtime does not follow such a jump (its per-thread signal state stays set: llvm-project issues
## 94207 and 215833), so a TSan build dies at the second crash it survives; `make test` runs them.
TSAN_FILTER ?= --skip JQFaultTests
test-tsan: test-deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 allocator_may_return_null=1" SWIFT_BACKTRACE=enable=no \
		$(SWIFT) test --skip-build --no-parallel --sanitize=thread --scratch-path .build-tsan $(TSAN_FILTER)

## wrk against /health/live: the Swift server vs a plain C evhttp server (see BENCHMARKS.md).
bench-http: deps
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }
	Benchmarks/http/run.sh $(ROUNDS) $(SECONDS_PER_ROUND)

## What the request metrics cost: the same server with and without OCEAN__METRICS__ENABLED.
bench-metrics: deps
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }
	Benchmarks/http/metrics-cost.sh $(ROUNDS) $(SECONDS_PER_ROUND)

## 100,000 generated records through a standard mapping: 1 and 2 workers, and per-field evaluation
## (Ocean's way), interleaved rounds; then 1,000,000 records for the memory check (see BENCHMARKS.md).
bench-map: deps
	Benchmarks/map/run.sh $(ROUNDS)

## The fake integration, 100,000 persons of 1 KiB, into a fresh catalog; then 1,000,000 for memory.
bench-resync: deps
	Benchmarks/resync/run.sh $(ROUNDS)

## The fake integration, 100,000 persons, into a Port-like API over loopback; then a job with deletions.
bench-port: deps
	@command -v sqlite3 >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq sqlite3; }
	Benchmarks/port/run.sh

## Signed webhook deliveries over loopback: accepted/s with the durable store, latency at 500/s.
bench-webhook: deps
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }
	Benchmarks/webhook/run.sh

clean:
	rm -rf .build .build-*
