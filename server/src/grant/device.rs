//! Device authorization requests (RFC 8628): Pending → Approved | Denied → Redeemed.
//!
//! A redeemed code presented again by the same client (and key) within the retry
//! window, while the tokens it yielded are unused, is a retry of a lost token
//! answer: a fresh pair replaces the unused one ([`Redo::Retried`]). After the
//! window or once those tokens were used, it is a replay, and like a reused
//! authorization code (RFC 6749 §4.1.2) it revokes the grant it yielded.

use serde::{Deserialize, Serialize};

use super::refresh::{IssuedFor, Presenter, Retried};
use super::{Grant, Issue, NewTokens, Revoked, Standing};

/// Where a device authorization request stands, as stored.
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
    /// The person pressed Deny (or the approver was disabled before redemption).
    Denied {
        /// Unix seconds.
        at: u64,
    },
    /// Tokens were issued; the code is spent.
    Redeemed {
        /// Unix seconds.
        at: u64,
        /// The grant it yielded, for a retry of the lost answer (all zeros for a
        /// request stored by version 3 or older: never retried).
        grant_id: [u8; 16],
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
    /// RFC 7638 thumbprint of the DPoP key that asked (RFC 9449 §10 binding of
    /// the device code): only a proof by the same key may redeem it. `None`: asked
    /// without a proof (records of version 2 and older too).
    pub dpop_jkt: Option<String>,
}

/// A final answer to a poll: the device stops polling (RFC 8628 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The code belongs to another client: `invalid_grant`.
    WrongClient,
    /// Past its lifetime: `expired_token`.
    Expired,
    /// The person pressed Deny (or the approver was disabled): `access_denied`.
    Denied,
    /// Already exchanged for tokens: `invalid_grant`.
    Redeemed,
}

/// What a poll finds, as a state the caller can act on.
#[derive(Debug)]
pub enum Poll {
    /// Still waiting for the person: `authorization_pending` (or `slow_down`).
    Pending(Pending),
    /// Approved by a person: may be redeemed, once.
    Approved(Approved),
    /// Already redeemed by this client: a retry of a lost answer, a replay, or
    /// nothing; [`Redeemed::again`] tells which, given the grant it yielded.
    Redeemed(Redeemed),
    /// Nothing more will come of this code.
    Refused(Refusal),
}

impl DeviceAuth {
    /// Classifies this request for a poll by `client_id` at `now`. The read-only
    /// poll path and the redeeming write both use it, so they never disagree.
    ///
    /// Precedence: another client's code is refused first; a redeemed code stays
    /// redeemed after it expires; an expired code is expired whether it was
    /// pending, denied or approved.
    pub fn poll(self, client_id: &str, now: u64) -> Poll {
        if self.client_id != client_id {
            return Poll::Refused(Refusal::WrongClient);
        }
        match self.status {
            DeviceStatus::Redeemed { .. } => Poll::Redeemed(Redeemed(self)),
            _ if now >= self.expires_at => Poll::Refused(Refusal::Expired),
            DeviceStatus::Pending => Poll::Pending(Pending(self)),
            DeviceStatus::Denied { .. } => Poll::Refused(Refusal::Denied),
            DeviceStatus::Approved { .. } => Poll::Approved(Approved(self)),
        }
    }

    /// The public reference of this request, shown on its consent page and posted
    /// back with the decision: a digest of its device code hash, so a user code
    /// reused later by another request doesn't match.
    pub fn reference(&self) -> String {
        let mut input = b"authgate request\0".to_vec();
        input.extend_from_slice(&self.code_hash);
        crate::secrets::hex(&crate::secrets::sha256(&input)[..16])
    }

    /// Whether this is the request a consent page showed as `shown` (any request,
    /// if no page is named): a decision lands only on the request the person saw.
    pub fn is_shown(&self, shown: Option<&str>) -> bool {
        shown.is_none_or(|r| crate::secrets::ct_eq(self.reference().as_bytes(), r.as_bytes()))
    }

    /// Whether a person may still approve or deny it at `now` (the consent page
    /// shows only such requests; [`DeviceAuth::decide`] applies the same rule).
    pub fn awaits_decision(&self, now: u64) -> bool {
        now < self.expires_at && self.status == DeviceStatus::Pending
    }

    /// Records a person's decision at `now`: the request must still be pending and
    /// unexpired. Returns the request as it now stands, to persist.
    pub fn decide(self, decision: Decision, now: u64) -> Result<DeviceAuth, DecideRefusal> {
        if !self.awaits_decision(now) {
            return Err(if now >= self.expires_at {
                DecideRefusal::Expired
            } else {
                DecideRefusal::AlreadyDecided
            });
        }
        let pending = Pending(self);
        Ok(match decision {
            Decision::Approve { user_id, username } => {
                pending.approve(user_id, username, now).into_record()
            }
            Decision::Deny => pending.deny(now).into_record(),
        })
    }
}

/// A person's answer on the consent page.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Approve, as this user.
    Approve {
        /// Subject id.
        user_id: String,
        /// Login name.
        username: String,
    },
    /// Deny.
    Deny,
}

/// Why a decision was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideRefusal {
    /// The request expired before the decision.
    Expired,
    /// Someone already approved or denied it.
    AlreadyDecided,
}

/// A request waiting for a person.
#[derive(Debug)]
pub struct Pending(DeviceAuth);

impl Pending {
    /// The polling interval first announced, seconds (for `slow_down` pacing).
    pub fn interval(&self) -> u32 {
        self.0.interval
    }

    /// The person approved, as `user_id` (`username`), at `now`.
    pub fn approve(self, user_id: String, username: String, now: u64) -> Approved {
        let mut auth = self.0;
        auth.status = DeviceStatus::Approved {
            user_id,
            username,
            at: now,
        };
        Approved(auth)
    }

    /// The person denied, at `now`.
    pub fn deny(self, now: u64) -> Denied {
        let mut auth = self.0;
        auth.status = DeviceStatus::Denied { at: now };
        Denied(auth)
    }
}

/// An approved request, not yet redeemed: the only state tokens come from.
#[derive(Debug)]
pub struct Approved(DeviceAuth);

/// The outcome of redeeming an approved request.
#[derive(Debug)]
pub enum Redemption {
    /// Tokens may be issued: persist the spent request and the new grant.
    Issued {
        /// The request, now spent.
        device: Redeemed,
        /// The new grant and the permission to mint its tokens.
        issue: Box<Issue>,
    },
    /// The approver was disabled or deleted since approving: the approval no longer
    /// stands and is recorded as a denial, so every later poll gets `access_denied`.
    ApproverInactive(Denied),
}

impl Approved {
    /// The request as stored.
    #[cfg(test)]
    pub fn record(&self) -> &DeviceAuth {
        &self.0
    }

    /// The device's IP (kept on the grant).
    pub fn device_ip(&self) -> &str {
        &self.0.requester_ip
    }

    /// Exchanges the approval for a new grant with the tokens drawn in `new`, at
    /// `now`, if the approver still stands.
    pub fn redeem(self, standing: Standing, now: u64, new: &NewTokens) -> Redemption {
        let mut auth = self.0;
        let (user_id, username) = match std::mem::replace(&mut auth.status, DeviceStatus::Pending) {
            DeviceStatus::Approved {
                user_id, username, ..
            } if standing == Standing::Active => (user_id, username),
            _ => {
                auth.status = DeviceStatus::Denied { at: now };
                return Redemption::ApproverInactive(Denied(auth));
            }
        };
        auth.status = DeviceStatus::Redeemed {
            at: now,
            grant_id: new.grant_id,
        };
        let grant = Grant {
            id: new.grant_id,
            user_id,
            username,
            client_id: auth.client_id.clone(),
            scope: auth.scope.clone(),
            created_at: now,
            last_refreshed_at: None,
            expires_at: new.refresh_expires_at,
            current_refresh: new.refresh_hash,
            revoked: false,
            device_ip: new.device_ip.clone(),
            refresh_id: new.refresh_id,
            jti: new.jti.clone(),
            dpop_jkt: new.dpop_jkt.clone(),
            issued_for: IssuedFor::DeviceCode { at: now },
        };
        Redemption::Issued {
            device: Redeemed(auth),
            issue: Box::new(Issue::new(grant, new, now)),
        }
    }

    /// Who approved: (user id, login name).
    pub fn approver(&self) -> (&str, &str) {
        match &self.0.status {
            DeviceStatus::Approved {
                user_id, username, ..
            } => (user_id, username),
            _ => ("", ""),
        }
    }
}

/// A denied request (by the person, or because the approver lost their standing).
#[derive(Debug)]
pub struct Denied(DeviceAuth);

/// A spent request: it was exchanged for tokens.
#[derive(Debug)]
pub struct Redeemed(DeviceAuth);

/// What presenting a redeemed code again means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Again {
    /// On time, tokens unused: a retry of the lost answer (a write).
    Retry,
    /// Too late, or its tokens were used: revoke the grant it yielded (a write).
    Replay,
    /// Nothing to do (grant gone or revoked, request of an old version, or
    /// another key): `invalid_grant`, nothing written.
    Spent,
}

/// The outcome of presenting a redeemed code again, to persist.
#[derive(Debug)]
pub enum Redo {
    /// A fresh pair replaces the unused one: persist the grant and the new
    /// tokens, revoke the retired access token, then issue.
    Retried(Retried),
    /// A replay: the grant is revoked (persist it).
    Replayed(Revoked),
    /// The grant's user may no longer get tokens: revoked (persist it).
    UserInactive(Revoked),
    /// Nothing changes.
    Spent,
}

impl Redeemed {
    /// The grant the code yielded, if recorded.
    pub fn grant_id(&self) -> Option<[u8; 16]> {
        match self.0.status {
            DeviceStatus::Redeemed { grant_id, .. } if grant_id != [0; 16] => Some(grant_id),
            _ => None,
        }
    }

    /// Classifies presenting the code again by `who` at `now`, given the grant it
    /// yielded as stored (`grant`) and the retry window (`window` seconds). Used
    /// on the read path first, so a spent code costs no write, then again under
    /// the write's lock by [`Redeemed::redo`].
    pub fn again(&self, grant: Option<&Grant>, who: &Presenter, now: u64, window: u64) -> Again {
        let mine = grant.filter(|g| Some(g.id) == self.grant_id() && !g.revoked);
        match mine {
            Some(g) if who.holds(g) => match g.issued_for {
                IssuedFor::DeviceCode { at } if IssuedFor::on_time(at, now, window) => Again::Retry,
                _ => Again::Replay,
            },
            _ => Again::Spent,
        }
    }

    /// Presents the code again (see [`Redeemed::again`]), given the standing of
    /// the grant's user, with the tokens drawn in `new`.
    pub fn redo(
        self,
        grant: Option<Grant>,
        who: &Presenter,
        standing: Standing,
        now: u64,
        window: u64,
        new: &NewTokens,
    ) -> Redo {
        let again = self.again(grant.as_ref(), who, now, window);
        let Some(grant) = grant.filter(|_| again != Again::Spent) else {
            return Redo::Spent;
        };
        match (again, standing) {
            (Again::Spent, _) => Redo::Spent,
            (_, Standing::Inactive) => Redo::UserInactive(Revoked::of(grant, now)),
            (Again::Replay, Standing::Active) => Redo::Replayed(Revoked::of(grant, now)),
            (Again::Retry, Standing::Active) => Redo::Retried(Retried::of(grant, now, new)),
        }
    }
}

macro_rules! into_record {
    ($($t:ident),*) => {$(
        impl $t {
            /// The request in this state, to persist.
            pub fn into_record(self) -> DeviceAuth {
                self.0
            }
        }
    )*};
}
into_record!(Approved, Denied, Redeemed);

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
            dpop_jkt: None,
        }
    }

    fn approved_status() -> DeviceStatus {
        DeviceStatus::Approved {
            user_id: "u".into(),
            username: "n".into(),
            at: 1,
        }
    }

    fn new_tokens() -> NewTokens {
        NewTokens {
            grant_id: [1; 16],
            refresh_id: [2; 16],
            refresh_hash: [3; 32],
            refresh_expires_at: 1000,
            jti: "j".into(),
            access_expires_at: 500,
            device_ip: "192.0.2.1".into(),
            dpop_jkt: None,
        }
    }

    fn refusal(p: Poll) -> Option<Refusal> {
        match p {
            Poll::Refused(r) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn poll_covers_every_state_and_the_precedence() {
        let pending = auth(DeviceStatus::Pending).poll("c", 150);
        assert!(matches!(pending, Poll::Pending(ref p) if p.interval() == 5));
        let wrong = auth(DeviceStatus::Pending).poll("x", 150);
        assert_eq!(refusal(wrong), Some(Refusal::WrongClient));
        let expired = auth(DeviceStatus::Pending).poll("c", 200);
        assert_eq!(refusal(expired), Some(Refusal::Expired));
        let denied = auth(DeviceStatus::Denied { at: 1 }).poll("c", 150);
        assert_eq!(refusal(denied), Some(Refusal::Denied));
        let denied_late = auth(DeviceStatus::Denied { at: 1 }).poll("c", 250);
        assert_eq!(refusal(denied_late), Some(Refusal::Expired));
        // Redeemed wins over expired: the code was used, that is the answer.
        let spent = || DeviceStatus::Redeemed {
            at: 1,
            grant_id: [1; 16],
        };
        let redeemed = auth(spent()).poll("c", 300);
        assert!(matches!(redeemed, Poll::Redeemed(ref r) if r.grant_id() == Some([1; 16])));
        // Another client's code is refused before anything about its state leaks.
        let other = auth(spent()).poll("x", 300);
        assert_eq!(refusal(other), Some(Refusal::WrongClient));
        let approved = auth(approved_status()).poll("c", 150);
        assert!(matches!(approved, Poll::Approved(ref a) if a.approver() == ("u", "n")));
        // Expired and approved: the approval came too late to be redeemed.
        let late = auth(approved_status()).poll("c", 250);
        assert_eq!(refusal(late), Some(Refusal::Expired));
    }

    #[test]
    fn decide_approves_or_denies_a_pending_request_once() {
        let approve = Decision::Approve {
            user_id: "u".into(),
            username: "n".into(),
        };
        let done = auth(DeviceStatus::Pending)
            .decide(approve.clone(), 150)
            .expect("pending");
        assert!(matches!(
            done.status,
            DeviceStatus::Approved { at: 150, .. }
        ));
        let again = done.clone().decide(Decision::Deny, 151);
        assert_eq!(again, Err(DecideRefusal::AlreadyDecided));
        let denied = auth(DeviceStatus::Pending).decide(Decision::Deny, 150);
        assert_eq!(
            denied.map(|d| d.status),
            Ok(DeviceStatus::Denied { at: 150 })
        );
        assert!(auth(DeviceStatus::Pending).awaits_decision(199));
        assert!(!auth(DeviceStatus::Pending).awaits_decision(200));
        assert!(!auth(DeviceStatus::Denied { at: 1 }).awaits_decision(150));
        let late = auth(DeviceStatus::Pending).decide(approve, 200);
        assert_eq!(late, Err(DecideRefusal::Expired));
        // Expiry is reported before "already decided".
        let decided_late = auth(DeviceStatus::Denied { at: 1 }).decide(Decision::Deny, 300);
        assert_eq!(decided_late, Err(DecideRefusal::Expired));
    }

    #[test]
    fn redeeming_issues_once_then_the_code_is_spent() {
        let Poll::Approved(a) = auth(approved_status()).poll("c", 150) else {
            panic!("approved");
        };
        assert_eq!(a.device_ip(), "127.0.0.1");
        let new = new_tokens();
        let Redemption::Issued { device, issue } = a.redeem(Standing::Active, 150, &new) else {
            panic!("issued");
        };
        assert_eq!(issue.grant().user_id, "u");
        assert_eq!(issue.grant().scope, "read");
        assert_eq!(issue.grant().current_refresh, new.refresh_hash);
        assert_eq!((issue.jti(), issue.now()), ("j", 150));
        assert_eq!(issue.refresh_id(), &new.refresh_id);
        assert_eq!(issue.access_expires_at(), 500);
        assert_eq!(issue.grant().issued_for, IssuedFor::DeviceCode { at: 150 });
        // Redeemed twice: the stored record answers `Redeemed`, no second Approved.
        let spent = device.into_record();
        assert_eq!(
            spent.status,
            DeviceStatus::Redeemed {
                at: 150,
                grant_id: [1; 16]
            }
        );
        assert!(matches!(spent.poll("c", 151), Poll::Redeemed(_)));
    }

    /// The retry window of these tests, seconds.
    const WINDOW: u64 = 30;

    /// A code redeemed at 150 by client `c` (with key `jkt`, binding the grant),
    /// and the grant it yielded.
    fn redeemed(jkt: Option<&str>) -> (Redeemed, Grant) {
        let Poll::Approved(a) = auth(approved_status()).poll("c", 150) else {
            panic!("approved");
        };
        let new = NewTokens {
            dpop_jkt: jkt.map(str::to_string),
            ..new_tokens()
        };
        let Redemption::Issued { device, issue } = a.redeem(Standing::Active, 150, &new) else {
            panic!("issued");
        };
        let Poll::Redeemed(r) = device.into_record().poll("c", 150) else {
            panic!("redeemed");
        };
        (r, issue.grant().clone())
    }

    fn who(jkt: Option<&str>) -> Presenter {
        Presenter {
            client_id: "c".into(),
            jkt: jkt.map(str::to_string),
        }
    }

    fn drawn(n: u8) -> NewTokens {
        NewTokens {
            refresh_id: [n; 16],
            refresh_hash: [n; 32],
            jti: format!("j{n}"),
            ..new_tokens()
        }
    }

    #[test]
    fn a_redeemed_code_within_the_window_retires_the_unused_pair() {
        let (r, g) = redeemed(None);
        assert_eq!(r.again(Some(&g), &who(None), 179, WINDOW), Again::Retry);
        let Redo::Retried(retried) = r.redo(
            Some(g),
            &who(None),
            Standing::Active,
            179,
            WINDOW,
            &drawn(9),
        ) else {
            panic!("retried");
        };
        assert_eq!(retried.retired_jti, "j");
        let g = retried.issue.grant().clone();
        assert_eq!((g.current_refresh, g.jti.as_str()), ([9; 32], "j9"));
        assert_eq!(g.id, [1; 16], "the same grant");
        // Anchored at the redemption: a retry never extends the window.
        assert_eq!(g.issued_for, IssuedFor::DeviceCode { at: 150 });
        // A double retry: still on time, still the same grant.
        let (r, _) = redeemed(None);
        assert_eq!(r.again(Some(&g), &who(None), 170, WINDOW), Again::Retry);
    }

    #[test]
    fn at_the_window_end_or_once_used_a_redeemed_code_is_a_replay() {
        let (r, g) = redeemed(None);
        assert_eq!(r.again(Some(&g), &who(None), 180, WINDOW), Again::Replay);
        let Redo::Replayed(revoked) = r.redo(
            Some(g.clone()),
            &who(None),
            Standing::Active,
            180,
            WINDOW,
            &drawn(9),
        ) else {
            panic!("replayed");
        };
        assert!(revoked.grant().revoked);
        // Its refresh token was used (rotated): a replay, even on time.
        let used = Grant {
            issued_for: IssuedFor::Refresh {
                previous: g.current_refresh,
                at: 160,
            },
            ..g.clone()
        };
        let (r, _) = redeemed(None);
        assert_eq!(r.again(Some(&used), &who(None), 161, WINDOW), Again::Replay);
        // A revoked or missing grant: nothing to do, nothing written.
        let revoked = Grant {
            revoked: true,
            ..g.clone()
        };
        assert_eq!(
            r.again(Some(&revoked), &who(None), 161, WINDOW),
            Again::Spent
        );
        assert_eq!(r.again(None, &who(None), 161, WINDOW), Again::Spent);
        let other = Grant { id: [2; 16], ..g };
        assert_eq!(r.again(Some(&other), &who(None), 161, WINDOW), Again::Spent);
    }

    #[test]
    fn another_client_or_key_cannot_retry_or_replay_a_redeemed_code() {
        let (_, g) = redeemed(Some("k1"));
        let spent = || {
            auth(DeviceStatus::Redeemed {
                at: 150,
                grant_id: [1; 16],
            })
        };
        assert_eq!(refusal(spent().poll("x", 151)), Some(Refusal::WrongClient));
        let Poll::Redeemed(r) = spent().poll("c", 151) else {
            panic!("redeemed");
        };
        assert_eq!(r.again(Some(&g), &who(None), 151, WINDOW), Again::Spent);
        assert_eq!(
            r.again(Some(&g), &who(Some("k2")), 151, WINDOW),
            Again::Spent
        );
        assert_eq!(
            r.again(Some(&g), &who(Some("k1")), 151, WINDOW),
            Again::Retry
        );
        // A request stored before grant ids were recorded is never retried.
        let Poll::Redeemed(old) = auth(DeviceStatus::Redeemed {
            at: 150,
            grant_id: [0; 16],
        })
        .poll("c", 151) else {
            panic!("redeemed");
        };
        assert_eq!(old.grant_id(), None);
        assert_eq!(
            old.again(Some(&g), &who(Some("k1")), 151, WINDOW),
            Again::Spent
        );
    }

    #[test]
    fn a_retry_for_a_disabled_user_revokes_the_grant() {
        let (r, g) = redeemed(None);
        let out = r.redo(
            Some(g),
            &who(None),
            Standing::Inactive,
            151,
            WINDOW,
            &drawn(9),
        );
        assert!(matches!(out, Redo::UserInactive(ref v) if v.grant().revoked));
    }

    #[test]
    fn a_disabled_approver_turns_the_approval_into_a_denial() {
        let Poll::Approved(a) = auth(approved_status()).poll("c", 150) else {
            panic!("approved");
        };
        let Redemption::ApproverInactive(denied) = a.redeem(Standing::Inactive, 160, &new_tokens())
        else {
            panic!("refused");
        };
        let record = denied.into_record();
        assert_eq!(record.status, DeviceStatus::Denied { at: 160 });
        assert_eq!(refusal(record.poll("c", 161)), Some(Refusal::Denied));
    }

    #[test]
    fn pending_transitions_carry_their_data() {
        let Poll::Pending(p) = auth(DeviceStatus::Pending).poll("c", 150) else {
            panic!("pending");
        };
        let approved = p.approve("u".into(), "n".into(), 151);
        assert_eq!(approved.approver(), ("u", "n"));
        assert_eq!(approved.record().user_code, "BCDFGHJK");
        let Poll::Pending(p) = auth(DeviceStatus::Pending).poll("c", 150) else {
            panic!("pending");
        };
        assert_eq!(
            p.deny(152).into_record().status,
            DeviceStatus::Denied { at: 152 }
        );
    }
}
