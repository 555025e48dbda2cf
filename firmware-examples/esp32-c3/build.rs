//! Warns when the Wi-Fi or server settings are still the committed placeholders.

fn main() {
    for (var, placeholder) in [
        ("WIFI_SSID", "your-ssid"),
        ("SERVER_URL", "http://192.168.1.10:8080"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var(var).as_deref() == Ok(placeholder) {
            println!(
                "cargo:warning={var} is the placeholder from .cargo/config.toml; set it in the environment"
            );
        }
    }
}
