//! [`Verifier`]: checks a request's access token (and DPoP proof) against the
//! issuer's cached keys.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::{HeaderMap, Method};
use pasetors::Public;
use pasetors::keys::AsymmetricPublicKey;
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::Deserialize;

use crate::dpop::{self, DpopError, Expected};
use crate::error::Scheme;
use crate::fetch::Fetcher;
use crate::{Claims, FetchError, KeySet, ReplayCache, VerifyError};

/// What a [`Verifier`] accepts, and how it keeps its keys fresh.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The AuthGate base URL, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// This resource server's audience: tokens must list it in `aud` (by default
    /// AuthGate uses its issuer URL; `authgate client add … --audience URI` sets others).
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The PASERK key document; `None`: the `paserk_uri` of the issuer's metadata.
    pub keys_url: Option<String>,
    /// At most one refetch per this interval when a token names an unknown key, so
    /// a flood of forged `kid`s cannot turn into a flood of fetches.
    pub refresh_min_interval: Duration,
    /// The key set is refetched in the background this often (new keys appear, and
    /// retired ones go).
    pub refresh_every: Duration,
    /// DPoP proofs remembered for `jti` replay detection (bounded).
    pub replay_capacity: usize,
}

impl VerifierConfig {
    /// Defaults: 5 s leeway, keys found through the metadata, refetched at most every
    /// 30 s on an unknown key and every hour regardless.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        VerifierConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(5),
            keys_url: None,
            refresh_min_interval: Duration::from_secs(30),
            refresh_every: Duration::from_secs(3600),
            replay_capacity: ReplayCache::DEFAULT_CAPACITY,
        }
    }
}

/// Verifies AuthGate access tokens offline. Cheap to clone (shared state); one per
/// resource server.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: VerifierConfig,
    keys_url: String,
    fetcher: Fetcher,
    keys: RwLock<KeySet>,
    /// When the keys were last fetched; held while fetching, so concurrent requests
    /// with the same new `kid` cause one fetch.
    fetched: tokio::sync::Mutex<Instant>,
    replays: ReplayCache,
}

/// The footer AuthGate puts on every token: the id of the key that signed it.
#[derive(Deserialize)]
struct Footer {
    kid: String,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Verifier {
    /// Fetches the issuer's key set (through its metadata unless `keys_url` is set)
    /// and starts refetching it every `refresh_every` on the current tokio runtime
    /// (until the last clone of the verifier is dropped).
    pub async fn discover(config: VerifierConfig) -> Result<Self, FetchError> {
        let fetcher = Fetcher::new()?;
        let keys_url = match &config.keys_url {
            Some(url) => url.clone(),
            None => fetcher.keys_url(&config.issuer).await?,
        };
        let keys = fetcher.keys(&keys_url).await?;
        let inner = Arc::new(Inner {
            replays: ReplayCache::new(config.replay_capacity),
            config,
            keys_url,
            fetcher,
            keys: RwLock::new(keys),
            fetched: tokio::sync::Mutex::new(Instant::now()),
        });
        tokio::spawn(refresh_periodically(Arc::downgrade(&inner)));
        Ok(Verifier { inner })
    }

    /// The key ids currently cached.
    pub fn kids(&self) -> Vec<String> {
        self.read_keys().kids().map(str::to_owned).collect()
    }

    /// Checks the request's `Authorization` (and `DPoP`) headers for `method` on
    /// `uri`, the resource's full external URL (what a DPoP proof's `htu` names),
    /// and returns the token's claims.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &str,
    ) -> Result<Claims, VerifyError> {
        self.authorize_at(headers, method, uri, unix_now()).await
    }

    /// [`Verifier::authorize`] at `now` (Unix seconds) instead of the system clock.
    pub async fn authorize_at(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &str,
        now: u64,
    ) -> Result<Claims, VerifyError> {
        let (scheme, token) = presented(headers)?;
        let claims = self.verify_token_at(token, now).await?;
        let cnf = match (scheme, &claims.cnf) {
            (Scheme::Bearer, None) => return Ok(claims),
            (Scheme::Bearer, Some(_)) => return Err(VerifyError::BoundTokenAsBearer),
            (Scheme::DPoP, None) => return Err(VerifyError::UnboundTokenAsDpop),
            (Scheme::DPoP, Some(cnf)) => cnf,
        };
        let expected = Expected {
            method: method.as_str(),
            uri,
            now,
            nonce: None,
            access_token: Some(token),
        };
        let proof = dpop::verify_proof(proof_header(headers)?, &expected)?;
        if !cnf.matches(&proof) {
            return Err(VerifyError::ProofKeyMismatch);
        }
        if !self.inner.replays.insert_fresh(&proof, now) {
            return Err(DpopError::Replayed.into());
        }
        Ok(claims)
    }

    /// Checks a token's signature, issuer, audience and times at `now`, without
    /// looking at how it was presented: the caller must itself refuse a token with
    /// `cnf` that came without its proof. Prefer [`Verifier::authorize`].
    pub async fn verify_token_at(&self, token: &str, now: u64) -> Result<Claims, VerifyError> {
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(token).map_err(|_| VerifyError::Malformed)?;
        let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
            .map_err(|_| VerifyError::Malformed)?;
        let key = self.key(&footer.kid).await?;
        let trusted =
            PublicToken::verify(&key, &untrusted, Some(untrusted.untrusted_footer()), None)
                .map_err(|_| VerifyError::BadSignature)?;
        let claims =
            Claims::from_payload(trusted.payload().as_bytes()).ok_or(VerifyError::Malformed)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), VerifyError> {
        let config = &self.inner.config;
        let leeway = config.leeway.as_secs();
        if claims.iss != config.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if !claims.aud.contains(&config.audience) {
            return Err(VerifyError::WrongAudience);
        }
        if now >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if claims.nbf > now.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(())
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        // A poisoned lock only means a writer panicked; the set is still whole.
        self.inner.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key `kid`, refetching the key set once if it is unknown and the last
    /// fetch is older than `refresh_min_interval`.
    async fn key(&self, kid: &str) -> Result<AsymmetricPublicKey<V4>, VerifyError> {
        if let Some(key) = self.read_keys().get(kid) {
            return Ok(key.clone());
        }
        let mut fetched = self.inner.fetched.lock().await;
        // Someone else may have fetched it while we waited.
        if let Some(key) = self.read_keys().get(kid) {
            return Ok(key.clone());
        }
        if fetched.elapsed() < self.inner.config.refresh_min_interval {
            return Err(VerifyError::UnknownKey);
        }
        *fetched = Instant::now();
        self.inner.refresh().await;
        self.read_keys()
            .get(kid)
            .cloned()
            .ok_or(VerifyError::UnknownKey)
    }
}

impl Inner {
    /// Refetches the key set; on failure the cached one stays (a down issuer does
    /// not stop tokens signed with known keys from verifying).
    async fn refresh(&self) {
        if let Ok(keys) = self.fetcher.keys(&self.keys_url).await {
            *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        }
    }
}

async fn refresh_periodically(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(i) => i.config.refresh_every.max(Duration::from_secs(1)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let mut fetched = inner.fetched.lock().await;
        *fetched = Instant::now();
        inner.refresh().await;
    }
}

/// The scheme and token of the request's one `Authorization` header.
fn presented(headers: &HeaderMap) -> Result<(Scheme, &str), VerifyError> {
    let mut values = headers.get_all(hyper::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.contains_key(hyper::header::AUTHORIZATION) {
            true => Err(VerifyError::BadAuthorization),
            false => Err(VerifyError::MissingToken),
        };
    };
    let value = value.to_str().map_err(|_| VerifyError::BadAuthorization)?;
    let (scheme, token) = value.split_once(' ').ok_or(VerifyError::BadAuthorization)?;
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(VerifyError::BadAuthorization);
    }
    if scheme.eq_ignore_ascii_case("Bearer") {
        Ok((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("DPoP") {
        Ok((Scheme::DPoP, token))
    } else {
        Err(VerifyError::MissingToken)
    }
}

/// The request's one `DPoP` header (RFC 9449 §4.3 step 1).
fn proof_header(headers: &HeaderMap) -> Result<&str, VerifyError> {
    let mut values = headers.get_all("dpop").iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().map_err(|_| DpopError::NotOneHeader.into()),
        _ => Err(DpopError::NotOneHeader.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{AUTHORIZATION, HeaderValue};

    #[test]
    fn the_authorization_header_is_parsed_strictly() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), Err(VerifyError::MissingToken));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented(&h), Ok((Scheme::Bearer, "abc")));
        h.insert(AUTHORIZATION, HeaderValue::from_static("dpop abc"));
        assert_eq!(presented(&h), Ok((Scheme::DPoP, "abc")));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(presented(&h), Err(VerifyError::BadAuthorization));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented(&h), Err(VerifyError::MissingToken));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented(&h), Err(VerifyError::BadAuthorization));
    }
}
