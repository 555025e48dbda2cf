#!/usr/bin/env bash
# Builds firmware-examples/qemu-m3 and runs it on QEMU's emulated Cortex-M3
# (mps2-an385). The firmware drives authgate-device through a scripted server
# exchange and exits through semihosting: 0 when every check passed.
#
# Idempotent: installs qemu-system-arm and the thumbv7m target only if missing.
# Env: QEMU_TIMEOUT (seconds, default 120), CARGO_TARGET_DIR (default
# firmware-examples/qemu-m3/target).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/firmware-examples/qemu-m3"
target=thumbv7m-none-eabi
timeout_s="${QEMU_TIMEOUT:-120}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$crate/target}"

if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "qemu-test: installing qemu-system-arm" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq qemu-system-arm >/dev/null
fi

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

echo "qemu-test: building $crate" >&2
(cd "$crate" && cargo build --release --locked 2>&1 || cargo build --release) >&2
elf="$CARGO_TARGET_DIR/$target/release/authgate-qemu-m3"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "qemu-test: running on qemu-system-arm (timeout ${timeout_s}s)" >&2
set +e
timeout --kill-after=5 "$timeout_s" qemu-system-arm \
    -cpu cortex-m3 -machine mps2-an385 -nographic \
    -semihosting-config enable=on,target=native \
    -kernel "$elf" </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "qemu-test: FAILED: timed out after ${timeout_s}s" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "qemu-test: FAILED: firmware exited with status $status" >&2
    exit 1
fi
if ! grep -q "^qemu-m3: all [0-9]* checks passed" "$log"; then
    echo "qemu-test: FAILED: no success line in the firmware output" >&2
    exit 1
fi
echo "qemu-test: ok" >&2
