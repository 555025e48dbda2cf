//! The grant index (a user's grants, `GRANTS_BY_USER`), and deleting dead grants
//! with their index entry and current token records.
//!
//! Without them the account page decoded every grant of every user, and revoking
//! a device or disabling a user scanned the whole grants table inside the single
//! writer: the cost of one person's request grew with everyone else's devices.
//! With them each of those reads one user's key range, and a grant that can no
//! longer be used (revoked, or its refresh token expired) is deleted by the sweep
//! through the expiry index, so the grants table holds live grants only.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::expiry::{self, Kind};
use super::records::{AccessToken, Grant, RefreshToken};
use super::tables::{ACCESS_TOKENS, GRANTS, GRANTS_BY_USER, META, REFRESH_TOKENS};
use super::users::standing;
use super::{RedbStore, StoreError, Tx};
use crate::grant::{Exchange, Issue, NewTokens, Refresh, Revoked};
use crate::secrets::ct_eq;
use crate::store::{Grants, RevokeOutcome, RotateOutcome};

/// `META` key marking that the grant indexes were built for this database.
const INDEX_BUILT: &str = "grant_indexes";

/// The key prefix of a user's grants: the id's length (2 bytes, big-endian) and
/// the id, so one user's prefix is never a prefix of another's.
pub(super) fn user_prefix(user_id: &str) -> Vec<u8> {
    let len = u16::try_from(user_id.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + user_id.len() + 16);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(user_id.as_bytes());
    out
}

/// The `GRANTS_BY_USER` key of one grant.
pub fn user_key(user_id: &str, grant_id: &[u8; 16]) -> Vec<u8> {
    let mut out = user_prefix(user_id);
    out.extend_from_slice(grant_id);
    out
}

/// The ids of a user's grants, oldest first: one range read of the index.
pub fn user_grant_ids(
    index: &impl ReadableTable<&'static [u8], ()>,
    user_id: &str,
) -> Result<Vec<[u8; 16]>, StoreError> {
    let prefix = user_prefix(user_id);
    let mut start = prefix.clone();
    start.extend_from_slice(&[0; 16]);
    let mut end = prefix.clone();
    end.extend_from_slice(&[0xff; 16]);
    let mut out = Vec::new();
    for entry in index.range::<&[u8]>(start.as_slice()..=end.as_slice())? {
        let (k, _) = entry?;
        if let Some(id) = k
            .value()
            .get(prefix.len()..)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
        {
            out.push(id);
        }
    }
    Ok(out)
}

/// Stores a new grant with its index entry, and schedules its sweep for
/// `sweep_at`: when neither its refresh token nor its newest access token is
/// valid any more.
pub fn create(tx: &Tx<'_>, grant: &Grant, sweep_at: u64) -> Result<(), StoreError> {
    tx.put(GRANTS, grant.id.as_slice(), grant)?;
    tx.txn()
        .open_table(GRANTS_BY_USER)?
        .insert(user_key(&grant.user_id, &grant.id).as_slice(), ())?;
    expiry::schedule(tx.txn(), sweep_at, Kind::Grant, &grant.id)
}

/// Persists a revoked grant (refresh stops, its access tokens introspect
/// inactive) and schedules it for deletion at the next sweep.
pub fn persist_revoked(tx: &Tx<'_>, revoked: &Revoked, now: u64) -> Result<(), StoreError> {
    let grant = revoked.grant();
    tx.put(GRANTS, grant.id.as_slice(), grant)?;
    expiry::schedule(tx.txn(), now, Kind::Grant, &grant.id)
}

/// Revokes `grant` at `now` and persists it.
pub fn revoke(tx: &Tx<'_>, grant: Grant, now: u64) -> Result<(), StoreError> {
    persist_revoked(tx, &Revoked::of(grant, now), now)
}

/// Revokes every unrevoked grant of a user (one index range); returns how many.
pub fn revoke_user(tx: &Tx<'_>, user_id: &str, now: u64) -> Result<usize, StoreError> {
    let ids = user_grant_ids(&tx.txn().open_table(GRANTS_BY_USER)?, user_id)?;
    let mut n = 0;
    for id in ids {
        if let Some(g) = tx.get(GRANTS, id.as_slice())?
            && !g.revoked
        {
            revoke(tx, g, now)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes the grant `id` if it is dead at `now` (revoked, or both its refresh
/// token and its newest access token expired), with its index entry and its
/// current refresh and access-token records (older token records are inert
/// without the grant and leave at their own expiry). A grant still alive gets a
/// new sweep entry for when it would next be dead. Returns how many token records
/// went with it, `None` if the grant was kept or absent.
pub fn delete_if_dead(
    t: &WriteTransaction,
    id: &[u8],
    now: u64,
) -> Result<Option<usize>, StoreError> {
    let Ok(id) = <[u8; 16]>::try_from(id) else {
        return Ok(None);
    };
    let mut grants = t.open_table(GRANTS.def())?;
    let grant: Grant = match grants.get(id.as_slice())? {
        Some(v) => GRANTS.decode(v.value())?,
        None => return Ok(None),
    };
    if !grant.revoked {
        let access_until = match grant.jti.as_str() {
            "" => 0,
            jti => match t.open_table(ACCESS_TOKENS.def())?.get(jti)? {
                Some(v) => ACCESS_TOKENS.decode(v.value())?.expires_at,
                None => 0,
            },
        };
        let until = grant.expires_at.max(access_until);
        if until > now {
            drop(grants);
            expiry::schedule(t, until, Kind::Grant, &id)?;
            return Ok(None);
        }
    }
    grants.remove(id.as_slice())?;
    t.open_table(GRANTS_BY_USER)?
        .remove(user_key(&grant.user_id, &id).as_slice())?;
    let mut tokens = 0;
    if grant.refresh_id != [0; 16] {
        tokens += usize::from(
            t.open_table(REFRESH_TOKENS.def())?
                .remove(grant.refresh_id.as_slice())?
                .is_some(),
        );
    }
    if !grant.jti.is_empty() {
        tokens += usize::from(
            t.open_table(ACCESS_TOKENS.def())?
                .remove(grant.jti.as_str())?
                .is_some(),
        );
    }
    // Their expiry-index entries stay until due and then find nothing: cheaper
    // than finding them now, and harmless.
    Ok(Some(tokens))
}

/// Builds the grant index once for a database written before it existed: every
/// grant gets its user entry and a sweep entry.
/// Runs at open, before anything serves; later opens only read the marker.
pub fn build_once(db: &redb::Database) -> Result<(), StoreError> {
    {
        let txn = db.begin_read()?;
        if txn.open_table(META)?.get(INDEX_BUILT)?.is_some() {
            return Ok(());
        }
    }
    let t = db.begin_write()?;
    let mut grants = 0usize;
    {
        let table = t.open_table(GRANTS.def())?;
        let mut by_user = t.open_table(GRANTS_BY_USER)?;
        for entry in table.iter()? {
            let (_, v) = entry?;
            let g = GRANTS.decode(v.value())?;
            by_user.insert(user_key(&g.user_id, &g.id).as_slice(), ())?;
            let due = if g.revoked { 0 } else { g.expires_at };
            expiry::schedule(&t, due, Kind::Grant, &g.id)?;
            grants += 1;
        }
    }
    t.open_table(META)?.insert(INDEX_BUILT, [1u8].as_slice())?;
    t.commit()?;
    if grants > 0 {
        tracing::info!(
            grants,
            "built the grant indexes of an earlier storage format"
        );
    }
    Ok(())
}

impl RedbStore {
    /// Writes `n` live grants of `n` other users (`seed-user-…`), each with its
    /// index entries and a refresh and an access-token record, straight into the
    /// database in large transactions. Only for measuring (`examples/seed_grants`,
    /// the load generator's `account` scenario): that one person's account page
    /// and revocations cost the same with 1,000 or 100,000 other grants.
    #[doc(hidden)]
    pub fn seed_other_grants_blocking(&self, n: usize, now: u64) -> Result<(), StoreError> {
        use crate::secrets::{keyed_token, new_jti, sha256, time_ordered_id};
        const PER_TXN: usize = 10_000;
        let mut done = 0;
        while done < n {
            let t = self.db.begin_write()?;
            let tx = Tx::new(&t);
            for i in done..n.min(done + PER_TXN) {
                let refresh_id = time_ordered_id();
                let new = NewTokens {
                    grant_id: time_ordered_id(),
                    refresh_id,
                    refresh_hash: sha256(keyed_token(&refresh_id).as_bytes()),
                    refresh_expires_at: now + 30 * 86_400,
                    jti: new_jti(),
                    access_expires_at: now + 30 * 86_400,
                    device_ip: "192.0.2.1".into(),
                    dpop_jkt: None,
                };
                let grant = Grant {
                    id: new.grant_id,
                    user_id: format!("seed-user-{i:07}"),
                    username: format!("seed{i}"),
                    client_id: "authgate-cli".into(),
                    scope: "read".into(),
                    created_at: now,
                    last_refreshed_at: None,
                    expires_at: new.refresh_expires_at,
                    current_refresh: new.refresh_hash,
                    revoked: false,
                    device_ip: new.device_ip.clone(),
                    refresh_id: new.refresh_id,
                    jti: new.jti.clone(),
                    dpop_jkt: None,
                };
                create(&tx, &grant, new.refresh_expires_at)?;
                record_new_tokens(&tx, grant.id, &new)?;
            }
            t.commit()?;
            done = n.min(done + PER_TXN);
        }
        Ok(())
    }
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
        tx.txn(),
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
        tx.txn(),
        new.access_expires_at,
        Kind::AccessToken,
        new.jti.as_bytes(),
    )
}

/// The refresh token with key `id`, if `hash` (of the presented token) matches it.
fn matching_refresh(rt: Option<RefreshToken>, hash: &[u8; 32]) -> Option<RefreshToken> {
    rt.filter(|rt| ct_eq(&rt.token_hash, hash))
}

impl Grants for RedbStore {
    /// Stores a client-credentials grant and its access token, both swept when
    /// the token expires.
    async fn create_client_grant(&self, issue: Issue) -> Result<(), StoreError> {
        self.writer
            .write(move |tx| {
                let grant = issue.grant();
                create(tx, grant, issue.access_expires_at())?;
                tx.put(
                    ACCESS_TOKENS,
                    issue.jti(),
                    &AccessToken {
                        grant_id: grant.id,
                        expires_at: issue.access_expires_at(),
                        revoked: false,
                    },
                )?;
                expiry::schedule(
                    tx.txn(),
                    issue.access_expires_at(),
                    Kind::AccessToken,
                    issue.jti().as_bytes(),
                )
            })
            .await
    }

    /// Rotates a refresh token: the presented one is superseded and a new one becomes
    /// current. Presenting a superseded token revokes the whole grant (RFC 6819
    /// §5.2.2.3 / OAuth 2.0 Security BCP §4.14), including its newest refresh token.
    /// The rules are [`Refresh::exchange`]'s; this persists its outcome.
    async fn rotate_refresh(
        &self,
        presented_id: [u8; 16],
        presented: [u8; 32],
        client_id: String,
        now: u64,
        new: NewTokens,
    ) -> Result<RotateOutcome, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(old) =
                    matching_refresh(tx.get(REFRESH_TOKENS, presented_id.as_slice())?, &presented)
                else {
                    return Ok(RotateOutcome::Invalid);
                };
                let Some(grant) = tx.get(GRANTS, old.grant_id.as_slice())? else {
                    return Ok(RotateOutcome::Invalid);
                };
                let standing = standing(tx, &grant.user_id, &grant.username)?;
                let refresh = Refresh::of(&old, grant, &presented, now);
                match refresh.exchange(&client_id, standing, now, &new) {
                    Exchange::Invalid => Ok(RotateOutcome::Invalid),
                    Exchange::UserInactive(revoked) => {
                        persist_revoked(tx, &revoked, now)?;
                        Ok(RotateOutcome::Invalid)
                    }
                    Exchange::Reuse(revoked) => {
                        persist_revoked(tx, &revoked, now)?;
                        Ok(RotateOutcome::ReuseDetected)
                    }
                    Exchange::Issued(issue) => {
                        record_new_tokens(tx, issue.grant().id, &new)?;
                        // Its sweep entry stays where it is: when it comes due, the
                        // sweep finds the grant alive and moves the entry (once per
                        // refresh lifetime, instead of an index write per refresh).
                        tx.put(GRANTS, issue.grant().id.as_slice(), issue.grant())?;
                        Ok(RotateOutcome::Rotated(Box::new(issue)))
                    }
                }
            })
            .await
    }

    /// A refresh token (key `id`, if `hash` matches) and its grant, for
    /// introspection and scope checks. Whether it is live is
    /// [`crate::grant::refresh_is_live`]'s to say.
    async fn refresh_token(
        &self,
        id: &[u8; 16],
        hash: &[u8; 32],
    ) -> Result<Option<(RefreshToken, Grant)>, StoreError> {
        let Some(rt) = matching_refresh(self.get(REFRESH_TOKENS, id.as_slice())?, hash) else {
            return Ok(None);
        };
        Ok(self.get(GRANTS, rt.grant_id.as_slice())?.map(|g| (rt, g)))
    }

    /// An issued access token's record and its grant, for introspection.
    async fn access_token(&self, jti: &str) -> Result<Option<(AccessToken, Grant)>, StoreError> {
        let Some(at) = self.get(ACCESS_TOKENS, jti)? else {
            return Ok(None);
        };
        Ok(self.get(GRANTS, at.grant_id.as_slice())?.map(|g| (at, g)))
    }

    /// Revokes the grant a refresh token belongs to (RFC 7009 §2.1: revoking a
    /// refresh token also invalidates the access tokens of the same grant).
    async fn revoke_refresh(
        &self,
        id: [u8; 16],
        hash: [u8; 32],
        client_id: String,
        now: u64,
    ) -> Result<RevokeOutcome, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(rt) = matching_refresh(tx.get(REFRESH_TOKENS, id.as_slice())?, &hash)
                else {
                    return Ok(RevokeOutcome::Unknown);
                };
                let Some(grant) = tx.get(GRANTS, rt.grant_id.as_slice())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                if grant.client_id != client_id {
                    return Ok(RevokeOutcome::WrongClient);
                }
                if !grant.revoked {
                    revoke(tx, grant, now)?;
                }
                Ok(RevokeOutcome::Revoked)
            })
            .await
    }

    /// Revokes one access token by `jti`; remembered until the token expires.
    async fn revoke_access(
        &self,
        jti: String,
        client_id: String,
    ) -> Result<RevokeOutcome, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(mut at) = tx.get(ACCESS_TOKENS, jti.as_str())? else {
                    return Ok(RevokeOutcome::Unknown);
                };
                let owner = tx.get(GRANTS, at.grant_id.as_slice())?.map(|g| g.client_id);
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
    async fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let txn = self.db.begin_read()?;
        let ids = user_grant_ids(&txn.open_table(GRANTS_BY_USER)?, user_id)?;
        let table = txn.open_table(GRANTS.def())?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = table.get(id.as_slice())? {
                out.push(GRANTS.decode(v.value())?);
            }
        }
        out.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        Ok(out)
    }

    /// Revokes grants of one user: the one with `grant_id` (only if it is that
    /// user's), or all when `None`. Returns how many were revoked.
    async fn revoke_user_grants(
        &self,
        user_id: String,
        grant_id: Option<[u8; 16]>,
        now: u64,
    ) -> Result<usize, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(id) = grant_id else {
                    return revoke_user(tx, &user_id, now);
                };
                let key = user_key(&user_id, &id);
                if tx
                    .txn()
                    .open_table(GRANTS_BY_USER)?
                    .get(key.as_slice())?
                    .is_none()
                {
                    return Ok(0);
                }
                match tx.get(GRANTS, id.as_slice())? {
                    Some(g) if !g.revoked => {
                        revoke(tx, g, now)?;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            })
            .await
    }
}
