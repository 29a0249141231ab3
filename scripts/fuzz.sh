#!/usr/bin/env bash
# schemathesis against a real pmhub (debug build), as an admin and as a member, with every
# check and every phase (examples, coverage, fuzzing, stateful). Run by `make fuzz`; slow, so
# not part of `make test`.
#
# Needs DATABASE_URL (a server to create a throw-away database on: the database named in it
# is left alone; `pmhub_fuzz` is dropped and re-created) and the binaries in
# $PMHUB_BIN_DIR (default target/debug: pmhub, github-fake). schemathesis is installed with
# pip into the git-ignored venv .pmhub/venv. Extra arguments go to `schemathesis run`, e.g.
# `scripts/fuzz.sh --max-examples 20`.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server}"
bin="${PMHUB_BIN_DIR:-target/debug}"
venv=.pmhub/venv
fuzz_db="${FUZZ_DATABASE:-pmhub_fuzz}"
port="${FUZZ_PORT:-18080}"
fake_port="${FUZZ_GITHUB_PORT:-18099}"
report_dir="${FUZZ_REPORT_DIR:-.pmhub/fuzz}"

scripts/python-venv.sh "$venv" schemathesis >&2

base_url="${DATABASE_URL%%\?*}"
server_url="${base_url%/*}"
admin_db="$server_url/postgres"
psql -q "$admin_db" -c "drop database if exists $fuzz_db with (force)" -c "create database $fuzz_db"
export DATABASE_URL="$server_url/$fuzz_db"

mkdir -p "$report_dir"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$bin/github-fake" --bind "127.0.0.1:$fake_port" >"$report_dir/github-fake.log" 2>&1 &
pids+=($!)
export PMHUB__SERVER__BIND="127.0.0.1:$port"
export PMHUB__GITHUB__API_URL="http://127.0.0.1:$fake_port"
export PMHUB__LOG__FILTER="warn"
export PMHUB__DATABASE__MAX_CONNECTIONS=8
"$bin/pmhub" migrate >&2
admin="$("$bin/pmhub" bootstrap --workspace fuzz --email admin@fuzz.example)"
"$bin/pmhub" serve >"$report_dir/pmhub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
member="$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/users" \
  -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"email": "member@fuzz.example", "role": "member"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

# Operations that can end a run's own authentication (an admin removing itself once the
# fuzzer has made another admin, a token revoking itself) run last, in a run of their own
# (with the operations whose answers link to them, for the stateful phase).
destructive=(--include-operation-id deleteUser --include-operation-id deleteToken
  --include-operation-id listUsers --include-operation-id listTokens
  --include-operation-id createUser --include-operation-id createToken)
runs=(
  "admin|$admin|--exclude-operation-id deleteUser --exclude-operation-id deleteToken"
  "member|$member|--exclude-operation-id deleteToken"
  "admin-destructive|$admin|${destructive[*]}"
)
status=0
for run in "${runs[@]}"; do
  IFS='|' read -r who token filters <<<"$run"
  echo "== schemathesis as $who ==" >&2
  # shellcheck disable=SC2086 # $filters is a list of options
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    -H "Authorization: Bearer $token" $filters \
    --workers 1 --no-color --suppress-health-check all \
    --report junit --report-dir "$report_dir/$who" \
    "$@" || status=$?
done
if grep -q "panicked" "$report_dir/pmhub.log"; then
  echo "pmhub panicked: see $report_dir/pmhub.log" >&2
  status=1
fi
exit "$status"
