//! The dump: every record that lets a deployment move between backends (redb on
//! a Pi, PostgreSQL for many instances) without any device signing in again.
//!
//! Format `authgate-dump`, version 1: JSON Lines. The first line is a [`Header`];
//! then one [`Item`] per line, tagged by `kind`, in the order of [`Kind`] (signing
//! keys, users, clients, grants, refresh tokens, access tokens: what a record
//! refers to comes before it); the last line is an [`End`] with the count of each
//! kind. A dump without that last line, with counts that differ, or with any line
//! that does not parse is refused as a whole ([`Reader`]), so a truncated copy can
//! never be half imported. Secrets stay as they are at rest: password hashes
//! (argon2id), SHA-256 of client secrets and refresh tokens; the signing keys are
//! the one plain secret (PASERK `k4.secret`), so the file is created mode 0600.
//!
//! Each backend implements [`Dump`] (`redb/dump.rs`, `pg/dump.rs`): export streams
//! records to a [`Sink`] from one consistent snapshot; import reads a [`Source`]
//! into one transaction (one redb write, one PostgreSQL transaction) that commits
//! only once the source has been read to a verified end, into an empty target only.

use std::future::Future;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::records::{
    AccessToken, AccessTokenFormat, Client, DpopMode, Grant, RefreshToken, User, UserCodeFormat,
};

/// The `format` of the header line.
pub const FORMAT: &str = "authgate-dump";
/// The version this build writes and reads. A later build that changes a line's
/// shape bumps it and keeps reading this one.
pub const VERSION: u32 = 1;

/// The backend a dump came from, or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The redb file of a data directory.
    Redb,
    /// A PostgreSQL database.
    Postgres,
}

/// The first line of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`]: a file that is not a dump is refused on its first line.
    pub format: String,
    /// [`VERSION`] at the time of writing.
    pub version: u32,
    /// Unix seconds when the export began.
    pub exported_at: u64,
    /// Where the records came from (informational).
    pub source: Origin,
}

/// The kinds of records, in the order a dump holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`SigningKey`].
    SigningKey,
    /// [`User`].
    User,
    /// [`Client`].
    Client,
    /// [`GrantLine`].
    Grant,
    /// [`RefreshLine`].
    RefreshToken,
    /// [`AccessLine`].
    AccessToken,
}

impl Kind {
    /// Every kind, in dump order.
    pub const ALL: [Kind; 6] = [
        Kind::SigningKey,
        Kind::User,
        Kind::Client,
        Kind::Grant,
        Kind::RefreshToken,
        Kind::AccessToken,
    ];

    /// The `kind` tag of its lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SigningKey => "signing_key",
            Kind::User => "user",
            Kind::Client => "client",
            Kind::Grant => "grant",
            Kind::RefreshToken => "refresh_token",
            Kind::AccessToken => "access_token",
        }
    }
}

/// How many records of each kind a dump holds (the [`End`] line, and what an
/// export or import reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Published signing keys.
    pub signing_key: u64,
    /// Users.
    pub user: u64,
    /// Clients.
    pub client: u64,
    /// Grants.
    pub grant: u64,
    /// Refresh tokens (current and superseded: reuse detection needs both).
    pub refresh_token: u64,
    /// Access-token entries (revocation and introspection state).
    pub access_token: u64,
}

impl Counts {
    /// The count of `kind`.
    pub fn get(&self, kind: Kind) -> u64 {
        match kind {
            Kind::SigningKey => self.signing_key,
            Kind::User => self.user,
            Kind::Client => self.client,
            Kind::Grant => self.grant,
            Kind::RefreshToken => self.refresh_token,
            Kind::AccessToken => self.access_token,
        }
    }

    /// Counts one more of `kind`.
    pub fn add(&mut self, kind: Kind) {
        let n = match kind {
            Kind::SigningKey => &mut self.signing_key,
            Kind::User => &mut self.user,
            Kind::Client => &mut self.client,
            Kind::Grant => &mut self.grant,
            Kind::RefreshToken => &mut self.refresh_token,
            Kind::AccessToken => &mut self.access_token,
        };
        *n += 1;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} signing keys, {} users, {} clients, {} grants, {} refresh tokens, {} access tokens",
            self.signing_key,
            self.user,
            self.client,
            self.grant,
            self.refresh_token,
            self.access_token
        )
    }
}

/// The last line: proof that the dump is whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    /// What the lines before hold.
    pub counts: Counts,
}

/// A published signing key (retired keys are not carried: no unexpired token
/// names them). The newest signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    /// `k4.pid…` of the key.
    pub kid: String,
    /// The PASERK `k4.secret` text: whoever holds it can sign tokens.
    pub secret: String,
    /// Unix seconds it was created (keys sign in this order; retirement counts from it).
    pub created_at: u64,
}

/// A grant, with its ids as hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantLine {
    /// 16 bytes, hex.
    #[serde(with = "hex_array")]
    pub id: [u8; 16],
    /// The approver's user id (the token subject).
    pub user_id: String,
    /// Their login name at approval.
    pub username: String,
    /// The device's client.
    pub client_id: String,
    /// Granted scope.
    pub scope: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the last refresh.
    pub last_refreshed_at: Option<u64>,
    /// Unix seconds.
    pub expires_at: u64,
    /// SHA-256 of the current refresh token, hex.
    #[serde(with = "hex_array")]
    pub current_refresh: [u8; 32],
    /// Revoked grants are carried so their tokens stay refused.
    pub revoked: bool,
    /// Where the device asked from.
    pub device_ip: String,
    /// Key of the current refresh token, hex.
    #[serde(with = "hex_array")]
    pub refresh_id: [u8; 16],
    /// jti of the newest access token.
    pub jti: String,
    /// RFC 7638 thumbprint of the DPoP key the grant's refresh token is bound to
    /// (absent in dumps made before DPoP: unbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// A refresh token entry: the key inside the token and the hash of the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshLine {
    /// The key inside the token, hex.
    #[serde(with = "hex_array")]
    pub id: [u8; 16],
    /// SHA-256 of the token, hex.
    #[serde(with = "hex_array")]
    pub token_hash: [u8; 32],
    /// Its grant, hex.
    #[serde(with = "hex_array")]
    pub grant_id: [u8; 16],
    /// Unix seconds.
    pub expires_at: u64,
}

/// An access-token entry, keyed by jti: revocation and introspection state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLine {
    /// The token's `jti`.
    pub jti: String,
    /// Its grant, hex.
    #[serde(with = "hex_array")]
    pub grant_id: [u8; 16],
    /// Unix seconds.
    pub expires_at: u64,
    /// Revoked through RFC 7009.
    pub revoked: bool,
}

/// A client, with its secret hash as hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLine {
    /// `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 of a confidential client's secret, hex.
    #[serde(with = "hex_option")]
    pub secret_hash: Option<[u8; 32]>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Disabled clients are refused everywhere.
    pub disabled: bool,
    /// Seconds.
    pub access_ttl: Option<u64>,
    /// Seconds.
    pub refresh_ttl: Option<u64>,
    /// Unix seconds.
    pub created_at: u64,
    /// Token audiences.
    pub audiences: Vec<String>,
    /// Whether the client must use DPoP (absent in dumps made before DPoP: optional).
    #[serde(default)]
    pub dpop: DpopMode,
    /// Registered redirect URIs (absent in older dumps: none).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Access-token format (absent in older dumps: PASETO).
    #[serde(default)]
    pub access_token_format: AccessTokenFormat,
    /// Device-code lifetime override, seconds (absent: the server's).
    #[serde(default)]
    pub device_code_ttl: Option<u64>,
    /// Poll interval override, seconds (absent: the server's).
    #[serde(default)]
    pub poll_interval: Option<u64>,
    /// User-code alphabet (absent in older dumps: letters).
    #[serde(default)]
    pub user_code_format: UserCodeFormat,
}

/// A user (the password stays an argon2id hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLine {
    /// Stable id (the token subject).
    pub id: String,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Disabled users cannot sign in.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// May use the admin console (absent in dumps made before the role: no).
    #[serde(default)]
    pub admin: bool,
}

/// One line of a dump after the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// See [`SigningKey`].
    SigningKey(SigningKey),
    /// See [`UserLine`].
    User(UserLine),
    /// See [`ClientLine`].
    Client(ClientLine),
    /// See [`GrantLine`].
    Grant(GrantLine),
    /// See [`RefreshLine`].
    RefreshToken(RefreshLine),
    /// See [`AccessLine`].
    AccessToken(AccessLine),
}

impl Item {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Item::SigningKey(_) => Kind::SigningKey,
            Item::User(_) => Kind::User,
            Item::Client(_) => Kind::Client,
            Item::Grant(_) => Kind::Grant,
            Item::RefreshToken(_) => Kind::RefreshToken,
            Item::AccessToken(_) => Kind::AccessToken,
        }
    }
}

/// The first and the last line.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Frame {
    Header(Header),
    End(End),
}

impl From<User> for UserLine {
    fn from(u: User) -> Self {
        UserLine {
            id: u.id,
            username: u.username,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_at: u.created_at,
            admin: u.admin,
        }
    }
}

impl From<UserLine> for User {
    fn from(u: UserLine) -> Self {
        User {
            id: u.id,
            username: u.username,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_at: u.created_at,
            admin: u.admin,
        }
    }
}

impl From<Client> for ClientLine {
    fn from(c: Client) -> Self {
        ClientLine {
            id: c.id,
            name: c.name,
            secret_hash: c.secret_hash,
            scopes: c.scopes,
            grant_types: c.grant_types,
            disabled: c.disabled,
            access_ttl: c.access_ttl,
            refresh_ttl: c.refresh_ttl,
            created_at: c.created_at,
            audiences: c.audiences,
            dpop: c.dpop,
            redirect_uris: c.redirect_uris,
            access_token_format: c.access_token_format,
            device_code_ttl: c.device_code_ttl,
            poll_interval: c.poll_interval,
            user_code_format: c.user_code_format,
        }
    }
}

impl From<ClientLine> for Client {
    fn from(c: ClientLine) -> Self {
        Client {
            id: c.id,
            name: c.name,
            secret_hash: c.secret_hash,
            scopes: c.scopes,
            grant_types: c.grant_types,
            disabled: c.disabled,
            access_ttl: c.access_ttl,
            refresh_ttl: c.refresh_ttl,
            created_at: c.created_at,
            audiences: c.audiences,
            dpop: c.dpop,
            redirect_uris: c.redirect_uris,
            access_token_format: c.access_token_format,
            device_code_ttl: c.device_code_ttl,
            poll_interval: c.poll_interval,
            user_code_format: c.user_code_format,
        }
    }
}

impl From<Grant> for GrantLine {
    fn from(g: Grant) -> Self {
        GrantLine {
            id: g.id,
            user_id: g.user_id,
            username: g.username,
            client_id: g.client_id,
            scope: g.scope,
            created_at: g.created_at,
            last_refreshed_at: g.last_refreshed_at,
            expires_at: g.expires_at,
            current_refresh: g.current_refresh,
            revoked: g.revoked,
            device_ip: g.device_ip,
            refresh_id: g.refresh_id,
            jti: g.jti,
            dpop_jkt: g.dpop_jkt,
        }
    }
}

impl From<GrantLine> for Grant {
    fn from(g: GrantLine) -> Self {
        Grant {
            id: g.id,
            user_id: g.user_id,
            username: g.username,
            client_id: g.client_id,
            scope: g.scope,
            created_at: g.created_at,
            last_refreshed_at: g.last_refreshed_at,
            expires_at: g.expires_at,
            current_refresh: g.current_refresh,
            revoked: g.revoked,
            device_ip: g.device_ip,
            refresh_id: g.refresh_id,
            jti: g.jti,
            dpop_jkt: g.dpop_jkt,
        }
    }
}

impl RefreshLine {
    /// The line of the refresh token keyed `id`.
    pub fn of(id: [u8; 16], rt: RefreshToken) -> Self {
        RefreshLine {
            id,
            token_hash: rt.token_hash,
            grant_id: rt.grant_id,
            expires_at: rt.expires_at,
        }
    }

    /// The stored record.
    pub fn record(&self) -> RefreshToken {
        RefreshToken {
            token_hash: self.token_hash,
            grant_id: self.grant_id,
            expires_at: self.expires_at,
        }
    }
}

impl AccessLine {
    /// The line of the access token `jti`.
    pub fn of(jti: String, at: AccessToken) -> Self {
        AccessLine {
            jti,
            grant_id: at.grant_id,
            expires_at: at.expires_at,
            revoked: at.revoked,
        }
    }

    /// The stored record.
    pub fn record(&self) -> AccessToken {
        AccessToken {
            grant_id: self.grant_id,
            expires_at: self.expires_at,
            revoked: self.revoked,
        }
    }
}

/// Why an export or import failed. An import that fails wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// Reading or writing the dump file failed.
    #[error("dump file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is empty or its first line is not an AuthGate dump header.
    #[error("not an AuthGate dump (the first line is not a `{FORMAT}` header)")]
    NotADump,
    /// A dump of a format version this build does not read.
    #[error("dump format version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    /// A line that does not parse as a record of this format.
    #[error("line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        reason: String,
    },
    /// A record after one of a later kind (a dump is ordered by kind).
    #[error("line {line}: a {kind} record out of order")]
    OutOfOrder {
        /// 1-based line number.
        line: u64,
        /// Its kind tag.
        kind: &'static str,
    },
    /// The dump stops before its `end` line: a partial copy.
    #[error("the dump is truncated (no `end` line after line {0}); nothing was imported")]
    Truncated(u64),
    /// The `end` line counts something else than the lines before it.
    #[error(
        "the dump is inconsistent: its end line counts {expected} {kind} records, it holds {found}"
    )]
    Counts {
        /// Kind tag.
        kind: &'static str,
        /// As the end line says.
        expected: u64,
        /// As read.
        found: u64,
    },
    /// Lines after the `end` line.
    #[error("line {0}: data after the end line")]
    AfterEnd(u64),
    /// A signing key that is not a `k4.secret` PASERK, or whose `kid` does not match.
    #[error("signing key {0}: not a valid k4.secret key for that id")]
    Key(String),
    /// Import into a target that already holds data.
    #[error(
        "the target is not empty ({0}); import only into a new data directory or an empty database"
    )]
    NotEmpty(String),
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing key files could not be read or written.
    #[error(transparent)]
    Keys(#[from] crate::tokens::KeyError),
}

impl From<super::pg::PgError> for DumpError {
    fn from(e: super::pg::PgError) -> Self {
        DumpError::Store(e.into())
    }
}

/// Checks that a dumped signing key is a `k4.secret` PASERK whose id is its `kid`
/// (a key that would not load must not replace a working ring).
pub fn check_key(key: &SigningKey) -> Result<(), DumpError> {
    match crate::tokens::KeyRing::kid_of(&key.secret) {
        Some(kid) if kid == key.kid => Ok(()),
        _ => Err(DumpError::Key(key.kid.clone())),
    }
}

/// Where an export writes records.
pub trait Sink {
    /// Writes one record.
    fn put(&mut self, item: &Item) -> Result<(), DumpError>;
}

/// Where an import reads records: `Ok(None)` only at a verified end (see
/// [`Reader`]), so a backend commits only then.
pub trait Source {
    /// The next record, or `None` after the verified end.
    fn next_item(&mut self) -> Result<Option<Item>, DumpError>;
}

/// A backend that can be dumped and loaded.
pub trait Dump {
    /// Streams every carried record, in [`Kind`] order, from one consistent
    /// snapshot, to `sink`; returns what it wrote.
    fn export(&self, sink: &mut dyn Sink) -> impl Future<Output = Result<Counts, DumpError>>;

    /// Refuses with [`DumpError::NotEmpty`] unless the target holds no users,
    /// clients, grants or signing keys; then reads `source` to its end in one
    /// transaction and commits, or writes nothing.
    fn import(&self, source: &mut dyn Source) -> impl Future<Output = Result<Counts, DumpError>>;
}

/// Writes a dump: the header at creation, one line per record, the end line at
/// [`Writer::finish`].
pub struct Writer<W: Write> {
    out: W,
    counts: Counts,
}

impl<W: Write> Writer<W> {
    /// Starts a dump of records from `source`, exported at `now`.
    pub fn new(mut out: W, source: Origin, now: u64) -> Result<Self, DumpError> {
        let header = Frame::Header(Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: now,
            source,
        });
        write_line(&mut out, &header)?;
        Ok(Writer {
            out,
            counts: Counts::default(),
        })
    }

    /// Writes the end line and flushes; returns the output and the counts.
    pub fn finish(mut self) -> Result<(W, Counts), DumpError> {
        write_line(
            &mut self.out,
            &Frame::End(End {
                counts: self.counts,
            }),
        )?;
        self.out.flush()?;
        Ok((self.out, self.counts))
    }
}

impl<W: Write> Sink for Writer<W> {
    fn put(&mut self, item: &Item) -> Result<(), DumpError> {
        self.counts.add(item.kind());
        write_line(&mut self.out, item)
    }
}

fn write_line<W: Write>(out: &mut W, line: &impl Serialize) -> Result<(), DumpError> {
    serde_json::to_writer(&mut *out, line).map_err(io_of)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn io_of(e: serde_json::Error) -> DumpError {
    DumpError::Io(std::io::Error::other(e))
}

/// Reads and checks a dump: the header on [`Reader::new`], then records in
/// order; the end line's counts must match what was read, and nothing may
/// follow it. Lines are bounded ([`MAX_LINE`]) so a garbage file cannot make the
/// reader allocate without limit.
pub struct Reader<R: BufRead> {
    input: R,
    header: Header,
    line: u64,
    last: Option<Kind>,
    counts: Counts,
    done: bool,
}

/// The longest line a dump may hold: far above any record (a client with many
/// audiences is a few KiB).
pub const MAX_LINE: usize = 1 << 20;

impl<R: BufRead> Reader<R> {
    /// Reads and checks the header line.
    pub fn new(mut input: R) -> Result<Self, DumpError> {
        let mut buf = Vec::new();
        if !read_line(&mut input, &mut buf, 0).map_err(|_| DumpError::NotADump)? {
            return Err(DumpError::NotADump);
        }
        let header = match serde_json::from_slice::<Frame>(&buf) {
            Ok(Frame::Header(h)) if h.format == FORMAT => h,
            _ => return Err(DumpError::NotADump),
        };
        if header.version != VERSION {
            return Err(DumpError::Version(header.version));
        }
        Ok(Reader {
            input,
            header,
            line: 1,
            last: None,
            counts: Counts::default(),
            done: false,
        })
    }

    /// The header that was read.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn check_end(&mut self, end: End) -> Result<(), DumpError> {
        for kind in Kind::ALL {
            let (expected, found) = (end.counts.get(kind), self.counts.get(kind));
            if expected != found {
                return Err(DumpError::Counts {
                    kind: kind.as_str(),
                    expected,
                    found,
                });
            }
        }
        let mut rest = Vec::new();
        if read_line(&mut self.input, &mut rest, self.line)? {
            return Err(DumpError::AfterEnd(self.line + 1));
        }
        self.done = true;
        Ok(())
    }
}

impl<R: BufRead> Source for Reader<R> {
    fn next_item(&mut self) -> Result<Option<Item>, DumpError> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::new();
        if !read_line(&mut self.input, &mut buf, self.line)? {
            return Err(DumpError::Truncated(self.line));
        }
        self.line += 1;
        let line = self.line;
        let syntax = |e: serde_json::Error| DumpError::Syntax {
            line,
            reason: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_slice(&buf).map_err(syntax)?;
        let framing = matches!(
            value.get("kind").and_then(|k| k.as_str()),
            Some("header" | "end")
        );
        if framing {
            return match serde_json::from_value::<Frame>(value).map_err(syntax)? {
                Frame::Header(_) => Err(DumpError::Syntax {
                    line,
                    reason: "a second header".into(),
                }),
                Frame::End(end) => {
                    self.check_end(end)?;
                    Ok(None)
                }
            };
        }
        let item = serde_json::from_value::<Item>(value).map_err(syntax)?;
        let kind = item.kind();
        if self.last.is_some_and(|last| last > kind) {
            return Err(DumpError::OutOfOrder {
                line,
                kind: kind.as_str(),
            });
        }
        self.last = Some(kind);
        self.counts.add(kind);
        Ok(Some(item))
    }
}

/// Reads one line (without its newline) into `buf`, at most [`MAX_LINE`] bytes;
/// `false` at the end of the input. A last line without a newline is refused: a
/// whole dump ends with one, a cut one may not.
/// `before` is the number of the line before, for errors.
fn read_line<R: BufRead>(input: &mut R, buf: &mut Vec<u8>, before: u64) -> Result<bool, DumpError> {
    buf.clear();
    let n = <&mut R as std::io::Read>::take(input, MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            DumpError::Syntax {
                line: before + 1,
                reason: format!("a line longer than {MAX_LINE} bytes"),
            }
        } else {
            DumpError::Truncated(before)
        });
    }
    buf.pop();
    Ok(true)
}

/// Fixed-size byte arrays as lowercase hex strings.
mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::from_hex(&s).ok_or_else(|| D::Error::custom(format!("expected {N} bytes of hex")))
    }
}

/// An optional 32-byte array as hex or `null`.
mod hex_option {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&super::to_hex(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| super::from_hex(&s).ok_or_else(|| D::Error::custom("expected 32 bytes of hex")))
            .transpose()
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> GrantLine {
        GrantLine {
            id: [1; 16],
            user_id: "u1".into(),
            username: "alice".into(),
            client_id: "tv".into(),
            scope: "read".into(),
            created_at: 10,
            last_refreshed_at: None,
            expires_at: 20,
            current_refresh: [2; 32],
            revoked: false,
            device_ip: "192.0.2.1".into(),
            refresh_id: [3; 16],
            jti: "j".into(),
            dpop_jkt: None,
        }
    }

    fn dump(items: &[Item]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), Origin::Redb, 5).unwrap();
        for i in items {
            w.put(i).unwrap();
        }
        w.finish().unwrap().0
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Item>, DumpError> {
        let mut r = Reader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(i) = r.next_item()? {
            out.push(i);
        }
        Ok(out)
    }

    #[test]
    fn a_dump_round_trips_with_hex_ids() {
        let items = vec![
            Item::User(UserLine {
                id: "u1".into(),
                username: "alice".into(),
                password_hash: "$argon2id$x".into(),
                disabled: false,
                created_at: 1,
                admin: false,
            }),
            Item::Grant(grant()),
            Item::AccessToken(AccessLine {
                jti: "j".into(),
                grant_id: [1; 16],
                expires_at: 9,
                revoked: true,
            }),
        ];
        let bytes = dump(&items);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.contains(r#""kind":"header""#) && first.contains(r#""version":1"#));
        assert!(text.contains(r#""id":"01010101010101010101010101010101""#));
        assert!(text.lines().last().unwrap().contains(r#""kind":"end""#));
        assert_eq!(read_all(&bytes).unwrap(), items);
    }

    #[test]
    fn truncated_garbage_and_inconsistent_dumps_are_refused() {
        let bytes = dump(&[Item::Grant(grant()), Item::Grant(grant())]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Cut before the end line, or in the middle of a line.
        let cut = format!("{}\n{}\n", lines[0], lines[1]);
        assert!(matches!(
            read_all(cut.as_bytes()),
            Err(DumpError::Truncated(_))
        ));
        assert!(matches!(
            read_all(&bytes[..bytes.len() - 10]),
            Err(DumpError::Truncated(_))
        ));
        // A line dropped in the middle: the end line's counts say so.
        let dropped = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3]);
        assert!(matches!(
            read_all(dropped.as_bytes()),
            Err(DumpError::Counts { kind: "grant", .. })
        ));
        assert!(matches!(read_all(b"hello\n"), Err(DumpError::NotADump)));
        assert!(matches!(read_all(b""), Err(DumpError::NotADump)));
        let garbage = format!("{}\n{{\"kind\":\"grant\",\"id\":\"zz\"}}\n", lines[0]);
        assert!(matches!(
            read_all(garbage.as_bytes()),
            Err(DumpError::Syntax { line: 2, .. })
        ));
        let v2 = lines[0].replace(r#""version":1"#, r#""version":2"#);
        assert!(matches!(
            read_all(v2.as_bytes()),
            Err(DumpError::NotADump | DumpError::Version(2))
        ));
        let after = format!("{text}{}\n", lines[1]);
        assert!(matches!(
            read_all(after.as_bytes()),
            Err(DumpError::AfterEnd(_))
        ));
    }

    #[test]
    fn records_out_of_kind_order_are_refused() {
        let bytes = dump(&[
            Item::Grant(grant()),
            Item::User(UserLine {
                id: "u".into(),
                username: "n".into(),
                password_hash: "h".into(),
                disabled: false,
                created_at: 0,
                admin: false,
            }),
        ]);
        assert!(matches!(
            read_all(&bytes),
            Err(DumpError::OutOfOrder {
                line: 3,
                kind: "user"
            })
        ));
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    #[test]
    fn client_settings_round_trip_and_older_lines_read_with_defaults() {
        let client = Client {
            secret_hash: Some([5; 32]),
            redirect_uris: vec!["https://app.example/cb".into()],
            access_token_format: AccessTokenFormat::Jwt,
            device_code_ttl: Some(300),
            poll_interval: Some(9),
            user_code_format: UserCodeFormat::Digits,
            dpop: DpopMode::Required,
            ..Client::new(
                "gw".into(),
                "Gateway".into(),
                vec!["read".into()],
                vec!["client_credentials".into()],
            )
        };
        let line = serde_json::to_string(&Item::Client(client.clone().into())).unwrap();
        assert!(line.contains(r#""access_token_format":"jwt""#), "{line}");
        assert!(line.contains(r#""user_code_format":"digits""#), "{line}");
        let Item::Client(back) = serde_json::from_str(&line).unwrap() else {
            panic!("not a client: {line}");
        };
        assert_eq!(Client::from(back), client);

        // A line written before issue 16 (and before DPoP).
        let old = r#"{"kind":"client","id":"tv","name":"TV","secret_hash":null,"scopes":["read"],"grant_types":["device_code"],"disabled":false,"access_ttl":null,"refresh_ttl":null,"created_at":1,"audiences":[]}"#;
        let Item::Client(old) = serde_json::from_str(old).unwrap() else {
            panic!("not a client");
        };
        let old = Client::from(old);
        assert_eq!(
            old,
            Client {
                created_at: 1,
                ..Client::new(
                    "tv".into(),
                    "TV".into(),
                    vec!["read".into()],
                    vec!["device_code".into()]
                )
            }
        );
    }
}
