//! A throwaway PostgreSQL cluster for tests: `initdb` into a fresh temporary
//! directory, a server on a free loopback port, one database, all removed on drop.
//!
//! Why a cluster of our own rather than "whatever runs on 5432": tests must never
//! touch a system cluster (its data, its users, its settings) and must not depend on
//! one running; each test gets a clean server it can kill or restart. The cluster
//! listens on 127.0.0.1 only, on a port the kernel just handed out (never 5432), its
//! socket is in its own directory, and it trusts loopback connections (it holds
//! nothing but test data and lives seconds).
//!
//! PostgreSQL refuses to run as root, and the test command runs as root: then the
//! directory is handed to the `postgres` user and `initdb`/`pg_ctl` run through
//! `runuser -u postgres --`. As any other user they run directly.
//!
//! The binaries are found through `pg_config --bindir`, then
//! `/usr/lib/postgresql/<newest>/bin` (Debian puts them there, outside `PATH`).
//! `scripts/test-all.sh` installs Debian's `postgresql` when they are missing.

use std::fmt;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Why a throwaway cluster could not be started.
#[derive(Debug)]
pub enum PgError {
    /// No `initdb` in `pg_config --bindir` or `/usr/lib/postgresql/*/bin`.
    NotInstalled,
    /// Creating, chowning or removing the directory, or spawning a binary, failed.
    Io(std::io::Error),
    /// A PostgreSQL tool exited with an error.
    Tool {
        /// What was being done.
        what: &'static str,
        /// Its stderr and stdout, and the server log when there is one.
        output: String,
    },
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::NotInstalled => write!(
                f,
                "PostgreSQL is not installed (no initdb); `apt-get install postgresql` \
                 (scripts/test-all.sh does)"
            ),
            PgError::Io(e) => write!(f, "throwaway PostgreSQL: {e}"),
            PgError::Tool { what, output } => write!(f, "{what} failed:\n{output}"),
        }
    }
}

impl std::error::Error for PgError {}

impl From<std::io::Error> for PgError {
    fn from(e: std::io::Error) -> Self {
        PgError::Io(e)
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`, if PostgreSQL is
/// installed.
pub fn bindir() -> Option<PathBuf> {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_config.filter(|d| d.join("initdb").exists()) {
        return Some(dir);
    }
    // Debian: /usr/lib/postgresql/<major>/bin; take the newest major version.
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A running PostgreSQL server of its own, in a temporary directory; stopped
/// (`pg_ctl stop -m immediate`) and removed when dropped.
pub struct PgCluster {
    /// Owns the directory: removed on drop, after the server stopped.
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    /// Run the tools as `postgres` (we are root).
    as_postgres: bool,
    database: String,
    /// The server's `max_connections`.
    max_connections: u32,
}

/// The name of the database [`PgCluster::start`] creates.
pub const DATABASE: &str = "authgate";

impl PgCluster {
    /// Initializes and starts a cluster with the database [`DATABASE`], waiting until
    /// it accepts connections.
    pub fn start() -> Result<Self, PgError> {
        Self::start_with_max_connections(100)
    }

    /// Like [`PgCluster::start`] with room for `max_connections` connections: a
    /// cluster shared by every server of a test binary needs more than one test's.
    pub fn start_with_max_connections(max_connections: u32) -> Result<Self, PgError> {
        let bindir = bindir().ok_or(PgError::NotInstalled)?;
        let dir = tempfile::Builder::new().prefix("authgate-pg-").tempdir()?;
        // The directory is ours: its owner is our effective user.
        let as_postgres = std::fs::metadata(dir.path())?.uid() == 0;
        if as_postgres {
            let out = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .output()?;
            check("chown the cluster directory to postgres", out)?;
        }
        let mut cluster = PgCluster {
            dir,
            bindir,
            port: 0,
            as_postgres,
            database: DATABASE.to_string(),
            max_connections,
        };
        let out = cluster
            .tool("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                // A throwaway cluster: skip the fsync of initdb's own files. The server
                // itself runs with fsync=on, as in production.
                "--no-sync",
            ])
            .output()?;
        check("initdb", out)?;
        // A port the kernel hands out can be taken again before the server binds it:
        // try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            match cluster.start_on(port) {
                Ok(()) => {
                    cluster.port = port;
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        let out = Command::new(cluster.bindir.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(cluster.port.to_string())
            .arg(&cluster.database)
            .output()?;
        check("createdb", out)?;
        Ok(cluster)
    }

    fn start_on(&self, port: u16) -> Result<(), PgError> {
        // `AUTHGATE_TEST_PG_OPTIONS` adds server options for profiling runs
        // (e.g. `-c shared_preload_libraries=pg_stat_statements`).
        let extra = std::env::var("AUTHGATE_TEST_PG_OPTIONS").unwrap_or_default();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c fsync=on -c max_connections={} {extra}",
            self.dir.path().display(),
            self.max_connections
        );
        let out = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()?;
        check("pg_ctl start", out).map_err(|e| match e {
            PgError::Tool { what, output } => PgError::Tool {
                what,
                output: format!("{output}\nserver log:\n{}", self.log()),
            },
            other => other,
        })
    }

    /// A `tokio-postgres` / libpq connection string for the database.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            self.port, self.database
        )
    }

    /// A connection string for another database of this cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The database's connection string over the cluster's Unix-domain socket (in
    /// its temp dir) instead of loopback TCP: what a server on the database's own
    /// machine would use.
    pub fn socket_url(&self) -> String {
        let dir = self.dir.path().display().to_string().replace('/', "%2F");
        format!("postgres://postgres@{dir}:{}/{}", self.port, self.database)
    }

    /// Creates the empty database `name` (a plain identifier: lower-case letters,
    /// digits, `_`) and returns its connection string.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database name {name:?} is not a plain identifier"
        );
        self.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url_for(name))
    }

    /// Makes sure the cluster is stopped and its directory removed once this process
    /// exits, however it exits (tests done, a panic, `SIGKILL`, Ctrl-C), and forgets
    /// it: for a cluster kept in a `static`, whose `Drop` never runs.
    ///
    /// How: a guard process in a session of its own (`setsid`, so Ctrl-C on the test
    /// run does not reach it) reads its stdin, a pipe whose only writer is this
    /// process (the pipe is close-on-exec, so no server or tool we spawn inherits it).
    /// When this process is gone, by any exit, the kernel closes the pipe, the guard
    /// reads end of file, stops the server (`pg_ctl stop -m immediate`, then the
    /// postmaster's pid with `SIGQUIT` if that fails) and removes the directory.
    pub fn remove_when_process_exits(self) -> Result<ExitGuard, PgError> {
        let dir = self.dir.path().to_path_buf();
        let pg_ctl = self.bindir.join("pg_ctl");
        let as_user = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "cat >/dev/null 2>&1\n\
             cd {dir} || exit 0\n\
             {as_user}{pg_ctl} -D {dir}/data -w -t 30 -m immediate stop >/dev/null 2>&1 \\\n\
             || {{ pid=$(head -n1 {dir}/data/postmaster.pid 2>/dev/null) && kill -QUIT \"$pid\"; }} 2>/dev/null\n\
             cd / && rm -rf {dir}\n",
            dir = shell_quote(&dir),
            pg_ctl = shell_quote(&pg_ctl),
        );
        let mut child = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let pipe = child
            .stdin
            .take()
            .ok_or_else(|| PgError::Io(std::io::Error::other("the guard process has no stdin")))?;
        let url = self.url();
        let port = self.port;
        // The guard owns the cleanup now: neither stop the server nor remove the
        // directory here.
        let dir_handle = std::mem::ManuallyDrop::new(self);
        let cluster = Shared {
            bindir: dir_handle.bindir.clone(),
            dir,
            port,
            url,
        };
        Ok(ExitGuard {
            _pipe: pipe,
            _guard: child,
            cluster,
        })
    }

    /// The port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory, the socket and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The postmaster's process id, from `postmaster.pid`.
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Runs `psql -Atc sql` against the database and returns its output, trimmed.
    pub fn psql(&self, sql: &str) -> Result<String, PgError> {
        psql_at(&self.bindir, self.port, &self.database, sql)
    }

    /// Stops the server at once (as a crash would), keeping the data directory:
    /// for tests of what happens while the database is down.
    pub fn stop(&self) -> Result<(), PgError> {
        let out = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "30", "-m", "immediate", "stop"])
            .output()?;
        check("pg_ctl stop", out)
    }

    /// Starts it again on the same port after [`PgCluster::stop`].
    pub fn restart(&self) -> Result<(), PgError> {
        self.start_on(self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A PostgreSQL tool, run as `postgres` when we are root, in the cluster directory
    /// (the tool must be able to read its working directory).
    fn tool(&self, name: &str) -> Command {
        let bin = self.bindir.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let pid = self.pid();
        if pid.is_some() && self.stop().is_err() {
            // pg_ctl failed (should not happen): end the postmaster by its pid so no
            // server outlives the test; its children exit with it.
            if let Some(pid) = self.pid() {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .status();
            }
        }
        // pg_ctl returns once postmaster.pid is gone; wait (briefly) for the
        // process itself, so nothing of the cluster outlives its owner.
        if let Some(pid) = pid {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while is_running(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        // The TempDir removes the directory (root may remove postgres' files; as
        // another user they are ours).
    }
}

/// A cluster handed to a guard process by [`PgCluster::remove_when_process_exits`]:
/// what is still needed to use it. Keep it for the life of the process (in a
/// `static`); dropping it does nothing (the pipe stays open until the process exits
/// only if this is never dropped, so it is meant to be leaked).
pub struct ExitGuard {
    /// The write end of the guard's stdin: closed by the kernel when we exit.
    _pipe: std::process::ChildStdin,
    /// The guard process (never waited for: it outlives us).
    _guard: std::process::Child,
    cluster: Shared,
}

/// What a shared cluster's users need.
struct Shared {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    url: String,
}

impl ExitGuard {
    /// The connection string of the cluster's [`DATABASE`].
    pub fn url(&self) -> &str {
        &self.cluster.url
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.cluster.dir
    }

    /// A connection string for another database of the cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.cluster.port
        )
    }

    /// Creates the empty database `name` (a plain identifier) and returns its
    /// connection string.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database name {name:?} is not a plain identifier"
        );
        psql_at(
            &self.cluster.bindir,
            self.cluster.port,
            DATABASE,
            &format!("CREATE DATABASE {name}"),
        )?;
        Ok(self.url_for(name))
    }

    /// Runs `psql -Atc sql` against database `database` of the cluster.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, PgError> {
        psql_at(&self.cluster.bindir, self.cluster.port, database, sql)
    }
}

/// `psql -Atc sql` on 127.0.0.1:`port`, database `database`, as `postgres`.
fn psql_at(bindir: &Path, port: u16, database: &str, sql: &str) -> Result<String, PgError> {
    let out = Command::new(bindir.join("psql"))
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
        .args(["-U", "postgres", "-p"])
        .arg(port.to_string())
        .args(["-d", database, "-c", sql])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    check("psql", out)?;
    Ok(stdout)
}

/// `path` quoted for `sh` (single quotes).
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Whether process `pid` runs (exists and is not a zombie waiting to be reaped:
/// the postmaster is re-parented away from us, so reaping it is not ours to do).
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields: pid (comm) state ...; comm may hold spaces, so split after ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A free loopback port that is not PostgreSQL's default 5432.
fn free_port() -> Result<u16, PgError> {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port != 5432 {
            return Ok(port);
        }
    }
}

fn check(what: &'static str, out: Output) -> Result<(), PgError> {
    if out.status.success() {
        return Ok(());
    }
    Err(PgError::Tool {
        what,
        output: format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    })
}
