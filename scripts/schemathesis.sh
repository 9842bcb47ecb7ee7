#!/usr/bin/env bash
# The contract test: schemathesis (PyPI) against a live server, generating requests from the
# server's own OpenAPI document (GET /v1/openapi.json), authenticated with a real API key, on
# every operation, stateful links included. It fails on any 5xx, any response that does not
# conform to the document (body schema, content type, headers) and any undocumented status.
#
#   scripts/schemathesis.sh           bounded (CI): 25 examples per operation
#   scripts/schemathesis.sh --long    1000 examples per operation
#   scripts/schemathesis.sh N         N examples per operation
set -euo pipefail
cd "$(dirname "$0")/.."

examples=25
case "${1:-}" in
  "") ;;
  --long) examples=1000 ;;
  *[!0-9]* | 0) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  *) examples=$1 ;;
esac

./scripts/install-test-deps.sh >/dev/null
cargo build -q -p easel
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# One address sends every request: the per-address rate limits would answer most of them 429.
password="contract-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
EASEL_LOG=warn target/debug/easel serve --listen "127.0.0.1:$port" \
  --database-url "sqlite://$work/easel.db" --rate-limits off \
  --tenant-name contract --admin-email contract@easel.test --admin-password "$password" \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do
  grep -q 'API key' "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
key=$(grep -Eo 'easel_[A-Za-z0-9]+' "$work/stdout" | head -n1)
[ -n "$key" ] || { echo "error: the server did not print its first API key" >&2; cat "$work/stderr" >&2; exit 1; }

# The key is given by scripts/schemathesis_hooks.py, which replaces it with a new real key
# when the run itself revokes or deletes it (the run may touch any key it can list).
export EASEL_ST_BASE="http://127.0.0.1:$port" EASEL_ST_KEY="$key" EASEL_ST_EMAIL=contract@easel.test \
  EASEL_ST_PASSWORD="$password" EASEL_ST_ORG=contract
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$PWD/scripts" \
.venv/bin/st run "http://127.0.0.1:$port/v1/openapi.json" \
  --max-examples "$examples" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --workers 1 \
  --seed 1 \
  --no-color
