//! What a client record may hold: checked by every path that writes one (`client
//! add|update` over the socket or offline, the console), so a bad setting never
//! reaches the store, whichever way it came.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::oauth::grant_type::GrantType;
use crate::redirect_uri::{self, RedirectUriError};
use crate::store::Client;

/// Device-code lifetimes a client may set, seconds: long enough to walk to a
/// computer and sign in, short enough that a code shown on a screen goes stale.
pub const DEVICE_CODE_TTL_RANGE: RangeInclusive<u64> = 60..=3600;

/// Poll intervals a client may set, seconds (RFC 8628 §3.2 `interval`): at least
/// one second, at most a minute so a device doesn't look hung after approval.
pub const POLL_INTERVAL_RANGE: RangeInclusive<u64> = 1..=60;

/// Most redirect URIs one client may register (records stay small).
pub const MAX_REDIRECT_URIS: usize = 16;

/// Why a client's settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RuleError {
    /// A grant type this server doesn't know.
    #[error("unknown grant type `{0}` (use {known})", known = GrantType::known_names())]
    GrantType(String),
    /// `client_credentials` on a client without a secret (RFC 6749 §4.4: confidential
    /// clients only).
    #[error("the client_credentials grant needs a confidential client (--confidential)")]
    PublicClientCredentials,
    /// A redirect URI the rules of [`crate::redirect_uri`] refuse.
    #[error("redirect URI `{uri}`: {reason}")]
    RedirectUri {
        /// The URI as given (printable ASCII only, or it says so).
        uri: String,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_REDIRECT_URIS`].
    #[error("at most {MAX_REDIRECT_URIS} redirect URIs")]
    TooManyRedirectUris,
    /// A device-code lifetime outside [`DEVICE_CODE_TTL_RANGE`].
    #[error("device code lifetime {0} s: use {lo} to {hi} s", lo = DEVICE_CODE_TTL_RANGE.start(), hi = DEVICE_CODE_TTL_RANGE.end())]
    DeviceCodeTtl(u64),
    /// A poll interval outside [`POLL_INTERVAL_RANGE`].
    #[error("poll interval {0} s: use {lo} to {hi} s", lo = POLL_INTERVAL_RANGE.start(), hi = POLL_INTERVAL_RANGE.end())]
    PollInterval(u64),
}

impl RuleError {
    fn redirect(uri: &str, e: RedirectUriError) -> Self {
        // Only the printable part goes into a message that may reach a terminal.
        let uri: String = uri.chars().filter(|c| !c.is_control()).take(80).collect();
        RuleError::RedirectUri {
            uri,
            reason: e.to_string(),
        }
    }
}

/// Checks every setting of `client` against the rules above.
pub fn check(client: &Client) -> Result<(), RuleError> {
    for g in &client.grant_types {
        let grant = GrantType::from_short(g).ok_or_else(|| RuleError::GrantType(g.clone()))?;
        if grant == GrantType::ClientCredentials && client.secret_hash.is_none() {
            return Err(RuleError::PublicClientCredentials);
        }
    }
    if client.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(RuleError::TooManyRedirectUris);
    }
    for uri in &client.redirect_uris {
        redirect_uri::check(uri).map_err(|e| RuleError::redirect(uri, e))?;
    }
    if let Some(t) = client.device_code_ttl
        && !DEVICE_CODE_TTL_RANGE.contains(&t)
    {
        return Err(RuleError::DeviceCodeTtl(t));
    }
    if let Some(t) = client.poll_interval
        && !POLL_INTERVAL_RANGE.contains(&t)
    {
        return Err(RuleError::PollInterval(t));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(grants: &[&str]) -> Client {
        Client::new(
            "c".into(),
            "C".into(),
            vec![],
            grants.iter().map(|g| g.to_string()).collect(),
        )
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(check(&client(&["device_code", "refresh_token"])), Ok(()));
        assert_eq!(
            check(&client(&["password"])),
            Err(RuleError::GrantType("password".into()))
        );
        assert_eq!(
            check(&client(&["client_credentials"])),
            Err(RuleError::PublicClientCredentials)
        );
        let confidential = Client {
            secret_hash: Some([1; 32]),
            ..client(&["client_credentials"])
        };
        assert_eq!(check(&confidential), Ok(()));
        let bad_uri = Client {
            redirect_uris: vec!["http://evil.example/cb".into()],
            ..client(&["authorization_code"])
        };
        assert!(matches!(
            check(&bad_uri),
            Err(RuleError::RedirectUri { .. })
        ));
        let many = Client {
            redirect_uris: vec!["https://a.example/".into(); MAX_REDIRECT_URIS + 1],
            ..client(&[])
        };
        assert_eq!(check(&many), Err(RuleError::TooManyRedirectUris));
        for (ttl, interval, ok) in [
            (Some(60), Some(1), true),
            (Some(3600), Some(60), true),
            (Some(59), None, false),
            (Some(3601), None, false),
            (None, Some(0), false),
            (None, Some(61), false),
        ] {
            let c = Client {
                device_code_ttl: ttl,
                poll_interval: interval,
                ..client(&["device_code"])
            };
            assert_eq!(check(&c).is_ok(), ok, "{ttl:?} {interval:?}");
        }
    }
}
