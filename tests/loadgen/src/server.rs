//! Starting the `authgate` binary for a run, and reading its CPU time and RSS from
//! `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Linux's `USER_HZ`, the unit of `utime`/`stime` in `/proc/PID/stat` (100 on every
/// mainstream architecture).
const CLOCK_TICKS: f64 = 100.0;

/// The server under test: one `authgate` process, or several on one PostgreSQL
/// database (`--instances`), which the load generator spreads its connections over.
pub struct Server {
    children: Vec<Child>,
    /// Their pids, when known (CPU and RSS are read from `/proc` and summed).
    pub pids: Vec<u32>,
    /// Where they listen, in start order.
    pub addrs: Vec<SocketAddr>,
    /// The confidential client used for introspection: `(id, secret)`.
    pub introspect_client: Option<(String, String)>,
    /// Their data directories, removed on drop (we created them).
    data_dirs: Vec<PathBuf>,
}

/// How to start the servers of a run.
pub struct StartOptions<'a> {
    /// The `authgate` binary.
    pub bin: &'a Path,
    /// Where the data directories go.
    pub parent: &'a Path,
    /// Password of `admin` on first run.
    pub admin_password: &'a str,
    /// Extra arguments for `authgate serve`.
    pub extra_args: &'a [String],
    /// The `seed_grants` binary and how many grants it writes (redb only).
    pub seed: Option<(PathBuf, usize)>,
    /// PostgreSQL instead of redb in the data directory.
    pub database_url: Option<&'a str>,
    /// How many servers to start (more than one needs `database_url`).
    pub instances: usize,
}
/// CPU seconds and memory of a process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    /// user + system CPU seconds so far.
    pub cpu_secs: f64,
    /// Resident set now, KiB.
    pub rss_kib: u64,
    /// Peak resident set since start or the last [`reset_peak`], KiB.
    pub hwm_kib: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample {
        cpu_secs: (utime + stime) / CLOCK_TICKS,
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
    })
}

/// Samples of several processes summed; `None` if there are none or one is gone.
pub fn sample_all(pids: &[u32]) -> Option<ProcSample> {
    if pids.is_empty() {
        return None;
    }
    let mut sum = ProcSample::default();
    for &pid in pids {
        let s = sample(pid)?;
        sum.cpu_secs += s.cpu_secs;
        sum.rss_kib += s.rss_kib;
        sum.hwm_kib += s.hwm_kib;
    }
    Some(sum)
}

/// Resets the peak-RSS counter (`VmHWM`) of a process we own.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A fresh data directory under `parent`.
fn fresh_dir(parent: &Path, n: usize) -> Result<PathBuf, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = parent.join(format!(
        "authgate-loadgen-{}-{stamp}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// `--database-url URL` when there is one.
fn db_args(url: Option<&str>) -> Vec<String> {
    url.map(|u| vec!["--database-url".to_string(), u.to_string()])
        .unwrap_or_default()
}

impl Server {
    /// Starts `o.instances` servers (`bin serve`) on free loopback ports, each in a
    /// fresh data directory under `o.parent`, with a confidential client for
    /// introspection registered first (in the first one's store, which is the shared
    /// database when there is more than one).
    pub fn start(o: &StartOptions) -> Result<Server, String> {
        if o.instances > 1 && o.database_url.is_none() {
            return Err(
                "--instances above 1 needs PostgreSQL (--database-url or --postgres): \
                 redb allows one process"
                    .into(),
            );
        }
        let mut server = Server {
            children: Vec::new(),
            pids: Vec::new(),
            addrs: Vec::new(),
            introspect_client: None,
            data_dirs: Vec::new(),
        };
        let dir = fresh_dir(o.parent, 0)?;
        server.data_dirs.push(dir.clone());
        let mut serve_args = db_args(o.database_url);
        serve_args.extend(o.extra_args.iter().cloned());
        let add = Command::new(o.bin)
            .args(["client", "add", "loadgen-rs", "--name", "Load generator"])
            .args(["--confidential", "--scopes", "profile read write"])
            .arg("--data-dir")
            .arg(&dir)
            .args(db_args(o.database_url))
            .env("AUTHGATE_ADMIN_PASSWORD", o.admin_password)
            .output()
            .map_err(|e| format!("{}: {e}", o.bin.display()))?;
        let out = String::from_utf8_lossy(&add.stdout);
        let secret = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("client_secret:"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| {
                format!(
                    "client add printed no secret: {out} {}",
                    String::from_utf8_lossy(&add.stderr)
                )
            })?;
        server.introspect_client = Some(("loadgen-rs".into(), secret));
        if let Some((seed_bin, n)) = &o.seed {
            if o.database_url.is_some() {
                return Err(
                    "--seed-grants writes a redb file (server/examples/seed_grants.rs); \
                     it does not seed PostgreSQL"
                        .into(),
                );
            }
            let out = Command::new(seed_bin)
                .arg(&dir)
                .arg(n.to_string())
                .output()
                .map_err(|e| format!("{}: {e}", seed_bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "seeding failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            eprintln!("  {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        // The first run hashes the admin password with argon2 (19 MiB), which the
        // allocator keeps; start once to bootstrap, then again for a clean process.
        let (mut first, _) = spawn_serve(o.bin, &dir, o.admin_password, &serve_args)?;
        let _ = first.kill();
        let _ = first.wait();
        for n in 0..o.instances.max(1) {
            let dir = if n == 0 {
                dir.clone()
            } else {
                let d = fresh_dir(o.parent, n)?;
                server.data_dirs.push(d.clone());
                d
            };
            let (child, addr) = spawn_serve(o.bin, &dir, o.admin_password, &serve_args)?;
            server.pids.push(child.id());
            server.children.push(child);
            server.addrs.push(addr);
        }
        Ok(server)
    }

    /// A server started elsewhere.
    pub fn external(
        addr: SocketAddr,
        pid: Option<u32>,
        introspect_client: Option<(String, String)>,
    ) -> Server {
        Server {
            children: Vec::new(),
            pids: pid.into_iter().collect(),
            addrs: vec![addr],
            introspect_client,
            data_dirs: Vec::new(),
        }
    }

    /// The first server's address (logins, the account scenario).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The servers' processes summed (CPU, RSS, peak RSS), if we know every pid.
    pub fn sample(&self) -> Option<ProcSample> {
        sample_all(&self.pids)
    }

    /// Resets the peak-RSS counter of every server process.
    pub fn reset_peak(&self) {
        for &pid in &self.pids {
            reset_peak(pid);
        }
    }
}

/// CPU seconds of a PostgreSQL server so far: the postmaster's own and its reaped
/// children's (`cutime`, `cstime`: backends that ended), plus every living child's
/// (backends, WAL writer, checkpointer, autovacuum). `None` if it is gone.
pub fn postgres_cpu_secs(postmaster: u32) -> Option<f64> {
    let f = stat_fields(postmaster)?;
    let field =
        |f: &[String], i: usize| -> f64 { f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    // After `(comm)`: index 1 is ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
    let mut ticks = field(&f, 11) + field(&f, 12) + field(&f, 13) + field(&f, 14);
    let me = postmaster.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(c) = stat_fields(pid)
            && c.get(1) == Some(&me)
        {
            ticks += field(&c, 11) + field(&c, 12);
        }
    }
    Some(ticks / CLOCK_TICKS)
}

/// The fields of `/proc/PID/stat` after `(comm)` (which may contain spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split(' ').map(str::to_string).collect())
}

/// Starts `bin serve` on `dir` and waits for its `listening on` line.
fn spawn_serve(
    bin: &Path,
    dir: &Path,
    admin_password: &str,
    extra_args: &[String],
) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir)
        .args(extra_args)
        .env("AUTHGATE_ADMIN_PASSWORD", admin_password)
        .env("AUTHGATE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.trim().strip_prefix("listening on http://")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().trim_end_matches('/').to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "the server did not print `listening on`".to_string())?
        .parse()
        .map_err(|e| format!("bad listening address: {e}"))?;
    Ok((child, addr))
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in self.data_dirs.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
