#!/usr/bin/env bash
# Runs Easel's whole test suite: unit tests, and the integration tests on SQLite and on
# PostgreSQL. Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), or wherever
# EASEL_TEST_POSTGRES_URL points; it fails, loudly, if that is not reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${EASEL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if command -v psql >/dev/null 2>&1; then
  if ! psql "$pg_url" -qtAc 'select 1' >/dev/null 2>&1; then
    echo "error: PostgreSQL is not reachable at $pg_url." >&2
    echo "Every storage test runs on PostgreSQL as well as SQLite, so the suite needs it." >&2
    echo "On this kind of machine start it with:" >&2
    echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
    exit 1
  fi
  # Databases left behind by an interrupted earlier run.
  psql "$pg_url" -qtAc "select datname from pg_database where datname like 'easel_test_%'" |
    while read -r db; do
      [ -n "$db" ] && psql "$pg_url" -qc "drop database if exists \"$db\" with (force)" >/dev/null || true
    done
fi

# A real SMTP server for the mail tests: aiosmtpd from PyPI, in the project's own venv.
venv=.venv
if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'aiosmtpd==1.4.6'
fi
export EASEL_TEST_PYTHON="$PWD/$venv/bin/python"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
