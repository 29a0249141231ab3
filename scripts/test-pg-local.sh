#!/usr/bin/env bash
# Checks of scripts/pg-local.sh, run by `make test`. Each case runs a copy of the script in a
# throw-away "checkout" under /tmp, so its clusters live there, on ports of their own; they are
# stopped and removed at the end. Nothing of the real checkout (its cluster, .pmhub/) is touched.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
T=$(mktemp -d /tmp/pmhub-pg-local-test.XXXXXX)
chmod 755 "$T" # the postgres user must reach the clusters' folders
for c in a b; do
  mkdir -p "$T/$c/scripts"
  cp "$HERE/scripts/pg-local.sh" "$T/$c/scripts/"
done

# run CHECKOUT [VAR=value...] COMMAND: checkout's pg-local.sh in a clean environment, with only
# the variables the case passes in.
run() {
  local c=$1
  shift
  local vars=()
  while [[ $1 == *=* ]]; do
    vars+=("$1")
    shift
  done
  env -u DATABASE_URL -u PMHUB_PG_PORT -u PMHUB_PG_DIR PG_BIN="$PG_BIN" "${vars[@]}" "$T/$c/scripts/pg-local.sh" "$@"
}

cleanup() {
  for c in a b; do "$T/$c/scripts/pg-local.sh" stop >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT

fail() {
  printf 'test-pg-local: FAIL: %s\n' "$*" >&2
  [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" >&2
  exit 1
}
ok() { printf 'test-pg-local: ok: %s\n' "$*"; }

# No database to be had: one line naming the cause, nothing on stdout, non-zero exit.
if out=$(run a PG_BIN=/nonexistent DATABASE_URL=postgres://x@127.0.0.1:1/x url 2>"$T/err"); then
  fail "url succeeded without a database"
fi
[ -z "$out" ] || fail "url printed '$out' without a database"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one line on stderr"
grep -q 'DATABASE_URL does not answer.*PG_BIN=/nonexistent' "$T/err" || fail "the line does not name the cause"
ok "no DATABASE_URL and no PostgreSQL programs: one clear line, exit non-zero"

if [ ! -x "$PG_BIN/initdb" ]; then
  printf 'test-pg-local: skipped the cluster cases (no PostgreSQL programs in %s)\n' "$PG_BIN"
  exit 0
fi
psql() { "$PG_BIN/psql" -q -At "$@"; }
data_dir_of() { psql "$1" -c 'SHOW data_directory'; }

# A first url initialises and starts a cluster on a free port and remembers the port.
url_a=$(run a url 2>"$T/err") || fail "first url of checkout a"
port_a=$(cat "$T/a/.pmhub/pg-port")
[ "$url_a" = "postgres://postgres@127.0.0.1:$port_a/pmhub" ] || fail "url $url_a does not use the remembered port $port_a"
[ "$(data_dir_of "$url_a")" = "$T/a/.pmhub/pg" ] || fail "url $url_a is not checkout a's cluster"
ok "first url starts this checkout's cluster on a free port ($port_a) and remembers it"

[ "$(run a url 2>"$T/err")" = "$url_a" ] || fail "second url changed"
run a stop 2>/dev/null
run a status >/dev/null && fail "status says running after stop"
[ "$(run a url 2>"$T/err")" = "$url_a" ] || fail "url after a restart changed"
ok "url again, and after stop + start, gives the same port"

# The caller's DATABASE_URL is used when it answers.
[ "$(run b DATABASE_URL="$url_a" url 2>"$T/err")" = "$url_a" ] || fail "the caller's DATABASE_URL was not used"
[ ! -f "$T/b/.pmhub/pg-port" ] || fail "checkout b chose a port although DATABASE_URL answered"
ok "a DATABASE_URL that answers is used as it is"

# Another checkout's server on PMHUB_PG_PORT is never used.
run b PMHUB_PG_PORT="$port_a" url >/dev/null 2>"$T/err" && fail "checkout b used checkout a's server"
grep -q "127.0.0.1:$port_a (PMHUB_PG_PORT) is taken by another server" "$T/err" || fail "no clear line for a taken PMHUB_PG_PORT"
ok "a taken PMHUB_PG_PORT stops with one clear line"

# A second checkout gets its own cluster while the first runs.
url_b=$(run b url 2>"$T/err") || fail "url of checkout b"
port_b=$(cat "$T/b/.pmhub/pg-port")
[ "$port_b" != "$port_a" ] || fail "checkout b got checkout a's port"
[ "$(data_dir_of "$url_b")" = "$T/b/.pmhub/pg" ] || fail "url $url_b is not checkout b's cluster"
ok "a second checkout starts its own cluster on another port ($port_b)"

# A remembered port that someone else took while our cluster was stopped is replaced.
run b stop 2>/dev/null
printf '%s\n' "$port_a" >"$T/b/.pmhub/pg-port"
url_b2=$(run b url 2>"$T/err") || fail "url of checkout b with a taken remembered port"
port_b2=$(cat "$T/b/.pmhub/pg-port")
[ "$port_b2" != "$port_a" ] || fail "checkout b kept a port another server holds"
[ "$url_b2" = "postgres://postgres@127.0.0.1:$port_b2/pmhub" ] || fail "url $url_b2 does not use the new port"
[ "$(data_dir_of "$url_b2")" = "$T/b/.pmhub/pg" ] || fail "url $url_b2 is not checkout b's cluster"
grep -q "is taken by another server; this checkout's cluster moves to $port_b2" "$T/err" || fail "the move was not reported"
ok "a remembered port taken by another server is replaced by a free one ($port_b2)"

# A start failure names the cause and shows the server log's tail.
run b stop 2>/dev/null
printf 'max_connections = -1\n' >>"$T/b/.pmhub/pg/postgresql.conf"
run b PMHUB_PG_PORT="$port_b2" url >/dev/null 2>"$T/err" && fail "url succeeded with a broken configuration"
[ "$(tail -n 1 "$T/err")" = "pg-local: PostgreSQL did not start on 127.0.0.1:$port_b2 (the last lines of $T/b/.pmhub/pg/server.log are above)" ] ||
  fail "no clear line for a start failure"
grep -q 'max_connections' "$T/err" || fail "the server log's tail was not shown"
ok "a start failure stops with the server log's tail and one clear line"

run a stop 2>/dev/null
run a status >/dev/null && fail "checkout a still runs after stop"
ok "stop stops this checkout's cluster"
