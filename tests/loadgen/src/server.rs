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

/// The server under test.
pub struct Server {
    child: Option<Child>,
    /// Its pid, when known (CPU and RSS are read from `/proc`).
    pub pid: Option<u32>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The confidential client used for introspection: `(id, secret)`.
    pub introspect_client: Option<(String, String)>,
    /// Its data directory, removed on drop when we created it.
    pub data_dir: Option<PathBuf>,
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

/// Resets the peak-RSS counter (`VmHWM`) of a process we own.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

impl Server {
    /// Starts `bin serve` on a free loopback port in a fresh data directory under
    /// `parent`, with a confidential client for introspection registered first.
    pub fn start(
        bin: &Path,
        parent: &Path,
        admin_password: &str,
        extra_args: &[String],
        seed: Option<(PathBuf, usize)>,
    ) -> Result<Server, String> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = parent.join(format!("authgate-loadgen-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let add = Command::new(bin)
            .args(["client", "add", "loadgen-rs", "--name", "Load generator"])
            .args(["--confidential", "--scopes", "profile read write"])
            .arg("--data-dir")
            .arg(&dir)
            .env("AUTHGATE_ADMIN_PASSWORD", admin_password)
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
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
        if let Some((seed_bin, n)) = seed {
            let out = Command::new(&seed_bin)
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
        let (mut first, _) = spawn_serve(bin, &dir, admin_password, extra_args)?;
        let _ = first.kill();
        let _ = first.wait();
        let (child, addr) = spawn_serve(bin, &dir, admin_password, extra_args)?;
        Ok(Server {
            pid: Some(child.id()),
            child: Some(child),
            addr,
            introspect_client: Some(("loadgen-rs".into(), secret)),
            data_dir: Some(dir),
        })
    }

    /// A server started elsewhere.
    pub fn external(
        addr: SocketAddr,
        pid: Option<u32>,
        introspect_client: Option<(String, String)>,
    ) -> Server {
        Server {
            child: None,
            pid,
            addr,
            introspect_client,
            data_dir: None,
        }
    }

    /// A sample of the server process, if we know its pid.
    pub fn sample(&self) -> Option<ProcSample> {
        self.pid.and_then(sample)
    }
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
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
