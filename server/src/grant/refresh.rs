//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (OAuth 2.0
//! Security BCP §4.14): Current → rotated | Revoked; a superseded token presented
//! again revokes the whole grant.
//!
//! One exception, the retry window: an answer can be lost (Wi-Fi drop, timeout,
//! power loss before the device wrote its flash), and the device then presents the
//! token it still holds, the one just superseded. If that comes back from the same
//! client (and key, for a bound grant) within the window after its rotation, while
//! the token that replaced it is still unused, a fresh pair is issued and the unused
//! one retired ([`Exchange::Retried`]): the grant keeps exactly one live refresh
//! token. After the window, or once the newer token was used (then the presented
//! one is no longer its predecessor), it is reuse as before.

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
    /// What the current refresh token was issued in answer to: the one credential
    /// whose prompt second presentation is a retry of a lost answer.
    pub issued_for: IssuedFor,
}

/// What a grant's current refresh token answered. Its presence is also what makes
/// "the newer token is still unused" cheap: using the current token rotates it and
/// overwrites this, so the presented credential no longer matches.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum IssuedFor {
    /// Not recorded (a grant stored by version 3 or older, or a dump without it):
    /// nothing may be retried. First, so it encodes as the byte 0.
    #[default]
    Unknown,
    /// The device code the grant was redeemed from, at `at` (Unix seconds); the
    /// grant's tokens are unused while this holds.
    DeviceCode {
        /// When the code was redeemed (a retry keeps it: the window never grows).
        at: u64,
    },
    /// The rotation of the refresh token with hash `previous`, first at `at`.
    Refresh {
        /// SHA-256 of the superseded token, checked in constant time.
        previous: [u8; 32],
        /// When it was rotated (a retry keeps it: the window never grows).
        at: u64,
    },
}

impl IssuedFor {
    /// Whether a retry of the answer issued at `at` is still on time at `now`
    /// with a window of `window` seconds: strictly before its end.
    pub fn on_time(at: u64, now: u64, window: u64) -> bool {
        now < at.saturating_add(window)
    }
}

/// Who presents a credential: the authenticated client and the RFC 7638
/// thumbprint of the key of its DPoP proof, if it sent one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presenter {
    /// The authenticated `client_id`.
    pub client_id: String,
    /// The proof's key thumbprint; `None` without a proof.
    pub jkt: Option<String>,
}

impl Presenter {
    /// A client without a DPoP proof.
    pub fn bearer(client_id: impl Into<String>) -> Self {
        Presenter {
            client_id: client_id.into(),
            jkt: None,
        }
    }

    /// Whether it may act for `grant`: the grant's client, and for a grant bound
    /// to a key (RFC 9449 §5) a proof by that key.
    pub fn holds(&self, grant: &Grant) -> bool {
        grant.client_id == self.client_id
            && grant
                .dpop_jkt
                .as_deref()
                .is_none_or(|k| self.jkt.as_deref() == Some(k))
    }
}

/// Tests name a bearer client by its id.
#[cfg(test)]
impl From<&str> for Presenter {
    fn from(client_id: &str) -> Self {
        Presenter::bearer(client_id)
    }
}

/// A retry honoured: the tokens to issue, and the access token of the pair it
/// retired (revoke it: nobody received it).
#[derive(Debug)]
pub struct Retried {
    /// The grant with its new current token.
    pub issue: Issue,
    /// `jti` of the retired pair's access token (empty if none was recorded).
    pub retired_jti: String,
}

impl Retried {
    /// Replaces `grant`'s unused current tokens by those drawn in `new`, at `now`.
    /// What the current token was issued for stays, so a retry never extends the
    /// window.
    pub(super) fn of(mut grant: Grant, now: u64, new: &NewTokens) -> Self {
        let retired_jti = std::mem::replace(&mut grant.jti, new.jti.clone());
        grant.current_refresh = new.refresh_hash;
        grant.refresh_id = new.refresh_id;
        grant.expires_at = new.refresh_expires_at;
        Retried {
            issue: Issue::new(grant, new, now),
            retired_jti,
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
    /// The token the current one replaced, while the current one is unused: a
    /// retry if on time, else reuse.
    Previous(Previous),
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

/// The predecessor of a live grant's unused current token, and when it was
/// rotated.
#[derive(Debug)]
pub struct Previous {
    grant: Grant,
    rotated_at: u64,
}

/// A grant that has just been revoked: persist it, and its tokens stop working.
#[derive(Debug, PartialEq)]
pub struct Revoked(Grant);

/// The outcome of exchanging a refresh token.
#[derive(Debug)]
pub enum Exchange {
    /// Rotated: persist the grant (in the issue) and the new tokens, then issue.
    Issued(Issue),
    /// A retry of a lost answer: persist the grant and the new tokens, revoke the
    /// retired access token, then issue.
    Retried(Retried),
    /// A superseded token came back: the whole grant is revoked (persist it).
    Reuse(Revoked),
    /// The grant's user may no longer get tokens: it is revoked (persist it) and
    /// the exchange refused.
    UserInactive(Revoked),
    /// Expired, revoked, another client's token, or a bound grant's token
    /// without a proof by its key: refused, nothing changes.
    Invalid,
}

impl Refresh {
    /// Classifies `token` of `grant`, presented with hash `presented`, at `now`.
    /// (The caller found `token` by its key and checked `presented` against it.)
    pub fn of(token: &RefreshToken, grant: Grant, presented: &[u8; 32], now: u64) -> Self {
        if grant.revoked || token.expires_at <= now {
            return Refresh::Dead;
        }
        if refresh_is_live(token, &grant, presented, now) {
            return Refresh::Current(Current(grant));
        }
        match grant.issued_for {
            IssuedFor::Refresh { previous, at } if ct_eq(&previous, presented) => {
                Refresh::Previous(Previous {
                    grant,
                    rotated_at: at,
                })
            }
            _ => Refresh::Rotated(Rotated(grant)),
        }
    }

    /// Exchanges the token for `who` at `now`, with the new tokens drawn in `new`,
    /// given the grant's user's `standing` and the retry window (`window` seconds).
    /// Checks, in order: the client and its key, liveness, the user, then reuse or
    /// retry.
    pub fn exchange(
        self,
        who: &Presenter,
        standing: Standing,
        now: u64,
        window: u64,
        new: &NewTokens,
    ) -> Exchange {
        let grant = match &self {
            Refresh::Current(Current(g))
            | Refresh::Rotated(Rotated(g))
            | Refresh::Previous(Previous { grant: g, .. }) => g,
            Refresh::Dead => return Exchange::Invalid,
        };
        if !who.holds(grant) {
            return Exchange::Invalid;
        }
        match (self, standing) {
            (Refresh::Dead, _) => Exchange::Invalid,
            (Refresh::Current(c), Standing::Inactive) => Exchange::UserInactive(c.revoke(now)),
            (Refresh::Rotated(Rotated(g)), Standing::Inactive)
            | (Refresh::Previous(Previous { grant: g, .. }), Standing::Inactive) => {
                Exchange::UserInactive(Revoked::of(g, now))
            }
            (Refresh::Rotated(r), Standing::Active) => Exchange::Reuse(r.revoke(now)),
            (Refresh::Previous(p), Standing::Active) => {
                if IssuedFor::on_time(p.rotated_at, now, window) {
                    Exchange::Retried(Retried::of(p.grant, now, new))
                } else {
                    Exchange::Reuse(Revoked::of(p.grant, now))
                }
            }
            (Refresh::Current(c), Standing::Active) => Exchange::Issued(c.rotate(now, new)),
        }
    }
}

impl Current {
    /// Makes the token drawn in `new` the grant's current one, at `now`.
    pub fn rotate(self, now: u64, new: &NewTokens) -> Issue {
        let mut grant = self.0;
        grant.issued_for = IssuedFor::Refresh {
            previous: grant.current_refresh,
            at: now,
        };
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
            issued_for: IssuedFor::DeviceCode { at: 10 },
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

    /// The retry window of these tests, seconds.
    const WINDOW: u64 = 30;

    fn exchange(t: &RefreshToken, g: Grant, presented: [u8; 32], s: Standing) -> Exchange {
        let who = Presenter::bearer("c");
        Refresh::of(t, g, &presented, 100).exchange(&who, s, 100, WINDOW, &new())
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
        assert_eq!(
            g.issued_for,
            IssuedFor::Refresh {
                previous: [5; 32],
                at: 100
            }
        );
        // The old token, presented again after the retry window, is reuse.
        assert!(!refresh_is_live(&t, &g, &[5; 32], 100));
        let Exchange::Reuse(revoked) = at(&t, g, 5, "c", None, 100 + WINDOW) else {
            panic!("reuse");
        };
        assert!(revoked.grant().revoked);
        // And the new token of the revoked grant is dead.
        let fresh = token([7; 32], 2000);
        assert!(!refresh_is_live(&fresh, revoked.grant(), &[7; 32], 100));
        let after = exchange(&fresh, revoked.grant().clone(), [7; 32], Standing::Active);
        assert!(matches!(after, Exchange::Invalid));
    }

    /// Tokens numbered `n`: refresh hash `[n; 32]`, key `[n; 16]`, jti `j<n>`.
    fn new_n(n: u8) -> NewTokens {
        NewTokens {
            refresh_id: [n; 16],
            refresh_hash: [n; 32],
            jti: format!("j{n}"),
            ..new()
        }
    }

    /// Presents token `n` of `g` for `client` (with key `jkt`) at `now`, drawing
    /// tokens numbered `now` (mod 256).
    fn at(
        t: &RefreshToken,
        g: Grant,
        n: u8,
        client: &str,
        jkt: Option<&str>,
        now: u64,
    ) -> Exchange {
        let who = Presenter {
            client_id: client.into(),
            jkt: jkt.map(str::to_string),
        };
        let drawn = new_n(u8::try_from(now % 256).unwrap_or(0));
        Refresh::of(t, g, &[n; 32], now).exchange(&who, Standing::Active, now, WINDOW, &drawn)
    }

    /// Grant `g` after token 5 (current) was rotated to token 7 at 100.
    fn rotated_5_to_7(g: Grant) -> Grant {
        let Exchange::Issued(issue) = Refresh::of(&token([5; 32], 1000), g, &[5; 32], 100)
            .exchange(
                &Presenter {
                    client_id: "c".into(),
                    jkt: Some("k1".into()),
                },
                Standing::Active,
                100,
                WINDOW,
                &new_n(7),
            )
        else {
            panic!("rotated");
        };
        issue.grant().clone()
    }

    fn retried(e: Exchange) -> Retried {
        match e {
            Exchange::Retried(r) => r,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn the_previous_token_within_the_window_retires_the_unused_pair() {
        let g = rotated_5_to_7(grant([5; 32], false));
        let old = token([5; 32], 1000);
        let r = retried(at(&old, g, 5, "c", None, 100 + WINDOW - 1));
        let g = r.issue.grant().clone();
        // Token 7 and its access token j7 are retired; token 129 is current.
        assert_eq!(r.retired_jti, "j7");
        assert_eq!((g.current_refresh, g.jti.as_str()), ([129; 32], "j129"));
        assert!(!g.revoked);
        // The window stays anchored at the first rotation.
        assert_eq!(
            g.issued_for,
            IssuedFor::Refresh {
                previous: [5; 32],
                at: 100
            }
        );
        // The retired token, presented later, is reuse: the family dies.
        let retired = token([7; 32], 2000);
        let Exchange::Reuse(revoked) = at(&retired, g, 7, "c", None, 120) else {
            panic!("the retired token is reuse");
        };
        assert!(revoked.grant().revoked);
    }

    #[test]
    fn exactly_at_the_window_end_the_previous_token_is_reuse() {
        let g = rotated_5_to_7(grant([5; 32], false));
        let out = at(&token([5; 32], 1000), g, 5, "c", None, 100 + WINDOW);
        assert!(matches!(out, Exchange::Reuse(ref r) if r.grant().revoked));
        // A window of 0 is the old rule: always reuse.
        let g = rotated_5_to_7(grant([5; 32], false));
        let who = Presenter::bearer("c");
        let out = Refresh::of(&token([5; 32], 1000), g, &[5; 32], 100).exchange(
            &who,
            Standing::Active,
            100,
            0,
            &new_n(9),
        );
        assert!(matches!(out, Exchange::Reuse(_)));
    }

    #[test]
    fn another_client_or_key_gets_nothing_and_revokes_nothing() {
        let old = token([5; 32], 1000);
        let g = rotated_5_to_7(grant([5; 32], false));
        assert!(matches!(
            at(&old, g.clone(), 5, "other", None, 101),
            Exchange::Invalid
        ));
        // A bound grant: only a proof by its key retries.
        let bound = Grant {
            dpop_jkt: Some("k1".into()),
            ..g
        };
        for jkt in [None, Some("k2")] {
            let out = at(&old, bound.clone(), 5, "c", jkt, 101);
            assert!(matches!(out, Exchange::Invalid), "{jkt:?}");
        }
        let r = retried(at(&old, bound.clone(), 5, "c", Some("k1"), 101));
        assert_eq!(r.issue.grant().dpop_jkt.as_deref(), Some("k1"));
        // The current token of a bound grant needs the key too.
        let cur = token([7; 32], 2000);
        assert!(matches!(
            at(&cur, bound, 7, "c", Some("k2"), 101),
            Exchange::Invalid
        ));
    }

    #[test]
    fn once_the_newer_token_was_used_the_previous_one_is_reuse() {
        let g = rotated_5_to_7(grant([5; 32], false));
        // Token 7 is used at 105 (rotated to token 105) ...
        let Exchange::Issued(issue) = at(&token([7; 32], 2000), g, 7, "c", None, 105) else {
            panic!("rotated");
        };
        // ... so token 5, within 30 s of its rotation, is reuse all the same.
        let out = at(
            &token([5; 32], 1000),
            issue.grant().clone(),
            5,
            "c",
            None,
            106,
        );
        assert!(matches!(out, Exchange::Reuse(ref r) if r.grant().revoked));
    }

    #[test]
    fn a_double_retry_keeps_one_live_token_and_the_first_window() {
        let old = token([5; 32], 1000);
        let g = rotated_5_to_7(grant([5; 32], false));
        let first = retried(at(&old, g, 5, "c", None, 110));
        let second = retried(at(&old, first.issue.grant().clone(), 5, "c", None, 120));
        assert_eq!(second.retired_jti, "j110");
        let g = second.issue.grant().clone();
        assert_eq!(g.current_refresh, [120; 32]);
        // The first retry's token is retired: reuse.
        let out = at(&token([110; 32], 2000), g.clone(), 110, "c", None, 121);
        assert!(matches!(out, Exchange::Reuse(_)));
        // A third retry after the first rotation's window: reuse.
        let out = at(&old, g, 5, "c", None, 130);
        assert!(matches!(out, Exchange::Reuse(_)));
    }

    #[test]
    fn a_retry_for_a_disabled_user_revokes() {
        let g = rotated_5_to_7(grant([5; 32], false));
        let who = Presenter::bearer("c");
        let out = Refresh::of(&token([5; 32], 1000), g, &[5; 32], 101).exchange(
            &who,
            Standing::Inactive,
            101,
            WINDOW,
            &new_n(9),
        );
        assert!(matches!(out, Exchange::UserInactive(ref r) if r.grant().revoked));
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
        let other = Presenter::bearer("other");
        let out = Refresh::of(&live, grant([5; 32], false), &[5; 32], 100).exchange(
            &other,
            Standing::Active,
            100,
            WINDOW,
            &new(),
        );
        assert!(matches!(out, Exchange::Invalid));
        // A foreign client's superseded token is not "reuse" either.
        let out = Refresh::of(&live, grant([6; 32], false), &[5; 32], 100).exchange(
            &other,
            Standing::Inactive,
            100,
            WINDOW,
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
