//! The permission to issue tokens, which only a successful transition grants.

use super::Grant;

/// Identifiers and lifetimes of the tokens an exchange would mint, drawn by the
/// caller (which owns the RNG and the clock) before the write. Drawing them signs
/// nothing: tokens are only built from the [`Issue`] a transition returns.
#[derive(Clone, Debug)]
pub struct NewTokens {
    /// Id of a new grant (ignored when rotating an existing one).
    pub grant_id: [u8; 16],
    /// Key of the new refresh token (the id inside it).
    pub refresh_id: [u8; 16],
    /// SHA-256 of the new refresh token.
    pub refresh_hash: [u8; 32],
    /// When the new refresh token expires.
    pub refresh_expires_at: u64,
    /// `jti` of the new access token.
    pub jti: String,
    /// When the new access token expires.
    pub access_expires_at: u64,
    /// The device's IP (kept on new grants for the account page).
    pub device_ip: String,
    /// The DPoP key thumbprint a new grant's refresh tokens are bound to (a public
    /// client redeeming with a proof); ignored when rotating (a grant keeps its
    /// binding for life).
    pub dpop_jkt: Option<String>,
}

/// Tokens may be issued for this grant: returned only by
/// [`super::Approved::redeem`] and [`super::Refresh::exchange`], and required to
/// build a token response, so an unapproved or refused grant can never mint.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    grant: Grant,
    jti: String,
    refresh_id: [u8; 16],
    access_expires_at: u64,
    now: u64,
}

impl Issue {
    /// Only the transitions of this module grant it.
    pub(super) fn new(grant: Grant, new: &NewTokens, now: u64) -> Self {
        Issue {
            grant,
            jti: new.jti.clone(),
            refresh_id: new.refresh_id,
            access_expires_at: new.access_expires_at,
            now,
        }
    }

    /// The grant as it now stands (subject, client, scope).
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// `jti` of the access token to sign.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// Key of the refresh token to hand out, to check it is the one drawn.
    pub fn refresh_id(&self) -> &[u8; 16] {
        &self.refresh_id
    }

    /// When the access token expires.
    pub fn access_expires_at(&self) -> u64 {
        self.access_expires_at
    }

    /// Issue time (`iat`, `nbf`).
    pub fn now(&self) -> u64 {
        self.now
    }
}
