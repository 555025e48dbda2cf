//! [`Dump`] for a PostgreSQL database: the export reads every carried table in one
//! `REPEATABLE READ READ ONLY` transaction (one snapshot, even if an instance were
//! still writing), a bounded batch of rows at a time through a portal; the import
//! writes every record, signing keys included, in one transaction that commits
//! only after the source reached its verified end, so a failed import leaves the
//! database as it was. Rows go in by binary `COPY`, one stream per kind.

use std::pin::Pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{IsolationLevel, Row, Transaction};

use super::{PgError, PgStore, to_array, to_i64, to_u64};
use crate::store::dump::{
    AccessLine, ClientLine, Counts, Dump, DumpError, GrantLine, Item, Kind, RefreshLine,
    SigningKey, Sink, Source, UserLine, check_key,
};

/// Rows fetched per round trip by the export.
const BATCH: i32 = 1000;

/// Turns a row of one export query into its dump record.
type RowOf = fn(&Row) -> Result<Item, PgError>;

/// What each kind is read with, in dump order.
const EXPORTS: [(&str, RowOf); 6] = [
    (
        "SELECT kid, secret, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY seq",
        key_of,
    ),
    (
        "SELECT id, username, password_hash, disabled, created_at, admin FROM users ORDER BY id",
        user_of,
    ),
    (
        // The columns of `clients::CLIENT_COLUMNS`, in its order.
        "SELECT id, name, secret_hash, scopes, grant_types, disabled, access_ttl, refresh_ttl,
                created_at, audiences, dpop, redirect_uris, access_token_format,
                device_code_ttl, poll_interval, user_code_format FROM clients ORDER BY id",
        client_of,
    ),
    (
        "SELECT id, user_id, username, client_id, scope, created_at, last_refreshed_at,
                expires_at, current_refresh, revoked, device_ip, refresh_id, jti, dpop_jkt
           FROM grants ORDER BY id",
        grant_of,
    ),
    (
        "SELECT id, token_hash, grant_id, expires_at FROM refresh_tokens ORDER BY id",
        refresh_of,
    ),
    (
        "SELECT jti, grant_id, expires_at, revoked FROM access_tokens ORDER BY jti",
        access_of,
    ),
];

impl Dump for PgStore {
    async fn export(&self, sink: &mut dyn Sink) -> Result<Counts, DumpError> {
        let mut client = self.conn().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(PgError::from)?;
        let mut counts = Counts::default();
        for (sql, of) in EXPORTS {
            let portal = tx.bind(sql, &[]).await.map_err(PgError::from)?;
            loop {
                let rows = tx
                    .query_portal(&portal, BATCH)
                    .await
                    .map_err(PgError::from)?;
                for row in &rows {
                    let item = of(row)?;
                    counts.add(item.kind());
                    sink.put(&item)?;
                }
                if rows.len() < BATCH as usize {
                    break;
                }
            }
        }
        tx.commit().await.map_err(PgError::from)?;
        Ok(counts)
    }

    async fn import(&self, source: &mut dyn Source) -> Result<Counts, DumpError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(PgError::from)?;
        // Taken first, as every change of the ring does: no instance starting now
        // can create a first key of its own between the check and the commit.
        tx.execute(
            "SELECT version FROM signing_key_ring WHERE one FOR UPDATE",
            &[],
        )
        .await
        .map_err(PgError::from)?;
        refuse_non_empty(&tx).await?;
        let mut counts = Counts::default();
        let mut copy: Option<(Kind, Pin<Box<BinaryCopyInWriter>>)> = None;
        while let Some(item) = source.next_item()? {
            let kind = item.kind();
            counts.add(kind);
            if let Item::SigningKey(k) = &item {
                check_key(k)?;
            }
            let writer = match &mut copy {
                Some((open, writer)) if *open == kind => writer,
                _ => {
                    if let Some((_, mut done)) = copy.take() {
                        done.as_mut().finish().await.map_err(PgError::from)?;
                    }
                    let (sql, types) = copy_of(kind);
                    let sink = tx.copy_in(sql).await.map_err(PgError::from)?;
                    let writer = Box::pin(BinaryCopyInWriter::new(sink, types));
                    &mut copy.insert((kind, writer)).1
                }
            };
            let values = values_of(&item)?;
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            writer.as_mut().write(&refs).await.map_err(PgError::from)?;
        }
        if let Some((_, mut done)) = copy.take() {
            done.as_mut().finish().await.map_err(PgError::from)?;
        }
        if counts.signing_key > 0 {
            tx.execute(
                "UPDATE signing_key_ring SET version = version + 1 WHERE one",
                &[],
            )
            .await
            .map_err(PgError::from)?;
        }
        tx.commit().await.map_err(PgError::from)?;
        Ok(counts)
    }
}

/// [`DumpError::NotEmpty`] if the database has signing keys (retired ones too),
/// users, clients or grants: an instance that ran once has all of them.
async fn refuse_non_empty(tx: &Transaction<'_>) -> Result<(), DumpError> {
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM signing_keys), (SELECT count(*) FROM users),
                    (SELECT count(*) FROM clients), (SELECT count(*) FROM grants)",
            &[],
        )
        .await
        .map_err(PgError::from)?;
    let n = |i: usize| -> Result<i64, PgError> { Ok(row.try_get(i)?) };
    let (keys, users, clients, grants) = (n(0)?, n(1)?, n(2)?, n(3)?);
    if keys + users + clients + grants > 0 {
        return Err(DumpError::NotEmpty(format!(
            "{keys} signing keys, {users} users, {clients} clients, {grants} grants in the database"
        )));
    }
    Ok(())
}

/// The binary `COPY` each kind is loaded with (one per run of records of that
/// kind: one round trip per few KiB instead of one per row), and its column types.
fn copy_of(kind: Kind) -> (&'static str, &'static [Type]) {
    const KEY: &[Type] = &[Type::TEXT, Type::TEXT, Type::INT8];
    const USER: &[Type] = &[
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::INT8,
        Type::BOOL,
    ];
    const CLIENT: &[Type] = &[
        Type::TEXT,
        Type::TEXT,
        Type::BYTEA,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::BOOL,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT_ARRAY,
        Type::TEXT,
        Type::TEXT_ARRAY,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
    ];
    const GRANT: &[Type] = &[
        Type::BYTEA,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::BYTEA,
        Type::BOOL,
        Type::TEXT,
        Type::BYTEA,
        Type::TEXT,
        Type::TEXT,
    ];
    const REFRESH: &[Type] = &[Type::BYTEA, Type::BYTEA, Type::BYTEA, Type::INT8];
    const ACCESS: &[Type] = &[Type::TEXT, Type::BYTEA, Type::INT8, Type::BOOL];
    match kind {
        Kind::SigningKey => (
            "COPY signing_keys (kid, secret, created_at) FROM STDIN BINARY",
            KEY,
        ),
        Kind::User => (
            "COPY users (id, username, password_hash, disabled, created_at, admin) FROM STDIN BINARY",
            USER,
        ),
        Kind::Client => (
            "COPY clients (id, name, secret_hash, scopes, grant_types, disabled, access_ttl,
                           refresh_ttl, created_at, audiences, dpop, redirect_uris,
                           access_token_format, device_code_ttl, poll_interval,
                           user_code_format) FROM STDIN BINARY",
            CLIENT,
        ),
        Kind::Grant => (
            "COPY grants (id, user_id, username, client_id, scope, created_at,
                          last_refreshed_at, expires_at, current_refresh, revoked, device_ip,
                          refresh_id, jti, dpop_jkt) FROM STDIN BINARY",
            GRANT,
        ),
        Kind::RefreshToken => (
            "COPY refresh_tokens (id, token_hash, grant_id, expires_at) FROM STDIN BINARY",
            REFRESH,
        ),
        Kind::AccessToken => (
            "COPY access_tokens (jti, grant_id, expires_at, revoked) FROM STDIN BINARY",
            ACCESS,
        ),
    }
}

/// One row's values, in [`copy_of`]'s column order.
type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn values_of(item: &Item) -> Result<Values, PgError> {
    Ok(match item {
        Item::SigningKey(k) => vec![
            Box::new(k.kid.clone()),
            Box::new(k.secret.clone()),
            Box::new(to_i64(k.created_at, "key creation time")?),
        ],
        Item::User(u) => vec![
            Box::new(u.id.clone()),
            Box::new(u.username.clone()),
            Box::new(u.password_hash.clone()),
            Box::new(u.disabled),
            Box::new(to_i64(u.created_at, "user creation time")?),
            Box::new(u.admin),
        ],
        Item::Client(c) => client_values(c)?,
        Item::Grant(g) => grant_values(g)?,
        Item::RefreshToken(r) => vec![
            Box::new(r.id.to_vec()),
            Box::new(r.token_hash.to_vec()),
            Box::new(r.grant_id.to_vec()),
            Box::new(to_i64(r.expires_at, "refresh token expiry")?),
        ],
        Item::AccessToken(a) => vec![
            Box::new(a.jti.clone()),
            Box::new(a.grant_id.to_vec()),
            Box::new(to_i64(a.expires_at, "access token expiry")?),
            Box::new(a.revoked),
        ],
    })
}

fn client_values(c: &ClientLine) -> Result<Values, PgError> {
    let ttl = |v: Option<u64>, what| v.map(|v| to_i64(v, what)).transpose();
    Ok(vec![
        Box::new(c.id.clone()),
        Box::new(c.name.clone()),
        Box::new(c.secret_hash.map(|h| h.to_vec())),
        Box::new(c.scopes.clone()),
        Box::new(c.grant_types.clone()),
        Box::new(c.disabled),
        Box::new(ttl(c.access_ttl, "access token lifetime")?),
        Box::new(ttl(c.refresh_ttl, "refresh token lifetime")?),
        Box::new(to_i64(c.created_at, "client creation time")?),
        Box::new(c.audiences.clone()),
        Box::new(c.dpop.as_str()),
        Box::new(c.redirect_uris.clone()),
        Box::new(c.access_token_format.as_str()),
        Box::new(ttl(c.device_code_ttl, "device code lifetime")?),
        Box::new(ttl(c.poll_interval, "poll interval")?),
        Box::new(c.user_code_format.as_str()),
    ])
}

fn grant_values(g: &GrantLine) -> Result<Values, PgError> {
    let refreshed = g
        .last_refreshed_at
        .map(|t| to_i64(t, "refresh time"))
        .transpose()?;
    Ok(vec![
        Box::new(g.id.to_vec()),
        Box::new(g.user_id.clone()),
        Box::new(g.username.clone()),
        Box::new(g.client_id.clone()),
        Box::new(g.scope.clone()),
        Box::new(to_i64(g.created_at, "grant creation time")?),
        Box::new(refreshed),
        Box::new(to_i64(g.expires_at, "grant expiry")?),
        Box::new(g.current_refresh.to_vec()),
        Box::new(g.revoked),
        Box::new(g.device_ip.clone()),
        Box::new(g.refresh_id.to_vec()),
        Box::new(g.jti.clone()),
        Box::new(g.dpop_jkt.clone()),
    ])
}

fn key_of(r: &Row) -> Result<Item, PgError> {
    Ok(Item::SigningKey(SigningKey {
        kid: r.try_get(0)?,
        secret: r.try_get(1)?,
        created_at: to_u64(r.try_get(2)?, "signing_keys")?,
    }))
}

fn user_of(r: &Row) -> Result<Item, PgError> {
    Ok(Item::User(UserLine {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        disabled: r.try_get(3)?,
        created_at: to_u64(r.try_get(4)?, "users")?,
        admin: r.try_get(5)?,
    }))
}

fn client_of(r: &Row) -> Result<Item, PgError> {
    Ok(Item::Client(super::clients::client_from_row(r)?.into()))
}

fn grant_of(r: &Row) -> Result<Item, PgError> {
    const T: &str = "grants";
    Ok(Item::Grant(GrantLine {
        id: to_array(r.try_get(0)?, T)?,
        user_id: r.try_get(1)?,
        username: r.try_get(2)?,
        client_id: r.try_get(3)?,
        scope: r.try_get(4)?,
        created_at: to_u64(r.try_get(5)?, T)?,
        last_refreshed_at: r
            .try_get::<_, Option<i64>>(6)?
            .map(|v| to_u64(v, T))
            .transpose()?,
        expires_at: to_u64(r.try_get(7)?, T)?,
        current_refresh: to_array(r.try_get(8)?, T)?,
        revoked: r.try_get(9)?,
        device_ip: r.try_get(10)?,
        refresh_id: to_array(r.try_get(11)?, T)?,
        jti: r.try_get(12)?,
        dpop_jkt: r.try_get(13)?,
    }))
}

fn refresh_of(r: &Row) -> Result<Item, PgError> {
    const T: &str = "refresh_tokens";
    Ok(Item::RefreshToken(RefreshLine {
        id: to_array(r.try_get(0)?, T)?,
        token_hash: to_array(r.try_get(1)?, T)?,
        grant_id: to_array(r.try_get(2)?, T)?,
        expires_at: to_u64(r.try_get(3)?, T)?,
    }))
}

fn access_of(r: &Row) -> Result<Item, PgError> {
    const T: &str = "access_tokens";
    Ok(Item::AccessToken(AccessLine {
        jti: r.try_get(0)?,
        grant_id: to_array(r.try_get(1)?, T)?,
        expires_at: to_u64(r.try_get(2)?, T)?,
        revoked: r.try_get(3)?,
    }))
}
