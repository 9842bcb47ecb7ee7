#!/usr/bin/env bash
# Easel's benchmark: one command. Builds the release binaries, then for SQLite and for
# PostgreSQL starts Easel, seeds it, and drives it with wrk (-t1 -c32, 2 s warm-up, 10 s)
# beside a bare axum "hello" built from the same toolchain and dependencies, measured in the
# same run. Prints a table and writes bench/out/results.json. `--scale` adds the
# million-key rows. Loopback only; every wrk run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# Apart, so that Cargo does not unify their axum features (bench/hello/Cargo.toml).
cargo build -q --release -p easel
cargo build -q --release -p easel-bench-hello
exec python3 bench/run.py "$@"
