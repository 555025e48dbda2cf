#!/usr/bin/env bash
# Short smoke run of every cargo-fuzz target (nightly + cargo-fuzz needed; installs
# cargo-fuzz if missing). Long runs: see the README's "Fuzzing" section, e.g.
#   cargo +nightly fuzz run form -- -runs=10000000
# FUZZ_SECONDS (default 20) sets the time per target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_SECONDS:-20}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  echo "==> fuzz $target for ${secs}s"
  mkdir -p "corpus/$target"
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|Done|ERROR|panicked" || true
  # libFuzzer exits non-zero on a crash, which `set -o pipefail` would hide behind grep.
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "crash found in $target: $(ls artifacts/$target/crash-*)" >&2
    exit 1
  fi
done
echo "fuzz smoke: all targets ran without crashes"
