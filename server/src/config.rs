//! Configuration: one table of keys, validated once at startup.
//!
//! Every key is declared once, in the [`config_keys!`] table below: its type, its
//! environment variable, its parser and its clap options. From that one row come
//! the `--flag` of [`ServeArgs`], the file key, the entry in [`KEYS`] (env name,
//! secret or not), how a file value is set, and the line `authgate config` prints.
//! Adding a key is one row.
//!
//! Precedence: flag, then `AUTHGATE_*` environment variable, then the `--config`
//! TOML file, then the default. clap applies flags, environment and defaults;
//! [`apply_file`] then fills every key that neither a flag nor the environment set
//! from the file, with the same parser, and rejects unknown keys (a typo must not
//! be silently ignored). Every error names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::{ArgMatches, ValueSource};

use crate::http::client_ip::{BadNetwork, TrustedProxies};

mod database;
mod error;
mod file;
#[macro_use]
mod table;

pub use database::DatabaseUrl;
use database::parse_database_url;
pub use error::{ConfigError, ValueError};
pub use file::{resolve_data_dir, resolve_database_url};
use table::Show;

config_keys! {
    flags {
        /// Address to listen on (port 0 picks a free port).
        listen: [SocketAddr] = "AUTHGATE_LISTEN", parse_listen, (default_value = "127.0.0.1:8080");
        /// Directory holding the database and keys; created on first run.
        data_dir: [PathBuf] = "AUTHGATE_DATA_DIR", parse_path, (default_value = "authgate-data");
        /// Public URL of this server, used as issuer and in verification URIs.
        /// Defaults to `http://` plus the listening address.
        base_url: [Option<String>] = "AUTHGATE_BASE_URL", parse_text, ();
        /// Lifetime of a device code (`900`, `15m`).
        device_code_ttl: [Duration] = "AUTHGATE_DEVICE_CODE_TTL", parse_duration, (default_value = "15m");
        /// Lifetime of an authorization code (`60`, `1m`): RFC 6749 §4.1.2 advises
        /// at most ten minutes; a redirect and a token request take seconds.
        authorization_code_ttl: [Duration] = "AUTHGATE_AUTHORIZATION_CODE_TTL", parse_duration, (default_value = "60s");
        /// Polling interval announced to devices (`5`, `5s`).
        poll_interval: [Duration] = "AUTHGATE_POLL_INTERVAL", parse_duration, (default_value = "5s");
        /// Lifetime of access tokens.
        access_token_ttl: [Duration] = "AUTHGATE_ACCESS_TOKEN_TTL", parse_duration, (default_value = "15m");
        /// Lifetime of refresh tokens (renewed at each rotation).
        refresh_token_ttl: [Duration] = "AUTHGATE_REFRESH_TOKEN_TTL", parse_duration, (default_value = "30days");
        /// How long after a rotation (or a device-code redemption) the credential it
        /// answered may be presented again to retry a lost answer (`60s`; `0` turns
        /// retries off, at most `5m`). See `grant/refresh.rs`.
        retry_window: [Duration] = "AUTHGATE_RETRY_WINDOW", parse_retry_window, (default_value = "60s");
        /// Lifetime of a browser login session.
        session_ttl: [Duration] = "AUTHGATE_SESSION_TTL", parse_duration, (default_value = "12h");
        /// Log format: `human` or `json`.
        log_format: [LogFormat] = "AUTHGATE_LOG_FORMAT", parse_log_format ["human", "json"], (default_value = "human");
        /// Log filter: a level (`info`, `debug`) or `tracing` directives.
        log_level: [String] = "AUTHGATE_LOG", parse_text, (default_value = "info");
        /// PEM certificate chain: serve HTTPS (TLS 1.3 and 1.2). Reloaded on SIGHUP.
        tls_cert: [Option<PathBuf>] = "AUTHGATE_TLS_CERT", parse_path, (requires = "tls_key");
        /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
        tls_key: [Option<PathBuf>] = "AUTHGATE_TLS_KEY", parse_path, (requires = "tls_cert");
        /// How long security events stay in the audit log.
        audit_retention: [Duration] = "AUTHGATE_AUDIT_RETENTION", parse_duration, (default_value = "90days");
        /// How often expired codes, tokens, sessions and audit events are removed.
        sweep_interval: [Duration] = "AUTHGATE_SWEEP_INTERVAL", parse_duration, (default_value = "60s");
        /// Serve Prometheus metrics at `/metrics` (`true`/`false`).
        metrics: [bool] = "AUTHGATE_METRICS", parse_bool ["true", "false"], (default_value_t = true, action = clap::ArgAction::Set);
        /// Device authorization requests allowed per client IP and minute; 0 turns the
        /// limit off (load tests, or a proxy in front that limits already).
        device_auth_rate_per_ip: [u32] = "AUTHGATE_DEVICE_AUTH_RATE_PER_IP", parse_u32,
            (default_value_t = crate::state::DEVICE_AUTH_PER_IP_PER_MINUTE);
        /// Most open connections; more are closed as they arrive.
        max_connections: [usize] = "AUTHGATE_MAX_CONNECTIONS", parse_max_connections,
            (default_value_t = crate::http::serve::MAX_CONNECTIONS);
        /// Most open connections per client address (IPv6: per /64); 0 turns the cap
        /// off. Trusted proxies are exempt.
        max_connections_per_ip: [usize] = "AUTHGATE_MAX_CONNECTIONS_PER_IP", parse_usize,
            (default_value_t = crate::http::serve::MAX_CONNECTIONS_PER_IP);
        /// Total time a client has to send a request body (`10s`); slower gets 408.
        // Forms are at most 8 KiB: even a 2G phone link sends that in well under a second.
        body_timeout: [Duration] = "AUTHGATE_BODY_TIMEOUT", parse_duration, (default_value = "10s");
        /// Reverse proxies (comma-separated CIDRs or addresses) whose `Forwarded` or
        /// `X-Forwarded-For` header names the client. Empty: those headers are ignored.
        trusted_proxies: [TrustedProxies] = "AUTHGATE_TRUSTED_PROXIES", parse_proxies, (default_value = "");
        /// Device requests waiting for a decision, server-wide; past it, new device
        /// authorizations get 429 (`temporarily_unavailable`) until some are answered
        /// or expire. Bounds the database and the user-code lookup against a flood.
        max_pending_codes: [usize] = "AUTHGATE_MAX_PENDING_CODES", parse_usize,
            (default_value_t = crate::state::MAX_PENDING_CODES);
        /// Device requests waiting for a decision per client, so one (public) client
        /// can't take the whole server-wide allowance.
        max_pending_codes_per_client: [usize] = "AUTHGATE_MAX_PENDING_CODES_PER_CLIENT", parse_usize,
            (default_value_t = crate::state::MAX_PENDING_CODES_PER_CLIENT);
        /// PostgreSQL to store everything in instead of redb in the data directory
        /// (`postgres://user:password@host:port/database`), shared by every instance
        /// pointed at it. Unset: redb, one process. The password is never printed.
        database_url: [Option<DatabaseUrl>] = "AUTHGATE_DATABASE_URL", parse_database_url,
            (hide_env_values = true);
        /// Most PostgreSQL connections this instance opens (with `database_url`).
        database_max_connections: [usize] = "AUTHGATE_DATABASE_MAX_CONNECTIONS", parse_max_connections,
            (default_value_t = 16);
    }
    secrets {
        /// Password of `admin` on first run (env or config file only; never a flag,
        /// it would show in `ps`).
        admin_password = "AUTHGATE_ADMIN_PASSWORD";
        /// Bearer token `/metrics` requires (`Authorization: Bearer <token>`); unset,
        /// `/metrics` is open. Env or config file only, like every secret.
        metrics_token = "AUTHGATE_METRICS_TOKEN";
    }
}

/// One configuration key, as the table declares it.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// File key (`poll_interval`); the flag is the same with dashes.
    pub name: &'static str,
    /// Environment variable (`AUTHGATE_POLL_INTERVAL`).
    pub env: &'static str,
    /// Whether a value is redacted when printed (and has no flag).
    pub secret: bool,
}

impl Key {
    /// Names the key for an error message: `` `key` (--flag / ENV) ``.
    /// Secrets have no flag, so none is named.
    fn describe(name: &str) -> String {
        match KEYS.iter().find(|k| k.name == name) {
            Some(k) if k.secret => format!("`{name}` ({})", k.env),
            key => format!(
                "`{name}` (--{} / {})",
                name.replace('_', "-"),
                key.map_or("", |k| k.env)
            ),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Text for people.
    Human,
    /// One JSON object a line, with the request span.
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        })
    }
}

/// Where a key's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `--flag`.
    Flag,
    /// An `AUTHGATE_*` variable.
    Env,
    /// The `--config` file.
    File,
    /// Nothing set it.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        })
    }
}

/// Where each key's effective value came from, for `authgate config`.
#[derive(Clone, Debug, Default)]
pub struct Sources(std::collections::BTreeMap<&'static str, Source>);

impl Sources {
    /// The source of `key` (`Default` for a key never recorded).
    pub fn get(&self, key: &str) -> Source {
        self.0.get(key).copied().unwrap_or(Source::Default)
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        // Parsing no arguments applies the defaults and the AUTHGATE_* environment.
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        <Only as clap::Parser>::parse_from(["authgate"]).args
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Completes `args` (parsed by clap from flags, environment and defaults) with the
/// config file, and records where every value came from. `matches` are the
/// subcommand's matches (`None` when `authgate` ran without one: no flags).
pub fn apply_file(
    args: &mut ServeArgs,
    matches: Option<&ArgMatches>,
    config: Option<&Path>,
) -> Result<Sources, ConfigError> {
    let file = file::File::read(config)?;
    if let Some(unknown) = file.keys().find(|k| !KEYS.iter().any(|key| key.name == *k)) {
        return Err(ConfigError::UnknownKey {
            path: file.shown(),
            key: unknown.to_string(),
        });
    }
    let mut sources = Sources::default();
    for key in KEYS {
        let flagged = !key.secret
            && matches.is_some_and(|m| {
                m.try_contains_id(key.name).unwrap_or(false)
                    && m.value_source(key.name) == Some(ValueSource::CommandLine)
            });
        let source = if flagged {
            Source::Flag
        } else if env_set(key.env) {
            // clap read the flagged keys' variables already; secrets have no flag.
            if let (true, Ok(v)) = (key.secret, std::env::var(key.env)) {
                args.set(key.name, &v)
                    .map_err(|source| ConfigError::Invalid {
                        key: key.name,
                        source,
                    })?;
            }
            Source::Env
        } else if let Some(text) = file.text(key.name)? {
            args.set(key.name, &text)
                .map_err(|source| ConfigError::FileValue {
                    path: file.shown(),
                    key: key.name,
                    source,
                })?;
            Source::File
        } else {
            Source::Default
        };
        sources.0.insert(key.name, source);
    }
    Ok(sources)
}

/// Checks what the per-key parsers can't: the base URL, the log filter, TLS files.
pub fn validate(args: &ServeArgs) -> Result<(), ConfigError> {
    if let Some(url) = &args.database_url {
        url.validate().map_err(|source| ConfigError::Invalid {
            key: "database_url",
            source,
        })?;
    }
    if let Some(url) = &args.base_url {
        validate_base_url(url).map_err(|source| ConfigError::Invalid {
            key: "base_url",
            source,
        })?;
    }
    if args
        .metrics_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        return Err(ConfigError::Invalid {
            key: "metrics_token",
            source: ValueError::Empty,
        });
    }
    tracing_subscriber::EnvFilter::try_new(&args.log_level).map_err(|e| ConfigError::Invalid {
        key: "log_level",
        source: ValueError::LogFilter(e.to_string()),
    })?;
    match (&args.tls_cert, &args.tls_key) {
        (Some(_), None) => Err(ConfigError::Missing {
            set: "tls_cert",
            missing: "tls_key",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            set: "tls_key",
            missing: "tls_cert",
        }),
        (Some(cert), Some(key)) => crate::http::tls::load(cert, key)
            .map(|_| ())
            .map_err(ConfigError::Tls),
        (None, None) => Ok(()),
    }
}

/// The effective configuration as TOML, each key with its source; secrets redacted.
pub fn print_effective(args: &ServeArgs, sources: &Sources) -> String {
    let mut out = String::from("# AuthGate effective configuration (source after each key)\n");
    for (key, value) in args.shown() {
        let source = sources.get(key);
        match value {
            Some(v) => out.push_str(&format!("{key} = {v}  # {source}\n")),
            None => out.push_str(&format!("# {key} is not set  # {source}\n")),
        }
    }
    out
}

fn parse_listen(s: &str) -> Result<SocketAddr, ValueError> {
    s.trim().parse().map_err(ValueError::Listen)
}

fn parse_path(s: &str) -> Result<PathBuf, ValueError> {
    Ok(PathBuf::from(s))
}

fn parse_text(s: &str) -> Result<String, ValueError> {
    Ok(s.to_string())
}

fn parse_log_format(s: &str) -> Result<LogFormat, ValueError> {
    match s {
        "human" => Ok(LogFormat::Human),
        "json" => Ok(LogFormat::Json),
        _ => Err(ValueError::LogFormat),
    }
}

fn parse_bool(s: &str) -> Result<bool, ValueError> {
    s.parse().map_err(|_| ValueError::Bool)
}

fn parse_u32(s: &str) -> Result<u32, ValueError> {
    s.parse().map_err(|_| ValueError::WholeNumber)
}

fn parse_usize(s: &str) -> Result<usize, ValueError> {
    s.parse().map_err(|_| ValueError::WholeNumber)
}

fn parse_proxies(s: &str) -> Result<TrustedProxies, ValueError> {
    s.parse().map_err(|e: BadNetwork| ValueError::Proxies(e))
}

/// `max_connections` must be at least 1.
fn parse_max_connections(s: &str) -> Result<usize, ValueError> {
    match s.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(ValueError::AtLeastOne),
        Ok(n) => Ok(n),
    }
}

/// Accepts plain seconds (`900`) or a humantime duration (`15m`, `30days`).
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let d = match s.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s.trim())?,
    };
    if d.as_secs() == 0 {
        return Err(ValueError::ZeroDuration);
    }
    Ok(d)
}

/// Longest retry window accepted: beyond a few minutes a lost answer is no longer
/// the likely story, and a stolen superseded token would go unnoticed for longer.
pub const MAX_RETRY_WINDOW: Duration = Duration::from_secs(300);

/// `retry_window`: seconds or a humantime duration, `0` allowed (no retries), at
/// most [`MAX_RETRY_WINDOW`].
fn parse_retry_window(s: &str) -> Result<Duration, ValueError> {
    let d = match s.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s.trim())?,
    };
    if d > MAX_RETRY_WINDOW {
        return Err(ValueError::RetryWindow);
    }
    Ok(d)
}

/// Normalizes and validates a base URL: http(s), a host, no trailing slash.
pub fn validate_base_url(url: &str) -> Result<String, ValueError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or(ValueError::BaseUrlScheme)?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(ValueError::BaseUrlShape);
    }
    Ok(trimmed.to_string())
}

/// The base URL when none is configured: the listening address, with `localhost`
/// for an unspecified (all-interfaces) address.
pub fn default_base_url(bound: SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        format!("http://localhost:{}", bound.port())
    } else {
        format!("http://{bound}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        Serve(ServeArgs),
    }

    #[test]
    fn the_retry_window_defaults_to_a_minute_and_allows_off_up_to_five_minutes() {
        let secs = |s: &str| parse_retry_window(s).map(|d| d.as_secs());
        assert_eq!(secs("0").ok(), Some(0), "0 turns retries off");
        assert_eq!(secs("30s").ok(), Some(30));
        assert_eq!(secs("5m").ok(), Some(300));
        assert!(matches!(secs("301"), Err(ValueError::RetryWindow)));
        assert!(secs("soon").is_err());
        let m = Cli::command()
            .try_get_matches_from(["authgate", "serve"])
            .unwrap();
        let args = ServeArgs::from_arg_matches(m.subcommand_matches("serve").unwrap()).unwrap();
        assert_eq!(args.retry_window, Duration::from_secs(60));
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("900").ok(), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m").ok(), Some(Duration::from_secs(900)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            validate_base_url("https://a.example/").ok(),
            Some("https://a.example".into())
        );
        assert!(validate_base_url("ftp://x").is_err());
        assert!(validate_base_url("http://").is_err());
        assert_eq!(
            default_base_url("0.0.0.0:80".parse().unwrap()),
            "http://localhost:80"
        );
        assert_eq!(
            default_base_url("127.0.0.1:81".parse().unwrap()),
            "http://127.0.0.1:81"
        );
    }

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "poll_interval = \"7s\"\nsession_ttl = 60\nlisten = \"127.0.0.1:9\"\n",
        )
        .unwrap();
        let m = Cli::command()
            .try_get_matches_from(["authgate", "serve", "--listen", "127.0.0.1:10"])
            .unwrap();
        let sub = m.subcommand_matches("serve").unwrap();
        let mut args = ServeArgs::from_arg_matches(sub).unwrap();
        let sources = apply_file(&mut args, Some(sub), Some(&file)).unwrap();
        assert_eq!(args.listen.port(), 10);
        assert_eq!(args.poll_interval.as_secs(), 7);
        assert_eq!(args.session_ttl.as_secs(), 60);
        assert_eq!(sources.get("listen"), Source::Flag);
        assert_eq!(sources.get("poll_interval"), Source::File);
        assert_eq!(sources.get("access_token_ttl"), Source::Default);
        let text = print_effective(&args, &sources);
        assert!(text.contains("poll_interval = \"7s\"  # file"), "{text}");
        assert!(text.contains("# base_url is not set  # default"), "{text}");
        assert!(text.contains("metrics = true  # default"), "{text}");
    }

    #[test]
    fn bad_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "poll_interval = \"0\"\n").unwrap();
        let mut args = ServeArgs::default();
        let e = apply_file(&mut args, None, Some(&file))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`poll_interval`"), "{e}");
        std::fs::write(&file, "pol_interval = 5\n").unwrap();
        let e = apply_file(&mut args, None, Some(&file))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `pol_interval`"), "{e}");
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        apply_file(&mut args, None, Some(&file)).unwrap();
        assert_eq!(args.trusted_proxies.to_string(), "10.0.0.0/8,::1/128");
    }
}
