#!/usr/bin/env bash
# A PostgreSQL of this checkout's own for `make run`, `make test`, `make demo` and `make bench`.
#
#   scripts/pg-local.sh url     print the DATABASE_URL to use: the caller's own DATABASE_URL
#                               when it answers, else this checkout's cluster (initialised
#                               and started on first use)
#   scripts/pg-local.sh status  print where this checkout's cluster listens; exit 3 if it
#                               does not run
#   scripts/pg-local.sh stop    stop this checkout's cluster if it runs
#
# The cluster lives in .pmhub/pg (git-ignored) with trust auth for the local `postgres` role:
# a development database, never a production one. It listens on 127.0.0.1 only, on a port
# chosen once per checkout among the free ones in 54330-54999 and remembered in
# .pmhub/pg-port, so checkouts side by side (or another PostgreSQL) never stand in each
# other's way. PMHUB_PG_PORT overrides the port. A remembered port that another server has
# taken while this cluster was stopped is replaced by a new free one; a port given in
# PMHUB_PG_PORT that is taken is an error. The URL printed always leads to this checkout's
# own cluster (its data directory is checked), never to another checkout's server.
#
# initdb refuses to run as root, so as root the cluster is run as the `postgres` system user.
# Every failure ends with one line on stderr that names its cause, and a non-zero exit.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE_DIR="$ROOT/.pmhub"
PORT_FILE="$STATE_DIR/pg-port"
DATA_DIR=${PMHUB_PG_DIR:-$STATE_DIR/pg}
# Where the cluster goes when root's checkout is closed to the postgres user (under /root, say).
FALLBACK_DIR="/tmp/pmhub-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
PORT_MIN=54330
PORT_MAX=54999

log() { printf 'pg-local: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# Runs a PostgreSQL program as the cluster's owner. fd 9 (the lock below) is closed for it, so
# that a server it starts does not hold the lock for as long as it runs.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@" 9>&-; else "$@" 9>&-; fi
}

have_programs() {
  local p
  for p in initdb pg_ctl pg_isready psql; do [ -x "$PG_BIN/$p" ] || return 1; done
}

# Does a PostgreSQL answer at this URL? pg_isready from PG_BIN, else from PATH.
reachable() {
  local isready="$PG_BIN/pg_isready"
  [ -x "$isready" ] || isready=$(command -v pg_isready 2>/dev/null) || return 1
  "$isready" -q -d "$1" -t 2 >/dev/null 2>&1
}

# Is something listening on 127.0.0.1:$1?
port_taken() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

valid_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1024 ] && [ "$1" -le 65535 ]; }

# The cluster folder: .pmhub/pg, or the /tmp fallback if that is where this checkout's
# cluster was initialised.
[ -z "${PMHUB_PG_DIR:-}" ] && [ ! -f "$DATA_DIR/PG_VERSION" ] && [ -f "$FALLBACK_DIR/PG_VERSION" ] &&
  DATA_DIR=$FALLBACK_DIR

cluster_running() {
  [ -f "$DATA_DIR/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

running_port() { sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null; }

remember_port() {
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$1" >"$PORT_FILE"
}

# A free port, scanning from a place derived from the checkout's path, so that two checkouts
# choosing at the same moment rarely meet.
free_port() {
  local span=$((PORT_MAX - PORT_MIN + 1)) sum i p
  sum=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
  for ((i = 0; i < span; i++)); do
    p=$((PORT_MIN + (sum + i) % span))
    port_taken "$p" || {
      printf '%s\n' "$p"
      return 0
    }
  done
  die "no free port on 127.0.0.1 in $PORT_MIN-$PORT_MAX for this checkout's cluster (set PMHUB_PG_PORT)"
}

# The port to start on, this checkout's cluster not running.
pick_port() {
  local p
  if [ -n "${PMHUB_PG_PORT:-}" ]; then
    valid_port "$PMHUB_PG_PORT" || die "PMHUB_PG_PORT=$PMHUB_PG_PORT is not a port number (1024-65535)"
    port_taken "$PMHUB_PG_PORT" &&
      die "127.0.0.1:$PMHUB_PG_PORT (PMHUB_PG_PORT) is taken by another server; unset PMHUB_PG_PORT to use a free port of this checkout's own"
    PORT=$PMHUB_PG_PORT
    return 0
  fi
  p=$(cat "$PORT_FILE" 2>/dev/null || true)
  if valid_port "$p" && ! port_taken "$p"; then
    PORT=$p
    return 0
  fi
  PORT=$(free_port)
  if valid_port "$p"; then
    log "127.0.0.1:$p (remembered in .pmhub/pg-port) is taken by another server; this checkout's cluster moves to $PORT"
  else
    log "this checkout's cluster will listen on 127.0.0.1:$PORT (remembered in .pmhub/pg-port)"
  fi
  remember_port "$PORT"
}

prepare_dir() {
  mkdir -p "$DATA_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$DATA_DIR"
    chmod 700 "$DATA_DIR"
    # The postgres user must reach the folder; if a parent is closed to it (a checkout
    # under /root, say), fall back to a folder under /tmp.
    if ! runuser -u postgres -- test -w "$DATA_DIR"; then
      [ -n "${PMHUB_PG_DIR:-}" ] && die "the postgres user cannot write PMHUB_PG_DIR=$DATA_DIR"
      DATA_DIR=$FALLBACK_DIR
      log "the project folder is closed to the postgres user; using $DATA_DIR"
      mkdir -p "$DATA_DIR" && chown postgres:postgres "$DATA_DIR" && chmod 700 "$DATA_DIR"
    fi
  fi
}

start_local() {
  local out dd want
  prepare_dir
  if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    log "initialising this checkout's cluster in $DATA_DIR"
    if ! out=$(as_owner "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust -E UTF8 --no-locale 2>&1); then
      printf '%s\n' "$out" | tail -n 5 >&2
      die "initdb failed in $DATA_DIR (its last lines are above)"
    fi
  fi
  if cluster_running; then
    PORT=$(running_port)
    valid_port "$PORT" || die "this checkout's cluster in $DATA_DIR runs, but its postmaster.pid names no port; run make db-stop"
    if [ -n "${PMHUB_PG_PORT:-}" ] && [ "$PMHUB_PG_PORT" != "$PORT" ]; then
      die "this checkout's cluster runs on 127.0.0.1:$PORT, not on PMHUB_PG_PORT=$PMHUB_PG_PORT; run make db-stop first"
    fi
    [ -n "${PMHUB_PG_PORT:-}" ] || [ "$(cat "$PORT_FILE" 2>/dev/null || true)" = "$PORT" ] || remember_port "$PORT"
  else
    pick_port
    log "starting this checkout's PostgreSQL on 127.0.0.1:$PORT"
    if ! as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $DATA_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c synchronous_commit=off" \
      start >/dev/null 2>&1; then
      tail -n 5 "$DATA_DIR/server.log" >&2 2>/dev/null || true
      die "PostgreSQL did not start on 127.0.0.1:$PORT (the last lines of $DATA_DIR/server.log are above)"
    fi
  fi
  local admin="postgres://postgres@127.0.0.1:${PORT}/postgres"
  for _ in $(seq 1 50); do reachable "$admin" && break; sleep 0.2; done
  reachable "$admin" || die "this checkout's PostgreSQL does not answer on 127.0.0.1:$PORT (see $DATA_DIR/server.log)"
  # Never hand out another server that happens to answer on our port.
  dd=$("$PG_BIN/psql" -q -At "$admin" -c "SHOW data_directory" 2>/dev/null || true)
  want=$(cd "$DATA_DIR" && pwd -P)
  if [ "$dd" != "$DATA_DIR" ] && [ "$dd" != "$want" ]; then
    die "127.0.0.1:$PORT answers, but it is not this checkout's cluster (its data directory is ${dd:-unknown}); run make db-stop, or unset PMHUB_PG_PORT"
  fi
  if ! "$PG_BIN/psql" -q -At "$admin" -c "SELECT 1 FROM pg_database WHERE datname = 'pmhub'" | grep -q 1; then
    "$PG_BIN/psql" -q "$admin" -c "CREATE DATABASE pmhub" >/dev/null ||
      die "cannot create the pmhub database on 127.0.0.1:$PORT"
  fi
  LOCAL_URL="postgres://postgres@127.0.0.1:${PORT}/pmhub"
}

# One url/stop at a time per checkout (make run and make test started together, say).
if command -v flock >/dev/null 2>&1 && mkdir -p "$STATE_DIR" 2>/dev/null; then
  exec 9>"$STATE_DIR/pg-local.lock"
  flock 9
fi

case "${1:-url}" in
  url)
    if [ -n "${DATABASE_URL:-}" ] && reachable "$DATABASE_URL"; then
      printf '%s\n' "$DATABASE_URL"
      exit 0
    fi
    if ! have_programs; then
      if [ -n "${DATABASE_URL:-}" ]; then
        die "DATABASE_URL does not answer, and there are no PostgreSQL programs in PG_BIN=$PG_BIN to start a local cluster (install postgresql-15, set PG_BIN, or fix DATABASE_URL)"
      fi
      die "DATABASE_URL is unset, and there are no PostgreSQL programs in PG_BIN=$PG_BIN to start a local cluster (install postgresql-15, set PG_BIN, or set DATABASE_URL)"
    fi
    [ -n "${DATABASE_URL:-}" ] && log "DATABASE_URL does not answer; using this checkout's cluster"
    start_local
    printf '%s\n' "$LOCAL_URL"
    ;;
  status)
    if [ -x "$PG_BIN/pg_ctl" ] && cluster_running; then
      printf 'running on 127.0.0.1:%s (%s)\n' "$(running_port)" "$DATA_DIR"
    else
      printf 'not running\n'
      exit 3
    fi
    ;;
  stop)
    if [ -x "$PG_BIN/pg_ctl" ] && cluster_running; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null ||
        die "could not stop this checkout's cluster in $DATA_DIR"
      log "stopped this checkout's cluster"
    fi
    ;;
  *)
    log "usage: $0 url|status|stop"
    exit 2
    ;;
esac
