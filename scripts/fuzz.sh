#!/usr/bin/env bash
# Fuzzes every parser of outside input (fuzz/fuzz_targets: API JSON bodies, Open311 forms,
# order and knowledge-base import files, calendar and time-limit configuration) with
# cargo-fuzz (libFuzzer) for a bounded time each, starting from the corpus kept in
# fuzz/corpus/<target>. A panic, hang (> 10 s on one input) or blow-up (> 2 GB) fails the run
# and leaves the input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 20 s, every target)
#
# Installs the nightly toolchain and cargo-fuzz when missing. Inputs the run finds that
# reach new code are added to the corpus directory; `cargo fuzz cmin TARGET` shrinks it
# before it is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jiesu-target}"
seconds="${1:-20}"
shift || true

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "== installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Rust is memory-safe: what the fuzzer looks for is panics, hangs and runaway memory, so no
# sanitizer (faster to build and to run); debug assertions and overflow checks stay on.
flags=(-s none --dev --target-dir "$CARGO_TARGET_DIR/fuzz")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
cargo +nightly fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds} s"
  mkdir -p "fuzz/corpus/$t"
  log="$CARGO_TARGET_DIR/fuzz/$t.log"
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 ||
    status=$?
  grep -E "stat::number_of_executed_units|stat::new_units_added|panicked|ERROR|SUMMARY|Test unit written" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $t failed (exit $status): the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
