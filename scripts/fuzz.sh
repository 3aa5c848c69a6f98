#!/usr/bin/env bash
# Run every fuzz target for a few seconds over its committed corpus (fuzz/corpus/TARGET),
# or longer for a real session:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]
#
# Uses cargo-fuzz (installed from crates.io when missing) on the stable toolchain without a
# sanitizer; new inputs that widen coverage are added to the corpus directory, and a crash
# leaves its input in fuzz/artifacts/TARGET and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET="${1:-12}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install -q cargo-fuzz --locked
fi
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(cargo fuzz list)
fi
cargo fuzz build -s none -O
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    echo "-- $t (${SECONDS_PER_TARGET}s)"
    # Inputs the run discovers go to a scratch directory: the committed corpus only grows by hand.
    scratch=$(mktemp -d)
    set +e
    cargo fuzz run -s none -O "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=3072 -timeout=20 \
        -max_len=65536 -print_final_stats=1 >"$scratch.log" 2>&1
    status=$?
    set -e
    grep -E "^stat::number_of_executed_units|^stat::new_units_added|ERROR|panicked" "$scratch.log" || true
    [ "$status" -ne 0 ] && tail -40 "$scratch.log"
    rm -f "$scratch.log"
    rm -rf "$scratch"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $t failed (exit $status); the input is under fuzz/artifacts/$t"
        exit 1
    fi
done
