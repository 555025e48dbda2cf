//! The optional TOML configuration file, and precedence: flag, then `AUTHGATE_*`
//! environment variable, then the file, then the default.
//!
//! clap applies flags, environment and defaults; this module then fills every key
//! that neither a flag nor the environment set from the file, with the same parsers,
//! and rejects unknown keys (a typo must not be silently ignored). Every error names
//! the key and where its value came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::parser::{ArgMatches, ValueSource};

use super::{ServeArgs, parse_duration, validate_base_url};

/// Every key: (file key, environment variable, secret?).
pub const KEYS: &[(&str, &str, bool)] = &[
    ("listen", "AUTHGATE_LISTEN", false),
    ("data_dir", "AUTHGATE_DATA_DIR", false),
    ("base_url", "AUTHGATE_BASE_URL", false),
    ("device_code_ttl", "AUTHGATE_DEVICE_CODE_TTL", false),
    ("poll_interval", "AUTHGATE_POLL_INTERVAL", false),
    ("access_token_ttl", "AUTHGATE_ACCESS_TOKEN_TTL", false),
    ("refresh_token_ttl", "AUTHGATE_REFRESH_TOKEN_TTL", false),
    ("session_ttl", "AUTHGATE_SESSION_TTL", false),
    ("log_format", "AUTHGATE_LOG_FORMAT", false),
    ("log_level", "AUTHGATE_LOG", false),
    ("tls_cert", "AUTHGATE_TLS_CERT", false),
    ("tls_key", "AUTHGATE_TLS_KEY", false),
    ("audit_retention", "AUTHGATE_AUDIT_RETENTION", false),
    ("sweep_interval", "AUTHGATE_SWEEP_INTERVAL", false),
    ("metrics", "AUTHGATE_METRICS", false),
    (
        "device_auth_rate_per_ip",
        "AUTHGATE_DEVICE_AUTH_RATE_PER_IP",
        false,
    ),
    ("max_connections", "AUTHGATE_MAX_CONNECTIONS", false),
    (
        "max_connections_per_ip",
        "AUTHGATE_MAX_CONNECTIONS_PER_IP",
        false,
    ),
    ("body_timeout", "AUTHGATE_BODY_TIMEOUT", false),
    ("trusted_proxies", "AUTHGATE_TRUSTED_PROXIES", false),
    ("max_pending_codes", "AUTHGATE_MAX_PENDING_CODES", false),
    (
        "max_pending_codes_per_client",
        "AUTHGATE_MAX_PENDING_CODES_PER_CLIENT",
        false,
    ),
    ("admin_password", "AUTHGATE_ADMIN_PASSWORD", true),
];

/// Where each key's effective value came from: `flag`, `env`, `file` or `default`.
#[derive(Clone, Debug, Default)]
pub struct Sources(pub BTreeMap<&'static str, &'static str>);

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

fn read_table(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("config file {}: {e}", path.display()))
}

fn as_text(key: &str, v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        // A list of strings (`trusted_proxies = ["10.0.0.0/8", "::1"]`).
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::String(s) => Ok(s.as_str()),
                _ => Err(format!("key `{key}`: expected a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        _ => Err(format!(
            "key `{key}`: expected a string, a number or a boolean"
        )),
    }
}

/// Sets one key of `args` from text, with the key's own parser.
fn set(args: &mut ServeArgs, key: &str, v: &str) -> Result<(), String> {
    let dur = |v: &str| parse_duration(v);
    match key {
        "listen" => args.listen = v.parse().map_err(|e| format!("{e} (want IP:PORT)"))?,
        "data_dir" => args.data_dir = PathBuf::from(v),
        "base_url" => args.base_url = Some(validate_base_url(v)?),
        "device_code_ttl" => args.device_code_ttl = dur(v)?,
        "poll_interval" => args.poll_interval = dur(v)?,
        "access_token_ttl" => args.access_token_ttl = dur(v)?,
        "refresh_token_ttl" => args.refresh_token_ttl = dur(v)?,
        "session_ttl" => args.session_ttl = dur(v)?,
        "log_format" => {
            if v != "human" && v != "json" {
                return Err("use `human` or `json`".into());
            }
            args.log_format = v.to_string();
        }
        "log_level" => args.log_level = v.to_string(),
        "tls_cert" => args.tls_cert = Some(PathBuf::from(v)),
        "tls_key" => args.tls_key = Some(PathBuf::from(v)),
        "audit_retention" => args.audit_retention = dur(v)?,
        "sweep_interval" => args.sweep_interval = dur(v)?,
        "metrics" => args.metrics = v.parse().map_err(|_| "use true or false")?,
        "device_auth_rate_per_ip" => {
            args.device_auth_rate_per_ip = v.parse().map_err(|_| "use a whole number")?;
        }
        "max_connections" => args.max_connections = super::parse_max_connections(v)?,
        "max_connections_per_ip" => {
            args.max_connections_per_ip = v.parse().map_err(|_| "use a whole number")?;
        }
        "body_timeout" => args.body_timeout = dur(v)?,
        "trusted_proxies" => args.trusted_proxies = v.parse().map_err(|e| format!("{e}"))?,
        "max_pending_codes" => {
            args.max_pending_codes = v.parse().map_err(|_| "use a whole number")?;
        }
        "max_pending_codes_per_client" => {
            args.max_pending_codes_per_client = v.parse().map_err(|_| "use a whole number")?;
        }
        "admin_password" => args.admin_password = Some(v.to_string()),
        _ => return Err("unknown key".into()),
    }
    Ok(())
}

/// Completes `args` (parsed by clap from flags, environment and defaults) with the
/// config file, and records where every value came from. `matches` are the
/// subcommand's matches (`None` when `authgate` ran without one: no flags).
pub fn apply_file(
    args: &mut ServeArgs,
    matches: Option<&ArgMatches>,
    config: Option<&Path>,
) -> Result<Sources, String> {
    let table = match config {
        Some(p) => read_table(p)?,
        None => toml::Table::new(),
    };
    let shown = config.map(|p| p.display().to_string()).unwrap_or_default();
    if let Some(unknown) = table.keys().find(|k| !KEYS.iter().any(|(n, _, _)| n == k)) {
        return Err(format!(
            "config file {shown}: unknown key `{unknown}` (see `authgate serve --help`)"
        ));
    }
    let mut sources = Sources::default();
    for &(key, env, _) in KEYS {
        let flagged = key != "admin_password"
            && matches.is_some_and(|m| {
                m.try_contains_id(key).unwrap_or(false)
                    && m.value_source(key) == Some(ValueSource::CommandLine)
            });
        let source = if flagged {
            "flag"
        } else if env_set(env) {
            if key == "admin_password" {
                args.admin_password = std::env::var(env).ok();
            }
            "env"
        } else if let Some(v) = table.get(key) {
            let text = as_text(key, v).map_err(|e| format!("config file {shown}: {e}"))?;
            set(args, key, &text)
                .map_err(|e| format!("config file {shown}: invalid value for `{key}`: {e}"))?;
            "file"
        } else {
            "default"
        };
        sources.0.insert(key, source);
    }
    Ok(sources)
}

/// Names a key for an error message: `` `key` (--flag / ENV) ``.
pub fn key_name(key: &str) -> String {
    let env = KEYS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("", |(_, e, _)| e);
    format!("`{key}` (--{} / {env})", key.replace('_', "-"))
}

/// Checks what clap's parsers can't: the base URL, the log filter, TLS files.
pub fn validate(args: &ServeArgs) -> Result<(), String> {
    if let Some(url) = &args.base_url {
        validate_base_url(url).map_err(|e| format!("invalid {}: {e}", key_name("base_url")))?;
    }
    tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .map_err(|e| format!("invalid {}: {e}", key_name("log_level")))?;
    match (&args.tls_cert, &args.tls_key) {
        (Some(_), None) => Err(format!(
            "{} is set but {} is not",
            key_name("tls_cert"),
            key_name("tls_key")
        )),
        (None, Some(_)) => Err(format!(
            "{} is set but {} is not",
            key_name("tls_key"),
            key_name("tls_cert")
        )),
        (Some(cert), Some(key)) => crate::http::tls::load(cert, key).map(|_| ()),
        (None, None) => Ok(()),
    }
}

/// The effective configuration as TOML, each key with its source; secrets redacted.
pub fn print_effective(args: &ServeArgs, sources: &Sources) -> String {
    let d = |d: std::time::Duration| format!("\"{}\"", short_duration(d));
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| q(&p.display().to_string()));
    let values: Vec<(&str, Option<String>)> = vec![
        ("listen", Some(q(&args.listen.to_string()))),
        ("data_dir", Some(q(&args.data_dir.display().to_string()))),
        ("base_url", args.base_url.as_deref().map(q)),
        ("device_code_ttl", Some(d(args.device_code_ttl))),
        ("poll_interval", Some(d(args.poll_interval))),
        ("access_token_ttl", Some(d(args.access_token_ttl))),
        ("refresh_token_ttl", Some(d(args.refresh_token_ttl))),
        ("session_ttl", Some(d(args.session_ttl))),
        ("log_format", Some(q(&args.log_format))),
        ("log_level", Some(q(&args.log_level))),
        ("tls_cert", path(&args.tls_cert)),
        ("tls_key", path(&args.tls_key)),
        ("audit_retention", Some(d(args.audit_retention))),
        ("sweep_interval", Some(d(args.sweep_interval))),
        ("metrics", Some(args.metrics.to_string())),
        (
            "device_auth_rate_per_ip",
            Some(args.device_auth_rate_per_ip.to_string()),
        ),
        ("max_connections", Some(args.max_connections.to_string())),
        (
            "max_connections_per_ip",
            Some(args.max_connections_per_ip.to_string()),
        ),
        ("body_timeout", Some(d(args.body_timeout))),
        (
            "trusted_proxies",
            Some(q(&args.trusted_proxies.to_string())),
        ),
        (
            "max_pending_codes",
            Some(args.max_pending_codes.to_string()),
        ),
        (
            "max_pending_codes_per_client",
            Some(args.max_pending_codes_per_client.to_string()),
        ),
        (
            "admin_password",
            args.admin_password.as_ref().map(|_| q("<redacted>")),
        ),
    ];
    let mut out = String::from("# AuthGate effective configuration (source after each key)\n");
    for (key, value) in values {
        let source = sources.0.get(key).copied().unwrap_or("default");
        match value {
            Some(v) => out.push_str(&format!("{key} = {v}  # {source}\n")),
            None => out.push_str(&format!("# {key} is not set  # {source}\n")),
        }
    }
    out
}

/// A duration in the largest unit that divides it (`90days`, `15m`, `61s`).
fn short_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `--data-dir` of an admin command: flag, env, config file, default.
pub fn resolve_data_dir(flag: Option<PathBuf>, config: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(d) = flag {
        return Ok(d);
    }
    if let Some(d) = std::env::var_os("AUTHGATE_DATA_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(p) = config {
        let table = read_table(p)?;
        if let Some(v) = table.get("data_dir") {
            return as_text("data_dir", v)
                .map(PathBuf::from)
                .map_err(|e| format!("config file {}: {e}", p.display()));
        }
    }
    Ok(PathBuf::from("authgate-data"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "poll_interval = \"7s\"\nsession_ttl = 60\nlisten = \"127.0.0.1:9\"\n",
        )
        .unwrap();
        let m = crate::config::Cli::command()
            .try_get_matches_from(["authgate", "serve", "--listen", "127.0.0.1:10"])
            .unwrap();
        let sub = m.subcommand_matches("serve").unwrap();
        let mut args = ServeArgs::from_arg_matches(sub).unwrap();
        let sources = apply_file(&mut args, Some(sub), Some(&file)).unwrap();
        assert_eq!(args.listen.port(), 10);
        assert_eq!(args.poll_interval.as_secs(), 7);
        assert_eq!(args.session_ttl.as_secs(), 60);
        assert_eq!(sources.0["listen"], "flag");
        assert_eq!(sources.0["poll_interval"], "file");
        assert_eq!(sources.0["access_token_ttl"], "default");
        let text = print_effective(&args, &sources);
        assert!(text.contains("poll_interval = \"7s\"  # file"), "{text}");
    }

    #[test]
    fn bad_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "poll_interval = \"0\"\n").unwrap();
        let mut args = ServeArgs::default();
        let e = apply_file(&mut args, None, Some(&file)).unwrap_err();
        assert!(e.contains("`poll_interval`"), "{e}");
        std::fs::write(&file, "pol_interval = 5\n").unwrap();
        let e = apply_file(&mut args, None, Some(&file)).unwrap_err();
        assert!(e.contains("unknown key `pol_interval`"), "{e}");
    }
}
