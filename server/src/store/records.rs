//! The records AuthGate stores, and their versioned postcard encoding.
//!
//! Each value is one version byte followed by postcard bytes. A later release that
//! changes a record bumps its version and migrates on read, so old data directories
//! keep working.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::StoreError;

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
}
impl Record for User {
    const VERSION: u8 = 1;
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

/// Where a device authorization request stands.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum DeviceStatus {
    /// Waiting for a person to approve or deny.
    Pending,
    /// Approved; the next poll redeems it.
    Approved {
        /// Who approved.
        user_id: String,
        /// Their login name at approval time.
        username: String,
        /// Unix seconds.
        at: u64,
    },
    /// The person pressed Deny.
    Denied {
        /// Unix seconds.
        at: u64,
    },
    /// Tokens were issued; the code is spent.
    Redeemed {
        /// Unix seconds.
        at: u64,
    },
}

/// A device authorization request (RFC 8628 §3.1), keyed by the time-ordered id
/// inside its device code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceAuth {
    /// SHA-256 of the whole device code, checked in constant time on every poll.
    pub code_hash: [u8; 32],
    /// The client that asked.
    pub client_id: String,
    /// Space-separated scopes asked for (already validated).
    pub scope: String,
    /// Canonical user code (8 letters).
    pub user_code: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; after this the device gets `expired_token`.
    pub expires_at: u64,
    /// Polling interval first announced, seconds.
    pub interval: u32,
    /// Progress.
    pub status: DeviceStatus,
    /// The device's IP, shown on the consent page to help spot phishing.
    pub requester_ip: String,
    /// The device's user agent, shown on the consent page.
    pub user_agent: String,
}
impl Record for DeviceAuth {
    const VERSION: u8 = 2;
}

/// An approval a user gave a client: the family all its refresh tokens belong to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    /// Time-ordered id (16 bytes).
    pub id: [u8; 16],
    /// Token subject.
    pub user_id: String,
    /// For display on the account page.
    pub username: String,
    /// The client holding the grant.
    pub client_id: String,
    /// Granted scopes.
    pub scope: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the last refresh.
    pub last_refreshed_at: Option<u64>,
    /// Unix seconds; when the current refresh token expires.
    pub expires_at: u64,
    /// Hash of the one refresh token that may be used next.
    pub current_refresh: [u8; 32],
    /// Revoked grants refresh nothing and their access tokens introspect inactive.
    pub revoked: bool,
    /// The device's IP at authorization.
    pub device_ip: String,
    /// Key of the current refresh token's record, so deleting a dead grant deletes
    /// it too (all zeros for a grant stored by version 1).
    pub refresh_id: [u8; 16],
    /// `jti` of the newest access token, deleted with the grant likewise (empty
    /// for version 1). Older token records are inert once the grant is gone and
    /// leave at their own expiry.
    pub jti: String,
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

/// A refresh token, keyed by the time-ordered id inside it.
///
/// Whether it is still the grant's current token is not stored here: it is current
/// exactly when `Grant::current_refresh` equals its hash. So rotation writes the
/// grant and the new token, never the old one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RefreshToken {
    /// SHA-256 of the whole token, checked in constant time.
    pub token_hash: [u8; 32],
    /// The grant (family) it belongs to.
    pub grant_id: [u8; 16],
    /// Unix seconds.
    pub expires_at: u64,
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

/// What a poll of the token endpoint finds, before any rate check.
#[derive(Clone, Debug, PartialEq)]
pub enum PollCheck {
    /// The code belongs to another client: answer `invalid_grant`.
    WrongClient,
    /// Past its lifetime: `expired_token`.
    Expired,
    /// Still waiting for the person: `authorization_pending` (or `slow_down`).
    Pending,
    /// The person pressed Deny: `access_denied`.
    Denied,
    /// Already exchanged for tokens: `invalid_grant`.
    Redeemed,
    /// Approved by this user: tokens may be issued, once.
    Approved {
        /// Subject of the tokens.
        user_id: String,
        /// Their login name.
        username: String,
    },
}

impl DeviceAuth {
    /// The pure state check both the read-only poll path and the redeeming write use,
    /// so they can never disagree.
    pub fn poll_check(&self, client_id: &str, now: u64) -> PollCheck {
        if self.client_id != client_id {
            return PollCheck::WrongClient;
        }
        match &self.status {
            DeviceStatus::Redeemed { .. } => PollCheck::Redeemed,
            _ if now >= self.expires_at => PollCheck::Expired,
            DeviceStatus::Pending => PollCheck::Pending,
            DeviceStatus::Denied { .. } => PollCheck::Denied,
            DeviceStatus::Approved {
                user_id, username, ..
            } => PollCheck::Approved {
                user_id: user_id.clone(),
                username: username.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn poll_check_covers_every_state() {
        assert_eq!(
            auth(DeviceStatus::Pending).poll_check("c", 150),
            PollCheck::Pending
        );
        assert_eq!(
            auth(DeviceStatus::Pending).poll_check("x", 150),
            PollCheck::WrongClient
        );
        assert_eq!(
            auth(DeviceStatus::Pending).poll_check("c", 200),
            PollCheck::Expired
        );
        assert_eq!(
            auth(DeviceStatus::Denied { at: 1 }).poll_check("c", 150),
            PollCheck::Denied
        );
        assert_eq!(
            auth(DeviceStatus::Redeemed { at: 1 }).poll_check("c", 300),
            PollCheck::Redeemed
        );
        let approved = DeviceStatus::Approved {
            user_id: "u".into(),
            username: "n".into(),
            at: 1,
        };
        assert!(matches!(
            auth(approved.clone()).poll_check("c", 150),
            PollCheck::Approved { .. }
        ));
        assert_eq!(auth(approved).poll_check("c", 250), PollCheck::Expired);
    }

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
