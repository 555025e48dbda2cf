//! The records AuthGate stores, and their versioned postcard encoding.
//!
//! Each value is one version byte followed by postcard bytes. A later release that
//! changes a record bumps its version and migrates on read, so old data directories
//! keep working.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::StoreError;
pub use crate::grant::{AuthCode, DeviceAuth, DeviceStatus, Grant, IssuedFor, RefreshToken};

/// Whether a client must prove possession of a key (RFC 9449 DPoP).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum DpopMode {
    /// Proofs are checked when sent and bind the tokens; bearer use stays allowed
    /// for clients that send none (the default: existing devices keep working).
    #[default]
    Optional,
    /// Every device-authorization and token request must carry a proof with a
    /// current server nonce (`DPoP-Nonce`): no bearer tokens for this client.
    Required,
}

impl DpopMode {
    /// The name used by the admin CLI and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopMode::Optional => "optional",
            DpopMode::Required => "required",
        }
    }
}

/// The format of the access tokens a client gets.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    /// PASETO v4.public (the default): what `authgate-verify` and the introspection
    /// endpoint have always checked.
    #[default]
    Paseto,
    /// A JWT (RFC 9068, `typ: at+jwt`) signed with the same Ed25519 keys: for API
    /// gateways that verify JWTs only.
    Jwt,
}

impl AccessTokenFormat {
    /// The name used by the admin CLI, listings and the database column.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Paseto => "paseto",
            AccessTokenFormat::Jwt => "jwt",
        }
    }

    /// The format named by [`as_str`](Self::as_str).
    pub fn parse(name: &str) -> Option<Self> {
        [AccessTokenFormat::Paseto, AccessTokenFormat::Jwt]
            .into_iter()
            .find(|f| f.as_str() == name)
    }
}

/// The alphabet of the user codes a client's devices show.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserCodeFormat {
    /// Consonants only (the default): easy to read and type, no words.
    #[default]
    Letters,
    /// Digits only, for TV remotes and PIN pads.
    Digits,
}

impl UserCodeFormat {
    /// The name used by the admin CLI, listings and the database column.
    pub fn as_str(self) -> &'static str {
        match self {
            UserCodeFormat::Letters => "letters",
            UserCodeFormat::Digits => "digits",
        }
    }

    /// The format named by [`as_str`](Self::as_str).
    pub fn parse(name: &str) -> Option<Self> {
        [UserCodeFormat::Letters, UserCodeFormat::Digits]
            .into_iter()
            .find(|f| f.as_str() == name)
    }
}

/// A stored type with a schema version.
pub trait Record: Serialize + DeserializeOwned {
    /// Bumped whenever the encoded shape changes.
    const VERSION: u8;

    /// Decodes the postcard bytes of an earlier `version` of this record into the
    /// current shape; `None` for a version this build cannot read.
    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        let _ = (version, bytes);
        None
    }
}

/// Encodes a record as its version byte followed by postcard bytes.
pub fn encode<T: Record>(value: &T) -> Vec<u8> {
    let mut out = vec![T::VERSION];
    // postcard only fails on a custom Serialize error or a full fixed buffer; a
    // growable Vec and derived impls make that impossible.
    out.extend(postcard::to_allocvec(value).unwrap_or_default());
    out
}

/// Decodes bytes written by [`encode`], rejecting versions this build does not know.
pub fn decode<T: Record>(table: &str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&v, rest)) if v == T::VERSION => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt {
                table: table.to_string(),
                reason: e.to_string(),
            })
        }
        Some((&v, rest)) => match T::upgrade(v, rest) {
            Some(upgraded) => upgraded.map_err(|e| StoreError::Corrupt {
                table: table.to_string(),
                reason: e.to_string(),
            }),
            None => Err(StoreError::Corrupt {
                table: table.to_string(),
                reason: format!("unknown record version {v}"),
            }),
        },
        None => Err(StoreError::Corrupt {
            table: table.to_string(),
            reason: "empty record".into(),
        }),
    }
}

/// A person who can log in and approve devices.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Stable id used as the token subject; survives renames.
    pub id: String,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// May use the admin console (`/admin`).
    pub admin: bool,
}
impl Record for User {
    const VERSION: u8 = 2;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 1).then(|| postcard::from_bytes::<UserV1>(bytes).map(User::from))
    }
}

/// A user as version 1 stored it: before the admin role.
#[derive(Deserialize)]
struct UserV1 {
    id: String,
    username: String,
    password_hash: String,
    disabled: bool,
    created_at: u64,
}

impl From<UserV1> for User {
    fn from(u: UserV1) -> Self {
        User {
            id: u.id,
            username: u.username,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_at: u.created_at,
            admin: false,
        }
    }
}

/// An OAuth client: a device type or CLI (public) or a resource server (confidential).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Shown on the consent page.
    pub name: String,
    /// SHA-256 of the secret for confidential clients; secrets are 256-bit random,
    /// so a fast hash is enough and keeps introspection cheap.
    pub secret_hash: Option<[u8; 32]>,
    /// Scopes the client may ask for; also the default when it asks for none.
    pub scopes: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// A disabled client gets `invalid_client` everywhere.
    pub disabled: bool,
    /// Access-token lifetime override, seconds.
    pub access_ttl: Option<u64>,
    /// Refresh-token lifetime override, seconds.
    pub refresh_ttl: Option<u64>,
    /// Unix seconds.
    pub created_at: u64,
    /// The audiences (`aud`) of the access tokens issued to this client, and for a
    /// confidential client (a resource server) the audiences it answers to at
    /// introspection. Empty: the server's default audience (`Settings.audience`).
    pub audiences: Vec<String>,
    /// Whether its requests must carry DPoP proofs.
    pub dpop: DpopMode,
    /// Where the authorization endpoint may send its browser back (RFC 6749
    /// §3.1.2), each checked by [`crate::redirect_uri`] at registration.
    pub redirect_uris: Vec<String>,
    /// The format of its access tokens.
    pub access_token_format: AccessTokenFormat,
    /// Device-code lifetime override, seconds (RFC 8628 §3.2 `expires_in`).
    pub device_code_ttl: Option<u64>,
    /// Poll interval override, seconds (RFC 8628 §3.2 `interval`).
    pub poll_interval: Option<u64>,
    /// The alphabet of its user codes.
    pub user_code_format: UserCodeFormat,
}
impl Record for Client {
    const VERSION: u8 = 4;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        match version {
            1 => Some(postcard::from_bytes::<ClientV1>(bytes).map(Client::from)),
            2 => Some(postcard::from_bytes::<ClientV2>(bytes).map(Client::from)),
            3 => Some(postcard::from_bytes::<ClientV3>(bytes).map(Client::from)),
            _ => None,
        }
    }
}

/// A client as version 3 stored it: before redirect URIs, token formats and
/// per-client device settings.
#[derive(Deserialize)]
struct ClientV3 {
    id: String,
    name: String,
    secret_hash: Option<[u8; 32]>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    disabled: bool,
    access_ttl: Option<u64>,
    refresh_ttl: Option<u64>,
    created_at: u64,
    audiences: Vec<String>,
    dpop: DpopMode,
}

impl From<ClientV3> for Client {
    fn from(c: ClientV3) -> Self {
        Client {
            dpop: c.dpop,
            ..Client::from(ClientV2 {
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
            })
        }
    }
}

/// A client as version 2 stored it: before the DPoP setting.
#[derive(Deserialize)]
struct ClientV2 {
    id: String,
    name: String,
    secret_hash: Option<[u8; 32]>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    disabled: bool,
    access_ttl: Option<u64>,
    refresh_ttl: Option<u64>,
    created_at: u64,
    audiences: Vec<String>,
}

impl From<ClientV2> for Client {
    fn from(c: ClientV2) -> Self {
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
            dpop: DpopMode::Optional,
            redirect_uris: Vec::new(),
            access_token_format: AccessTokenFormat::Paseto,
            device_code_ttl: None,
            poll_interval: None,
            user_code_format: UserCodeFormat::Letters,
        }
    }
}

/// A client as version 1 stored it: before per-client audiences.
#[derive(Deserialize)]
struct ClientV1 {
    id: String,
    name: String,
    secret_hash: Option<[u8; 32]>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    disabled: bool,
    access_ttl: Option<u64>,
    refresh_ttl: Option<u64>,
    created_at: u64,
}

impl From<ClientV1> for Client {
    fn from(c: ClientV1) -> Self {
        Client::from(ClientV2 {
            id: c.id,
            name: c.name,
            secret_hash: c.secret_hash,
            scopes: c.scopes,
            grant_types: c.grant_types,
            disabled: c.disabled,
            access_ttl: c.access_ttl,
            refresh_ttl: c.refresh_ttl,
            created_at: c.created_at,
            audiences: Vec::new(),
        })
    }
}

impl Client {
    /// A client with these essentials and every other setting at its default
    /// (enabled, no secret, no overrides, PASETO tokens, letter user codes).
    pub fn new(id: String, name: String, scopes: Vec<String>, grant_types: Vec<String>) -> Self {
        Client {
            id,
            name,
            secret_hash: None,
            scopes,
            grant_types,
            disabled: false,
            access_ttl: None,
            refresh_ttl: None,
            created_at: 0,
            audiences: Vec::new(),
            dpop: DpopMode::Optional,
            redirect_uris: Vec::new(),
            access_token_format: AccessTokenFormat::Paseto,
            device_code_ttl: None,
            poll_interval: None,
            user_code_format: UserCodeFormat::Letters,
        }
    }

    /// The audiences this client's access tokens carry, or that it answers to as a
    /// resource server: its own list, or the server's `default` when it has none.
    pub fn audiences_or<'a>(&'a self, default: &'a str) -> Vec<&'a str> {
        if self.audiences.is_empty() {
            vec![default]
        } else {
            self.audiences.iter().map(String::as_str).collect()
        }
    }
}

impl Record for DeviceAuth {
    const VERSION: u8 = 4;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        match version {
            2 => Some(postcard::from_bytes::<DeviceAuthV2>(bytes).map(DeviceAuth::from)),
            3 => Some(postcard::from_bytes::<DeviceAuthV3>(bytes).map(DeviceAuth::from)),
            _ => None,
        }
    }
}

/// A device request's status as versions 2 and 3 stored it: `Redeemed` without
/// the grant it yielded.
#[derive(Deserialize)]
enum DeviceStatusV3 {
    Pending,
    Approved {
        user_id: String,
        username: String,
        at: u64,
    },
    Denied {
        at: u64,
    },
    Redeemed {
        at: u64,
    },
}

impl From<DeviceStatusV3> for DeviceStatus {
    fn from(s: DeviceStatusV3) -> Self {
        match s {
            DeviceStatusV3::Pending => DeviceStatus::Pending,
            DeviceStatusV3::Approved {
                user_id,
                username,
                at,
            } => DeviceStatus::Approved {
                user_id,
                username,
                at,
            },
            DeviceStatusV3::Denied { at } => DeviceStatus::Denied { at },
            // Unknown grant: a lost answer of an older build is not retried.
            DeviceStatusV3::Redeemed { at } => DeviceStatus::Redeemed {
                at,
                grant_id: [0; 16],
            },
        }
    }
}

/// A device request as version 3 stored it: before the retry window.
#[derive(Deserialize)]
struct DeviceAuthV3 {
    code_hash: [u8; 32],
    client_id: String,
    scope: String,
    user_code: String,
    created_at: u64,
    expires_at: u64,
    interval: u32,
    status: DeviceStatusV3,
    requester_ip: String,
    user_agent: String,
    dpop_jkt: Option<String>,
}

impl From<DeviceAuthV3> for DeviceAuth {
    fn from(a: DeviceAuthV3) -> Self {
        DeviceAuth {
            code_hash: a.code_hash,
            client_id: a.client_id,
            scope: a.scope,
            user_code: a.user_code,
            created_at: a.created_at,
            expires_at: a.expires_at,
            interval: a.interval,
            status: a.status.into(),
            requester_ip: a.requester_ip,
            user_agent: a.user_agent,
            dpop_jkt: a.dpop_jkt,
        }
    }
}

/// A device request as version 2 stored it: before the DPoP key binding.
#[derive(Deserialize)]
struct DeviceAuthV2 {
    code_hash: [u8; 32],
    client_id: String,
    scope: String,
    user_code: String,
    created_at: u64,
    expires_at: u64,
    interval: u32,
    status: DeviceStatusV3,
    requester_ip: String,
    user_agent: String,
}

impl From<DeviceAuthV2> for DeviceAuth {
    fn from(a: DeviceAuthV2) -> Self {
        DeviceAuth {
            code_hash: a.code_hash,
            client_id: a.client_id,
            scope: a.scope,
            user_code: a.user_code,
            created_at: a.created_at,
            expires_at: a.expires_at,
            interval: a.interval,
            status: a.status.into(),
            requester_ip: a.requester_ip,
            user_agent: a.user_agent,
            dpop_jkt: None,
        }
    }
}

impl Record for Grant {
    const VERSION: u8 = 4;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        match version {
            1 => Some(postcard::from_bytes::<GrantV1>(bytes).map(Grant::from)),
            2 => Some(postcard::from_bytes::<GrantV2>(bytes).map(Grant::from)),
            3 => Some(postcard::from_bytes::<GrantV3>(bytes).map(Grant::from)),
            _ => None,
        }
    }
}

/// A grant as version 3 stored it: before the retry window (what its current
/// token answered is unknown, so nothing of it is retried).
#[derive(Deserialize)]
struct GrantV3 {
    id: [u8; 16],
    user_id: String,
    username: String,
    client_id: String,
    scope: String,
    created_at: u64,
    last_refreshed_at: Option<u64>,
    expires_at: u64,
    current_refresh: [u8; 32],
    revoked: bool,
    device_ip: String,
    refresh_id: [u8; 16],
    jti: String,
    dpop_jkt: Option<String>,
}

impl From<GrantV3> for Grant {
    fn from(g: GrantV3) -> Self {
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
            issued_for: IssuedFor::Unknown,
        }
    }
}

/// A grant as version 2 stored it: before the DPoP key binding.
#[derive(Deserialize)]
struct GrantV2 {
    id: [u8; 16],
    user_id: String,
    username: String,
    client_id: String,
    scope: String,
    created_at: u64,
    last_refreshed_at: Option<u64>,
    expires_at: u64,
    current_refresh: [u8; 32],
    revoked: bool,
    device_ip: String,
    refresh_id: [u8; 16],
    jti: String,
}

impl From<GrantV2> for Grant {
    fn from(g: GrantV2) -> Self {
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
            dpop_jkt: None,
            issued_for: IssuedFor::Unknown,
        }
    }
}

/// A grant as version 1 stored it: without its current token keys.
#[derive(Deserialize)]
struct GrantV1 {
    id: [u8; 16],
    user_id: String,
    username: String,
    client_id: String,
    scope: String,
    created_at: u64,
    last_refreshed_at: Option<u64>,
    expires_at: u64,
    current_refresh: [u8; 32],
    revoked: bool,
    device_ip: String,
}

impl From<GrantV1> for Grant {
    fn from(g: GrantV1) -> Self {
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
            refresh_id: [0; 16],
            jti: String::new(),
            dpop_jkt: None,
            issued_for: IssuedFor::Unknown,
        }
    }
}

impl Record for RefreshToken {
    const VERSION: u8 = 2;
}

/// An issued access token, keyed by `jti`, so revocation and grant revocation can
/// make it inactive before it expires.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessToken {
    /// The grant it was minted from.
    pub grant_id: [u8; 16],
    /// Unix seconds; the entry is swept after this.
    pub expires_at: u64,
    /// Revoked through RFC 7009.
    pub revoked: bool,
}
impl Record for AccessToken {
    const VERSION: u8 = 1;
}

/// A logged-in browser, keyed by the SHA-256 of its cookie value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// The user.
    pub user_id: String,
    /// Their login name.
    pub username: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; absolute timeout.
    pub expires_at: u64,
}
impl Record for Session {
    const VERSION: u8 = 1;
}

impl Record for AuthCode {
    const VERSION: u8 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_client_reads_as_one_without_audiences() {
        #[derive(Serialize)]
        struct V1<'a> {
            id: &'a str,
            name: &'a str,
            secret_hash: Option<[u8; 32]>,
            scopes: Vec<&'a str>,
            grant_types: Vec<&'a str>,
            disabled: bool,
            access_ttl: Option<u64>,
            refresh_ttl: Option<u64>,
            created_at: u64,
        }
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&V1 {
                id: "rs",
                name: "RS",
                secret_hash: Some([3; 32]),
                scopes: vec!["read"],
                grant_types: vec![],
                disabled: false,
                access_ttl: Some(60),
                refresh_ttl: None,
                created_at: 7,
            })
            .unwrap(),
        );
        let c: Client = decode("clients", &bytes).unwrap();
        assert_eq!(c.id, "rs");
        assert_eq!(c.access_ttl, Some(60));
        assert!(c.audiences.is_empty());
        assert_eq!(c.audiences_or("http://default"), vec!["http://default"]);
        let again: Client = decode("clients", &encode(&c)).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn a_version_1_grant_reads_without_token_keys() {
        #[derive(Serialize)]
        struct V1<'a> {
            id: [u8; 16],
            user_id: &'a str,
            username: &'a str,
            client_id: &'a str,
            scope: &'a str,
            created_at: u64,
            last_refreshed_at: Option<u64>,
            expires_at: u64,
            current_refresh: [u8; 32],
            revoked: bool,
            device_ip: &'a str,
        }
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&V1 {
                id: [4; 16],
                user_id: "u",
                username: "n",
                client_id: "c",
                scope: "read",
                created_at: 1,
                last_refreshed_at: Some(2),
                expires_at: 3,
                current_refresh: [5; 32],
                revoked: true,
                device_ip: "192.0.2.1",
            })
            .unwrap(),
        );
        let g: Grant = decode("grants", &bytes).unwrap();
        assert_eq!((g.id, g.expires_at, g.revoked), ([4; 16], 3, true));
        assert_eq!((g.refresh_id, g.jti.as_str()), ([0; 16], ""));
        assert_eq!(decode::<Grant>("grants", &encode(&g)).unwrap(), g);
    }

    #[test]
    fn a_version_1_user_reads_as_a_non_admin() {
        #[derive(Serialize)]
        struct V1<'a> {
            id: &'a str,
            username: &'a str,
            password_hash: &'a str,
            disabled: bool,
            created_at: u64,
        }
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&V1 {
                id: "u1",
                username: "ann",
                password_hash: "h",
                disabled: true,
                created_at: 9,
            })
            .unwrap(),
        );
        let u: User = decode("users", &bytes).unwrap();
        assert_eq!(
            (u.username.as_str(), u.disabled, u.admin),
            ("ann", true, false)
        );
        let admin = User { admin: true, ..u };
        assert_eq!(decode::<User>("users", &encode(&admin)).unwrap(), admin);
    }

    fn auth(status: DeviceStatus) -> DeviceAuth {
        DeviceAuth {
            code_hash: [7; 32],
            client_id: "c".into(),
            scope: "read".into(),
            user_code: "BCDFGHJK".into(),
            created_at: 100,
            expires_at: 200,
            interval: 5,
            status,
            requester_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            dpop_jkt: None,
        }
    }

    /// The bytes `version` wrote for `value`: postcard appends fields in order,
    /// and each field a later version added last (`None`, or the first enum
    /// variant) is the single byte 0, so dropping the `added` of them gives
    /// exactly what `version` wrote.
    fn as_version<T: Record>(value: &T, version: u8, added: usize) -> Vec<u8> {
        let mut bytes = encode(value);
        for _ in 0..added {
            assert_eq!(bytes.pop(), Some(0), "the new field is last and empty");
        }
        bytes[0] = version;
        bytes
    }

    #[test]
    fn version_3_records_read_without_retry_state() {
        let g = Grant {
            id: [1; 16],
            user_id: "u".into(),
            username: "n".into(),
            client_id: "c".into(),
            scope: "read".into(),
            created_at: 1,
            last_refreshed_at: None,
            expires_at: 9,
            current_refresh: [2; 32],
            revoked: false,
            device_ip: "192.0.2.1".into(),
            refresh_id: [3; 16],
            jti: "j".into(),
            dpop_jkt: Some("jkt".into()),
            issued_for: IssuedFor::Unknown,
        };
        assert_eq!(decode::<Grant>("g", &as_version(&g, 3, 1)).unwrap(), g);
        for issued_for in [
            IssuedFor::DeviceCode { at: 5 },
            IssuedFor::Refresh {
                previous: [4; 32],
                at: 6,
            },
        ] {
            let g = Grant {
                issued_for,
                ..g.clone()
            };
            assert_eq!(decode::<Grant>("g", &encode(&g)).unwrap(), g);
        }

        // A version 3 request redeemed at 7: no grant recorded, never retried.
        #[derive(Serialize)]
        enum StatusV3 {
            _Pending,
            _Approved,
            _Denied,
            Redeemed { at: u64 },
        }
        #[derive(Serialize)]
        struct V3<'a> {
            code_hash: [u8; 32],
            client_id: &'a str,
            scope: &'a str,
            user_code: &'a str,
            created_at: u64,
            expires_at: u64,
            interval: u32,
            status: StatusV3,
            requester_ip: &'a str,
            user_agent: &'a str,
            dpop_jkt: Option<&'a str>,
        }
        let mut bytes = vec![3u8];
        bytes.extend(
            postcard::to_allocvec(&V3 {
                code_hash: [7; 32],
                client_id: "c",
                scope: "read",
                user_code: "BCDFGHJK",
                created_at: 100,
                expires_at: 200,
                interval: 5,
                status: StatusV3::Redeemed { at: 7 },
                requester_ip: "127.0.0.1",
                user_agent: "t",
                dpop_jkt: Some("k"),
            })
            .unwrap(),
        );
        let a: DeviceAuth = decode("d", &bytes).unwrap();
        let want = DeviceAuth {
            dpop_jkt: Some("k".into()),
            ..auth(DeviceStatus::Redeemed {
                at: 7,
                grant_id: [0; 16],
            })
        };
        assert_eq!(a, want);
        let linked = DeviceAuth {
            status: DeviceStatus::Redeemed {
                at: 7,
                grant_id: [8; 16],
            },
            ..want
        };
        assert_eq!(decode::<DeviceAuth>("d", &encode(&linked)).unwrap(), linked);
    }

    #[test]
    fn version_2_records_read_as_unbound_and_new_ones_keep_their_binding() {
        let a = auth(DeviceStatus::Pending);
        assert_eq!(decode::<DeviceAuth>("d", &as_version(&a, 2, 1)).unwrap(), a);
        let bound = DeviceAuth {
            dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
            ..a
        };
        assert_eq!(decode::<DeviceAuth>("d", &encode(&bound)).unwrap(), bound);

        let g = Grant {
            id: [1; 16],
            user_id: "u".into(),
            username: "n".into(),
            client_id: "c".into(),
            scope: "read".into(),
            created_at: 1,
            last_refreshed_at: None,
            expires_at: 9,
            current_refresh: [2; 32],
            revoked: false,
            device_ip: "192.0.2.1".into(),
            refresh_id: [3; 16],
            jti: "j".into(),
            dpop_jkt: None,
            issued_for: IssuedFor::Unknown,
        };
        assert_eq!(decode::<Grant>("g", &as_version(&g, 2, 2)).unwrap(), g);
        let bound = Grant {
            dpop_jkt: Some("jkt".into()),
            ..g
        };
        assert_eq!(decode::<Grant>("g", &encode(&bound)).unwrap(), bound);

        let c = Client {
            audiences: vec!["https://api".into()],
            created_at: 5,
            ..Client::new(
                "tv".into(),
                "TV".into(),
                vec!["read".into()],
                vec!["device_code".into()],
            )
        };
        assert_eq!(decode::<Client>("c", &as_version(&c, 2, 6)).unwrap(), c);
        let strict = Client {
            dpop: DpopMode::Required,
            ..c
        };
        assert_eq!(decode::<Client>("c", &encode(&strict)).unwrap(), strict);
    }

    #[test]
    fn a_version_3_client_reads_with_default_settings_and_new_ones_keep_theirs() {
        let c = Client {
            secret_hash: Some([9; 32]),
            dpop: DpopMode::Required,
            audiences: vec!["https://api".into()],
            ..Client::new(
                "svc".into(),
                "Service".into(),
                vec!["read".into()],
                vec!["refresh_token".into()],
            )
        };
        let old = decode::<Client>("c", &as_version(&c, 3, 5)).unwrap();
        assert_eq!(old, c);
        assert_eq!(old.access_token_format, AccessTokenFormat::Paseto);
        assert_eq!(old.user_code_format, UserCodeFormat::Letters);
        assert!(old.redirect_uris.is_empty());
        assert_eq!((old.device_code_ttl, old.poll_interval), (None, None));
        let set = Client {
            redirect_uris: vec!["https://app.example/cb".into()],
            access_token_format: AccessTokenFormat::Jwt,
            device_code_ttl: Some(300),
            poll_interval: Some(10),
            user_code_format: UserCodeFormat::Digits,
            ..c
        };
        assert_eq!(decode::<Client>("c", &encode(&set)).unwrap(), set);
        assert!(
            decode::<Client>(
                "c",
                &as_version(
                    &Client {
                        dpop: DpopMode::Optional,
                        ..old
                    },
                    5,
                    5
                )
            )
            .is_err()
        );
    }

    #[test]
    fn format_names_round_trip() {
        for f in [AccessTokenFormat::Paseto, AccessTokenFormat::Jwt] {
            assert_eq!(AccessTokenFormat::parse(f.as_str()), Some(f));
        }
        for f in [UserCodeFormat::Letters, UserCodeFormat::Digits] {
            assert_eq!(UserCodeFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(AccessTokenFormat::parse("JWT"), None);
        assert_eq!(UserCodeFormat::parse("numbers"), None);
    }

    #[test]
    fn records_round_trip_and_reject_unknown_versions() {
        let a = auth(DeviceStatus::Pending);
        let bytes = encode(&a);
        assert_eq!(bytes[0], DeviceAuth::VERSION);
        assert_eq!(decode::<DeviceAuth>("t", &bytes).unwrap(), a);
        let mut bad = bytes.clone();
        bad[0] = 99;
        assert!(decode::<DeviceAuth>("t", &bad).is_err());
        assert!(decode::<DeviceAuth>("t", &[]).is_err());
        assert!(decode::<DeviceAuth>("t", &bytes[..bytes.len() - 3]).is_err());
    }
}
