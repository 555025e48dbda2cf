//! Embedded, versioned schema migrations, applied at start.
//!
//! Every instance runs [`migrate`] when it starts. It takes a transaction-scoped
//! advisory lock first, so when several instances start together one applies what is
//! missing while the others wait, then find it applied and do nothing; each migration
//! and its `schema_migrations` row commit together, so a failed migration leaves the
//! schema as it was.

use tokio_postgres::Client;

use super::PgError;

/// The key of the advisory lock migrations run under ("AuthGate" in ASCII): any
/// constant of our own, the same in every instance.
pub const MIGRATION_LOCK: i64 = 0x4175_7468_4761_7465;

/// Every migration, in order: (version, SQL). A new schema change is a new file and a
/// new row here; released files never change.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../../migrations/0001_init.sql")),
    (2, include_str!("../../../migrations/0002_dpop.sql")),
    (3, include_str!("../../../migrations/0003_admin_role.sql")),
    (
        4,
        include_str!("../../../migrations/0004_client_settings.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/0005_authorization_codes.sql"),
    ),
    (6, include_str!("../../../migrations/0006_retry_window.sql")),
];

/// The newest schema version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the schema to [`latest`], applying the migrations it lacks in one
/// transaction under [`MIGRATION_LOCK`]. Returns the versions it applied (none when
/// another instance, or an earlier start, already did).
///
/// Refuses a database whose schema is newer than this build, rather than run old code
/// against tables it does not know.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(&newest) = applied.last()
        && newest > latest()
    {
        return Err(PgError::Config(format!(
            "the database schema is version {newest}, newer than this build's {}; \
             run a newer AuthGate",
            latest()
        )));
    }
    let mut done = Vec::new();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tracing::info!(version, "applied database migration");
        done.push(*version);
    }
    tx.commit().await?;
    Ok(done)
}
