//! Device authorization requests on PostgreSQL: the counterpart of the redb
//! backend's `DeviceRequests` (same operations, same outcomes), safe when several
//! instances share the database.
//!
//! Every transition is decided by `crate::grant` on the record as read under a row
//! lock (`SELECT … FOR UPDATE`) in the transaction that then persists the decision:
//! of two instances redeeming one code, the second waits for the first's commit,
//! then reads the request `Redeemed` and is refused. The user-code lookup is the
//! `user_codes` table, so a code created through one instance is found through any.

use std::collections::HashMap;
use std::sync::MutexGuard;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::users::standing;
use super::{PgError, PgStore, to_array, to_i64, to_u64};
use crate::grant::{
    DecideRefusal, Decision, DeviceAuth, DeviceStatus, NewTokens, Poll, Presenter, Redeemed,
    Redemption, Redo, Standing,
};
use crate::secrets::ct_eq;
use crate::store::{
    DecideOutcome, DeviceRequests, Pending, PresentedCode, RedeemOutcome, StoreError,
};

/// The columns a [`DeviceAuth`] is read from, in [`from_row`]'s order.
pub(super) const COLUMNS: &str = "r.code_hash, r.client_id, r.scope, r.user_code, r.created_at, \
     r.expires_at, r.interval, r.status, r.approver_id, r.approver_name, r.status_at, \
     r.requester_ip, r.user_agent, r.dpop_jkt, r.grant_id";

/// How many columns [`COLUMNS`] has: the offset of whatever follows them.
const WIDTH: usize = 15;

const TABLE: &str = "device_requests";

/// [`DeviceRequests::create_device_auth`]'s statement, for a batch of requests
/// (`super::batch`, [`Creates`]; one commit for them all): each takes its user code
/// unless a live request holds it, and is stored only if it took it; one row (its
/// place `n`) per request stored. `ON CONFLICT` takes the existing row's lock, so of
/// two instances claiming one code, one inserts and the other sees its (live) row
/// and stores nothing. The foreign key from a code to its request is checked at the
/// statement's end, when both rows exist. The user codes of one batch are distinct,
/// and claimed in their sort order, so two instances' batches sharing codes lock
/// them in one order and never deadlock.
const CREATE_SQL: &str = "WITH q AS (
         SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::text[], $5::text[],
                              $6::bigint[], $7::bigint[], $8::integer[], $9::text[],
                              $10::text[], $11::text[], $12::bigint[], $13::text[],
                              $14::text[], $15::text[])
             WITH ORDINALITY AS q(id, code_hash, client_id, scope, user_code, created_at,
                 expires_at, interval, status, approver_id, approver_name, status_at,
                 requester_ip, user_agent, dpop_jkt, n)
     ), claim AS (
         INSERT INTO user_codes (user_code, request_id, client_id, expires_at)
         SELECT user_code, id, client_id, expires_at FROM q ORDER BY user_code
         ON CONFLICT (user_code) DO UPDATE
            SET request_id = EXCLUDED.request_id,
                client_id = EXCLUDED.client_id,
                expires_at = EXCLUDED.expires_at
          WHERE user_codes.expires_at
                <= (SELECT q.created_at FROM q WHERE q.user_code = EXCLUDED.user_code)
         RETURNING user_code
     ), ins AS (
         INSERT INTO device_requests (id, code_hash, client_id, scope, user_code,
             created_at, expires_at, interval, status, approver_id, approver_name,
             status_at, requester_ip, user_agent, dpop_jkt)
         SELECT id, code_hash, client_id, scope, user_code, created_at, expires_at,
                interval, status, approver_id, approver_name, status_at, requester_ip,
                user_agent, dpop_jkt
           FROM q WHERE q.user_code IN (SELECT user_code FROM claim)
         RETURNING id
     )
     SELECT q.n FROM q JOIN ins ON ins.id = q.id";

/// One new request as [`CREATE_SQL`]'s columns.
pub(super) struct NewRequest {
    id: [u8; 16],
    code_hash: [u8; 32],
    client_id: String,
    scope: String,
    user_code: String,
    created_at: i64,
    expires_at: i64,
    interval: i32,
    status: &'static str,
    approver_id: Option<String>,
    approver_name: Option<String>,
    status_at: Option<i64>,
    requester_ip: String,
    user_agent: String,
    dpop_jkt: Option<String>,
}

impl NewRequest {
    fn of(id: [u8; 16], auth: DeviceAuth) -> Result<Self, PgError> {
        let StatusColumns {
            status,
            approver_id,
            approver_name,
            at,
            // A new request is pending: it yielded no grant yet.
            grant_id: _,
        } = StatusColumns::of(&auth.status)?;
        Ok(NewRequest {
            id,
            code_hash: auth.code_hash,
            created_at: to_i64(auth.created_at, "creation time")?,
            expires_at: to_i64(auth.expires_at, "device code expiry")?,
            interval: i32::try_from(auth.interval).map_err(|_| PgError::OutOfRange("interval"))?,
            status,
            approver_id: approver_id.map(str::to_string),
            approver_name: approver_name.map(str::to_string),
            status_at: at,
            client_id: auth.client_id,
            scope: auth.scope,
            user_code: auth.user_code,
            requester_ip: auth.requester_ip,
            user_agent: auth.user_agent,
            dpop_jkt: auth.dpop_jkt,
        })
    }
}

/// Device-authorization inserts as a batch (`super::batch`): many requests, one
/// statement and one commit (one fsync). Two requests for one user code never share
/// a batch: the later is judged against the earlier's claim.
pub(super) struct Creates;

impl super::batch::Batch for Creates {
    type Item = NewRequest;
    type Key = String;
    const IN_FLIGHT: usize = 4;

    fn key(item: &NewRequest) -> Option<String> {
        Some(item.user_code.clone())
    }

    fn run<'a>(
        client: &'a deadpool_postgres::Client,
        items: &'a [NewRequest],
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<Row>, PgError>> + Send + 'a>> {
        Box::pin(async move {
            fn col<'a, T>(items: &'a [NewRequest], f: impl Fn(&'a NewRequest) -> T) -> Vec<T> {
                items.iter().map(f).collect()
            }
            let id = col(items, |r| r.id.as_slice());
            let code_hash = col(items, |r| r.code_hash.as_slice());
            let client_id = col(items, |r| r.client_id.as_str());
            let scope = col(items, |r| r.scope.as_str());
            let user_code = col(items, |r| r.user_code.as_str());
            let created_at = col(items, |r| r.created_at);
            let expires_at = col(items, |r| r.expires_at);
            let interval = col(items, |r| r.interval);
            let status = col(items, |r| r.status);
            let approver_id = col(items, |r| r.approver_id.as_deref());
            let approver_name = col(items, |r| r.approver_name.as_deref());
            let status_at = col(items, |r| r.status_at);
            let requester_ip = col(items, |r| r.requester_ip.as_str());
            let user_agent = col(items, |r| r.user_agent.as_str());
            let dpop_jkt = col(items, |r| r.dpop_jkt.as_deref());
            let params: [&(dyn ToSql + Sync); 15] = [
                &id,
                &code_hash,
                &client_id,
                &scope,
                &user_code,
                &created_at,
                &expires_at,
                &interval,
                &status,
                &approver_id,
                &approver_name,
                &status_at,
                &requester_ip,
                &user_agent,
                &dpop_jkt,
            ];
            Ok(client
                .query(&client.prepare_cached(CREATE_SQL).await?, &params)
                .await?)
        })
    }
}

/// [`DeviceRequests::decide`]'s write when the request read unlocked was still
/// pending: records the decision (`$2`–`$5` as in [`set_status`]) only if request
/// `$1` is still pending and still holds user code `$6`, and takes the code out of
/// the lookup; returns how many requests it decided (0 or 1). Of two deciders, the
/// second waits for the first's row lock, then finds the request no longer pending.
/// Locks the request before the code, in the order every writer uses.
const DECIDE_SQL: &str = "WITH u AS (
         UPDATE device_requests
            SET status = $2, approver_id = $3, approver_name = $4, status_at = $5
          WHERE id = $1 AND status = 'pending'
            AND EXISTS (SELECT 1 FROM user_codes WHERE user_code = $6 AND request_id = $1)
         RETURNING id
     ), d AS (
         DELETE FROM user_codes WHERE user_code = $6 AND request_id IN (SELECT id FROM u)
     )
     SELECT count(*) FROM u";

/// The undecided request holding a user code (`$1`), with its id after the
/// record's columns. The code is looked up by a scalar subquery, not a join:
/// under generic plans the join scanned all of `device_requests` (830 µs per
/// lookup at a few thousand rows, measured with `pg_stat_statements`); this
/// form is two primary-key probes whatever the table holds.
pub(super) static BY_USER_CODE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, r.id FROM device_requests r
          WHERE r.id = (SELECT request_id FROM user_codes WHERE user_code = $1)
            AND r.user_code = $1"
    )
});

/// [`BY_USER_CODE`] under the request's row lock (a decision that lost the race
/// to write it unlocked).
pub(super) static BY_USER_CODE_LOCKED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} FOR UPDATE OF r", *BY_USER_CODE));

/// A request as read from a row selected with [`COLUMNS`].
pub(super) fn from_row(row: &Row) -> Result<DeviceAuth, PgError> {
    let status: &str = row.try_get(7)?;
    let at: Option<i64> = row.try_get(10)?;
    let at = || -> Result<u64, PgError> {
        to_u64(
            at.ok_or(PgError::Corrupt {
                table: TABLE,
                reason: format!("status {status} without its time"),
            })?,
            TABLE,
        )
    };
    let status = match status {
        "pending" => DeviceStatus::Pending,
        "approved" => DeviceStatus::Approved {
            user_id: row.try_get::<_, Option<String>>(8)?.unwrap_or_default(),
            username: row.try_get::<_, Option<String>>(9)?.unwrap_or_default(),
            at: at()?,
        },
        "denied" => DeviceStatus::Denied { at: at()? },
        "redeemed" => DeviceStatus::Redeemed {
            at: at()?,
            // NULL: redeemed by an older build, never retried.
            grant_id: match row.try_get::<_, Option<&[u8]>>(14)? {
                Some(id) => to_array(id, TABLE)?,
                None => [0; 16],
            },
        },
        other => {
            return Err(PgError::Corrupt {
                table: TABLE,
                reason: format!("unknown status {other:?}"),
            });
        }
    };
    Ok(DeviceAuth {
        code_hash: to_array(row.try_get(0)?, TABLE)?,
        client_id: row.try_get(1)?,
        scope: row.try_get(2)?,
        user_code: row.try_get(3)?,
        created_at: to_u64(row.try_get(4)?, TABLE)?,
        expires_at: to_u64(row.try_get(5)?, TABLE)?,
        interval: u32::try_from(row.try_get::<_, i32>(6)?).map_err(|_| PgError::Corrupt {
            table: TABLE,
            reason: "negative interval".into(),
        })?,
        status,
        requester_ip: row.try_get(11)?,
        user_agent: row.try_get(12)?,
        dpop_jkt: row.try_get(13)?,
    })
}

/// A [`DeviceStatus`] as its columns.
pub(super) struct StatusColumns<'a> {
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub(super) status: &'static str,
    /// The approver's id and login name (approved only).
    pub(super) approver_id: Option<&'a str>,
    pub(super) approver_name: Option<&'a str>,
    /// When it left `pending`.
    pub(super) at: Option<i64>,
    /// The grant it yielded (redeemed only).
    pub(super) grant_id: Option<&'a [u8]>,
}

impl<'a> StatusColumns<'a> {
    /// The columns of `status`.
    pub(super) fn of(status: &'a DeviceStatus) -> Result<Self, PgError> {
        let plain = |status, at| StatusColumns {
            status,
            approver_id: None,
            approver_name: None,
            at,
            grant_id: None,
        };
        Ok(match status {
            DeviceStatus::Pending => plain("pending", None),
            DeviceStatus::Approved {
                user_id,
                username,
                at,
            } => StatusColumns {
                status: "approved",
                approver_id: Some(user_id),
                approver_name: Some(username),
                at: Some(to_i64(*at, "approval time")?),
                grant_id: None,
            },
            DeviceStatus::Denied { at } => plain("denied", Some(to_i64(*at, "denial time")?)),
            DeviceStatus::Redeemed { at, grant_id } => StatusColumns {
                grant_id: Some(grant_id.as_slice()).filter(|g| *g != [0; 16].as_slice()),
                ..plain("redeemed", Some(to_i64(*at, "redemption time")?))
            },
        })
    }
}

/// Writes the status of request `id` as `auth` now stands.
async fn set_status(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &[u8; 16],
    auth: &DeviceAuth,
) -> Result<(), PgError> {
    let StatusColumns {
        status,
        approver_id,
        approver_name,
        at,
        grant_id,
    } = StatusColumns::of(&auth.status)?;
    tx.execute(
        &tx.prepare_cached(
            "UPDATE device_requests
                SET status = $2, approver_id = $3, approver_name = $4, status_at = $5,
                    grant_id = $6
              WHERE id = $1",
        )
        .await?,
        &[
            &id.as_slice(),
            &status,
            &approver_id,
            &approver_name,
            &at,
            &grant_id,
        ],
    )
    .await?;
    Ok(())
}

/// Presents the redeemed request `redeemed` again, in the caller's transaction
/// (which holds the request's row lock): reads its grant's owner, their standing
/// (`FOR SHARE`), then locks the grant, in the backend's lock order (users, then
/// grants, then token rows), decides, and persists the decision.
async fn redo(
    tx: &deadpool_postgres::Transaction<'_>,
    redeemed: Redeemed,
    who: &Presenter,
    now: u64,
    window: u64,
    new: &NewTokens,
) -> Result<RedeemOutcome, PgError> {
    let Some(grant_id) = redeemed.grant_id() else {
        return Ok(RedeemOutcome::of_redo(&Redo::Spent));
    };
    let owner = tx
        .query_opt(
            &tx.prepare_cached("SELECT user_id, username FROM grants WHERE id = $1")
                .await?,
            &[&grant_id.as_slice()],
        )
        .await?;
    let standing = match &owner {
        Some(row) => standing(tx, row.try_get(0)?, row.try_get(1)?).await?,
        None => Standing::Inactive,
    };
    let grant = super::grants::lock(tx, &grant_id).await?;
    let redo = redeemed.redo(grant, who, standing, now, window, new);
    match &redo {
        Redo::Retried(r) => super::grants::persist_retry(tx, r, new).await?,
        Redo::Replayed(revoked) | Redo::UserInactive(revoked) => {
            super::grants::persist_revoked(tx, revoked).await?;
        }
        Redo::Spent => {}
    }
    Ok(RedeemOutcome::of_redo(&redo))
}

impl DeviceRequests for PgStore {
    /// Stores a new device authorization under `id` (the key inside its device code).
    /// Returns `false` (and stores nothing) if the user code is held by a request still
    /// live at `auth.created_at`, on any instance; the caller draws another.
    ///
    /// One statement ([`CREATE_SQL`]) with whatever other requests this instance
    /// is creating meanwhile: one round trip and one commit for them all.
    async fn create_device_auth(&self, id: [u8; 16], auth: DeviceAuth) -> Result<bool, StoreError> {
        let client_id = auth.client_id.clone();
        let created = self
            .shared
            .creates
            .run(NewRequest::of(id, auth)?)
            .await?
            .is_some();
        if created {
            self.pending_counts().created(&client_id);
        }
        Ok(created)
    }

    /// The device authorization with key `id`, if `code_hash` (of the presented
    /// device code) matches it: the polling path, a read.
    async fn device_auth(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM device_requests r WHERE r.id = $1"
                    ))
                    .await?,
                &[&id.as_slice()],
            )
            .await?;
        Ok(row
            .as_ref()
            .map(from_row)
            .transpose()?
            .filter(|d| ct_eq(&d.code_hash, code_hash)))
    }

    /// The request a person may still decide under this user code (the lookup holds
    /// only undecided requests, as the redb backend's does).
    async fn device_auth_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(&client.prepare_cached(&BY_USER_CODE).await?, &[&user_code])
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Records Approve or Deny for the pending request with this user code, so that
    /// two people deciding at once (on two instances) get one `Done` and one
    /// `AlreadyDecided`. Two round trips: the request read unlocked and decided by
    /// `crate::grant`, then written only if still pending ([`DECIDE_SQL`], one
    /// commit); if it no longer was, decided again under its row lock.
    async fn decide(
        &self,
        user_code: String,
        shown: Option<String>,
        decision: Decision,
        now: u64,
    ) -> Result<DecideOutcome, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(&client.prepare_cached(&BY_USER_CODE).await?, &[&user_code])
            .await?;
        let Some(row) = row else {
            return Ok(DecideOutcome::NotFound);
        };
        // The id follows the record's columns.
        let id: [u8; 16] = to_array(row.try_get(WIDTH)?, TABLE)?;
        let auth = from_row(&row)?;
        if !auth.is_shown(shown.as_deref()) {
            return Ok(DecideOutcome::NotFound);
        }
        let client_id = auth.client_id.clone();
        // Expiry and a decision, once seen, are final: only `Done` needs the write.
        let decided = match auth.decide(decision.clone(), now) {
            Ok(decided) => decided,
            Err(DecideRefusal::Expired) => return Ok(DecideOutcome::Expired),
            Err(DecideRefusal::AlreadyDecided) => return Ok(DecideOutcome::AlreadyDecided),
        };
        let StatusColumns {
            status,
            approver_id,
            approver_name,
            at,
            // A decision is approved or denied: no grant yet.
            grant_id: _,
        } = StatusColumns::of(&decided.status)?;
        let params: [&(dyn ToSql + Sync); 6] = [
            &id.as_slice(),
            &status,
            &approver_id,
            &approver_name,
            &at,
            &user_code,
        ];
        let written: i64 = client
            .query_one(&client.prepare_cached(DECIDE_SQL).await?, &params)
            .await?
            .try_get(0)?;
        drop(client);
        if written == 0 {
            // Decided or taken out of the lookup since the read: the exact outcome
            // under the lock.
            return self.decide_locked(user_code, shown, decision, now).await;
        }
        self.pending_counts().decided(&client_id);
        Ok(DecideOutcome::Done(Box::new(decided)))
    }

    /// Exchanges an approved device code for a new grant, exactly once across every
    /// instance. The common case is one statement (`super::redemption`); otherwise
    /// (and when that statement finds the request changed) the request is read `FOR UPDATE`, so a second redemption waits for
    /// the first to commit and then reads it redeemed. The tokens drawn in `new` may
    /// be handed out only if this returns [`RedeemOutcome::Issued`] or
    /// [`RedeemOutcome::Retried`], once committed. A redeemed code presented again
    /// is decided on its grant as read under the grant's row lock (taken after the
    /// request's): of two instances retrying at once, the second waits, then
    /// retries the first's (still unused) pair away, so one pair stays live.
    async fn redeem(
        &self,
        PresentedCode {
            id,
            code_hash,
            seen,
        }: PresentedCode,
        who: Presenter,
        now: u64,
        window: u64,
        new: NewTokens,
    ) -> Result<RedeemOutcome, StoreError> {
        if let Some(outcome) = self
            .redeem_at_once(&id, &code_hash, seen, &who, now, &new)
            .await?
        {
            return Ok(outcome);
        }
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM device_requests r WHERE r.id = $1 FOR UPDATE"
                ))
                .await?,
                &[&id.as_slice()],
            )
            .await?;
        let Some(auth) = row
            .as_ref()
            .map(from_row)
            .transpose()?
            .filter(|d| ct_eq(&d.code_hash, &code_hash))
        else {
            return Ok(RedeemOutcome::Unknown);
        };
        let poll = auth.poll(&who.client_id, now);
        if let Poll::Redeemed(redeemed) = poll {
            let outcome = redo(&tx, redeemed, &who, now, window, &new).await?;
            tx.commit().await?;
            return Ok(outcome);
        }
        let approved = match RedeemOutcome::approved(poll) {
            Ok(approved) => approved,
            Err(outcome) => return Ok(outcome),
        };
        let (user_id, username) = approved.approver();
        let standing = standing(&tx, user_id, username).await?;
        let outcome = match approved.redeem(standing, now, &new) {
            Redemption::ApproverInactive(denied) => {
                set_status(&tx, &id, &denied.into_record()).await?;
                RedeemOutcome::Refused(crate::grant::Refusal::Denied)
            }
            Redemption::Issued { device, issue } => {
                set_status(&tx, &id, &device.into_record()).await?;
                super::grants::create(&tx, issue.grant(), &new).await?;
                RedeemOutcome::Issued(issue)
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// How many device codes expired in `(from, to]` without being redeemed or
    /// denied, for the `expired` device-code metric.
    async fn device_codes_expired_between(&self, from: u64, to: u64) -> Result<u64, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM device_requests
                  WHERE expires_at > $1 AND expires_at <= $2
                    AND status IN ('pending', 'approved')",
                &[&to_i64(from, "time")?, &to_i64(to, "time")?],
            )
            .await?;
        Ok(to_u64(row.try_get(0)?, TABLE)?)
    }

    /// Requests awaiting a decision at `now`, server-wide and of `client_id`: the
    /// user-code lookup holds exactly the undecided ones, on every instance.
    async fn pending_codes(&self, client_id: &str, now: u64) -> Result<Pending, StoreError> {
        if let Some(pending) = self.pending_counts().get(client_id, now) {
            return Ok(pending);
        }
        // One count at a time: the requests arriving meanwhile answer from the
        // last counts (kept current with this instance's own creations), or, if
        // there are none yet, wait for this one. Without it every request of the
        // new second counted (8 counts a second at 52,000 pending codes, 36 ms
        // each: a third of a core).
        let _counting = match self.shared.counting.try_lock() {
            Ok(counting) => counting,
            Err(_) => {
                if let Some(pending) = self.pending_counts().last(client_id) {
                    return Ok(pending);
                }
                self.shared.counting.lock().await
            }
        };
        if let Some(pending) = self.pending_counts().get(client_id, now) {
            return Ok(pending);
        }
        let client = self.conn().await?;
        let rows = client
            .query(
                &client
                    .prepare_cached(
                        "SELECT client_id, count(*) FROM user_codes
                          WHERE expires_at > $1 GROUP BY client_id",
                    )
                    .await?,
                &[&to_i64(now, "time")?],
            )
            .await?;
        let mut by_client = HashMap::with_capacity(rows.len());
        for row in &rows {
            let n = to_u64(row.try_get(1)?, "user_codes")?;
            by_client.insert(row.try_get(0)?, usize::try_from(n).unwrap_or(usize::MAX));
        }
        let pending = Pending {
            total: by_client.values().sum(),
            client: by_client.get(client_id).copied().unwrap_or(0),
        };
        let mut counts = self.pending_counts();
        *counts = PendingCounts {
            at: Some(now),
            total: pending.total,
            by_client,
            counted: counts.counted + 1,
        };
        Ok(pending)
    }
}

/// Most clients [`PendingCounts`] tracks between counts (a bound; real deployments
/// register far fewer).
const MAX_COUNTED_CLIENTS: usize = 10_000;

/// The pending device codes of every client, as counted at one second.
///
/// Counting `user_codes` is O(pending codes): done on every device authorization it
/// cost ~0.1 µs of PostgreSQL CPU per pending code (3–4 ms at 30,000), more than the
/// rest of a flow. So each instance counts at most once a wall-clock second (one
/// grouped count) and answers the caps from that. The price: the caps can be
/// overshot by what *other* instances create within that second (this instance adds
/// its own), which the per-IP device-authorization limit bounds; they guard
/// against exhaustion, not a quota.
/// One entry per client with pending codes: bounded by the registered clients.
#[derive(Debug, Default)]
pub(crate) struct PendingCounts {
    /// The second counted, if any.
    at: Option<u64>,
    /// Every client's codes.
    total: usize,
    /// Per client.
    by_client: HashMap<String, usize>,
    /// How many counts this instance ran (the tests' view of the single flight).
    counted: u64,
}

impl PendingCounts {
    /// Uncounts a request this instance just decided: it no longer awaits anyone.
    fn decided(&mut self, client_id: &str) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_client.get_mut(client_id) {
            *n = n.saturating_sub(1);
        }
    }

    /// Counts a request this instance just created, so its own caps hold exactly
    /// within the second (other instances' show from the next second).
    fn created(&mut self, client_id: &str) {
        if self.at.is_some() {
            self.total = self.total.saturating_add(1);
            if let Some(n) = self.by_client.get_mut(client_id) {
                *n = n.saturating_add(1);
            } else if self.by_client.len() < MAX_COUNTED_CLIENTS {
                self.by_client.insert(client_id.to_string(), 1);
            } else {
                // More clients than any deployment registers: count afresh.
                self.at = None;
            }
        }
    }

    /// The counts for `client_id` if they were taken at `now`'s second.
    fn get(&self, client_id: &str, now: u64) -> Option<Pending> {
        (self.at == Some(now)).then(|| self.of(client_id))
    }

    /// The counts for `client_id` as last taken (and kept since), if ever.
    fn last(&self, client_id: &str) -> Option<Pending> {
        self.at.is_some().then(|| self.of(client_id))
    }

    fn of(&self, client_id: &str) -> Pending {
        Pending {
            total: self.total,
            client: self.by_client.get(client_id).copied().unwrap_or(0),
        }
    }
}

impl PgStore {
    /// [`DeviceRequests::decide`] with the request locked while `crate::grant`
    /// decides: the outcome when the unlocked read was overtaken.
    pub(super) async fn decide_locked(
        &self,
        user_code: String,
        shown: Option<String>,
        decision: Decision,
        now: u64,
    ) -> Result<DecideOutcome, StoreError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &tx.prepare_cached(&BY_USER_CODE_LOCKED).await?,
                &[&user_code],
            )
            .await?;
        let Some(row) = row else {
            return Ok(DecideOutcome::NotFound);
        };
        // The id follows the record's columns.
        let id: [u8; 16] = to_array(row.try_get(WIDTH)?, TABLE)?;
        let auth = from_row(&row)?;
        if !auth.is_shown(shown.as_deref()) {
            return Ok(DecideOutcome::NotFound);
        }
        let client_id = auth.client_id.clone();
        let decided = match auth.decide(decision, now) {
            Ok(decided) => decided,
            Err(DecideRefusal::Expired) => return Ok(DecideOutcome::Expired),
            Err(DecideRefusal::AlreadyDecided) => return Ok(DecideOutcome::AlreadyDecided),
        };
        set_status(&tx, &id, &decided).await?;
        // Decided requests leave the lookup: it holds what people can still approve.
        tx.execute(
            &tx.prepare_cached("DELETE FROM user_codes WHERE user_code = $1 AND request_id = $2")
                .await?,
            &[&user_code, &id.as_slice()],
        )
        .await?;
        tx.commit().await?;
        self.pending_counts().decided(&client_id);
        Ok(DecideOutcome::Done(Box::new(decided)))
    }

    /// How many times this instance counted the pending codes.
    #[cfg(test)]
    pub(super) fn pending_counted(&self) -> u64 {
        self.pending_counts().counted
    }

    /// This instance's pending counts (a poisoned lock only means a panic elsewhere
    /// mid-update of plain numbers: still usable).
    fn pending_counts(&self) -> MutexGuard<'_, PendingCounts> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
