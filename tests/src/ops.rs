//! Helpers for the operations tests (admin CLI, configuration, TLS, metrics,
//! shutdown): a server process whose exit status and signals the test controls, and
//! admin commands with stdin and environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{ADMIN_PASSWORD, AdminOutput, Browser, authgate_bin, clear_authgate_env};

/// An `authgate` process started by [`spawn`]; killed when dropped.
pub struct Proc {
    child: Option<Child>,
    /// The URL from its `listening on` line (`http://…` or `https://…`).
    pub url: String,
    stderr: Arc<Mutex<String>>,
}

/// Why [`spawn`] did not get a `listening on` line.
#[derive(Debug)]
pub struct Failed {
    /// The exit status.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `authgate ARGS…` with only the given `AUTHGATE_*` environment (plus
/// `AUTHGATE_ADMIN_PASSWORD` = [`ADMIN_PASSWORD`] unless `env` sets it) and waits
/// for `listening on URL`. `Err` when the process exits first.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<Proc, Failed> {
    let mut cmd = Command::new(authgate_bin());
    clear_authgate_env(&mut cmd);
    if !env.iter().any(|(k, _)| *k == "AUTHGATE_ADMIN_PASSWORD") {
        cmd.env("AUTHGATE_ADMIN_PASSWORD", ADMIN_PASSWORD);
    }
    cmd.args(args)
        .args(super::backend::database_args(args))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn authgate");
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().expect("stdout");
    let stdout = Arc::new(Mutex::new(String::new()));
    let sink = stdout.clone();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let mut err = child.stderr.take().expect("stderr");
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(url) = rx.recv_timeout(Duration::from_millis(50)) {
            return Ok(Proc {
                child: Some(child),
                url,
                stderr,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            thread::sleep(Duration::from_millis(100));
            return Err(Failed {
                status,
                stdout: stdout.lock().unwrap().clone(),
                stderr: stderr.lock().unwrap().clone(),
            });
        }
        assert!(
            Instant::now() < deadline,
            "authgate did not start; stderr:\n{}",
            stderr.lock().unwrap()
        );
    }
}

impl Proc {
    /// Sends a signal (`TERM`, `HUP`, …).
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let ok = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status()
                .expect("run kill");
            assert!(ok.success(), "kill -{name} failed");
        }
    }

    /// Waits for the process to exit (at most `max`) and returns its status.
    pub fn wait(&mut self, max: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("still running");
        let deadline = Instant::now() + max;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "authgate did not exit within {max:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!(
                "---- authgate stderr ----\n{}\n---- end ----",
                self.stderr()
            );
        }
    }
}

/// Runs `authgate ARGS… --data-dir DIR` with `stdin` and extra environment.
pub fn cli(
    data_dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> AdminOutput {
    let mut cmd = Command::new(authgate_bin());
    clear_authgate_env(&mut cmd);
    if !env.iter().any(|(k, _)| *k == "AUTHGATE_ADMIN_PASSWORD") {
        cmd.env("AUTHGATE_ADMIN_PASSWORD", ADMIN_PASSWORD);
    }
    let mut child = cmd
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .args(super::backend::database_args_for(data_dir, args))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run authgate");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect("wait authgate");
    AdminOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A [`Browser`] that sends through `client` (for example one trusting a test CA).
pub fn browser_with_client(base_url: &str, client: reqwest::blocking::Client) -> Browser {
    Browser {
        http: client,
        base: base_url.trim_end_matches('/').to_owned(),
        cookies: Default::default(),
        headers: Vec::new(),
    }
}
