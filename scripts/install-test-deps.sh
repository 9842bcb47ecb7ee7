#!/usr/bin/env bash
# Installs what the test suite needs besides Rust, idempotently: a real SMTP server
# (aiosmtpd, from PyPI, in .venv), schemathesis (PyPI, .venv) for the contract tests,
# Debian's Chromium, and playwright-core (npm) to drive it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! .venv/bin/python -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "== installing aiosmtpd into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'aiosmtpd==1.4.6'
fi

if ! .venv/bin/st --version 2>/dev/null | grep -q '4.32.5'; then
  echo "== installing schemathesis into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium"
  if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
fi

if [ ! -d tests/console/node_modules/playwright-core ]; then
  echo "== installing playwright-core"
  (cd tests/console && npm ci --no-audit --no-fund --silent)
fi
