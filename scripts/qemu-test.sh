#!/usr/bin/env bash
# Builds firmware-examples/qemu-m3 for two cores and runs it on QEMU: the Cortex-M3
# (thumbv7m-none-eabi, machine mps2-an385) and the Cortex-M0 (thumbv6m-none-eabi, the
# Pico's ISA; machine microbit, 16 KiB of RAM). The firmware drives authgate-device
# through a scripted server exchange, reports its statics and stack high-water mark,
# and exits through semihosting: 0 when every check passed. Fails if either core fails.
#
# Idempotent: installs qemu-system-arm and the rustup targets only if missing.
# Env: QEMU_TIMEOUT (seconds per run, default 120), CARGO_TARGET_DIR (default
# firmware-examples/qemu-m3/target), QEMU_TARGETS (default "thumbv7m-none-eabi
# thumbv6m-none-eabi").
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/firmware-examples/qemu-m3"
targets="${QEMU_TARGETS:-thumbv7m-none-eabi thumbv6m-none-eabi}"
timeout_s="${QEMU_TIMEOUT:-120}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$crate/target}"

if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "qemu-test: installing qemu-system-arm" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq qemu-system-arm >/dev/null
fi

machine_args() { # TARGET: the QEMU machine emulating that core
    case "$1" in
        thumbv7m-none-eabi) echo "-cpu cortex-m3 -machine mps2-an385" ;;
        thumbv6m-none-eabi) echo "-machine microbit" ;;
        *) echo "qemu-test: no QEMU machine for $1" >&2; return 1 ;;
    esac
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
failed=()
for target in $targets; do
    args="$(machine_args "$target")"
    if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
    fi
    echo "qemu-test: building $crate for $target" >&2
    (cd "$crate" && { cargo build --release --locked --target "$target" 2>&1 \
        || cargo build --release --target "$target"; }) >&2
    elf="$CARGO_TARGET_DIR/$target/release/authgate-qemu-m3"

    echo "qemu-test: running $target on qemu-system-arm $args (timeout ${timeout_s}s)" >&2
    set +e
    # shellcheck disable=SC2086 # $args is a list of options
    timeout --kill-after=5 "$timeout_s" qemu-system-arm $args -nographic \
        -semihosting-config enable=on,target=native \
        -kernel "$elf" </dev/null 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e

    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "qemu-test: FAILED on $target: timed out after ${timeout_s}s" >&2
        failed+=("$target")
    elif [ "$status" -ne 0 ]; then
        echo "qemu-test: FAILED on $target: firmware exited with status $status" >&2
        failed+=("$target")
    elif ! grep -q "^qemu-m3: all [0-9]* checks passed" "$log"; then
        echo "qemu-test: FAILED on $target: no success line in the firmware output" >&2
        failed+=("$target")
    else
        echo "qemu-test: $target ok: $(grep -m1 '^qemu-m3: RAM:' "$log" | sed 's/^qemu-m3: //')" >&2
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "qemu-test: FAILED on: ${failed[*]}" >&2
    exit 1
fi
echo "qemu-test: ok ($targets)" >&2
