//! Which storage backend the servers under test use, chosen by env
//! `AUTHGATE_TEST_BACKEND`: unset (or `redb`) runs every [`crate::TestServer`] on
//! redb in its data directory, as the binary does with no flags; `postgres` runs each
//! on a fresh database of one PostgreSQL cluster shared by the test binary, with
//! `--database-url`. The whole end-to-end suite runs both ways
//! (`scripts/test-all.sh`), so one suite proves both backends.
//!
//! The cluster is started lazily, by the first server that needs it, and lives as long
//! as the test process: a `static` is never dropped, so a guard process removes it
//! when the process exits ([`crate::pg::PgCluster::remove_when_process_exits`]).
//! Each [`crate::DataDir`] gets its own database `t_<n>`, created when the directory
//! is; every admin command run on that directory (through [`crate::run_admin`],
//! [`crate::ops::cli`] or [`crate::ops::spawn`]) gets the same `--database-url`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::pg::{ExitGuard, PgCluster};

/// The variable that selects the backend.
pub const ENV: &str = "AUTHGATE_TEST_BACKEND";

/// Connections the shared cluster allows: every server of a test binary pools its own,
/// and tests run in parallel.
const SHARED_MAX_CONNECTIONS: u32 = 500;

/// A storage backend of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// redb in the data directory (the default).
    Redb,
    /// PostgreSQL through `--database-url`.
    Postgres,
}

/// The backend selected by [`ENV`].
///
/// # Panics
/// On a value other than `redb`, `postgres` or empty: a typo must not quietly test
/// the default.
pub fn backend() -> Backend {
    match std::env::var(ENV).as_deref() {
        Err(_) | Ok("") | Ok("redb") => Backend::Redb,
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok(other) => panic!("{ENV}={other:?}: expected `redb` or `postgres`"),
    }
}

/// Whether the servers under test run on PostgreSQL.
pub fn is_postgres() -> bool {
    backend() == Backend::Postgres
}

/// How long a running server on PostgreSQL may take to hear of a change an admin
/// command committed: it drops its cached client on `NOTIFY`, sent at the command's
/// commit (milliseconds; 1 s covers a busy host).
pub const NOTIFY_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Repeats `attempt` until `done` holds for its result, for at most [`NOTIFY_BOUND`]
/// on PostgreSQL, and returns the last result. On redb a change made through the
/// admin socket is in place when the command returns, so `attempt` runs once: a
/// check that needs the wait on redb still fails there.
pub fn after_notify<T>(mut attempt: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = std::time::Instant::now();
    loop {
        let result = attempt();
        if done(&result) || !is_postgres() || start.elapsed() > NOTIFY_BOUND {
            return result;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The test binary's shared cluster, started on first use.
///
/// # Panics
/// When PostgreSQL is not installed or does not start (the message says why).
pub fn shared_cluster() -> &'static ExitGuard {
    static CLUSTER: OnceLock<ExitGuard> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        PgCluster::start_with_max_connections(SHARED_MAX_CONNECTIONS)
            .and_then(PgCluster::remove_when_process_exits)
            .unwrap_or_else(|e| panic!("the shared PostgreSQL cluster of the tests: {e}"))
    })
}

/// A fresh, empty database on the shared cluster; its connection string.
pub fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    shared_cluster()
        .create_database(&format!("t_{n}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE t_{n}: {e}"))
}

fn registry() -> &'static Mutex<HashMap<PathBuf, String>> {
    static DIRS: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    DIRS.get_or_init(Default::default)
}

/// Records that the servers and admin commands of data directory `dir` use `url`.
pub(crate) fn register(dir: &Path, url: &str) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(dir.to_path_buf(), url.to_owned());
}

/// Forgets `dir` (it is being deleted).
pub(crate) fn unregister(dir: &Path) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(dir);
}

/// The database URL of data directory `dir`, if it has one: the URL of the
/// [`crate::DataDir`] it is, or lies in (a test may keep its data in a subdirectory
/// of one).
pub fn database_url_of(dir: &Path) -> Option<String> {
    let dirs = registry().lock().unwrap_or_else(|e| e.into_inner());
    dir.ancestors().find_map(|d| dirs.get(d).cloned())
}

/// `--database-url URL` for an admin command run on data directory `dir`, unless
/// `args` name a database of their own.
pub(crate) fn database_args_for(dir: &Path, args: &[&str]) -> Vec<String> {
    if args.iter().any(|a| a.starts_with("--database-url")) {
        return Vec::new();
    }
    database_url_of(dir)
        .map(|url| vec!["--database-url".to_owned(), url])
        .unwrap_or_default()
}

/// `--database-url URL` when `args` name a registered `--data-dir` (as `--data-dir
/// DIR` or `--data-dir=DIR`) and no `--database-url` of their own.
pub(crate) fn database_args(args: &[&str]) -> Vec<String> {
    if args.iter().any(|a| a.starts_with("--database-url")) {
        return Vec::new();
    }
    let dir = args.iter().enumerate().find_map(|(i, a)| {
        if *a == "--data-dir" {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix("--data-dir=")
        }
    });
    dir.and_then(|d| database_url_of(Path::new(d)))
        .map(|url| vec!["--database-url".to_owned(), url])
        .unwrap_or_default()
}

/// Skips the rest of a test that cannot apply to the selected backend, saying why
/// (on stderr, shown with `--nocapture`). Use it only where a test is about one
/// backend's own mechanics (a redb file, a data directory's contents).
#[macro_export]
macro_rules! skip_on_postgres {
    ($why:expr) => {
        if $crate::backend::is_postgres() {
            eprintln!("skipped on PostgreSQL: {}", $why);
            return;
        }
    };
}

/// Skips the rest of a test that needs the PostgreSQL backend (several instances on
/// one database, a database restart) when the suite runs on redb: it runs in the
/// PostgreSQL pass (`AUTHGATE_TEST_BACKEND=postgres`, as `scripts/test-all.sh` does).
#[macro_export]
macro_rules! needs_postgres {
    () => {
        if !$crate::backend::is_postgres() {
            eprintln!(
                "skipped on redb: needs several instances on one PostgreSQL database; \
                 run with {}=postgres (scripts/test-all.sh does)",
                $crate::backend::ENV
            );
            return;
        }
    };
}
