#!/usr/bin/env bash
# scripts/python-venv.sh VENV PACKAGE...: a Python venv at VENV (git-ignored, under .pmhub/)
# with the given PyPI packages, created or completed on first use. Used by `make
# openapi-check` (openapi-spec-validator) and `make fuzz` (schemathesis).
set -euo pipefail
venv="$1"
shift
if [ ! -x "$venv/bin/python" ]; then
  echo "creating the Python venv $venv" >&2
  python3 -m venv "$venv"
fi
missing=()
for package in "$@"; do
  "$venv/bin/python" -m pip show -q "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} into $venv (PyPI)" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
fi
