//! Puts the memory map for the target's emulated board where cortex-m-rt's `link.x`
//! finds it as `memory.x`: the Cortex-M0 `microbit` machine (nRF51822, 16 KiB RAM) for
//! `thumbv6m-none-eabi`, the Cortex-M3 `mps2-an385` (4 MiB RAM) for everything else.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let (map, board) = if target.starts_with("thumbv6m") {
        ("memory-microbit.x", "Cortex-M0 (micro:bit, 16 KiB RAM)")
    } else {
        ("memory-mps2.x", "Cortex-M3 (mps2-an385)")
    };
    println!("cargo:rustc-env=QEMU_BOARD={board}");
    fs::copy(map, out.join("memory.x")).expect("copy the memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-microbit.x");
    println!("cargo:rerun-if-changed=memory-mps2.x");
    println!("cargo:rerun-if-changed=build.rs");
}
