# pmhub: the commands a newcomer and CI share. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PG := scripts/pg-local.sh
# Sets DATABASE_URL for the rest of a recipe line, or stops the target at once: pg-local.sh has
# then printed one line naming the cause. (`export X="$(cmd)"` would hide the failure.)
WITH_DB := DATABASE_URL="$$($(PG) url)" || exit 1; export DATABASE_URL;
# nextest runs each test in its own process, in parallel; plain cargo test works too.
TEST_RUNNER := $(shell command -v cargo-nextest >/dev/null 2>&1 && echo "nextest run --no-fail-fast" || echo "test --no-fail-fast")

.PHONY: run test lint fmt bench bench-jobs bench-list bench-webhooks bench-sync demo db-url db-stop client client-check ui ui-check browser-deps browser-test ui-screenshots openapi-check fuzz

## make run: PostgreSQL (local cluster unless DATABASE_URL answers), migrate, serve on 127.0.0.1:8080
run:
	$(WITH_DB) \
	cargo run --release -p pm-api --bin pmhub -- serve

## make test: the checks of scripts/pg-local.sh, the whole suite against a real PostgreSQL, the
## OpenAPI document through a validator, then the UI checks and browser tests
test:
	$(WITH_DB) \
	scripts/test-pg-local.sh; \
	cargo $(TEST_RUNNER) --workspace
	$(MAKE) --no-print-directory openapi-check
	$(MAKE) --no-print-directory ui-check
	$(MAKE) --no-print-directory browser-test

## make lint: formatting and clippy, warnings are errors
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

db-url:
	@$(PG) url

db-stop:
	@$(PG) stop

## make demo: the whole flow against a local fake GitHub, printed step by step; stops all it started
# pmhub-demo stops the fake, pmhub and its database itself; this checkout's PostgreSQL cluster is
# stopped afterwards only if this target started it (it may be serving make run/test).
demo:
	started_pg=""; \
	$(PG) status >/dev/null || started_pg=1; \
	trap 'if [ -n "$$started_pg" ]; then $(PG) stop; fi' EXIT; \
	$(WITH_DB) \
	$(PG) status >/dev/null || started_pg=""; \
	cargo build --release -p pm-api -p pm-github-fake -p pm-e2e --bin pmhub --bin github-fake --bin pmhub-demo; \
	"$${CARGO_TARGET_DIR:-target}/release/pmhub-demo"

## make bench: import 10,000 issues from the fake GitHub, then re-sync (release build; not part of make test)
bench:
	$(WITH_DB) \
	cargo run --release -p pm-e2e --bin pmhub-bench

## make bench-webhooks: signed webhook deliveries accepted per second and their p50/p99 (release build)
bench-webhooks:
	$(WITH_DB) \
	cargo run --release -p pm-e2e --bin pmhub-bench-webhooks

## make bench-sync: two-way sync through pmhub and the fake GitHub: change → task and edit → PATCH
## latencies, requests per change, an unchanged 10,000-issue reconcile (release build)
bench-sync:
	$(WITH_DB) \
	cargo run --release -p pm-e2e --bin pmhub-bench-sync

## make bench-jobs: empty jobs per second through the job queue with 4 workers (release build)
bench-jobs:
	$(WITH_DB) \
	cargo run --release -p pm-e2e --bin pmhub-bench-jobs

# ---- the OpenAPI document ----
VENV := .pmhub/venv

## make openapi-check: `pmhub openapi` passes openapi-spec-validator (PyPI, in the git-ignored .pmhub/venv)
openapi-check:
	cargo build -q -p pm-api --bin pmhub
	scripts/python-venv.sh $(VENV) openapi-spec-validator
	"$(TARGET_DIR)/debug/pmhub" openapi > .pmhub/openapi.json
	$(VENV)/bin/openapi-spec-validator .pmhub/openapi.json

## make fuzz: schemathesis against a real pmhub, as an admin and as a member, every check and
## phase (slow; not part of make test). FUZZ_ARGS go to schemathesis, e.g. FUZZ_ARGS="--max-examples 20"
fuzz:
	cargo build -p pm-api -p pm-github-fake --bin pmhub --bin github-fake
	$(WITH_DB) \
	scripts/fuzz.sh $(FUZZ_ARGS)

## make bench-list: the task list side by side with its Hono peer (bench/compare-list.sh: its own
## throwaway PostgreSQL, wrk, npm ci in bench/peer-hono); release build; not part of make test.
## The issue-9 setting is the default here; override with e.g. `make bench-list ROUNDS=2`.
ROUNDS ?= 3
PEER_PREPARED ?= 1
PEER_WORKERS ?= 2
bench-list:
	cargo build --release -p pm-api --bin pmhub
	PMHUB_BIN="$$(cd $(TARGET_DIR) && pwd)/release/pmhub" ROUNDS=$(ROUNDS) PEER_PREPARED=$(PEER_PREPARED) \
	PEER_WORKERS=$(PEER_WORKERS) bench/compare-list.sh

# ---- web UI and TypeScript client (crates/pm-web; Node.js 20 + npm) ----
WEB := crates/pm-web
TARGET_DIR = $${CARGO_TARGET_DIR:-target}

## make client: regenerate the TypeScript client's OpenAPI document and types from the current API
client:
	cargo build -q -p pm-api --bin pmhub
	"$(TARGET_DIR)/debug/pmhub" openapi > $(WEB)/client/openapi.json
	cd $(WEB) && npm ci && npm run gen && npm run typecheck -w @pmhub/client

## make client-check: fail when the committed client differs from what the API produces
client-check: client
	@git diff --exit-code --stat -- $(WEB)/client && test -z "$$(git status --porcelain -- $(WEB)/client)" \
	  || { echo "the committed TypeScript client is stale: run make client and commit $(WEB)/client" >&2; exit 1; }

## make ui: rebuild the embedded UI (crates/pm-web/dist) from its sources, lockfile only
ui:
	cd $(WEB) && npm ci && npm run typecheck && npm run build

## make ui-check: the client and the committed build match their sources (CI runs it in make test)
ui-check: client-check ui
	@git diff --exit-code --stat -- $(WEB)/dist && test -z "$$(git status --porcelain -- $(WEB)/dist)" \
	  || { echo "the committed UI build is stale: run make ui and commit $(WEB)/dist" >&2; exit 1; }

## make browser-deps: Debian's chromium (apt-get, as root) and the test runner's packages
browser-deps:
	@if [ ! -x "$${CHROMIUM:-/usr/bin/chromium}" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser tests need Chromium: sudo apt-get install chromium (or set CHROMIUM)" >&2; exit 1; fi; \
	fi
	cd tests/browser && npm ci

## make browser-test: the web UI in headless Chromium against pmhub, PostgreSQL and the fake GitHub
browser-test: browser-deps
	cargo build -p pm-api -p pm-github-fake -p pm-e2e --bin pmhub --bin github-fake --bin pmhub-stack
	$(WITH_DB) \
	export PMHUB_BIN_DIR="$$(cd "$(TARGET_DIR)/debug" && pwd)"; \
	cd tests/browser && npm test

## make ui-screenshots: the browser tests, keeping their screenshots in docs/screenshots
ui-screenshots:
	SCREENSHOT_DIR=docs/screenshots $(MAKE) --no-print-directory browser-test
