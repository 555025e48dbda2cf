//! Why an admin command failed; `main` prints it after `authgate: ` and exits 1.

use super::MAX_AUDIENCE_LEN;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The operation itself was refused (same text over the socket or offline).
    #[error(transparent)]
    Op(#[from] super::exec::OpError),
    /// The admin socket failed.
    #[error(transparent)]
    Socket(#[from] super::socket::SocketError),
    /// `--data-dir` could not be resolved from the `--config` file.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The data directory or its database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::bootstrap::OpenError),
    /// The signing key files could not be read.
    #[error(transparent)]
    Keys(#[from] crate::tokens::KeyError),
    /// No database where `--data-dir` points (and the command doesn't create one).
    #[error("no AuthGate database in {0} (wrong --data-dir?)")]
    NoDatabase(String),
    /// The single-threaded runtime of an offline command could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// `--since` is neither a duration nor a Unix time.
    #[error("--since `{0}`: {1}")]
    Since(String, crate::config::ValueError),
    /// An audience that can't go into a token verbatim.
    #[error(
        "invalid audience `{}`: 1 to {MAX_AUDIENCE_LEN} printable characters, no spaces",
        .0.escape_debug()
    )]
    Audience(String),
    /// Standard input could not be read (`what`: `password` or `token`).
    #[error("cannot read the {0} from stdin: {1}")]
    Stdin(&'static str, std::io::Error),
    /// A password under 8 characters.
    #[error("the password must have at least 8 characters")]
    ShortPassword,
    /// argon2 refused to hash.
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
    /// `token verify` with no key files.
    #[error("no signing keys in {0}")]
    NoKeys(String),
    /// `token verify`: no key of ours signed it.
    #[error("invalid: not a token signed by one of this server's keys")]
    TokenNotOurs,
    /// `token verify`: past `exp`.
    #[error("invalid: expired at {0}")]
    TokenExpired(String),
    /// `export` / `import` failed (an import that fails wrote nothing).
    #[error(transparent)]
    Dump(#[from] crate::store::DumpError),
    /// `export` / `import` on a redb data directory while a server holds it.
    #[error(
        "a server is running on {0}: stop it first (redb allows one process per file, and a device that refreshes after the export would have to sign in again)"
    )]
    ServerRunning(String),
    /// `export --out` names a file that exists.
    #[error("{0} exists; export writes a new file only")]
    DumpExists(String),
    /// `token verify`: before `nbf`.
    #[error("invalid: not valid before {0}")]
    TokenNotYet(String),
}
