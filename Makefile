# pmhub: the commands a newcomer and CI share. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PG := scripts/pg-local.sh
# Sets DATABASE_URL for the rest of a recipe line, or stops the target at once: pg-local.sh has
# then printed one line naming the cause. (`export X="$(cmd)"` would hide the failure.)
WITH_DB := DATABASE_URL="$$($(PG) url)" || exit 1; export DATABASE_URL;
# nextest runs each test in its own process, in parallel; plain cargo test works too.
TEST_RUNNER := $(shell command -v cargo-nextest >/dev/null 2>&1 && echo "nextest run --no-fail-fast" || echo "test --no-fail-fast")

.PHONY: run test lint fmt bench demo db-url db-stop

## make run: PostgreSQL (local cluster unless DATABASE_URL answers), migrate, serve on 127.0.0.1:8080
run:
	$(WITH_DB) \
	cargo run --release -p pm-api --bin pmhub -- serve

## make test: the whole suite against a real PostgreSQL (and the checks of scripts/pg-local.sh)
test:
	$(WITH_DB) \
	scripts/test-pg-local.sh; \
	cargo $(TEST_RUNNER) --workspace

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
