//! Why a configuration was refused; every message names the key.

/// Why one value could not be parsed (the key is named by [`ConfigError`], or by
/// clap for flags and environment variables).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Zero is not a duration here.
    #[error("must be at least one second")]
    ZeroDuration,
    /// Neither seconds nor a humantime duration.
    #[error(transparent)]
    Duration(#[from] humantime::DurationError),
    /// Not an `IP:PORT`.
    #[error("{0} (want IP:PORT)")]
    Listen(std::net::AddrParseError),
    /// A base URL without `http://` or `https://`.
    #[error("the base URL must start with http:// or https://")]
    BaseUrlScheme,
    /// A base URL without a host, or with a query or fragment.
    #[error("the base URL needs a host and no query or fragment")]
    BaseUrlShape,
    /// A log format other than `human` or `json`.
    #[error("use `human` or `json`")]
    LogFormat,
    /// A log filter `tracing` can't parse.
    #[error("{0}")]
    LogFilter(String),
    /// Not `true` or `false`.
    #[error("use true or false")]
    Bool,
    /// Not a whole number.
    #[error("use a whole number")]
    WholeNumber,
    /// Zero or not a whole number where at least 1 is needed.
    #[error("use a whole number of at least 1")]
    AtLeastOne,
    /// A trusted proxy that is not a network.
    #[error(transparent)]
    Proxies(#[from] crate::http::client_ip::BadNetwork),
    /// A key the table does not declare.
    #[error("unknown key")]
    UnknownKey,
    /// A `database_url` that is not a PostgreSQL URL (the value is not repeated:
    /// it may hold a password).
    #[error("use postgres://user:password@host:port/database")]
    DatabaseUrl,
    /// A retry window longer than `config::MAX_RETRY_WINDOW`.
    #[error("use at most 5m (0 turns retries off)")]
    RetryWindow,
    /// An empty secret, which would protect nothing.
    #[error("must not be empty")]
    Empty,
}

/// Why the configuration was refused; startup stops with this message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The `--config` file is not TOML.
    #[error("config file {path}: {source}")]
    Syntax {
        /// The file.
        path: String,
        /// Where and why.
        source: toml::de::Error,
    },
    /// A key the server does not know (a typo must not be silently ignored).
    #[error("config file {path}: unknown key `{key}` (see `authgate serve --help`)")]
    UnknownKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A file value of a TOML type no key takes (a table, a float, a date).
    #[error("config file {path}: key `{key}`: expected a string, a number or a boolean")]
    WrongType {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A list with something other than strings.
    #[error("config file {path}: key `{key}`: expected a list of strings")]
    NotStrings {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A file value its key's parser refused.
    #[error("config file {path}: invalid value for `{key}`: {source}")]
    FileValue {
        /// The file.
        path: String,
        /// The key.
        key: &'static str,
        /// Why.
        source: ValueError,
    },
    /// A value refused by the startup check (whatever its source).
    #[error("invalid {}: {source}", super::Key::describe(key))]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        source: ValueError,
    },
    /// One of a pair (`tls_cert`, `tls_key`) without the other.
    #[error(
        "{} is set but {} is not",
        super::Key::describe(set),
        super::Key::describe(missing)
    )]
    Missing {
        /// The key that is set.
        set: &'static str,
        /// The key that is missing.
        missing: &'static str,
    },
    /// The TLS certificate or key could not be loaded (the message names the file).
    #[error(transparent)]
    Tls(#[from] crate::http::tls::TlsError),
}
