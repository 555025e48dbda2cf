//! The domain operations: every read and write the server performs.

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTableMetadata};

use super::expiry::{self, Kind};
use super::grants;
use super::records::{
    AccessToken, Client, DeviceAuth, DeviceStatus, Grant, PollCheck, RefreshToken, Session, User,
    decode,
};
use super::tables::{
    ACCESS_TOKENS, CLIENTS, DEVICE_CODES, EXPIRIES, GRANTS, GRANTS_BY_USER, META, REFRESH_TOKENS,
    SESSIONS, USERS,
};
use super::user_codes::UserCodes;
use super::{Store, StoreError, Tx};
use crate::secrets::ct_eq;

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
    Done(Box<DeviceAuth>),
    /// No request waiting for a decision has this user code.
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
    /// Expiry-index entries processed.
    pub entries: usize,
    /// Expired device authorizations.
    pub device_codes: usize,
    /// Expired access-token entries.
    pub access_tokens: usize,
    /// Expired or superseded refresh tokens.
    pub refresh_tokens: usize,
    /// Expired sessions.
    pub sessions: usize,
    /// Dead grants (revoked or past their refresh expiry) deleted.
    pub grants: usize,
}

/// Records the refresh token and the access token `jti` an exchange mints for a
/// grant; shared by redemption and rotation so both keep the same invariants.
pub(super) fn record_new_tokens(
    tx: &Tx<'_>,
    grant_id: [u8; 16],
    new: &NewTokens,
) -> Result<(), StoreError> {
    tx.put(
        REFRESH_TOKENS,
        new.refresh_id.as_slice(),
        &RefreshToken {
            token_hash: new.refresh_hash,
            grant_id,
            expires_at: new.refresh_expires_at,
        },
    )?;
    expiry::schedule(
        tx.0,
        new.refresh_expires_at,
        Kind::RefreshToken,
        &new.refresh_id,
    )?;
    tx.put(
        ACCESS_TOKENS,
        new.jti.as_str(),
        &AccessToken {
            grant_id,
            expires_at: new.access_expires_at,
            revoked: false,
        },
    )?;
    expiry::schedule(
        tx.0,
        new.access_expires_at,
        Kind::AccessToken,
        new.jti.as_bytes(),
    )
}

/// Whether the user `username` exists, still has the id `user_id` (not deleted and
/// re-created) and is enabled: checked inside the write that would hand that user
/// tokens or a session, so a disable committed first always wins.
pub(super) fn user_active(tx: &Tx<'_>, user_id: &str, username: &str) -> Result<bool, StoreError> {
    Ok(tx
        .get::<_, User>(USERS, username)?
        .is_some_and(|u| u.id == user_id && !u.disabled))
}

/// The refresh token with key `id`, if `hash` (of the presented token) matches it.
fn matching_refresh(rt: Option<RefreshToken>, hash: &[u8; 32]) -> Option<RefreshToken> {
    rt.filter(|rt| ct_eq(&rt.token_hash, hash))
}

/// Most expiry-index entries one sweep transaction handles, so a sweep never holds
/// the writer (and everyone waiting on it) for long.
const SWEEP_CHUNK: usize = 1024;

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

    /// The client with this id (from memory after the first lookup).
    pub fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let (cached, generation) = self.clients.get(id);
        if cached.is_some() {
            return Ok(cached);
        }
        let Some(client) = self.get::<_, Client>(CLIENTS, id)? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        self.clients.fill(client.clone(), generation);
        Ok(Some(client))
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
        let cache = self.clients.clone();
        let created = self.writer.write_blocking(move |t| {
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
        });
        // Startup, before anything serves: nothing can race this.
        cache.invalidate();
        created
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

    /// Ends a session (logout).
    pub async fn delete_session(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.writer
            .write(move |t| Tx(t).remove(SESSIONS, hash.as_slice()))
            .await
    }

    // ---- device authorizations ---------------------------------------------------

    /// Stores a new device authorization under `id` (the key inside its device
    /// code). Returns `false` (and stores nothing) if the user code is already taken
    /// by a live request; the caller draws another.
    pub async fn create_device_auth(
        &self,
        id: [u8; 16],
        auth: DeviceAuth,
    ) -> Result<bool, StoreError> {
        let codes = self.user_codes.clone();
        let user_code = auth.user_code.clone();
        let result = self
            .writer
            .write(move |t| {
                if !codes.claim(
                    &auth.user_code,
                    id,
                    &auth.client_id,
                    auth.expires_at,
                    auth.created_at,
                ) {
                    return Ok(false);
                }
                Tx(t).put(DEVICE_CODES, id.as_slice(), &auth)?;
                expiry::schedule(
                    t,
                    auth.expires_at + DEVICE_CODE_GRACE_SECS,
                    Kind::DeviceRequest,
                    &id,
                )?;
                Ok(true)
            })
            .await;
        if result.is_err() {
            // The batch was rolled back: give the user code up again.
            self.user_codes.release(&user_code, &id);
        }
        result
    }

    /// The device authorization with key `id`, if `code_hash` (of the presented
    /// device code) matches it: the polling path, a read.
    pub fn device_auth(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
    ) -> Result<Option<DeviceAuth>, StoreError> {
        Ok(self
            .get::<_, DeviceAuth>(DEVICE_CODES, id.as_slice())?
            .filter(|d| ct_eq(&d.code_hash, code_hash)))
    }

    /// The device authorization a user code points at.
    pub fn device_auth_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        match self.user_codes.lookup(user_code) {
            Some(id) => Ok(self
                .get::<_, DeviceAuth>(DEVICE_CODES, id.as_slice())?
                .filter(|d| d.user_code == user_code)),
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
        let Some(id) = self.user_codes.lookup(&user_code) else {
            return Ok(DecideOutcome::NotFound);
        };
        let code = user_code.clone();
        let outcome = self
            .writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(mut auth) = tx
                    .get::<_, DeviceAuth>(DEVICE_CODES, id.as_slice())?
                    .filter(|d| d.user_code == user_code)
                else {
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
                tx.put(DEVICE_CODES, id.as_slice(), &auth)?;
                Ok(DecideOutcome::Done(Box::new(auth)))
            })
            .await?;
        if matches!(outcome, DecideOutcome::Done(_)) {
            // Only pending requests are looked up by user code, so a decided one
            // leaves the in-memory lookup now rather than at the sweep, an hour
            // after it expires: the lookup holds what people can still approve.
            self.user_codes.release(&code, &id);
        }
        Ok(outcome)
    }

    /// Exchanges an approved device code for a new grant, exactly once: the check and
    /// the `Redeemed` mark happen in the same serialized write, so two racing polls
    /// can't both win.
    pub async fn redeem(
        &self,
        id: [u8; 16],
        code_hash: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> Result<RedeemOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(mut auth) = tx
                    .get::<_, DeviceAuth>(DEVICE_CODES, id.as_slice())?
                    .filter(|d| ct_eq(&d.code_hash, &code_hash))
                else {
                    return Ok(RedeemOutcome::Unknown);
                };
                let (user_id, username) = match auth.poll_check(&client_id, now) {
                    PollCheck::Approved { user_id, username } => (user_id, username),
                    other => return Ok(RedeemOutcome::Refused(other)),
                };
                // The approver was disabled or deleted since approving: the approval
                // no longer stands. Recorded as a denial, so every later poll gets
                // `access_denied` too.
                if !user_active(&tx, &user_id, &username)? {
                    auth.status = DeviceStatus::Denied { at: now };
                    tx.put(DEVICE_CODES, id.as_slice(), &auth)?;
                    return Ok(RedeemOutcome::Refused(PollCheck::Denied));
                }
                auth.status = DeviceStatus::Redeemed { at: now };
                tx.put(DEVICE_CODES, id.as_slice(), &auth)?;
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
                    refresh_id: new.refresh_id,
                    jti: new.jti.clone(),
                };
                let sweep_at = new.refresh_expires_at.max(new.access_expires_at);
                grants::create(&tx, &grant, sweep_at)?;
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
        presented_id: [u8; 16],
        presented: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> Result<RotateOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(old) = matching_refresh(
                    tx.get::<_, RefreshToken>(REFRESH_TOKENS, presented_id.as_slice())?,
                    &presented,
                ) else {
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
                // Its user was disabled or deleted (and the grant somehow escaped
                // the revocation that goes with it): it ends here.
                if !user_active(&tx, &grant.user_id, &grant.username)? {
                    grants::revoke(&tx, &mut grant, now)?;
                    return Ok(RotateOutcome::Invalid);
                }
                // A genuine token of this grant that is no longer the current one has
                // already been exchanged: someone is replaying it.
                if !ct_eq(&grant.current_refresh, &presented) {
                    grants::revoke(&tx, &mut grant, now)?;
                    return Ok(RotateOutcome::ReuseDetected);
                }
                record_new_tokens(&tx, grant.id, &new)?;
                grant.current_refresh = new.refresh_hash;
                grant.refresh_id = new.refresh_id;
                grant.jti = new.jti.clone();
                grant.last_refreshed_at = Some(now);
                grant.expires_at = new.refresh_expires_at;
                // Its sweep entry stays where it is: when it comes due, the sweep
                // finds the grant alive and moves the entry (once per refresh
                // lifetime, instead of an index write per refresh).
                tx.put(GRANTS, grant.id.as_slice(), &grant)?;
                Ok(RotateOutcome::Rotated(Box::new(grant)))
            })
            .await
    }

    /// A refresh token (key `id`, if `hash` matches) and its grant, for
    /// introspection and scope checks.
    pub fn refresh_token(
        &self,
        id: &[u8; 16],
        hash: &[u8; 32],
    ) -> Result<Option<(RefreshToken, Grant)>, StoreError> {
        let Some(rt) = matching_refresh(self.get(REFRESH_TOKENS, id.as_slice())?, hash) else {
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
        id: [u8; 16],
        hash: [u8; 32],
        client_id: String,
        now: u64,
    ) -> Result<RevokeOutcome, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(rt) = matching_refresh(tx.get(REFRESH_TOKENS, id.as_slice())?, &hash)
                else {
                    return Ok(RevokeOutcome::Unknown);
                };
                let Some(mut grant) = tx.get::<_, Grant>(GRANTS, rt.grant_id.as_slice())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                if grant.client_id != client_id {
                    return Ok(RevokeOutcome::WrongClient);
                }
                if !grant.revoked {
                    grants::revoke(&tx, &mut grant, now)?;
                }
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

    /// The grants a user has given, newest first, for the account page: one range
    /// of the by-user index, so the cost follows this user's grants only.
    pub fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let txn = self.db.begin_read()?;
        let ids = grants::user_grant_ids(&txn.open_table(GRANTS_BY_USER)?, user_id)?;
        let table = txn.open_table(GRANTS)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = table.get(id.as_slice())? {
                out.push(decode::<Grant>("grants", v.value())?);
            }
        }
        out.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        Ok(out)
    }

    /// Revokes grants of one user: the one with `grant_id` (only if it is that
    /// user's), or all when `None`. Returns how many were revoked.
    pub async fn revoke_user_grants(
        &self,
        user_id: String,
        grant_id: Option<[u8; 16]>,
        now: u64,
    ) -> Result<usize, StoreError> {
        self.writer
            .write(move |t| {
                let tx = Tx(t);
                let Some(id) = grant_id else {
                    return grants::revoke_user(&tx, &user_id, now);
                };
                let key = grants::user_key(&user_id, &id);
                if redb::ReadableTable::get(&t.open_table(GRANTS_BY_USER)?, key.as_slice())?
                    .is_none()
                {
                    return Ok(0);
                }
                match tx.get::<_, Grant>(GRANTS, id.as_slice())? {
                    Some(mut g) if !g.revoked => {
                        grants::revoke(&tx, &mut g, now)?;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            })
            .await
    }

    /// Removes what can no longer matter: device codes an hour past expiry, access
    /// token entries and refresh tokens past expiry (from the expiry index, a chunk
    /// per transaction), and expired sessions.
    pub async fn sweep(&self, now: u64) -> Result<SweepStats, StoreError> {
        let mut total = SweepStats::default();
        loop {
            let codes = self.user_codes.clone();
            let chunk = self
                .writer
                .write(move |t| sweep_chunk(t, &codes, now, SWEEP_CHUNK))
                .await?;
            total.entries += chunk.entries;
            total.device_codes += chunk.device_codes;
            total.access_tokens += chunk.access_tokens;
            total.refresh_tokens += chunk.refresh_tokens;
            total.grants += chunk.grants;
            if chunk.entries < SWEEP_CHUNK {
                break;
            }
        }
        total.sessions = self
            .writer
            .write(move |t| {
                let mut ended = Vec::new();
                t.open_table(SESSIONS)?.retain(|k, v| {
                    let Ok(s) = decode::<Session>("sessions", v) else {
                        return true;
                    };
                    let keep = s.expires_at > now;
                    if !keep {
                        ended.push((k.to_vec(), s.user_id));
                    }
                    keep
                })?;
                for (k, user_id) in &ended {
                    super::sessions::unindex(t, user_id, k)?;
                }
                Ok(ended.len() + super::sessions::sweep_session_meta(t, now)?)
            })
            .await?;
        Ok(total)
    }

    /// How many device codes expired in `(from, to]` without being redeemed or
    /// denied, for the `expired` device-code metric (a read of the expiry index
    /// over that window; the sweeper calls it).
    pub fn device_codes_expired_between(&self, from: u64, to: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(EXPIRIES)?;
        let codes = txn.open_table(DEVICE_CODES)?;
        let g = DEVICE_CODE_GRACE_SECS;
        let mut n = 0;
        for key in expiry::due_between(&index, from + g, to + g, Kind::DeviceRequest)? {
            let Some(v) = codes.get(key.as_slice())? else {
                continue;
            };
            let d: DeviceAuth = decode("device_codes", v.value())?;
            let unused = matches!(
                d.status,
                DeviceStatus::Pending | DeviceStatus::Approved { .. }
            );
            n += u64::from(unused);
        }
        Ok(n)
    }

    /// Live entries in the in-memory user code lookup (tests, metrics).
    pub fn user_code_entries(&self) -> usize {
        self.user_codes.len()
    }
}

/// Removes up to `limit` due entries of the expiry index and the records they
/// point at, in the writer's transaction.
fn sweep_chunk(
    t: &redb::WriteTransaction,
    codes: &UserCodes,
    now: u64,
    limit: usize,
) -> Result<SweepStats, StoreError> {
    let mut stats = SweepStats::default();
    let mut index = t.open_table(EXPIRIES)?;
    let due = expiry::due(&index, now, limit)?;
    let mut devices = t.open_table(DEVICE_CODES)?;
    let mut refresh = t.open_table(REFRESH_TOKENS)?;
    let mut access = t.open_table(ACCESS_TOKENS)?;
    let mut dead_grants = Vec::new();
    for entry in &due {
        stats.entries += 1;
        match entry.kind {
            Some(Kind::DeviceRequest) => {
                if let Some(v) = devices.remove(entry.key.as_slice())? {
                    stats.device_codes += 1;
                    if let (Ok(d), Ok(id)) = (
                        decode::<DeviceAuth>("device_codes", v.value()),
                        <[u8; 16]>::try_from(entry.key.as_slice()),
                    ) {
                        codes.release(&d.user_code, &id);
                    }
                }
            }
            Some(Kind::RefreshToken) => {
                stats.refresh_tokens +=
                    usize::from(refresh.remove(entry.key.as_slice())?.is_some());
            }
            Some(Kind::AccessToken) => {
                if let Ok(jti) = std::str::from_utf8(&entry.key) {
                    stats.access_tokens += usize::from(access.remove(jti)?.is_some());
                }
            }
            Some(Kind::Grant) => dead_grants.push(entry.key.clone()),
            None => {}
        }
        index.remove(entry.entry.as_slice())?;
    }
    // Grants own token records in the tables opened above: delete them after
    // those handles are closed.
    drop((devices, refresh, access, index));
    for id in dead_grants {
        stats.grants += usize::from(grants::delete_if_dead(t, &id, now)?.is_some());
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{keyed_token, new_jti, sha256, time_ordered_id};

    fn open(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("authgate.redb"), |_| {}).expect("store opens")
    }

    fn request(code: &str, created_at: u64, ttl: u64) -> ([u8; 16], DeviceAuth) {
        let id = time_ordered_id();
        let auth = DeviceAuth {
            code_hash: sha256(keyed_token(&id).as_bytes()),
            client_id: "cli".into(),
            scope: "read".into(),
            user_code: code.into(),
            created_at,
            expires_at: created_at + ttl,
            interval: 5,
            status: DeviceStatus::Pending,
            requester_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        };
        (id, auth)
    }

    fn tokens(expires_at: u64) -> NewTokens {
        let refresh_id = time_ordered_id();
        NewTokens {
            grant_id: time_ordered_id(),
            refresh_id,
            refresh_hash: sha256(keyed_token(&refresh_id).as_bytes()),
            refresh_expires_at: expires_at,
            jti: new_jti(),
            access_expires_at: expires_at,
            device_ip: "127.0.0.1".into(),
        }
    }

    #[tokio::test]
    async fn user_codes_are_unique_while_live_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let (id, auth) = request("BCDFGHJK", 1_000, 600);
        assert!(
            store
                .create_device_auth(id, auth.clone())
                .await
                .expect("write")
        );
        let (other, mut again) = request("BCDFGHJK", 1_100, 600);
        again.created_at = 1_100;
        assert!(
            !store.create_device_auth(other, again).await.expect("write"),
            "a live code must not be handed out twice"
        );
        let found = store.device_auth_by_user_code("BCDFGHJK").expect("read");
        assert_eq!(found.as_ref(), Some(&auth));
        // The poll path needs the right hash, not just the id.
        assert_eq!(
            store.device_auth(&id, &auth.code_hash).expect("read"),
            Some(auth.clone())
        );
        assert_eq!(store.device_auth(&id, &[0; 32]).expect("read"), None);
        drop(store);

        // The in-memory lookup is rebuilt from disk. (The writer thread lets go of
        // the file just after the last handle is dropped.)
        let path = dir.path().join("authgate.redb");
        let mut reopened = Store::open(&path, |_| {});
        for _ in 0..100 {
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            reopened = Store::open(&path, |_| {});
        }
        let store = reopened.expect("store reopens");
        assert_eq!(store.user_code_entries(), 1);
        let decided = store
            .decide("BCDFGHJK".into(), Decision::Deny, 1_200)
            .await
            .expect("write");
        assert!(matches!(decided, DecideOutcome::Done(_)), "{decided:?}");
        // A decided request leaves the lookup (it can't be decided again), so the
        // lookup's size follows the requests waiting for a person, not the traffic.
        assert_eq!(store.user_code_entries(), 0);
        let again = store
            .decide("BCDFGHJK".into(), Decision::Deny, 1_201)
            .await
            .expect("write");
        assert_eq!(again, DecideOutcome::NotFound);
    }

    #[tokio::test]
    async fn sweep_removes_what_expired_in_chunks_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let now = 1_000_000;
        // More than two chunks of device requests past their grace period…
        let old = 2 * SWEEP_CHUNK + 10;
        for i in 0..old {
            let (id, auth) = request(&format!("OLD{i:05}"), 1_000, 600);
            assert!(store.create_device_auth(id, auth).await.expect("write"));
        }
        // …one expired but still within the grace period, and one live.
        let (recent_id, recent) = request("RECENTXX", now - 700, 600);
        assert!(
            store
                .create_device_auth(recent_id, recent)
                .await
                .expect("write")
        );
        let (live_id, live) = request("LIVEXXXX", now, 600);
        assert!(
            store
                .create_device_auth(live_id, live)
                .await
                .expect("write")
        );

        // Tokens: one pair expired, one pair live.
        add_user(&store, "admin").await;
        for (i, expires) in [(0u8, now - 1), (1, now + 3600)] {
            let (id, mut auth) = request(&format!("TOKEN{i}XX"), now - 10, 600);
            auth.status = DeviceStatus::Approved {
                user_id: "id-admin".into(),
                username: "admin".into(),
                at: now - 5,
            };
            assert!(
                store
                    .create_device_auth(id, auth.clone())
                    .await
                    .expect("write")
            );
            let done = store
                .writer
                .write(move |t| {
                    Tx(t).put(DEVICE_CODES, id.as_slice(), &auth)?;
                    Ok(())
                })
                .await;
            done.expect("approve");
            let hash = store
                .device_auth_by_user_code(&format!("TOKEN{i}XX"))
                .expect("read")
                .expect("found")
                .code_hash;
            let out = store
                .redeem(id, hash, "cli".into(), now - 4, tokens(expires))
                .await
                .expect("redeem");
            assert!(matches!(out, RedeemOutcome::Issued(_)), "{out:?}");
        }

        let stats = store.sweep(now).await.expect("sweep");
        assert_eq!(stats.device_codes, old);
        assert_eq!(stats.refresh_tokens, 1);
        assert_eq!(stats.access_tokens, 1);
        assert_eq!(
            store.device_auth_by_user_code("OLD00000").expect("read"),
            None
        );
        assert!(
            store
                .device_auth_by_user_code("RECENTXX")
                .expect("read")
                .is_some()
        );
        assert!(
            store
                .device_auth_by_user_code("LIVEXXXX")
                .expect("read")
                .is_some()
        );
        // Four requests remain in memory and on disk: recent, live, and the two
        // redeemed ones.
        assert_eq!(store.user_code_entries(), 4);
        // A second sweep finds nothing more to do.
        assert_eq!(store.sweep(now).await.expect("sweep").entries, 0);
    }

    fn user(name: &str) -> User {
        User {
            id: format!("id-{name}"),
            username: name.into(),
            password_hash: String::new(),
            disabled: false,
            created_at: 1,
        }
    }

    /// A request approved by `username` (whose id is `id-{username}`); returns its
    /// key and code hash.
    async fn approved(store: &Store, code: &str, username: &str, now: u64) -> ([u8; 16], [u8; 32]) {
        let (id, mut auth) = request(code, now - 10, 600);
        assert!(
            store
                .create_device_auth(id, auth.clone())
                .await
                .expect("write")
        );
        auth.status = DeviceStatus::Approved {
            user_id: format!("id-{username}"),
            username: username.into(),
            at: now - 5,
        };
        let hash = auth.code_hash;
        store
            .writer
            .write(move |t| Tx(t).put(DEVICE_CODES, id.as_slice(), &auth))
            .await
            .expect("approve");
        (id, hash)
    }

    async fn add_user(store: &Store, name: &str) {
        let ev = crate::store::AuditEvent::new("user_added", "test", name);
        assert!(store.admin_add_user(user(name), ev).await.expect("add"));
    }

    async fn disable(store: &Store, name: &str) -> super::super::admin::Consequences {
        let ev = crate::store::AuditEvent::new("user_disabled", "test", name);
        store
            .admin_change_user(name.into(), true, false, ev)
            .await
            .expect("write")
            .expect("user exists")
    }

    #[tokio::test]
    async fn a_disabled_user_gets_no_tokens_refresh_or_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let now = crate::clock::now();
        add_user(&store, "carol").await;
        // Approved, not yet redeemed, then disabled: the poll is refused, for good.
        let (id, hash) = approved(&store, "CAROLAAA", "carol", now).await;
        let (id2, hash2) = approved(&store, "CAROLBBB", "carol", now).await;
        let t = tokens(now + 3600);
        let out = store
            .redeem(id2, hash2, "cli".into(), now, t.clone())
            .await
            .expect("redeem");
        assert!(matches!(out, RedeemOutcome::Issued(_)), "{out:?}");
        let done = disable(&store, "carol").await;
        assert_eq!(done.grants, 1, "the redeemed grant is revoked");
        for _ in 0..2 {
            let out = store
                .redeem(id, hash, "cli".into(), now, tokens(now + 3600))
                .await
                .expect("redeem");
            assert_eq!(out, RedeemOutcome::Refused(PollCheck::Denied));
        }
        // The redeemed grant no longer refreshes, and its access token is revoked.
        let out = store
            .rotate_refresh(
                t.refresh_id,
                t.refresh_hash,
                "cli".into(),
                now,
                tokens(now + 7200),
            )
            .await
            .expect("rotate");
        assert_eq!(out, RotateOutcome::Invalid);
        let (_, grant) = store.access_token(&t.jti).expect("read").expect("entry");
        assert!(grant.revoked);
        // A sign-in whose password check raced the disable records no session.
        let session = Session {
            user_id: "id-carol".into(),
            username: "carol".into(),
            created_at: now,
            expires_at: now + 60,
        };
        let meta = crate::store::SessionMeta {
            user_id: "id-carol".into(),
            created_at: now,
            last_seen_at: now,
            idle_secs: 60,
            ip: "127.0.0.1".into(),
            user_agent: "t".into(),
        };
        let started = store
            .start_session([9; 32], session, meta, None)
            .await
            .expect("write");
        assert_eq!(started, crate::store::SessionStart::UserInactive);
        assert!(store.live_session(&[9; 32], now).expect("read").is_none());
    }

    #[tokio::test]
    async fn account_listing_reads_only_the_users_index_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let now = crate::clock::now();
        add_user(&store, "alice").await;
        let (id, hash) = approved(&store, "ALICEAAA", "alice", now).await;
        let t = tokens(now + 3600);
        let out = store.redeem(id, hash, "cli".into(), now, t.clone()).await;
        assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
        // Other users' grants, stored as bytes no build can decode, with index
        // entries of their own (one user id being a prefix of alice's): a listing
        // or revocation that touched any of them would fail with `Corrupt`.
        store
            .writer
            .write(|t| {
                let mut grants_table = t.open_table(GRANTS)?;
                let mut index = t.open_table(GRANTS_BY_USER)?;
                for (i, owner) in ["id-alic", "id-alicee", "id-bob", "i"].iter().enumerate() {
                    let gid = [u8::try_from(i).unwrap_or(0) + 1; 16];
                    grants_table.insert(gid.as_slice(), [99u8, 1, 2].as_slice())?;
                    index.insert(grants::user_key(owner, &gid).as_slice(), ())?;
                }
                Ok(())
            })
            .await
            .expect("seed");
        let mine = store
            .grants_of_user("id-alice")
            .expect("only alice's range");
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, t.grant_id);
        let n = store
            .revoke_user_grants("id-alice".into(), Some(t.grant_id), now)
            .await
            .expect("revoke one");
        assert_eq!(n, 1);
        // Someone else's grant id can't be revoked through alice's account.
        let n = store
            .revoke_user_grants("id-alice".into(), Some([3; 16]), now)
            .await
            .expect("revoke other");
        assert_eq!(n, 0);
        // The sweep deletes the revoked grant, its index entry and token records.
        let stats = store.sweep(now).await.expect("sweep");
        assert_eq!(stats.grants, 1);
        assert!(store.grants_of_user("id-alice").expect("read").is_empty());
        assert!(store.access_token(&t.jti).expect("read").is_none());
        assert!(
            store
                .refresh_token(&t.refresh_id, &t.refresh_hash)
                .expect("read")
                .is_none()
        );
    }

    fn dave_session(now: u64) -> (Session, crate::store::SessionMeta) {
        let session = Session {
            user_id: "id-dave".into(),
            username: "dave".into(),
            created_at: now,
            expires_at: now + 60,
        };
        let meta = crate::store::SessionMeta {
            user_id: "id-dave".into(),
            created_at: now,
            last_seen_at: now,
            idle_secs: 60,
            ip: "127.0.0.1".into(),
            user_agent: "t".into(),
        };
        (session, meta)
    }

    #[tokio::test]
    async fn an_older_database_gets_its_grant_index_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("authgate.redb");
        let now = crate::clock::now();
        let t = tokens(now + 3600);
        {
            let store = open(&dir);
            add_user(&store, "dave").await;
            let (id, hash) = approved(&store, "DAVEAAAA", "dave", now).await;
            let out = store.redeem(id, hash, "cli".into(), now, t.clone()).await;
            assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
            let (session, meta) = dave_session(now);
            store
                .start_session([5; 32], session, meta, None)
                .await
                .expect("session");
            // Back to the earlier format: no indexes, no markers.
            store
                .writer
                .write(|t| {
                    t.delete_table(GRANTS_BY_USER)?;
                    t.delete_table(super::super::tables::SESSIONS_BY_USER)?;
                    t.open_table(META)?.remove("grant_indexes")?;
                    t.open_table(META)?.remove("session_index")?;
                    Ok(())
                })
                .await
                .expect("downgrade");
        }
        let mut reopened = Store::open(&path, |_| {});
        for _ in 0..100 {
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            reopened = Store::open(&path, |_| {});
        }
        let store = reopened.expect("reopens");
        let mine = store.grants_of_user("id-dave").expect("read");
        assert_eq!(mine.len(), 1, "the index was built at open");
        assert_eq!(
            store.sessions_of_user("id-dave", now).expect("read").len(),
            1
        );
        let done = disable(&store, "dave").await;
        assert_eq!((done.sessions, done.grants), (1, 1));
        let stats = store.sweep(now).await.expect("sweep");
        assert_eq!(stats.grants, 1);
        assert!(store.access_token(&t.jti).expect("read").is_none());
    }

    #[tokio::test]
    async fn a_refreshed_grant_outlives_its_first_sweep_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let now = crate::clock::now();
        add_user(&store, "erin").await;
        let (id, hash) = approved(&store, "ERINAAAA", "erin", now).await;
        let first = tokens(now + 100);
        let out = store
            .redeem(id, hash, "cli".into(), now, first.clone())
            .await;
        assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
        let second = tokens(now + 1000);
        let out = store
            .rotate_refresh(
                first.refresh_id,
                first.refresh_hash,
                "cli".into(),
                now + 50,
                second.clone(),
            )
            .await
            .expect("rotate");
        assert!(matches!(out, RotateOutcome::Rotated(_)), "{out:?}");
        // The creation's entry comes due: the grant is alive, so it stays and its
        // entry moves to its new expiry.
        let stats = store.sweep(now + 200).await.expect("sweep");
        assert_eq!(stats.grants, 0);
        assert_eq!(store.grants_of_user("id-erin").expect("read").len(), 1);
        let (_, g) = store
            .refresh_token(&second.refresh_id, &second.refresh_hash)
            .expect("read")
            .expect("current token kept");
        assert!(!g.revoked);
        // Past it, the grant goes.
        let stats = store.sweep(now + 1000).await.expect("sweep");
        assert_eq!(stats.grants, 1);
        assert!(store.grants_of_user("id-erin").expect("read").is_empty());
    }

    #[tokio::test]
    async fn health_check_fails_once_the_writer_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        store.check().expect("healthy");
        // A writer that panics (here: an operation that panics in its thread).
        let died = store
            .writer
            .write(|_| -> Result<(), StoreError> { panic!("test: the writer dies") })
            .await;
        assert!(matches!(died, Err(StoreError::WriterGone)), "{died:?}");
        let mut failed = false;
        for _ in 0..100 {
            if store.check().is_err() {
                failed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(failed, "check() must fail without a writer");
    }
}
