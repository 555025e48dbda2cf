//! Grants and their tokens: the storage trait and its outcomes.

use super::records::AccessToken;
use super::{Grant, RefreshToken, StoreError};
use crate::grant::{Issue, NewTokens};

/// Result of exchanging a refresh token.
#[derive(Debug, PartialEq)]
pub enum RotateOutcome {
    /// Rotated and durable: the new tokens may be issued.
    Rotated(Box<Issue>),
    /// A superseded token was presented: the whole grant has been revoked.
    ReuseDetected,
    /// Unknown, expired, revoked or another client's token (or its user may no
    /// longer get tokens, and the grant was revoked).
    Invalid,
}

/// Result of a revocation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked (or was already).
    Revoked,
    /// We don't know this token: RFC 7009 still answers 200.
    Unknown,
    /// The token belongs to another client.
    WrongClient,
}

/// Grants and their tokens: rotation, revocation, introspection lookups, the account page. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Grants {
    /// Rotates a refresh token: the presented one is superseded and a new one becomes
    /// current. Presenting a superseded token revokes the whole grant (RFC 6819
    /// §5.2.2.3 / OAuth 2.0 Security BCP §4.14), including its newest refresh token.
    /// The rules are [`Refresh::exchange`]'s; this persists its outcome.
    fn rotate_refresh(
        &self,
        presented_id: [u8; 16],
        presented: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;

    /// A refresh token (key `id`, if `hash` matches) and its grant, for
    /// introspection and scope checks. Whether it is live is
    /// [`crate::grant::refresh_is_live`]'s to say.
    fn refresh_token(
        &self,
        id: &[u8; 16],
        hash: &[u8; 32],
    ) -> impl Future<Output = Result<Option<(RefreshToken, Grant)>, StoreError>> + Send;

    /// Stores the grant of a client-credentials exchange ([`crate::grant::client`])
    /// with its access token record, so the token introspects and revokes like any
    /// other; both are swept when the token expires.
    fn create_client_grant(
        &self,
        issue: Issue,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An issued access token's record and its grant, for introspection.
    fn access_token(
        &self,
        jti: &str,
    ) -> impl Future<Output = Result<Option<(AccessToken, Grant)>, StoreError>> + Send;

    /// Revokes the grant a refresh token belongs to (RFC 7009 §2.1: revoking a
    /// refresh token also invalidates the access tokens of the same grant).
    fn revoke_refresh(
        &self,
        id: [u8; 16],
        hash: [u8; 32],
        client_id: String,
        now: u64,
    ) -> impl Future<Output = Result<RevokeOutcome, StoreError>> + Send;

    /// Revokes one access token by `jti`; remembered until the token expires.
    fn revoke_access(
        &self,
        jti: String,
        client_id: String,
    ) -> impl Future<Output = Result<RevokeOutcome, StoreError>> + Send;

    /// The grants a user has given, newest first, for the account page: one range
    /// of the by-user index, so the cost follows this user's grants only.
    fn grants_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;

    /// Revokes grants of one user: the one with `grant_id` (only if it is that
    /// user's), or all when `None`. Returns how many were revoked.
    fn revoke_user_grants(
        &self,
        user_id: String,
        grant_id: Option<[u8; 16]>,
        now: u64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
