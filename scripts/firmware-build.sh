#!/usr/bin/env bash
# Builds the firmware examples (firmware-examples/pico-w for thumbv6m-none-eabi,
# firmware-examples/pico2-w (the same program for the RP2350) for
# thumbv8m.main-none-eabihf, firmware-examples/esp32-c3 for riscv32imc-unknown-none-elf)
# in release mode, each
# with its own Cargo.lock and target/ directory, and prints the flash and RAM use of
# each image plus the share of the AuthGate client core in it: first the default
# images (with DPoP, a default feature), then with feature `oled` (SSD1306 login
# screen), then with feature `tls`, then the plain and `tls` images without DPoP
# (`--no-default-features`), so the report shows what DPoP adds. All variants share
# the crate's target directory, so each report is printed right after its build.
#
# Idempotent: adds the rustup targets only if missing. Needs readelf and nm (binutils).
# Wi-Fi and server settings: WIFI_SSID, WIFI_PASSWORD, SERVER_URL, CLIENT_ID from the
# environment, else the placeholders in each crate's .cargo/config.toml.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'firmware-build: %s\n' "$*" >&2; }

if ! command -v readelf >/dev/null || ! command -v nm >/dev/null; then
    log "installing binutils"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils >/dev/null
fi
if command -v rustup >/dev/null; then
    installed="$(rustup target list --installed)"
    for t in thumbv6m-none-eabi thumbv8m.main-none-eabihf riscv32imc-unknown-none-elf; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
fi

build() { # CRATE_DIR [CARGO_ARGS...]: release build with the crate's own lock file and target dir
    local dir=$1; shift
    log "building $dir $*"
    # A path dependency (device-client) that gained a dependency makes the lock stale:
    # say so, then build with an updated lock rather than fail.
    (cd "$root/$dir" && { env -u CARGO_TARGET_DIR cargo build --release --locked "$@" \
        || { log "$dir/Cargo.lock is stale; building with an updated lock"; env -u CARGO_TARGET_DIR cargo build --release "$@"; }; })
}

# Portable (mawk) hex to decimal.
HEX='function hex(s,  i, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }'

# section_sizes ELF: "name size" for every section (readelf reads any ELF target).
section_sizes() {
    readelf -S -W "$1" | sed -n 's/^ *\[ *[0-9]*\] *//p' | awk "$HEX"' $1 ~ /^\./ { printf "%s %d\n", $1, hex($5) }'
}
# sum ELF SECTION...: total size of the named sections that exist.
sum() {
    local elf=$1; shift
    section_sizes "$elf" | awk -v want=" $* " 'index(want, " " $1 " ") { s += $2 } END { print s + 0 }'
}
# core_share ELF: bytes of code and read-only data in symbols of the client core
# (authgate_device without its embassy transport, authgate_proto, the QR encoder) and of
# the transport (authgate_device::embassy, into which LTO inlines most of reqwless).
# Code inlined into the firmware's own functions is not counted: a lower bound.
core_share() {
    nm -S -C "$1" | awk "$HEX"'
        $3 ~ /^[tTrR]$/ {
            size = hex($2); name = substr($0, index($0, $4))
            if (name ~ /authgate_device::embassy/) transport += size
            else if (name ~ /authgate_device|authgate_proto|qrcodegen_no_heap/) core += size
        }
        END { printf "%d %d\n", core, transport }'
}
report() { # NAME ELF FLASH_SECTIONS -- RAM_SECTIONS
    local name=$1 elf=$2; shift 2
    local flash_list=() ram_list=()
    while [ "$1" != -- ]; do flash_list+=("$1"); shift; done
    shift
    ram_list=("$@")
    local flash ram core transport
    flash="$(sum "$elf" "${flash_list[@]}")"
    ram="$(sum "$elf" "${ram_list[@]}")"
    read -r core transport < <(core_share "$elf")
    printf '%-18s flash %7d B (%4d KiB)   static RAM %6d B (%3d KiB)   client core %6d B   embassy transport %6d B\n' \
        "$name" "$flash" $((flash / 1024)) "$ram" $((ram / 1024)) "$core" "$transport"
    sizes[$name]="$flash $ram"
}
declare -A sizes
# dpop_delta WITH WITHOUT: what DPoP adds, from two reported images.
dpop_delta() {
    local f1 r1 f0 r0
    read -r f1 r1 <<<"${sizes[$1]}"
    read -r f0 r0 <<<"${sizes[$2]}"
    printf 'DPoP adds to %-14s flash %+7d B   static RAM %+6d B\n' "$1:" $((f1 - f0)) $((r1 - r0))
}

pico="$root/firmware-examples/pico-w/target/thumbv6m-none-eabi/release/authgate-pico-w"
esp="$root/firmware-examples/esp32-c3/target/riscv32imc-unknown-none-elf/release/authgate-esp32-c3"
report_pico() { report "pico-w$1" "$pico" .boot2 .vector_table .text .rodata .data -- .data .bss .uninit; }
pico2="$root/firmware-examples/pico2-w/target/thumbv8m.main-none-eabihf/release/authgate-pico2-w"
report_pico2() { report "pico2-w$1" "$pico2" .vector_table .start_block .text .bi_entries .rodata .data .end_block -- .data .bss .uninit; }
report_esp() {
    report "esp32-c3$1" "$esp" .flash.appdesc .trap .rwtext .rwtext.wifi .text .rodata .rodata.wifi .data .data.wifi \
        -- .trap .rwtext .rwtext.wifi .data .data.wifi .bss .noinit .dram2_uninit
}

echo "Image sizes (flash: bytes written to flash; static RAM: .data/.bss and RAM-resident code, without the stack)"
echo "Default features include dpop; \"-dpop\" images are built with --no-default-features"
build firmware-examples/pico-w
report_pico ""
build firmware-examples/pico2-w
report_pico2 ""
fw="$(nm -S "$pico" | awk "$HEX"' $4 ~ /authgate_pico_w8FIRMWARE/ { print hex($2) }')"
echo "pico-w flash includes the CYW43439 Wi-Fi firmware blob: ${fw:-?} B"
build firmware-examples/esp32-c3
report_esp ""

# The same images with the SSD1306 OLED login screen.
build firmware-examples/pico-w --features oled
report_pico "+oled"
build firmware-examples/pico2-w --features oled
report_pico2 "+oled"
build firmware-examples/esp32-c3 --features oled
report_esp "+oled"

# The same images with HTTPS (feature tls: embedded-tls, CA pinned at build time).
# Without SERVER_CA_DER (a DER file) the images build but refuse to connect.
build firmware-examples/pico-w --features tls
report_pico "+tls"
build firmware-examples/pico2-w --features tls
report_pico2 "+tls"
build firmware-examples/esp32-c3 --features tls
report_esp "+tls"

# Without DPoP (--no-default-features): the difference to the images above is what
# DPoP adds (Ed25519 signing, SHA-256, the key in the flash record, proofs in RAM).
build firmware-examples/pico-w --no-default-features
report_pico "-dpop"
build firmware-examples/esp32-c3 --no-default-features
report_esp "-dpop"
build firmware-examples/pico-w --no-default-features --features tls
report_pico "+tls-dpop"
build firmware-examples/esp32-c3 --no-default-features --features tls
report_esp "+tls-dpop"

dpop_delta pico-w pico-w-dpop
dpop_delta esp32-c3 esp32-c3-dpop
dpop_delta pico-w+tls pico-w+tls-dpop
dpop_delta esp32-c3+tls esp32-c3+tls-dpop
