//! The records AuthGate stores, and their versioned postcard encoding.
//!
//! Each value is one version byte followed by postcard bytes. A later release that
//! changes a record bumps its version and migrates on read, so old data directories
//! keep working.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::StoreError;
pub use crate::grant::{DeviceAuth, DeviceStatus, Grant, RefreshToken};

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
}
impl Record for Client {
    const VERSION: u8 = 2;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 1).then(|| postcard::from_bytes::<ClientV1>(bytes).map(Client::from))
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
            audiences: Vec::new(),
        }
    }
}

impl Client {
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
    const VERSION: u8 = 2;
}

impl Record for Grant {
    const VERSION: u8 = 2;

    fn upgrade(version: u8, bytes: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 1).then(|| postcard::from_bytes::<GrantV1>(bytes).map(Grant::from))
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
        }
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
