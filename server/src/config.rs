//! Command line and environment configuration, validated once at startup.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::http::client_ip::TrustedProxies;

pub mod file;
pub use file::{Sources, apply_file, print_effective, resolve_data_dir};

/// AuthGate: an OAuth 2.0 Device Authorization Grant (RFC 8628) server.
///
/// With no subcommand, `authgate` serves on its defaults.
#[derive(Parser, Debug)]
#[command(name = "authgate", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file; flags and `AUTHGATE_*` variables override it.
    #[arg(long, global = true, env = "AUTHGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print the effective configuration (flags, environment, `--config` file and
    /// defaults merged; secrets redacted) and check it, without starting.
    Config(ServeArgs),
    /// Manage users (works while the server runs or is stopped).
    #[command(subcommand)]
    User(crate::admin::cli::UserCommand),
    /// Manage OAuth clients (works while the server runs or is stopped).
    #[command(subcommand)]
    Client(crate::admin::cli::ClientCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Key(crate::admin::cli::KeyCommand),
    /// Inspect access tokens offline.
    #[command(subcommand)]
    Token(crate::admin::cli::TokenCommand),
    /// Read or export (JSON lines) the audit log of security events.
    Audit(crate::admin::cli::AuditArgs),
}

/// Arguments of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "AUTHGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory holding the database and keys; created on first run.
    #[arg(long, env = "AUTHGATE_DATA_DIR", default_value = "authgate-data")]
    pub data_dir: PathBuf,
    /// Public URL of this server, used as issuer and in verification URIs.
    /// Defaults to `http://` plus the listening address.
    #[arg(long, env = "AUTHGATE_BASE_URL")]
    pub base_url: Option<String>,
    /// Lifetime of a device code (`900`, `15m`).
    #[arg(long, env = "AUTHGATE_DEVICE_CODE_TTL", default_value = "15m", value_parser = parse_duration)]
    pub device_code_ttl: Duration,
    /// Polling interval announced to devices (`5`, `5s`).
    #[arg(long, env = "AUTHGATE_POLL_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Lifetime of access tokens.
    #[arg(long, env = "AUTHGATE_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens (renewed at each rotation).
    #[arg(long, env = "AUTHGATE_REFRESH_TOKEN_TTL", default_value = "30days", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Lifetime of a browser login session.
    #[arg(long, env = "AUTHGATE_SESSION_TTL", default_value = "12h", value_parser = parse_duration)]
    pub session_ttl: Duration,
    /// Log format: `human` or `json`.
    #[arg(long, env = "AUTHGATE_LOG_FORMAT", default_value = "human", value_parser = ["human", "json"])]
    pub log_format: String,
    /// Log filter: a level (`info`, `debug`) or `tracing` directives.
    #[arg(long, env = "AUTHGATE_LOG", default_value = "info")]
    pub log_level: String,
    /// PEM certificate chain: serve HTTPS (TLS 1.3 and 1.2). Reloaded on SIGHUP.
    #[arg(long, env = "AUTHGATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "AUTHGATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How long security events stay in the audit log.
    #[arg(long, env = "AUTHGATE_AUDIT_RETENTION", default_value = "90days", value_parser = parse_duration)]
    pub audit_retention: Duration,
    /// How often expired codes, tokens, sessions and audit events are removed.
    #[arg(long, env = "AUTHGATE_SWEEP_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Serve Prometheus metrics at `/metrics` (`true`/`false`).
    #[arg(long, env = "AUTHGATE_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics: bool,
    /// Password of `admin` on first run (env or config file only; never a flag).
    #[arg(skip)]
    pub admin_password: Option<String>,
    /// Device authorization requests allowed per client IP and minute; 0 turns the
    /// limit off (load tests, or a proxy in front that limits already).
    #[arg(long, env = "AUTHGATE_DEVICE_AUTH_RATE_PER_IP", default_value_t = crate::state::DEVICE_AUTH_PER_IP_PER_MINUTE)]
    pub device_auth_rate_per_ip: u32,
    /// Most open connections; more are closed as they arrive.
    #[arg(long, env = "AUTHGATE_MAX_CONNECTIONS", default_value_t = crate::http::serve::MAX_CONNECTIONS, value_parser = parse_max_connections)]
    pub max_connections: usize,
    /// Most open connections per client address (IPv6: per /64); 0 turns the cap
    /// off. Trusted proxies are exempt.
    #[arg(long, env = "AUTHGATE_MAX_CONNECTIONS_PER_IP", default_value_t = crate::http::serve::MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
    /// Total time a client has to send a request body (`10s`); slower gets 408.
    #[arg(long, env = "AUTHGATE_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// Reverse proxies (comma-separated CIDRs or addresses) whose `Forwarded` or
    /// `X-Forwarded-For` header names the client. Empty: those headers are ignored.
    #[arg(long, env = "AUTHGATE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Device requests waiting for a decision, server-wide; past it, new device
    /// authorizations get 429 (`temporarily_unavailable`) until some are answered
    /// or expire. Bounds the database and the user-code lookup against a flood.
    #[arg(long, env = "AUTHGATE_MAX_PENDING_CODES", default_value_t = crate::state::MAX_PENDING_CODES)]
    pub max_pending_codes: usize,
    /// Device requests waiting for a decision per client, so one (public) client
    /// can't take the whole server-wide allowance.
    #[arg(long, env = "AUTHGATE_MAX_PENDING_CODES_PER_CLIENT", default_value_t = crate::state::MAX_PENDING_CODES_PER_CLIENT)]
    pub max_pending_codes_per_client: usize,
}

/// `max_connections` must be at least 1.
pub fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err("use a whole number of at least 1".into()),
        Ok(n) => Ok(n),
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        // Parsing no arguments applies the defaults and the AUTHGATE_* environment.
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["authgate"]).args
    }
}

/// Accepts plain seconds (`900`) or a humantime duration (`15m`, `30days`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s.trim()).map_err(|e| e.to_string())?,
    };
    if d.as_secs() == 0 {
        return Err("must be at least one second".into());
    }
    Ok(d)
}

/// Normalizes and validates a base URL: http(s), a host, no trailing slash.
pub fn validate_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("the base URL must start with http:// or https://")?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err("the base URL needs a host and no query or fragment".into());
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

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            validate_base_url("https://a.example/"),
            Ok("https://a.example".into())
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
}
