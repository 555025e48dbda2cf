//! `authgate export` and `authgate import`: move a deployment between backends
//! (redb on a Pi, PostgreSQL for many instances) through a dump file (format in
//! `crate::store::dump`), so no device signs in again.
//!
//! Two commands and a file rather than one `migrate --from --to`: the source and
//! the target are usually on different machines (the Pi, the new database host),
//! the file can be checked and kept as a backup, and each side needs only its own
//! credentials. Both sides choose their backend as every admin command does:
//! `--database-url` (or `AUTHGATE_DATABASE_URL`, or `database_url` in the config
//! file) for PostgreSQL, else the redb file of `--data-dir`.
//!
//! redb is opened directly, so the server must be stopped (redb allows one process
//! per file): that is also what a move needs, since a device that refreshes after
//! the export holds a token the target never sees. The admin socket is not used.

use std::fs;
use std::io::{BufReader, BufWriter};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::Args;

use super::AdminError;
use crate::config::DatabaseUrl;
use crate::store::dump::{Counts, Dump, Origin, Reader, Writer};
use crate::store::{PgStore, RedbDump, RedbStore, StoreError};

/// Which backend a dump is read from or written to.
#[derive(Args, Clone)]
pub struct TargetArgs {
    /// The data directory whose redb file (and `keys/`) to use, when no database
    /// URL is set [default: authgate-data] [env: AUTHGATE_DATA_DIR]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use this PostgreSQL database instead of a data directory
    /// [env: AUTHGATE_DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
}

impl std::fmt::Debug for TargetArgs {
    /// Without the database URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetArgs")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Arguments of `authgate export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The dump file to create (refused if it exists); written with mode 0600.
    #[arg(long, short)]
    pub out: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub from: TargetArgs,
}

/// Arguments of `authgate import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The dump file written by `authgate export`.
    pub file: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub to: TargetArgs,
}

/// Where a dump comes from or goes: resolved [`TargetArgs`].
enum Target {
    Redb(PathBuf),
    Postgres(DatabaseUrl),
}

impl Target {
    /// As every admin command resolves them: `--database-url`, then
    /// `AUTHGATE_DATABASE_URL`, then `database_url` in the config file; without
    /// one, the redb file of the data directory.
    fn resolve(args: &TargetArgs, config: Option<&Path>) -> Result<Self, AdminError> {
        let url = crate::config::resolve_database_url(args.database_url.clone(), config)?;
        Ok(match url {
            Some(url) => Target::Postgres(url),
            None => Target::Redb(crate::config::resolve_data_dir(
                args.data_dir.clone(),
                config,
            )?),
        })
    }
}

/// Runs `authgate export`.
pub fn export(args: ExportArgs, config: Option<&Path>) -> Result<(), AdminError> {
    let target = Target::resolve(&args.from, config)?;
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                AdminError::DumpExists(args.out.display().to_string())
            }
            _ => AdminError::Dump(e.into()),
        })?;
    let result = export_to(&target, BufWriter::new(file));
    match result {
        Ok(counts) => {
            println!("exported {counts} to {}", args.out.display());
            println!(
                "{} holds the signing keys (mode 0600): keep it secret, and delete it once imported",
                args.out.display()
            );
            Ok(())
        }
        Err(e) => {
            // A partial file would be refused by import anyway (no end line); it
            // is removed so that it is not mistaken for a dump.
            let _ = fs::remove_file(&args.out);
            Err(e)
        }
    }
}

fn export_to(target: &Target, out: BufWriter<fs::File>) -> Result<Counts, AdminError> {
    let now = crate::clock::now();
    runtime()?.block_on(async {
        let (out, counts) = match target {
            Target::Redb(dir) => {
                let store = open_redb(dir, false)?;
                let mut w = Writer::new(out, Origin::Redb, now)?;
                RedbDump {
                    store: &store,
                    data_dir: dir,
                }
                .export(&mut w)
                .await?;
                w.finish()?
            }
            Target::Postgres(url) => {
                let store = connect(url).await?;
                let mut w = Writer::new(out, Origin::Postgres, now)?;
                store.export(&mut w).await?;
                w.finish()?
            }
        };
        out.into_inner()
            .map_err(|e| AdminError::Dump(e.into_error().into()))?
            .sync_all()
            .map_err(|e| AdminError::Dump(e.into()))?;
        Ok(counts)
    })
}

/// Runs `authgate import`.
pub fn import(args: ImportArgs, config: Option<&Path>) -> Result<(), AdminError> {
    let target = Target::resolve(&args.to, config)?;
    let file = fs::File::open(&args.file).map_err(|e| AdminError::Dump(e.into()))?;
    // The header is checked before the target is touched.
    let mut reader = Reader::new(BufReader::new(file))?;
    let origin = reader.header().source;
    let counts = runtime()?.block_on(async {
        match &target {
            Target::Redb(dir) => import_redb(dir, &mut reader).await,
            Target::Postgres(url) => Ok(connect(url).await?.import(&mut reader).await?),
        }
    })?;
    println!(
        "imported {counts} (exported from {}) from {}",
        match origin {
            Origin::Redb => "redb",
            Origin::Postgres => "postgres",
        },
        args.file.display()
    );
    Ok(())
}

/// Imports into the data directory `dir`; a database file this created is removed
/// again if the import fails, so a failed import leaves the directory as it was.
async fn import_redb(
    dir: &Path,
    reader: &mut Reader<BufReader<fs::File>>,
) -> Result<Counts, AdminError> {
    let db = dir.join("authgate.redb");
    let created = !db.exists();
    let store = open_redb(dir, true)?;
    let result = RedbDump {
        store: &store,
        data_dir: dir,
    }
    .import(reader)
    .await;
    drop(store);
    if result.is_err() && created {
        let _ = fs::remove_file(&db);
    }
    Ok(result?)
}

/// Opens the redb file of `dir` in this process (creating it if `creates`), with a
/// clear error when a running server holds it.
fn open_redb(dir: &Path, creates: bool) -> Result<RedbStore, AdminError> {
    if !creates && !dir.join("authgate.redb").exists() {
        return Err(AdminError::NoDatabase(dir.display().to_string()));
    }
    let io = |e: std::io::Error| AdminError::Dump(e.into());
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    match RedbStore::open(&dir.join("authgate.redb"), |_| {}) {
        Ok(store) => Ok(store),
        Err(StoreError::Database(redb::Error::DatabaseAlreadyOpen)) => {
            Err(AdminError::ServerRunning(dir.display().to_string()))
        }
        Err(e) => Err(AdminError::Dump(e.into())),
    }
}

/// Connects to PostgreSQL (migrating a new database to the current schema).
async fn connect(url: &DatabaseUrl) -> Result<PgStore, AdminError> {
    PgStore::connect(url.expose(), 2).await.map_err(|source| {
        AdminError::Open(crate::bootstrap::OpenError::Postgres {
            url: url.redacted(),
            source,
        })
    })
}

/// The single-threaded runtime the command runs on.
fn runtime() -> Result<tokio::runtime::Runtime, AdminError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Runtime)
}
