#!/usr/bin/env bash
# A project-local PostgreSQL for `make run`, `make test` and `make demo`.
#
#   scripts/pg-local.sh url    print the DATABASE_URL to use: the caller's own
#                              DATABASE_URL when it answers, else a local cluster
#                              (initialised and started on first use)
#   scripts/pg-local.sh stop   stop the local cluster if it runs
#
# The cluster lives in .pmhub/pg (git-ignored), listens on 127.0.0.1:$PMHUB_PG_PORT
# (54329) with trust auth for the local `postgres` role: a development database,
# never a production one. initdb refuses to run as root, so as root the cluster
# is run as the `postgres` system user.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PMHUB_PG_PORT:-54329}
DATA_DIR=${PMHUB_PG_DIR:-$ROOT/.pmhub/pg}
LOCAL_URL="postgres://postgres@127.0.0.1:${PORT}/pmhub"

log() { printf 'pg-local: %s\n' "$*" >&2; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

reachable() { "$PG_BIN/pg_isready" -q -d "$1" -t 2 >/dev/null 2>&1; }

prepare_dir() {
  mkdir -p "$DATA_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$DATA_DIR"
    chmod 700 "$DATA_DIR"
    # The postgres user must reach the folder; if a parent is closed to it (a
    # checkout under /root, say), fall back to a folder under /tmp.
    if ! runuser -u postgres -- test -w "$DATA_DIR"; then
      DATA_DIR="/tmp/pmhub-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
      log "the project folder is closed to the postgres user; using $DATA_DIR"
      mkdir -p "$DATA_DIR" && chown postgres:postgres "$DATA_DIR" && chmod 700 "$DATA_DIR"
    fi
  fi
}

start_local() {
  [ -x "$PG_BIN/initdb" ] || { log "PostgreSQL 15 programs not found in $PG_BIN (set PG_BIN)"; exit 1; }
  prepare_dir
  if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    log "initialising a local cluster in $DATA_DIR"
    as_owner "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  if ! as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PORT"
    as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $DATA_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c synchronous_commit=off" \
      start >/dev/null
  fi
  for _ in $(seq 1 50); do reachable "postgres://postgres@127.0.0.1:${PORT}/postgres" && break; sleep 0.2; done
  if ! "$PG_BIN/psql" -q -At "postgres://postgres@127.0.0.1:${PORT}/postgres" \
      -c "SELECT 1 FROM pg_database WHERE datname = 'pmhub'" | grep -q 1; then
    "$PG_BIN/psql" -q "postgres://postgres@127.0.0.1:${PORT}/postgres" -c "CREATE DATABASE pmhub" >/dev/null
  fi
}

case "${1:-url}" in
  url)
    if [ -n "${DATABASE_URL:-}" ] && reachable "$DATABASE_URL"; then
      printf '%s\n' "$DATABASE_URL"
    else
      [ -n "${DATABASE_URL:-}" ] && log "DATABASE_URL does not answer; using the local cluster"
      start_local
      printf '%s\n' "$LOCAL_URL"
    fi
    ;;
  stop)
    if [ -f "$DATA_DIR/PG_VERSION" ]; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
  *) log "usage: $0 url|stop"; exit 2 ;;
esac
