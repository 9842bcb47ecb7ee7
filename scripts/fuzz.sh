#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a bounded time.
#
#   scripts/fuzz.sh                     20 s per target (CI)
#   scripts/fuzz.sh --long              10 min per target
#   scripts/fuzz.sh <seconds>           that many seconds per target
#   scripts/fuzz.sh <time> <target>...  only those targets (time: --long or seconds)
#
# cargo-fuzz needs `-Z` flags; on a stable toolchain they are unlocked with RUSTC_BOOTSTRAP=1.
# Builds are optimised, with debug assertions, overflow checks and AddressSanitizer (cargo
# fuzz's defaults; FUZZ_SANITIZER=none turns ASan off). Inputs libFuzzer finds interesting
# are added to fuzz/corpus/<target>/ (ignored by git, except the seed-* files); the inputs in
# fuzz/regressions/<target>/ (ones that failed before) are replayed first.
# Exits non-zero if any target crashes, fails an assertion or hangs, after printing where the
# input was written, its hex, and how to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0"; }

seconds=20
case "${1:-}" in
    "") ;;
    --long) seconds=600 ;;
    -h | --help) usage; exit 0 ;;
    *[!0-9]* | 0) usage >&2; exit 2 ;;
    *) seconds=$1 ;;
esac
[[ $# -gt 0 ]] && shift
all_targets=(api_key token continue_token tenant_filter)
if (($#)); then targets=("$@"); else targets=("${all_targets[@]}"); fi

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi
export RUSTC_BOOTSTRAP=1
fuzz_flags=(--sanitizer "${FUZZ_SANITIZER:-address}")

echo "== cargo fuzz build (${targets[*]})"
for t in "${targets[@]}"; do
    cargo fuzz build "${fuzz_flags[@]}" "$t"
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    log="$logs/$t.log"
    # New inputs go to the first directory; fuzz/regressions/<target>/ holds inputs that once
    # failed, replayed on every run.
    corpora=("$PWD/fuzz/corpus/$t")
    mkdir -p "${corpora[0]}"
    [[ -d fuzz/regressions/$t ]] && corpora+=("$PWD/fuzz/regressions/$t")
    # -timeout: an input that runs for 10 s is a hang, and fails the run like a crash.
    if cargo fuzz run "${fuzz_flags[@]}" "$t" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 || true)
        echo "   ok: ${runs:-?} runs, ${speed:-?} execs/s, ${cov:-cov: ?}"
    else
        failed+=("$t")
        echo "   FAILED:"
        # The panic (with its assertion message) or the sanitizer's report; else the log's end.
        if grep -q -E 'panicked at|^SUMMARY:|^==[0-9]+==ERROR' "$log"; then
            grep -A4 -E 'panicked at' "$log" | sed 's/^/   | /' || true
            grep -E '^SUMMARY:|^==[0-9]+==ERROR' "$log" | sed 's/^/   | /' || true
        else
            tail -n 40 "$log" | sed 's/^/   | /'
        fi
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
        if [[ -n "$artifact" && -f "$artifact" ]]; then
            echo "   input: $artifact"
            echo "   hex:   $(od -An -v -tx1 "$artifact" | tr -d ' \n' | head -c 4096)"
            echo "   replay: RUSTC_BOOTSTRAP=1 cargo fuzz run $t $artifact"
        else
            echo "   (no input was written; the target did not build or libFuzzer failed to start)"
        fi
    fi
done

if ((${#failed[@]})); then
    echo "== fuzzing FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "== fuzzing passed: ${targets[*]} (${seconds}s each)"
