//! PASETO v4.public access tokens: signing keys, minting and verification.
//!
//! Keys live in `DATA_DIR/keys/` as PASERK `k4.secret` files (mode 0600). The newest
//! signs; all are published at `/oauth/keys` as `k4.public` with their `k4.pid` ids so
//! resource servers verify tokens offline with any PASETO v4 library. Each token's
//! footer names the key that signed it: `{"kid":"k4.pid…"}`. Clients set to the
//! `jwt` format get RFC 9068 JWTs signed with the same keys instead ([`jwt`]).

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pasetors::Public;
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::AccessTokenFormat;

pub mod jwt;

/// The claims of an AuthGate access token, with times as Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer: our base URL.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// Audiences: the resource servers the token is meant for (at least one).
    pub aud: Vec<String>,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Unique id, the handle for revocation.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The DPoP key the token is bound to (RFC 9449 §6): it is only good with a
    /// proof by that key. `None`: a bearer token.
    pub cnf: Option<crate::dpop::Cnf>,
}

/// The JSON payload: PASETO's registered claims carry RFC 3339 times.
#[derive(Serialize, Deserialize)]
struct Payload {
    iss: String,
    sub: String,
    aud: AudClaim,
    exp: String,
    iat: String,
    nbf: String,
    jti: String,
    client_id: String,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cnf: Option<crate::dpop::Cnf>,
}

/// The `aud` claim on the wire: a string for one audience (as every token had
/// before per-client audiences, so offline verifiers comparing a string keep
/// working), an array for several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AudClaim {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl AudClaim {
    /// The wire form of `aud`.
    pub fn of(aud: &[String]) -> Self {
        match aud {
            [one] => AudClaim::One(one.clone()),
            many => AudClaim::Many(many.to_vec()),
        }
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            AudClaim::One(one) => vec![one],
            AudClaim::Many(many) => many,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Footer {
    kid: String,
}

/// Why the key directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file does not hold a valid `k4.secret` PASERK.
    #[error("key file {0} is not a k4.secret PASERK")]
    Invalid(PathBuf),
    /// The crypto library failed.
    #[error("key generation failed")]
    Generate,
    /// The shared key ring in PostgreSQL could not be read or changed.
    #[error("shared signing keys: {0}")]
    Shared(#[from] crate::store::pg::PgError),
}

struct Key {
    kid: String,
    paserk_public: String,
    public: AsymmetricPublicKey<V4>,
    /// The same key for JWT verification; `None` if not a valid Ed25519 point.
    jws: Option<ed25519_dalek::VerifyingKey>,
}

impl Key {
    /// The public half of `sk`, with its PASERK text and id.
    fn of(sk: &AsymmetricSecretKey<V4>) -> Option<Self> {
        let public = AsymmetricPublicKey::<V4>::try_from(sk).ok()?;
        let mut paserk_public = String::new();
        public.fmt(&mut paserk_public).ok()?;
        let mut kid = String::new();
        Id::from(&public).fmt(&mut kid).ok()?;
        let raw: [u8; 32] = public.as_bytes().try_into().ok()?;
        Some(Key {
            kid,
            paserk_public,
            jws: ed25519_dalek::VerifyingKey::from_bytes(&raw).ok(),
            public,
        })
    }
}

/// The Ed25519 key of a PASERK `k4.secret` (seed then public key), for signing
/// with ed25519-dalek; `None` if the halves don't belong together.
fn dalek_key(sk: &AsymmetricSecretKey<V4>) -> Option<ed25519_dalek::SigningKey> {
    let bytes = sk.as_bytes();
    let seed: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    (key.verifying_key().as_bytes().as_slice() == bytes.get(32..)?).then_some(key)
}

/// Signs a PASETO v4.public token (PASETO spec, version 4, `Sign`): Ed25519 over
/// `PAE(header, message, footer, implicit)` with an empty implicit assertion.
///
/// Why not pasetors' `PublicToken::sign`: it signs with ed25519-compact at ~45 µs a
/// token, a third of a refresh's CPU; ed25519-dalek takes ~14 µs. Ed25519 is
/// deterministic, so the test below checks that both produce the same bytes, and
/// verification stays with pasetors.
fn sign_v4_public(key: &ed25519_dalek::SigningKey, message: &[u8], footer: &[u8]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::Signer;
    const HEADER: &str = "v4.public.";
    let pieces: [&[u8]; 4] = [HEADER.as_bytes(), message, footer, b""];
    // PAE: the piece count, then each piece's length and bytes; counts and lengths
    // are little-endian u64 with the top bit clear.
    let le64 = |n: usize| (n as u64 & (u64::MAX >> 1)).to_le_bytes();
    let mut pae = Vec::with_capacity(8 + pieces.iter().map(|p| 8 + p.len()).sum::<usize>());
    pae.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        pae.extend_from_slice(&le64(piece.len()));
        pae.extend_from_slice(piece);
    }
    let signature = key.sign(&pae).to_bytes();
    let mut body = Vec::with_capacity(message.len() + signature.len());
    body.extend_from_slice(message);
    body.extend_from_slice(&signature);
    let mut token = String::with_capacity(HEADER.len() + (body.len() + footer.len()) * 4 / 3 + 4);
    token.push_str(HEADER);
    URL_SAFE_NO_PAD.encode_string(&body, &mut token);
    if !footer.is_empty() {
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(footer, &mut token);
    }
    token
}

/// All signing keys of this server; the newest signs.
pub struct KeyRing {
    signing: ed25519_dalek::SigningKey,
    signing_kid: String,
    keys: Vec<Key>,
    verified: VerifiedCache,
}

impl KeyRing {
    /// Loads every key in `DATA_DIR/keys`, creating the first one on first run.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "secret"))
            .collect();
        if files.is_empty() {
            files.push(Self::generate(&dir)?);
        }
        // Names start with a zero-padded creation time, so the last sorts newest.
        files.sort();
        let mut secrets = Vec::new();
        for path in files {
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            secrets.push((path, text));
        }
        Self::from_secrets(&secrets)
    }

    /// A ring of the `k4.secret` PASERK texts in `secrets`, oldest first (the last
    /// signs); each is named by where it came from (its file, or its row of the
    /// shared `signing_keys` table) in errors.
    pub fn from_secrets(secrets: &[(PathBuf, String)]) -> Result<Self, KeyError> {
        let mut parsed = Vec::new();
        let mut keys = Vec::new();
        for (origin, text) in secrets {
            let sk = AsymmetricSecretKey::<V4>::try_from(text.trim())
                .map_err(|_| KeyError::Invalid(origin.clone()))?;
            keys.push(Key::of(&sk).ok_or_else(|| KeyError::Invalid(origin.clone()))?);
            parsed.push(sk);
        }
        let newest = secrets.last().map(|(o, _)| o.clone()).unwrap_or_default();
        let signing = parsed
            .pop()
            .and_then(|sk| dalek_key(&sk))
            .ok_or(KeyError::Invalid(newest))?;
        let signing_kid = keys
            .last()
            .map(|k| k.kid.clone())
            .ok_or(KeyError::Generate)?;
        Ok(KeyRing {
            signing,
            signing_kid,
            keys,
            verified: VerifiedCache::default(),
        })
    }

    /// A new `k4.secret` PASERK text (an Ed25519 key pair), for a key file or a row.
    pub(crate) fn new_secret() -> Result<String, KeyError> {
        let pair = AsymmetricKeyPair::<V4>::generate().map_err(|_| KeyError::Generate)?;
        let mut paserk = String::new();
        pair.secret
            .fmt(&mut paserk)
            .map_err(|_| KeyError::Generate)?;
        Ok(paserk)
    }

    /// The key id (`k4.pid…`) of a `k4.secret` PASERK text; `None` if it is not one.
    pub(crate) fn kid_of(secret: &str) -> Option<String> {
        let sk = AsymmetricSecretKey::<V4>::try_from(secret.trim()).ok()?;
        Key::of(&sk).map(|k| k.kid)
    }

    /// Writes a new secret key file into `dir` (the `keys` directory); used on first
    /// run and by `authgate key rotate`.
    pub(crate) fn generate(dir: &Path) -> Result<PathBuf, KeyError> {
        let paserk = Self::new_secret()?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let path = dir.join(format!("{now:012}.secret"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| KeyError::Io {
                path: path.clone(),
                source,
            })?;
        writeln!(file, "{paserk}")
            .and_then(|()| file.sync_all())
            .map_err(|source| KeyError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// The key id (`k4.pid…`) of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// Every published key id, oldest first (the last one signs).
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// The PASERK document published at `/oauth/keys`.
    pub fn paserk_document(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| serde_json::json!({"kid": k.kid, "paserk": k.paserk_public}))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The JWK Set (RFC 7517) of every published key, for JWT verifiers: published
    /// at `/.well-known/jwks.json`, so a rotated-out key stays until its tokens expire.
    pub fn jwks_document(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| jwt::jwk(&k.kid, k.public.as_bytes()))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Signs an access token with the newest key in `format`.
    pub fn sign_as(
        &self,
        format: AccessTokenFormat,
        claims: &AccessClaims,
    ) -> Result<String, pasetors::errors::Error> {
        match format {
            AccessTokenFormat::Paseto => self.sign(claims),
            AccessTokenFormat::Jwt => jwt::sign(&self.signing, &self.signing_kid, claims)
                .map_err(|_| pasetors::errors::Error::ClaimInvalidJson),
        }
    }

    /// Signs an access token with the newest key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, pasetors::errors::Error> {
        let payload = Payload {
            iss: claims.iss.clone(),
            sub: claims.sub.clone(),
            aud: AudClaim::of(&claims.aud),
            exp: rfc3339(claims.exp),
            iat: rfc3339(claims.iat),
            nbf: rfc3339(claims.nbf),
            jti: claims.jti.clone(),
            client_id: claims.client_id.clone(),
            scope: claims.scope.clone(),
            cnf: claims.cnf.clone(),
        };
        let footer = Footer {
            kid: self.signing_kid.clone(),
        };
        let payload =
            serde_json::to_vec(&payload).map_err(|_| pasetors::errors::Error::ClaimInvalidJson)?;
        let footer =
            serde_json::to_vec(&footer).map_err(|_| pasetors::errors::Error::FooterParsing)?;
        Ok(sign_v4_public(&self.signing, &payload, &footer))
    }

    /// Checks the signature of a token and returns its claims. Time checks are the
    /// caller's (it owns the clock); any malformed or foreign token is `None`.
    ///
    /// An Ed25519 verification costs ~45 µs; resource servers introspect the same
    /// token on every API call, so the SHA-256 digests of recently verified tokens are
    /// kept in a set and a token found there only has its payload decoded. A
    /// signature check never changes its answer, so this is exact; expiry and
    /// revocation are still checked by the caller on every request.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let digest = crate::secrets::sha256(token.as_bytes());
        if jwt::is_jwt(token) {
            if self.verified.contains(&digest) {
                return jwt::claims_unverified(token);
            }
            let kid = jwt::kid(token)?;
            let key = self.keys.iter().find(|k| k.kid == kid)?.jws.as_ref()?;
            let claims = jwt::verify(key, token)?;
            self.verified.insert(digest);
            return Some(claims);
        }
        if self.verified.contains(&digest) {
            let untrusted = UntrustedToken::<Public, V4>::try_from(token).ok()?;
            return claims_from_payload(untrusted.untrusted_payload());
        }
        let claims = self.verify_uncached(token)?;
        self.verified.insert(digest);
        Some(claims)
    }

    fn verify_uncached(&self, token: &str) -> Option<AccessClaims> {
        let untrusted = UntrustedToken::<Public, V4>::try_from(token).ok()?;
        let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer()).ok()?;
        let key = self.keys.iter().find(|k| k.kid == footer.kid)?;
        let trusted = PublicToken::verify(
            &key.public,
            &untrusted,
            Some(untrusted.untrusted_footer()),
            None,
        )
        .ok()?;
        claims_from_payload(trusted.payload().as_bytes())
    }
}

/// Decodes the JSON payload of a token whose signature has been checked.
fn claims_from_payload(payload: &[u8]) -> Option<AccessClaims> {
    let p: Payload = serde_json::from_slice(payload).ok()?;
    Some(AccessClaims {
        iss: p.iss,
        sub: p.sub,
        aud: p.aud.into_vec(),
        exp: unix(&p.exp)?,
        iat: unix(&p.iat)?,
        nbf: unix(&p.nbf)?,
        jti: p.jti,
        client_id: p.client_id,
        scope: p.scope,
        cnf: p.cnf,
    })
}

/// Shards of the verified-token set, and digests per shard.
const CACHE_SHARDS: usize = 8;
const CACHE_PER_SHARD: usize = 8192;

/// SHA-256 digests of tokens whose signature checked out. Bounded: a full shard is
/// emptied (≤ 65,536 digests, ~4 MiB at worst). Only digests are kept, not claims,
/// so it can hold every token a busy resource server sees.
#[derive(Default)]
struct VerifiedCache {
    shards: [Mutex<HashSet<[u8; 32]>>; CACHE_SHARDS],
}

impl VerifiedCache {
    fn shard(&self, digest: &[u8; 32]) -> &Mutex<HashSet<[u8; 32]>> {
        &self.shards[usize::from(digest[0]) % CACHE_SHARDS]
    }

    fn contains(&self, digest: &[u8; 32]) -> bool {
        let set = self.shard(digest).lock().unwrap_or_else(|p| p.into_inner());
        set.contains(digest)
    }

    fn insert(&self, digest: [u8; 32]) {
        let mut set = self
            .shard(&digest)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if set.len() >= CACHE_PER_SHARD {
            set.clear();
        }
        set.insert(digest);
    }
}

fn rfc3339(unix: u64) -> String {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn unix(s: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "http://x".into(),
            sub: "u1".into(),
            aud: vec!["http://x".into()],
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            nbf: 1_900_000_000,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "read".into(),
            cnf: None,
        }
    }

    #[test]
    fn our_v4_public_signer_matches_pasetors_byte_for_byte() {
        let pair = AsymmetricKeyPair::<V4>::generate().unwrap();
        let ours = dalek_key(&pair.secret).expect("key halves match");
        for (message, footer) in [
            (&b"{\"sub\":\"u\"}"[..], &b"{\"kid\":\"k4.pid.x\"}"[..]),
            (b"x", b""),
            (&[0xffu8; 700][..], b"f"),
        ] {
            let reference = PublicToken::sign(
                &pair.secret,
                message,
                (!footer.is_empty()).then_some(footer),
                None,
            )
            .unwrap();
            assert_eq!(sign_v4_public(&ours, message, footer), reference);
        }
    }

    #[test]
    fn signs_verifies_and_persists_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path()).unwrap();
        let token = ring.sign(&claims()).unwrap();
        assert!(token.starts_with("v4.public."));
        assert_eq!(ring.verify(&token), Some(claims()));
        // Reloading finds the same key; tampering is rejected.
        let again = KeyRing::load_or_create(dir.path()).unwrap();
        assert_eq!(again.signing_kid(), ring.signing_kid());
        assert_eq!(again.verify(&token), Some(claims()));
        let mut bad = token.clone();
        bad.replace_range(20..21, if &token[20..21] == "A" { "B" } else { "A" });
        assert_eq!(ring.verify(&bad), None);
        assert_eq!(ring.verify("v4.public.garbage"), None);
        assert_eq!(ring.verify(""), None);
        let key_file = fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let mode = key_file.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_remembered_token_decodes_the_same_and_only_exact_matches_skip_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path()).unwrap();
        let token = ring.sign(&claims()).unwrap();
        assert_eq!(ring.verify(&token), Some(claims()));
        assert!(
            ring.verified
                .contains(&crate::secrets::sha256(token.as_bytes()))
        );
        assert_eq!(ring.verify(&token), Some(claims()), "from the digest set");
        // A token differing anywhere, even only in its footer, is checked afresh.
        let mut other_footer = token.clone();
        other_footer.push('A');
        assert_eq!(ring.verify(&other_footer), None);
        let mut bad_signature = token.clone();
        let at = token.rfind('.').unwrap() - 3;
        let swap = if &token[at..=at] == "A" { "B" } else { "A" };
        bad_signature.replace_range(at..=at, swap);
        assert_eq!(ring.verify(&bad_signature), None);
    }

    #[test]
    fn the_verified_set_stays_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..(CACHE_SHARDS * CACHE_PER_SHARD * 2) as u32 {
            cache.insert(crate::secrets::sha256(&i.to_le_bytes()));
        }
        for shard in &cache.shards {
            assert!(shard.lock().unwrap().len() <= CACHE_PER_SHARD);
        }
    }

    #[test]
    fn a_bound_token_carries_cnf_jkt_and_a_bearer_token_none() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path()).unwrap();
        let bound = AccessClaims {
            cnf: Some(crate::dpop::Cnf {
                jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
            }),
            ..claims()
        };
        let token = ring.sign(&bound).unwrap();
        assert_eq!(ring.verify(&token), Some(bound));
        let untrusted = UntrustedToken::<Public, V4>::try_from(token.as_str()).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(untrusted.untrusted_payload()).unwrap();
        assert_eq!(
            payload["cnf"]["jkt"],
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        let bearer = ring.sign(&claims()).unwrap();
        let untrusted = UntrustedToken::<Public, V4>::try_from(bearer.as_str()).unwrap();
        assert!(!String::from_utf8_lossy(untrusted.untrusted_payload()).contains("cnf"));
    }

    #[test]
    fn another_servers_token_is_rejected() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = KeyRing::load_or_create(a.path()).unwrap();
        let rb = KeyRing::load_or_create(b.path()).unwrap();
        assert_eq!(rb.verify(&ra.sign(&claims()).unwrap()), None);
    }
}
