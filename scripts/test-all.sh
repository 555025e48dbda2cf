#!/usr/bin/env bash
# Runs every AuthGate test, from a fresh Debian machine with rustup: installs what the
# tests need (Debian packages, rustup targets), then lints, builds and tests the
# workspace, the no_std crates for their MCU targets, the client core on an emulated
# Cortex-M3, the embassy-net stack over a TAP device in a network namespace, and the
# firmware images. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "system packages"
need=()
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v arm-none-eabi-size >/dev/null || need+=(binutils-arm-none-eabi)
# Headless Chromium and its WebDriver, for tests/tests/browser.rs.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# PostgreSQL for the throwaway clusters of the PostgreSQL backend's tests
# (tests/src/pg.rs); Debian installs its binaries outside PATH.
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# CJK glyphs for the Japanese and Traditional Chinese screenshots (tests/tests/browser.rs).
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
  || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

step "rust toolchain parts"
rustup component add rustfmt clippy >/dev/null
rustup target add thumbv6m-none-eabi thumbv7m-none-eabi thumbv8m.main-none-eabihf riscv32imc-unknown-none-elf >/dev/null

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the binaries the end-to-end tests run"
cargo build --workspace --bins --locked
# verify/tests/e2e.rs runs the resource-server example as a process.
cargo build -p authgate-verify --examples --locked

# The end-to-end tests run copies, so no later build that re-links target/debug can
# pull a binary out from under a running test.
tdir="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
mkdir -p "$tdir/e2e-bin"
cp "$tdir/debug/authgate" "$tdir/debug/authgate-login" "$tdir/e2e-bin/"
export AUTHGATE_BIN="$tdir/e2e-bin/authgate" AUTHGATE_LOGIN_BIN="$tdir/e2e-bin/authgate-login"

step "workspace tests (unit, end-to-end against the real binary, interop)"
cargo test --workspace --locked

# The same end-to-end suite (already built above: this only runs it) with every server
# on PostgreSQL: each test binary starts one throwaway cluster of its own in a temporary
# directory on a free loopback port (tests/src/pg.rs, removed when the binary exits),
# each server gets a fresh database and --database-url; the multi-instance, SIGKILL
# and database-restart tests run in this pass (tests/src/backend.rs).
step "end-to-end tests again, on PostgreSQL"
AUTHGATE_TEST_BACKEND=postgres cargo test --locked -p authgate-tests --tests

step "no_std crates build for the microcontroller targets"
cargo build --locked -p authgate-proto --target thumbv6m-none-eabi
cargo build --locked -p authgate-device --no-default-features --target thumbv6m-none-eabi
cargo build --locked -p authgate-device --no-default-features --target riscv32imc-unknown-none-elf
cargo build --locked -p authgate-device --no-default-features --features dpop --target thumbv6m-none-eabi
cargo build --locked -p authgate-device --no-default-features --features dpop --target riscv32imc-unknown-none-elf

# scripts/package-test.sh runs scripts/aarch64-e2e.sh's device flow on the static
# aarch64 binary it packages, so the aarch64 release build is done once.
for extra in scripts/qemu-test.sh scripts/tap-e2e.sh scripts/firmware-build.sh scripts/fuzz-smoke.sh scripts/package-test.sh scripts/api-fuzz.sh scripts/dpop-interop.sh scripts/grants-interop.sh scripts/authcode-interop.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done

step "all tests passed"
