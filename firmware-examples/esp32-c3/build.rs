//! Warns when the Wi-Fi or server settings are still the committed placeholders, and
//! puts the pinned server CA of the `tls` build into `OUT_DIR`.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
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
