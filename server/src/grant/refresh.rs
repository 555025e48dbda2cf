//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (OAuth 2.0
//! Security BCP §4.14): Current → rotated | Revoked; a superseded token presented
//! again revokes the whole grant.

use serde::{Deserialize, Serialize};

use super::{Issue, NewTokens, Standing};
use crate::secrets::ct_eq;

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
    /// RFC 7638 thumbprint of the DPoP key its refresh tokens are bound to (RFC
    /// 9449 §5: a public client that redeemed with a proof): refreshing then needs a
    /// proof by that key. `None`: unbound (records of version 2 and older too).
    pub dpop_jkt: Option<String>,
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

/// Whether the refresh token `token` (presented with hash `presented`) of `grant`
/// is live at `now`: the grant's current token, unexpired, of an unrevoked grant.
/// The one definition introspection and rotation share.
pub fn refresh_is_live(
    token: &RefreshToken,
    grant: &Grant,
    presented: &[u8; 32],
    now: u64,
) -> bool {
    ct_eq(&grant.current_refresh, presented) && !grant.revoked && token.expires_at > now
}

/// What a presented (genuine) refresh token is, at `now`.
#[derive(Debug)]
pub enum Refresh {
    /// The grant's current token: it may be exchanged once.
    Current(Current),
    /// A token of a live grant that was already exchanged: presenting it is reuse.
    Rotated(Rotated),
    /// Expired, or its grant is revoked: nothing comes of it.
    Dead,
}

/// The current refresh token of a live grant.
#[derive(Debug)]
pub struct Current(Grant);

/// A superseded refresh token of a live grant.
#[derive(Debug)]
pub struct Rotated(Grant);

/// A grant that has just been revoked: persist it, and its tokens stop working.
#[derive(Debug, PartialEq)]
pub struct Revoked(Grant);

/// The outcome of exchanging a refresh token.
#[derive(Debug)]
pub enum Exchange {
    /// Rotated: persist the grant (in the issue) and the new tokens, then issue.
    Issued(Issue),
    /// A superseded token came back: the whole grant is revoked (persist it).
    Reuse(Revoked),
    /// The grant's user may no longer get tokens: it is revoked (persist it) and
    /// the exchange refused.
    UserInactive(Revoked),
    /// Expired, revoked or another client's token: refused, nothing changes.
    Invalid,
}

impl Refresh {
    /// Classifies `token` of `grant`, presented with hash `presented`, at `now`.
    /// (The caller found `token` by its key and checked `presented` against it.)
    pub fn of(token: &RefreshToken, grant: Grant, presented: &[u8; 32], now: u64) -> Self {
        if grant.revoked || token.expires_at <= now {
            Refresh::Dead
        } else if refresh_is_live(token, &grant, presented, now) {
            Refresh::Current(Current(grant))
        } else {
            Refresh::Rotated(Rotated(grant))
        }
    }

    /// Exchanges the token for `client_id` at `now`, with the new tokens drawn in
    /// `new`, given the grant's user's `standing`. Checks, in order: the client,
    /// liveness, the user, then reuse.
    pub fn exchange(
        self,
        client_id: &str,
        standing: Standing,
        now: u64,
        new: &NewTokens,
    ) -> Exchange {
        let grant = match &self {
            Refresh::Current(Current(g)) | Refresh::Rotated(Rotated(g)) => g,
            Refresh::Dead => return Exchange::Invalid,
        };
        if grant.client_id != client_id {
            return Exchange::Invalid;
        }
        match (self, standing) {
            (Refresh::Current(c), Standing::Inactive) => Exchange::UserInactive(c.revoke(now)),
            (Refresh::Rotated(r), Standing::Inactive) => Exchange::UserInactive(r.revoke(now)),
            (Refresh::Rotated(r), Standing::Active) => Exchange::Reuse(r.revoke(now)),
            (Refresh::Current(c), Standing::Active) => Exchange::Issued(c.rotate(now, new)),
            (Refresh::Dead, _) => Exchange::Invalid,
        }
    }
}

impl Current {
    /// Makes the token drawn in `new` the grant's current one, at `now`.
    pub fn rotate(self, now: u64, new: &NewTokens) -> Issue {
        let mut grant = self.0;
        grant.current_refresh = new.refresh_hash;
        grant.refresh_id = new.refresh_id;
        grant.jti = new.jti.clone();
        grant.last_refreshed_at = Some(now);
        grant.expires_at = new.refresh_expires_at;
        Issue::new(grant, new, now)
    }

    /// Revokes the grant (the user was disabled, or the client revoked it).
    pub fn revoke(self, now: u64) -> Revoked {
        Revoked::of(self.0, now)
    }
}

impl Rotated {
    /// Revokes the grant: a superseded token was replayed.
    pub fn revoke(self, now: u64) -> Revoked {
        Revoked::of(self.0, now)
    }
}

impl Revoked {
    /// Revokes `grant` at `now` (RFC 7009 revocation, a disabled user or client, a
    /// person on the account page).
    pub fn of(mut grant: Grant, _now: u64) -> Self {
        grant.revoked = true;
        Revoked(grant)
    }

    /// The revoked grant, to persist.
    pub fn grant(&self) -> &Grant {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(current: [u8; 32], revoked: bool) -> Grant {
        Grant {
            id: [1; 16],
            user_id: "u".into(),
            username: "n".into(),
            client_id: "c".into(),
            scope: "read".into(),
            created_at: 10,
            last_refreshed_at: None,
            expires_at: 1000,
            current_refresh: current,
            revoked,
            device_ip: "192.0.2.1".into(),
            refresh_id: [2; 16],
            jti: "j0".into(),
            dpop_jkt: None,
        }
    }

    fn token(hash: [u8; 32], expires_at: u64) -> RefreshToken {
        RefreshToken {
            token_hash: hash,
            grant_id: [1; 16],
            expires_at,
        }
    }

    fn new() -> NewTokens {
        NewTokens {
            grant_id: [9; 16],
            refresh_id: [8; 16],
            refresh_hash: [7; 32],
            refresh_expires_at: 2000,
            jti: "j1".into(),
            access_expires_at: 600,
            device_ip: "198.51.100.1".into(),
            dpop_jkt: None,
        }
    }

    fn exchange(t: &RefreshToken, g: Grant, presented: [u8; 32], s: Standing) -> Exchange {
        Refresh::of(t, g, &presented, 100).exchange("c", s, 100, &new())
    }

    #[test]
    fn the_current_token_rotates_once_then_its_reuse_revokes() {
        let t = token([5; 32], 1000);
        let Exchange::Issued(issue) =
            exchange(&t, grant([5; 32], false), [5; 32], Standing::Active)
        else {
            panic!("rotated");
        };
        let g = issue.grant().clone();
        assert_eq!((g.current_refresh, g.refresh_id), ([7; 32], [8; 16]));
        assert_eq!(
            (g.jti.as_str(), g.last_refreshed_at, g.expires_at),
            ("j1", Some(100), 2000)
        );
        assert_eq!(g.id, [1; 16], "rotation keeps the grant");
        // The old token, presented again, is a superseded one: reuse.
        assert!(!refresh_is_live(&t, &g, &[5; 32], 100));
        let Exchange::Reuse(revoked) = exchange(&t, g, [5; 32], Standing::Active) else {
            panic!("reuse");
        };
        assert!(revoked.grant().revoked);
        // And the new token of the revoked grant is dead.
        let fresh = token([7; 32], 2000);
        assert!(!refresh_is_live(&fresh, revoked.grant(), &[7; 32], 100));
        let after = exchange(&fresh, revoked.grant().clone(), [7; 32], Standing::Active);
        assert!(matches!(after, Exchange::Invalid));
    }

    #[test]
    fn expired_revoked_and_foreign_tokens_are_invalid_and_change_nothing() {
        let expired = token([5; 32], 100);
        assert!(!refresh_is_live(
            &expired,
            &grant([5; 32], false),
            &[5; 32],
            100
        ));
        let out = exchange(&expired, grant([5; 32], false), [5; 32], Standing::Active);
        assert!(matches!(out, Exchange::Invalid));
        let live = token([5; 32], 1000);
        let out = exchange(&live, grant([5; 32], true), [5; 32], Standing::Active);
        assert!(matches!(out, Exchange::Invalid));
        let out = Refresh::of(&live, grant([5; 32], false), &[5; 32], 100).exchange(
            "other",
            Standing::Active,
            100,
            &new(),
        );
        assert!(matches!(out, Exchange::Invalid));
        // A foreign client's superseded token is not "reuse" either.
        let out = Refresh::of(&live, grant([6; 32], false), &[5; 32], 100).exchange(
            "other",
            Standing::Inactive,
            100,
            &new(),
        );
        assert!(matches!(out, Exchange::Invalid));
    }

    #[test]
    fn a_disabled_users_grant_is_revoked_on_refresh() {
        let t = token([5; 32], 1000);
        assert!(refresh_is_live(&t, &grant([5; 32], false), &[5; 32], 100));
        let out = exchange(&t, grant([5; 32], false), [5; 32], Standing::Inactive);
        let Exchange::UserInactive(revoked) = out else {
            panic!("revoked");
        };
        assert!(revoked.grant().revoked);
        // A superseded token of a disabled user's grant: revoked, reported as inactive.
        let out = exchange(&t, grant([6; 32], false), [5; 32], Standing::Inactive);
        assert!(matches!(out, Exchange::UserInactive(_)));
    }

    #[test]
    fn revoking_a_current_token_revokes_its_grant() {
        let t = token([5; 32], 1000);
        let Refresh::Current(c) = Refresh::of(&t, grant([5; 32], false), &[5; 32], 100) else {
            panic!("current");
        };
        assert!(c.revoke(100).grant().revoked);
    }
}
