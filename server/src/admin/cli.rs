//! The admin subcommands as clap sees them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// The admin subcommands, flattened into the binary's command line next to
/// `serve` and `config`.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Manage users (works while the server runs or is stopped).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients (works while the server runs or is stopped).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Inspect access tokens offline.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read or export (JSON lines) the audit log of security events.
    Audit(AuditArgs),
    /// Write users, clients, signing keys, grants and tokens to a dump file (mode
    /// 0600: it holds the signing keys), to move to another backend. redb: the
    /// server must be stopped.
    Export(super::dump::ExportArgs),
    /// Load a dump written by `export` into an empty data directory or database,
    /// all or nothing. Devices signed in before keep working.
    Import(super::dump::ImportArgs),
}

/// Where an admin command finds the data. `--data-dir`: flag, then
/// `AUTHGATE_DATA_DIR`, then `data_dir` in the `--config` file, then
/// `authgate-data`. `--database-url`: flag, then `AUTHGATE_DATABASE_URL`, then
/// `database_url` in the file; when set, the command acts on PostgreSQL directly.
#[derive(Args, Clone)]
pub struct DataDirArg {
    /// Directory holding the database and keys [default: authgate-data]
    /// [env: AUTHGATE_DATA_DIR]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Act on this PostgreSQL database directly (every instance shares it; no
    /// running server needed) [env: AUTHGATE_DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
}

impl std::fmt::Debug for DataDirArg {
    /// Without the database URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataDirArg")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `authgate user …`: people who sign in and approve devices.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password comes from stdin with --password-stdin,
    /// otherwise a random one is generated and printed once.
    Add(UserAddArgs),
    /// List users: name, id, status, creation time.
    List(DataDirArg),
    /// Set a new password (ends the user's browser sessions).
    Passwd(UserPasswordArgs),
    /// Give a user the admin role (the web console at /admin); --revoke takes it.
    Admin(UserRoleArgs),
    /// Disable a user: no sign-in; sessions end and their devices' grants are revoked.
    Disable(NameArg),
    /// Enable a disabled user again.
    Enable(NameArg),
    /// Delete a user; sessions end and grants are revoked.
    Delete(NameArg),
}

/// `user admin`: the name and which way.
#[derive(Args, Debug)]
pub struct UserRoleArgs {
    /// The login name.
    pub username: String,
    /// Take the role away instead.
    #[arg(long)]
    pub revoke: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// A user name plus where the password comes from.
#[derive(Args, Debug)]
pub struct UserPasswordArgs {
    /// The login name.
    pub username: String,
    /// Read the password from standard input (first line), no prompt.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// `user add`: the name, the password's source, and the role.
#[derive(Args, Debug)]
pub struct UserAddArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub user: UserPasswordArgs,
    /// Give the user the admin role: the web console at /admin.
    #[arg(long)]
    pub admin: bool,
}

/// A user or client name.
#[derive(Args, Debug)]
pub struct NameArg {
    /// The user name or client id.
    pub name: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// `authgate client …`: OAuth clients.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client. A confidential client's secret is printed once.
    Add(Box<ClientAddArgs>),
    /// Change settings of an existing client; what is not named stays as it is.
    Update(Box<ClientUpdateArgs>),
    /// List clients: id, kind, scopes, name, status.
    List(DataDirArg),
    /// Show one client in full.
    Show(NameArg),
    /// Disable a client (`invalid_client` everywhere) and revoke its grants.
    Disable(NameArg),
    /// Enable a disabled client again.
    Enable(NameArg),
    /// Delete a client and revoke its grants.
    Delete(NameArg),
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret(NameArg),
}

/// Arguments of `client add`.
#[derive(Args, Debug)]
pub struct ClientAddArgs {
    /// The new `client_id`.
    pub id: String,
    /// Name shown to people on the consent page [default: the id].
    #[arg(long)]
    pub name: Option<String>,
    /// A confidential client (a resource server, or a backend) with a secret.
    #[arg(long)]
    pub confidential: bool,
    /// Scopes the client may request, space-separated.
    #[arg(long, default_value = "profile read write")]
    pub scopes: String,
    /// Grant types, space-separated (`device_code`, `refresh_token`,
    /// `client_credentials`, `authorization_code`); defaults to device_code and
    /// refresh_token for public clients and none for confidential ones
    /// (introspection only).
    #[arg(long)]
    pub grant_types: Option<String>,
    /// A grant type, repeatable; added to any `--grant-types`.
    #[arg(long = "grant-type")]
    pub grant_type: Vec<String>,
    /// Access-token lifetime for this client (`900`, `15m`) [default: the server's].
    #[arg(long, value_parser = crate::config::parse_duration)]
    pub access_token_ttl: Option<std::time::Duration>,
    /// Refresh-token lifetime for this client [default: the server's].
    #[arg(long, value_parser = crate::config::parse_duration)]
    pub refresh_token_ttl: Option<std::time::Duration>,
    /// An audience (resource server URI), repeatable. For a device client: the
    /// `aud` of its access tokens. For a confidential client (a resource server):
    /// the audiences it answers to, so introspection shows it only tokens meant
    /// for it. [default: the server's audience, its base URL]
    #[arg(long)]
    pub audience: Vec<String>,
    /// Audiences, space-separated (like `--scopes`); added to any `--audience`.
    #[arg(long)]
    pub audiences: Option<String>,
    /// DPoP (RFC 9449): `optional` checks proofs when sent and binds tokens to their
    /// key; `required` refuses requests without a proof carrying a server nonce.
    #[arg(long, value_enum, default_value_t = DpopArg::Optional)]
    pub dpop: DpopArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub settings: ClientSettingsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// The per-client settings `client add` and `client update` share.
#[derive(Args, Debug)]
pub struct ClientSettingsArgs {
    /// A redirect URI for the authorization-code grant, repeatable: https, http to
    /// 127.0.0.1 or [::1] only (any port matches), or a private-use scheme
    /// (com.example.app:/cb). With `update`, replaces the registered list.
    #[arg(long = "redirect-uri")]
    pub redirect_uri: Vec<String>,
    /// The format of the client's access tokens [default: paseto].
    #[arg(long, value_enum)]
    pub access_token_format: Option<TokenFormatArg>,
    /// Device-code lifetime for this client (`600`, `10m`; 60 s to 1 h; `default`
    /// for the server's).
    #[arg(long, value_parser = parse_override)]
    pub device_code_ttl: Option<Override>,
    /// Poll interval for this client's devices (`5`, `5s`; 1 to 60 s; `default` for
    /// the server's).
    #[arg(long, value_parser = parse_override)]
    pub poll_interval: Option<Override>,
    /// The alphabet of the client's user codes [default: letters].
    #[arg(long, value_enum)]
    pub user_code_format: Option<UserCodeArg>,
}

/// Arguments of `client update`.
#[derive(Args, Debug)]
pub struct ClientUpdateArgs {
    /// The client to change.
    pub id: String,
    /// New name shown on the consent page.
    #[arg(long)]
    pub name: Option<String>,
    /// New scopes, space-separated (replace the current ones).
    #[arg(long, alias = "scopes")]
    pub scope: Option<String>,
    /// New grant types, repeatable (replace the current ones).
    #[arg(long = "grant-type")]
    pub grant_type: Vec<String>,
    /// New DPoP requirement.
    #[arg(long, value_enum)]
    pub dpop: Option<DpopArg>,
    /// Remove every registered redirect URI.
    #[arg(long, conflicts_with = "redirect_uri")]
    pub no_redirect_uris: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub settings: ClientSettingsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// A per-client override: a value, or back to the server's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Override {
    /// The server's setting.
    Default,
    /// This many seconds.
    Secs(u64),
}

impl Override {
    /// As a record field: `None` for the server's default.
    pub fn secs(self) -> Option<u64> {
        match self {
            Override::Default => None,
            Override::Secs(s) => Some(s),
        }
    }
}

/// `default`, or a duration (`300`, `5m`).
fn parse_override(s: &str) -> Result<Override, crate::config::ValueError> {
    if s.trim() == "default" {
        return Ok(Override::Default);
    }
    crate::config::parse_duration(s).map(|d| Override::Secs(d.as_secs()))
}

/// The `--access-token-format` of a client.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormatArg {
    /// PASETO v4.public (what authgate-verify checks).
    Paseto,
    /// JWT (RFC 9068, at+jwt, EdDSA), for API gateways.
    Jwt,
}

impl From<TokenFormatArg> for crate::store::AccessTokenFormat {
    fn from(a: TokenFormatArg) -> Self {
        match a {
            TokenFormatArg::Paseto => crate::store::AccessTokenFormat::Paseto,
            TokenFormatArg::Jwt => crate::store::AccessTokenFormat::Jwt,
        }
    }
}

/// The `--user-code-format` of a client.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCodeArg {
    /// Consonants, `BCDF-GHJK`.
    Letters,
    /// Digits only, for TV remotes and PIN pads.
    Digits,
}

impl From<UserCodeArg> for crate::store::UserCodeFormat {
    fn from(a: UserCodeArg) -> Self {
        match a {
            UserCodeArg::Letters => crate::store::UserCodeFormat::Letters,
            UserCodeArg::Digits => crate::store::UserCodeFormat::Digits,
        }
    }
}

/// The `--dpop` setting of a client.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpopArg {
    /// Proofs are checked and bind tokens when sent; bearer clients keep working.
    Optional,
    /// Every device-authorization and token request needs a proof with a nonce.
    Required,
}

impl From<DpopArg> for crate::store::DpopMode {
    fn from(a: DpopArg) -> Self {
        match a {
            DpopArg::Optional => crate::store::DpopMode::Optional,
            DpopArg::Required => crate::store::DpopMode::Required,
        }
    }
}

/// `authgate key …`: token signing keys.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a new signing key. A running server signs with it at once; older
    /// public keys stay published until the tokens they signed have expired.
    Rotate(DataDirArg),
    /// List keys: id, creation time, signing or published.
    List(DataDirArg),
}

/// `authgate token …`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Verify an access token offline against the data directory's keys: signature,
    /// `nbf` and `exp`. Prints the claims; exits 1 if the token is not valid.
    /// (Revocation is not checked: ask the introspection endpoint for that.)
    Verify(TokenVerifyArgs),
}

/// Arguments of `token verify`.
#[derive(Args, Debug)]
pub struct TokenVerifyArgs {
    /// The access token (PASETO `v4.public.…` or a JWT); `-` reads it from stdin.
    pub token: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}

/// Arguments of `authgate audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only events this recent (`24h`, `7days`) or since a Unix time (`1767225600`).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Export as JSON lines (one event per line) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataDirArg,
}
