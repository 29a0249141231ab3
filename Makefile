# pmhub: the commands a newcomer and CI share. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PG := scripts/pg-local.sh
# nextest runs each test in its own process, in parallel; plain cargo test works too.
TEST_RUNNER := $(shell command -v cargo-nextest >/dev/null 2>&1 && echo "nextest run --no-fail-fast" || echo "test --no-fail-fast")

.PHONY: run test lint fmt bench demo db-url db-stop clean-db

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
