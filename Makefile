# pmhub: the commands a newcomer and CI share. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PG := scripts/pg-local.sh
# nextest runs each test in its own process, in parallel; plain cargo test works too.
TEST_RUNNER := $(shell command -v cargo-nextest >/dev/null 2>&1 && echo "nextest run --no-fail-fast" || echo "test --no-fail-fast")

.PHONY: run test lint fmt bench bench-jobs demo db-url db-stop

## make run: PostgreSQL (local cluster unless DATABASE_URL answers), migrate, serve on 127.0.0.1:8080
run:
	export DATABASE_URL="$$($(PG) url)"; \
	cargo run --release -p pm-api --bin pmhub -- serve

## make test: the whole suite against a real PostgreSQL
test:
	export DATABASE_URL="$$($(PG) url)"; \
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
	$(PG) stop

## make demo: the whole flow against a local fake GitHub, printed step by step; stops all it started
# pmhub-demo stops the fake, pmhub and its database itself; the local PostgreSQL cluster is
# stopped afterwards only if this target started it (it may be serving make run/test).
demo:
	pg_isready="$${PG_BIN:-/usr/lib/postgresql/15/bin}/pg_isready"; \
	started_pg=""; \
	if ! { [ -n "$${DATABASE_URL:-}" ] && "$$pg_isready" -q -d "$$DATABASE_URL"; } \
	   && ! "$$pg_isready" -q -h 127.0.0.1 -p "$${PMHUB_PG_PORT:-54329}"; then started_pg=1; fi; \
	trap 'if [ -n "$$started_pg" ]; then $(PG) stop; fi' EXIT; \
	export DATABASE_URL="$$($(PG) url)"; \
	cargo build --release -p pm-api -p pm-github-fake -p pm-e2e --bin pmhub --bin github-fake --bin pmhub-demo; \
	"$${CARGO_TARGET_DIR:-target}/release/pmhub-demo"

## make bench: import 10,000 issues from the fake GitHub, then re-sync (release build; not part of make test)
bench:
	export DATABASE_URL="$$($(PG) url)"; \
	cargo run --release -p pm-e2e --bin pmhub-bench

## make bench-jobs: empty jobs per second through the job queue with 4 workers (release build)
bench-jobs:
	export DATABASE_URL="$$($(PG) url)"; \
	cargo run --release -p pm-e2e --bin pmhub-bench-jobs
