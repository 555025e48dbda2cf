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
use super::records::{AccessToken, Grant, decode};
use super::tables::{ACCESS_TOKENS, GRANTS, GRANTS_BY_USER, META, REFRESH_TOKENS};
use super::{StoreError, Tx};

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
    tx.0.open_table(GRANTS_BY_USER)?
        .insert(user_key(&grant.user_id, &grant.id).as_slice(), ())?;
    expiry::schedule(tx.0, sweep_at, Kind::Grant, &grant.id)
}

/// Marks a grant revoked (refresh stops, its access tokens introspect inactive)
/// and schedules it for deletion at the next sweep.
pub fn revoke(tx: &Tx<'_>, grant: &mut Grant, now: u64) -> Result<(), StoreError> {
    grant.revoked = true;
    tx.put(GRANTS, grant.id.as_slice(), &*grant)?;
    expiry::schedule(tx.0, now, Kind::Grant, &grant.id)
}

/// Revokes every unrevoked grant of a user (one index range); returns how many.
pub fn revoke_user(tx: &Tx<'_>, user_id: &str, now: u64) -> Result<usize, StoreError> {
    let ids = user_grant_ids(&tx.0.open_table(GRANTS_BY_USER)?, user_id)?;
    let mut n = 0;
    for id in ids {
        if let Some(mut g) = tx.get::<_, Grant>(GRANTS, id.as_slice())?
            && !g.revoked
        {
            revoke(tx, &mut g, now)?;
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
    let mut grants = t.open_table(GRANTS)?;
    let grant: Grant = match grants.get(id.as_slice())? {
        Some(v) => decode("grants", v.value())?,
        None => return Ok(None),
    };
    if !grant.revoked {
        let access_until = match grant.jti.as_str() {
            "" => 0,
            jti => match t.open_table(ACCESS_TOKENS)?.get(jti)? {
                Some(v) => decode::<AccessToken>("access_jtis", v.value())?.expires_at,
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
            t.open_table(REFRESH_TOKENS)?
                .remove(grant.refresh_id.as_slice())?
                .is_some(),
        );
    }
    if !grant.jti.is_empty() {
        tokens += usize::from(
            t.open_table(ACCESS_TOKENS)?
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
        let table = t.open_table(GRANTS)?;
        let mut by_user = t.open_table(GRANTS_BY_USER)?;
        for entry in table.iter()? {
            let (_, v) = entry?;
            let g: Grant = decode("grants", v.value())?;
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

impl super::Store {
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
            let tx = Tx(&t);
            for i in done..n.min(done + PER_TXN) {
                let refresh_id = time_ordered_id();
                let new = super::NewTokens {
                    grant_id: time_ordered_id(),
                    refresh_id,
                    refresh_hash: sha256(keyed_token(&refresh_id).as_bytes()),
                    refresh_expires_at: now + 30 * 86_400,
                    jti: new_jti(),
                    access_expires_at: now + 30 * 86_400,
                    device_ip: "192.0.2.1".into(),
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
                };
                create(&tx, &grant, new.refresh_expires_at)?;
                super::ops::record_new_tokens(&tx, grant.id, &new)?;
            }
            t.commit()?;
            done = n.min(done + PER_TXN);
        }
        Ok(())
    }
}
