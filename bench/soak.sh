#!/usr/bin/env bash
# The soak: 10 minutes (SOAK_SECS) at half of Easel's measured capacity on SQLite; fails on
# any error or on more than 10 % memory growth after the first minute. Writes
# bench/out/soak.json.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p easel
exec python3 bench/soak.py "$@"
