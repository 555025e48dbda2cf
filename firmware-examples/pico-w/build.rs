//! Puts `memory.x` on the linker path, passes the cortex-m-rt and embassy-rp link scripts,
//! turns `nvram_rp2040.txt` into the blob cyw43 loads, and warns about placeholder settings.
//!
//! Shared with `../pico2-w` (its `package.build`): for an RP2350 target
//! (`thumbv8m.main-none-eabihf`) it sets cfg `rp2350` for `src/main.rs`, and uses that
//! crate's own `memory.x` (the RP2350 needs no boot2 and its image definition lives in
//! embassy-rp).

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo::rustc-check-cfg=cfg(rp2350)");
    if env::var("TARGET").unwrap().starts_with("thumbv8m") {
        println!("cargo:rustc-cfg=rp2350");
    } else {
        println!("cargo:rustc-link-arg-bins=-Tlink-rp.x");
    }

    // NVRAM: one `key=value` per line, each NUL-terminated, the whole list ended by NULs and
    // padded to a multiple of four bytes (cyw43 uploads it as 32-bit words).
    // The Pico 2 W carries the same CYW43439 module and uses the same NVRAM.
    let nvram = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap())
        .join("../pico-w/nvram_rp2040.txt");
    let text = fs::read_to_string(&nvram).unwrap();
    let mut blob = Vec::new();
    for line in text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim_end())
    {
        if !line.is_empty() {
            blob.extend_from_slice(line.as_bytes());
            blob.push(0);
        }
    }
    blob.extend_from_slice(&[0, 0]);
    while blob.len() % 4 != 0 {
        blob.push(0);
    }
    fs::write(out.join("nvram_rp2040.bin"), blob).unwrap();
    println!("cargo:rerun-if-changed={}", nvram.display());

    // TLS (feature `tls`): the CA certificate (DER) of the server, pinned by the board,
    // read from the file SERVER_CA_DER names. Unset: an empty file, and the firmware
    // refuses to connect rather than trust anyone.
    println!("cargo:rerun-if-env-changed=SERVER_CA_DER");
    let ca = match env::var_os("SERVER_CA_DER") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", path.to_string_lossy());
            fs::read(&path)
                .unwrap_or_else(|e| panic!("SERVER_CA_DER {}: {e}", path.to_string_lossy()))
        }
        None => {
            if env::var_os("CARGO_FEATURE_TLS").is_some() {
                println!(
                    "cargo:warning=SERVER_CA_DER is not set: this TLS image will refuse to connect"
                );
            }
            Vec::new()
        }
    };
    fs::write(out.join("server_ca.der"), ca).unwrap();

    for (var, placeholder) in [
        ("WIFI_SSID", "your-ssid"),
        ("SERVER_URL", "http://192.168.1.10:8080"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        if env::var(var).as_deref() == Ok(placeholder) {
            println!(
                "cargo:warning={var} is the placeholder from .cargo/config.toml; set it in the environment"
            );
        }
    }
}
