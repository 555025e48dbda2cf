//! The sweep: removing what can no longer matter, from the expiry index, a
//! bounded chunk per write transaction.

use super::expiry::{self, Kind};
use super::grants;
use super::tables::{
    ACCESS_TOKENS, AUTH_CODES, DEVICE_REQUESTS, EXPIRIES, REFRESH_TOKENS, SESSIONS,
};
use super::{RedbStore, StoreError, Tx};
use crate::store::{SweepStats, Sweeper};

/// Most expiry-index entries one sweep transaction handles, so a sweep never holds
/// the writer (and everyone waiting on it) for long.
pub(super) const SWEEP_CHUNK: usize = 1024;

/// A chunk's removals, and the user codes to give up once it has committed.
struct Chunk {
    stats: SweepStats,
    released: Vec<(String, [u8; 16])>,
}

impl Sweeper for RedbStore {
    /// Removes what can no longer matter: device codes an hour past expiry, access
    /// token entries and refresh tokens past expiry (from the expiry index, a chunk
    /// per transaction), and expired sessions.
    async fn sweep(&self, now: u64) -> Result<SweepStats, StoreError> {
        let mut total = SweepStats::default();
        loop {
            let Chunk {
                stats: chunk,
                released,
            } = self
                .writer
                .write(move |tx| sweep_chunk(tx, now, SWEEP_CHUNK))
                .await?;
            // In-memory effects follow the commit.
            for (code, id) in released {
                self.user_codes.release(&code, &id);
            }
            total.entries += chunk.entries;
            total.device_codes += chunk.device_codes;
            total.access_tokens += chunk.access_tokens;
            total.refresh_tokens += chunk.refresh_tokens;
            total.grants += chunk.grants;
            total.auth_codes += chunk.auth_codes;
            if chunk.entries < SWEEP_CHUNK {
                break;
            }
        }
        total.sessions = self
            .writer
            .write(move |tx| {
                let t = tx.txn();
                let mut ended = Vec::new();
                t.open_table(SESSIONS.def())?.retain(|k, v| {
                    let Ok(s) = SESSIONS.decode(v) else {
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
}

/// Removes up to `limit` due entries of the expiry index and the records they
/// point at, in the writer's transaction.
fn sweep_chunk(tx: &Tx<'_>, now: u64, limit: usize) -> Result<Chunk, StoreError> {
    let t = tx.txn();
    let mut stats = SweepStats::default();
    let mut released = Vec::new();
    let mut index = t.open_table(EXPIRIES)?;
    let due = expiry::due(&index, now, limit)?;
    let mut devices = t.open_table(DEVICE_REQUESTS.def())?;
    let mut codes = t.open_table(AUTH_CODES.def())?;
    let mut refresh = t.open_table(REFRESH_TOKENS.def())?;
    let mut access = t.open_table(ACCESS_TOKENS.def())?;
    let mut dead_grants = Vec::new();
    for entry in &due {
        stats.entries += 1;
        match entry.kind {
            Some(Kind::DeviceRequest) => {
                if let Some(v) = devices.remove(entry.key.as_slice())? {
                    stats.device_codes += 1;
                    if let (Ok(d), Ok(id)) = (
                        DEVICE_REQUESTS.decode(v.value()),
                        <[u8; 16]>::try_from(entry.key.as_slice()),
                    ) {
                        released.push((d.user_code, id));
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
            Some(Kind::AuthCode) => {
                stats.auth_codes += usize::from(codes.remove(entry.key.as_slice())?.is_some());
            }
            None => {}
        }
        index.remove(entry.entry.as_slice())?;
    }
    // Grants own token records in the tables opened above: delete them after
    // those handles are closed.
    drop((devices, codes, refresh, access, index));
    for id in dead_grants {
        stats.grants += usize::from(grants::delete_if_dead(t, &id, now)?.is_some());
    }
    Ok(Chunk { stats, released })
}
