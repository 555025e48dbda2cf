//! The domain operations: every read and write the server performs.

use redb::{ReadableTable, ReadableTableMetadata};

use super::records::{
    AccessToken, Client, DeviceAuth, DeviceStatus, Grant, PollCheck, RefreshToken, Session, User,
    decode,
};
use super::tables::{
    ACCESS_TOKENS, CLIENTS, DEVICE_CODES, GRANTS, META, REFRESH_TOKENS, SESSIONS, USER_CODES, USERS,
};
use super::{Store, StoreError, Tx};

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

/// Result of recording a decision.
#[derive(Clone, Debug, PartialEq)]
pub enum DecideOutcome {
    /// Recorded; here is the request as it now stands.
    Done(DeviceAuth),
    /// No live request has this user code.
    NotFound,
    /// The request expired before the decision.
    Expired,
    /// Someone already approved or denied it.
    AlreadyDecided,
}

/// Identifiers and lifetimes of the tokens an exchange mints, chosen by the caller
/// (which owns the RNG and the clock) before the write.
#[derive(Clone, Debug)]
pub struct NewTokens {
    /// Id of a new grant (ignored when rotating an existing one).
    pub grant_id: [u8; 16],
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
}

/// Result of redeeming an approved device code.
#[derive(Clone, Debug, PartialEq)]
pub enum RedeemOutcome {
    /// Tokens may be issued for this new grant.
    Issued(Box<Grant>),
    /// Not redeemable; here is why (never `Approved`).
    Refused(PollCheck),
    /// No such device code.
    Unknown,
}

/// Result of exchanging a refresh token.
#[derive(Clone, Debug, PartialEq)]
pub enum RotateOutcome {
    /// New tokens may be issued; the grant as it now stands.
    Rotated(Box<Grant>),
    /// A superseded token was presented: the whole grant has been revoked.
    ReuseDetected,
    /// Unknown, expired, revoked or another client's token.
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

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Expired device authorizations.
    pub device_codes: usize,
    /// Expired access-token entries.
    pub access_tokens: usize,
    /// Expired or superseded refresh tokens.
    pub refresh_tokens: usize,
    /// Expired sessions.
    pub sessions: usize,
}

/// Records the refresh token and the access token `jti` an exchange mints for a
/// grant; shared by redemption and rotation so both keep the same invariants.
fn record_new_tokens(tx: &Tx<'_>, grant_id: [u8; 16], new: &NewTokens) -> Result<(), StoreError> {
    tx.put(
        REFRESH_TOKENS,
        new.refresh_hash.as_slice(),
        &RefreshToken {
            grant_id,
            expires_at: new.refresh_expires_at,
            superseded: false,
        },
    )?;
    tx.put(
        ACCESS_TOKENS,
        new.jti.as_str(),
        &AccessToken {
            grant_id,
            expires_at: new.access_expires_at,
            revoked: false,
        },
    )
}

/// Device codes stay this long after expiry so a late poll still gets
/// `expired_token` rather than `invalid_grant`.
const DEVICE_CODE_GRACE_SECS: u64 = 3600;

impl Store {
    // ---- users, clients, sessions, settings -------------------------------------

    /// The user with this login name.
    pub fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.get(USERS, username)
    }

    /// Every user, for admin listings.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.scan(USERS)
    }

    /// The client with this id.
    pub fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        self.get(CLIENTS, id)
    }

    /// Every client, for admin listings.
    pub fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.scan(CLIENTS)
    }

    /// Creates a user and a client together if no user exists yet (first run), in
    /// one transaction so a crash can't leave half a bootstrap. Returns whether it did.
    pub fn bootstrap_blocking(
        &self,
        admin: User,
        clients: Vec<Client>,
    ) -> Result<bool, StoreError> {
        self.writer.write_blocking(move |t| {
            let tx = Tx(t);
            if tx.0.open_table(USERS)?.len()? > 0 {
                return Ok(false);
            }
            tx.put(USERS, admin.username.as_str(), &admin)?;
            for c in clients {
                if tx.get::<_, Client>(CLIENTS, c.id.as_str())?.is_none() {
                    tx.put(CLIENTS, c.id.as_str(), &c)?;
                }
            }
            Ok(true)
        })
    }

    /// A server-wide secret, created with `init` on first use and stable afterwards.
    pub fn meta_secret_blocking(
        &self,
        name: &'static str,
        init: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        if let Some(v) = self.get_raw(META, name)? {
            return Ok(v);
        }
        self.writer.write_blocking(move |t| {
            let tx = Tx(t);
            if let Some(v) = tx.get_raw(META, name)? {
                return Ok(v);
            }
            tx.put_raw(META, name, &init)?;
            Ok(init)
        })
    }

    /// The browser session with this cookie hash, if live.
    pub fn session(&self, hash: &[u8; 32], now: u64) -> Result<Option<Session>, StoreError> {
        Ok(self
            .get::<_, Session>(SESSIONS, hash.as_slice())?
            .filter(|s| s.expires_at > now))
    }

    /// Records a new login session.
    pub async fn create_session(&self, hash: [u8; 32], session: Session) -> Result<(), StoreError> {
        self.writer
            .write(move |t| Tx(t).put(SESSIONS, hash.as_slice(), &session))
            .await
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.writer
            .write(move |t| Tx(t).remove(SESSIONS, hash.as_slice()))
            .await
    }

    // ---- device authorizations ---------------------------------------------------

    /// Stores a new device authorization. Returns `false` (and stores nothing) if the
    /// user code is already taken by a live request; the caller draws another.
    pub async fn create_device_auth(
        &self,
        code_hash: [u8; 32],
        auth: DeviceAuth,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                if let Some(existing) = tx.get_raw(USER_CODES, auth.user_code.as_str())? {
                    let live = tx
                        .get::<_, DeviceAuth>(DEVICE_CODES, existing.as_slice())?
                        .is_some_and(|d| d.expires_at > auth.created_at);
                    if live {
                        return Ok(false);
                    }
                }
                tx.put_raw(USER_CODES, auth.user_code.as_str(), &code_hash)?;
                tx.put(DEVICE_CODES, code_hash.as_slice(), &auth)?;
                Ok(true)
            })
            .await
    }

    /// The device authorization for a device-code hash (the polling path: a read).
    pub fn device_auth(&self, code_hash: &[u8; 32]) -> Result<Option<DeviceAuth>, StoreError> {
        self.get(DEVICE_CODES, code_hash.as_slice())
    }

    /// The device authorization a user code points at.
    pub fn device_auth_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        match self.get_raw(USER_CODES, user_code)? {
            Some(hash) => self.get(DEVICE_CODES, hash.as_slice()),
            None => Ok(None),
        }
    }

    /// Records Approve or Deny for the pending request with this user code.
    pub async fn decide(
        &self,
        user_code: String,
        decision: Decision,
        now: u64,
    ) -> Result<DecideOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(hash) = tx.get_raw(USER_CODES, user_code.as_str())? else {
                    return Ok(DecideOutcome::NotFound);
                };
                let Some(mut auth) = tx.get::<_, DeviceAuth>(DEVICE_CODES, hash.as_slice())? else {
                    return Ok(DecideOutcome::NotFound);
                };
                if now >= auth.expires_at {
                    return Ok(DecideOutcome::Expired);
                }
                if auth.status != DeviceStatus::Pending {
                    return Ok(DecideOutcome::AlreadyDecided);
                }
                auth.status = match decision {
                    Decision::Approve { user_id, username } => DeviceStatus::Approved {
                        user_id,
                        username,
                        at: now,
                    },
                    Decision::Deny => DeviceStatus::Denied { at: now },
                };
                tx.put(DEVICE_CODES, hash.as_slice(), &auth)?;
                Ok(DecideOutcome::Done(auth))
            })
            .await
    }

    /// Exchanges an approved device code for a new grant, exactly once: the check and
    /// the `Redeemed` mark happen in the same serialized write, so two racing polls
    /// can't both win.
    pub async fn redeem(
        &self,
        code_hash: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> Result<RedeemOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(mut auth) = tx.get::<_, DeviceAuth>(DEVICE_CODES, code_hash.as_slice())?
                else {
                    return Ok(RedeemOutcome::Unknown);
                };
                let (user_id, username) = match auth.poll_check(&client_id, now) {
                    PollCheck::Approved { user_id, username } => (user_id, username),
                    other => return Ok(RedeemOutcome::Refused(other)),
                };
                auth.status = DeviceStatus::Redeemed { at: now };
                tx.put(DEVICE_CODES, code_hash.as_slice(), &auth)?;
                let grant = Grant {
                    id: new.grant_id,
                    user_id,
                    username,
                    client_id,
                    scope: auth.scope.clone(),
                    created_at: now,
                    last_refreshed_at: None,
                    expires_at: new.refresh_expires_at,
                    current_refresh: new.refresh_hash,
                    revoked: false,
                    device_ip: new.device_ip.clone(),
                };
                tx.put(GRANTS, grant.id.as_slice(), &grant)?;
                record_new_tokens(&tx, grant.id, &new)?;
                Ok(RedeemOutcome::Issued(Box::new(grant)))
            })
            .await
    }

    // ---- grants and tokens ------------------------------------------------------

    /// Rotates a refresh token: the presented one is superseded and a new one becomes
    /// current. Presenting a superseded token revokes the whole grant (RFC 6819
    /// §5.2.2.3 / OAuth 2.0 Security BCP §4.14), including its newest refresh token.
    pub async fn rotate_refresh(
        &self,
        presented: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> Result<RotateOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(mut old) =
                    tx.get::<_, RefreshToken>(REFRESH_TOKENS, presented.as_slice())?
                else {
                    return Ok(RotateOutcome::Invalid);
                };
                let Some(mut grant) = tx.get::<_, Grant>(GRANTS, old.grant_id.as_slice())? else {
                    return Ok(RotateOutcome::Invalid);
                };
                if grant.client_id != client_id {
                    return Ok(RotateOutcome::Invalid);
                }
                if grant.revoked || old.expires_at <= now {
                    return Ok(RotateOutcome::Invalid);
                }
                if old.superseded || grant.current_refresh != presented {
                    grant.revoked = true;
                    tx.put(GRANTS, grant.id.as_slice(), &grant)?;
                    return Ok(RotateOutcome::ReuseDetected);
                }
                old.superseded = true;
                tx.put(REFRESH_TOKENS, presented.as_slice(), &old)?;
                record_new_tokens(&tx, grant.id, &new)?;
                grant.current_refresh = new.refresh_hash;
                grant.last_refreshed_at = Some(now);
                grant.expires_at = new.refresh_expires_at;
                tx.put(GRANTS, grant.id.as_slice(), &grant)?;
                Ok(RotateOutcome::Rotated(Box::new(grant)))
            })
            .await
    }

    /// A refresh token and its grant, for introspection.
    pub fn refresh_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<(RefreshToken, Grant)>, StoreError> {
        let Some(rt) = self.get::<_, RefreshToken>(REFRESH_TOKENS, hash.as_slice())? else {
            return Ok(None);
        };
        Ok(self
            .get::<_, Grant>(GRANTS, rt.grant_id.as_slice())?
            .map(|g| (rt, g)))
    }

    /// An issued access token's record and its grant, for introspection.
    pub fn access_token(&self, jti: &str) -> Result<Option<(AccessToken, Grant)>, StoreError> {
        let Some(at) = self.get::<_, AccessToken>(ACCESS_TOKENS, jti)? else {
            return Ok(None);
        };
        Ok(self
            .get::<_, Grant>(GRANTS, at.grant_id.as_slice())?
            .map(|g| (at, g)))
    }

    /// Revokes the grant a refresh token belongs to (RFC 7009 §2.1: revoking a
    /// refresh token also invalidates the access tokens of the same grant).
    pub async fn revoke_refresh(
        &self,
        hash: [u8; 32],
        client_id: String,
    ) -> Result<RevokeOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(rt) = tx.get::<_, RefreshToken>(REFRESH_TOKENS, hash.as_slice())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                let Some(mut grant) = tx.get::<_, Grant>(GRANTS, rt.grant_id.as_slice())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                if grant.client_id != client_id {
                    return Ok(RevokeOutcome::WrongClient);
                }
                grant.revoked = true;
                tx.put(GRANTS, grant.id.as_slice(), &grant)?;
                Ok(RevokeOutcome::Revoked)
            })
            .await
    }

    /// Revokes one access token by `jti`; remembered until the token expires.
    pub async fn revoke_access(
        &self,
        jti: String,
        client_id: String,
    ) -> Result<RevokeOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(mut at) = tx.get::<_, AccessToken>(ACCESS_TOKENS, jti.as_str())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                let owner = tx
                    .get::<_, Grant>(GRANTS, at.grant_id.as_slice())?
                    .map(|g| g.client_id);
                if owner.as_deref() != Some(client_id.as_str()) {
                    return Ok(RevokeOutcome::WrongClient);
                }
                at.revoked = true;
                tx.put(ACCESS_TOKENS, jti.as_str(), &at)?;
                Ok(RevokeOutcome::Revoked)
            })
            .await
    }

    /// The grants a user has given, newest first, for the account page.
    pub fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let mut grants: Vec<Grant> = self
            .scan::<_, Grant>(GRANTS)?
            .into_iter()
            .filter(|g| g.user_id == user_id)
            .collect();
        grants.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        Ok(grants)
    }

    /// Revokes grants of one user: the one with `grant_id`, or all when `None`.
    /// Returns how many were revoked.
    pub async fn revoke_user_grants(
        &self,
        user_id: String,
        grant_id: Option<[u8; 16]>,
    ) -> Result<usize, StoreError> {
        self.writer
            .write(move |t| {
                super::admin::revoke_grants(&Tx(t), |g| {
                    g.user_id == user_id && grant_id.is_none_or(|id| id == g.id)
                })
            })
            .await
    }

    /// Removes what can no longer matter: device codes an hour past expiry, access
    /// token entries past expiry, refresh tokens past expiry, expired sessions.
    pub async fn sweep(&self, now: u64) -> Result<SweepStats, StoreError> {
        self.writer
            .write(move |t| {
                let mut stats = SweepStats::default();
                let mut expired_user_codes = Vec::new();
                {
                    let mut table = t.open_table(DEVICE_CODES)?;
                    table.retain(|k, v| {
                        let keep = decode::<DeviceAuth>("device_codes", v)
                            .map(|d| {
                                let keep = d.expires_at + DEVICE_CODE_GRACE_SECS > now;
                                if !keep {
                                    expired_user_codes.push((d.user_code, k.to_vec()));
                                }
                                keep
                            })
                            .unwrap_or(true);
                        stats.device_codes += usize::from(!keep);
                        keep
                    })?;
                }
                {
                    let mut codes = t.open_table(USER_CODES)?;
                    for (code, hash) in expired_user_codes {
                        // The code may have been reused by a newer request: keep that.
                        let points_here = codes
                            .get(code.as_str())?
                            .is_some_and(|v| v.value() == hash.as_slice());
                        if points_here {
                            codes.remove(code.as_str())?;
                        }
                    }
                }
                t.open_table(ACCESS_TOKENS)?.retain(|_, v| {
                    let keep = decode::<AccessToken>("access_tokens", v)
                        .map(|a| a.expires_at > now)
                        .unwrap_or(true);
                    stats.access_tokens += usize::from(!keep);
                    keep
                })?;
                t.open_table(REFRESH_TOKENS)?.retain(|_, v| {
                    let keep = decode::<RefreshToken>("refresh_tokens", v)
                        .map(|r| r.expires_at > now)
                        .unwrap_or(true);
                    stats.refresh_tokens += usize::from(!keep);
                    keep
                })?;
                t.open_table(SESSIONS)?.retain(|_, v| {
                    let keep = decode::<Session>("sessions", v)
                        .map(|s| s.expires_at > now)
                        .unwrap_or(true);
                    stats.sessions += usize::from(!keep);
                    keep
                })?;
                stats.sessions += super::sessions::sweep_session_meta(t, now)?;
                Ok(stats)
            })
            .await
    }
}
