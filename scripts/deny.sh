#!/usr/bin/env bash
# Checks the dependency tree against deny.toml with cargo-deny: licences, bans (duplicates,
# wildcards), sources (crates.io only) and RustSec advisories.
#
#   scripts/deny.sh            fetch the RustSec advisory database, then check everything
#   scripts/deny.sh --offline  check advisories against the copy already in
#                              $CARGO_HOME/advisory-dbs, without fetching (prints its date)
#
# Exit status: 0 all checks pass; 1 a check failed; 3 the advisory database could not be
# fetched (or, with --offline, there is no copy), so advisories were NOT checked.
set -euo pipefail
cd "$(dirname "$0")/.."

offline=false
case "${1:-}" in
    "") ;;
    --offline) offline=true ;;
    -h | --help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac

cargo_deny_version=0.20.2
if ! cargo deny --version >/dev/null 2>&1; then
    echo "== installing cargo-deny $cargo_deny_version"
    cargo install cargo-deny --locked --version "$cargo_deny_version"
fi

status=0
echo "== cargo deny check bans licenses sources"
cargo deny check bans licenses sources || status=1

db_url=https://github.com/RustSec/advisory-db
no_db() {
    echo "ERROR: $1" >&2
    echo "ERROR: advisories were NOT checked (the other checks: $([[ $status == 0 ]] && echo passed || echo FAILED))." >&2
    # 3 only when everything that could be checked passed: a failed check is a failure.
    [[ $status == 0 ]] && exit 3
    exit 1
}
echo "== cargo deny check advisories"
if ! $offline; then
    cargo deny fetch db || no_db "could not fetch the RustSec advisory database from $db_url (is github.com reachable?). scripts/deny.sh --offline checks against the last copy fetched, if there is one."
fi
db=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/advisory-db-* 2>/dev/null | head -n1 || true)
[[ -n "$db" ]] || no_db "there is no copy of the RustSec advisory database in ${CARGO_HOME:-$HOME/.cargo}/advisory-dbs; run scripts/deny.sh without --offline where $db_url is reachable."
echo "   advisory database: $db, commit $(git -C "$db" log -1 --format='%h of %cs' 2>/dev/null || echo '(unknown)')"
if $offline; then
    age=$((($(date +%s) - $(git -C "$db" log -1 --format=%ct 2>/dev/null || echo 0)) / 86400))
    ((age <= 7)) || echo "WARNING: that copy is $age days old; advisories published since are not checked." >&2
fi
cargo deny --offline check advisories || status=1

exit "$status"
