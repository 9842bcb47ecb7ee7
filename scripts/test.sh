#!/usr/bin/env bash
# Runs Easel's whole test suite: the Rust unit and integration tests (every storage test on
# SQLite and on PostgreSQL, the mail flows through a real SMTP server), then the console in
# headless Chromium. Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), or
# wherever EASEL_TEST_POSTGRES_URL points, and fails loudly if it is not reachable. Installs
# everything else it needs (scripts/install-test-deps.sh). Extra arguments go to nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${EASEL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
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

./scripts/install-test-deps.sh
export EASEL_TEST_PYTHON="$PWD/.venv/bin/python"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" 2>&1 | tee "$out/rust.txt" || status=1
  rust_passed=$(grep -Eo '[0-9]+ passed' "$out/rust.txt" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  rust_failed=$(grep -Eo '[0-9]+ failed' "$out/rust.txt" | tail -1 | grep -Eo '[0-9]+' || echo 0)
else
  cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$out/rust.txt" || status=1
  rust_passed=$(grep -Eo '[0-9]+ passed' "$out/rust.txt" | awk '{n += $1} END {print n + 0}')
  rust_failed=$(grep -Eo '[0-9]+ failed' "$out/rust.txt" | awk '{n += $1} END {print n + 0}')
fi

echo "== console, in headless Chromium"
cargo build -q -p easel
(cd tests/console && EASEL_BIN="$PWD/../../target/debug/easel" node --test) 2>&1 |
  tee "$out/console.txt" || status=1
console_passed=$(grep -Eo '^# pass [0-9]+' "$out/console.txt" | grep -Eo '[0-9]+' || echo 0)
console_failed=$(grep -Eo '^# fail [0-9]+' "$out/console.txt" | grep -Eo '[0-9]+' || echo 1)

echo
echo "Rust: ${rust_passed} passed, ${rust_failed} failed; console: ${console_passed} passed, ${console_failed} failed"
echo "$((rust_passed + console_passed)) passed, $((rust_failed + console_failed)) failed"
exit "$status"
