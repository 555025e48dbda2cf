//! The admin socket: how admin commands reach a running server.
//!
//! redb lets one process open the database, so while the server runs, admin
//! commands can't open it themselves. The server listens on the Unix socket
//! `DATA_DIR/admin.sock` (mode 0600 inside the 0700 data directory) and runs the
//! same [`execute`] an offline command would. Access control is the file system:
//! only the data directory's owner (or root) can reach the socket, and the server
//! also checks the peer's uid (`SO_PEERCRED`) against the directory's owner.
//!
//! Protocol: one JSON [`Request`] line in, one JSON [`Reply`] line out, then close.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::exec::{Ctx, Reply, Request, execute};
use crate::state::AppState;

/// Largest request line accepted (a client record with a long scope list fits).
const MAX_LINE: u64 = 64 * 1024;

/// The socket's path in a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// Binds the admin socket. Call only while holding the database (so any socket file
/// already there is stale, left by a crash).
pub fn bind(data_dir: &Path) -> Result<UnixListener, String> {
    let p = path(data_dir);
    let _ = std::fs::remove_file(&p);
    let listener =
        UnixListener::bind(&p).map_err(|e| format!("admin socket {}: {e}", p.display()))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("admin socket {}: {e}", p.display()))?;
    Ok(listener)
}

/// Serves admin requests until the task is dropped.
pub async fn serve(listener: UnixListener, state: Arc<AppState>, data_dir: PathBuf) {
    let owner = std::fs::metadata(&data_dir).map(|m| m.uid()).ok();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("admin socket accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        if uid.is_none() || (uid != owner && uid != Some(0)) {
            tracing::warn!(
                ?uid,
                "admin socket: refused a peer that does not own the data directory"
            );
            continue;
        }
        let state = state.clone();
        let data_dir = data_dir.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader =
                tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_LINE));
            let reply = match reader.read_line(&mut line).await {
                Ok(_) => match serde_json::from_str::<Request>(&line) {
                    Ok(req) => {
                        let ctx = Ctx {
                            store: &state.store,
                            data_dir: &data_dir,
                            keys: Some(&state.keys),
                            actor: format!("cli uid={}", uid.unwrap_or(0)),
                        };
                        let op = serde_json::to_value(&req)
                            .ok()
                            .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
                            .unwrap_or_default();
                        tracing::info!(%op, actor = %ctx.actor, "admin request");
                        reply_of(execute(&ctx, req).await)
                    }
                    Err(e) => reply_of(Err(format!("bad admin request: {e}"))),
                },
                Err(e) => reply_of(Err(format!("cannot read the admin request: {e}"))),
            };
            let mut out = serde_json::to_string(&reply).unwrap_or_default();
            out.push('\n');
            let _ = write.write_all(out.as_bytes()).await;
        });
    }
}

/// Turns an operation's result into a reply.
pub fn reply_of(result: Result<String, String>) -> Reply {
    match result {
        Ok(stdout) => Reply {
            ok: true,
            stdout,
            error: String::new(),
        },
        Err(error) => Reply {
            ok: false,
            stdout: String::new(),
            error,
        },
    }
}

/// Sends `req` to a running server. `Ok(None)` when no server is listening (no
/// socket, or a stale one): the caller then opens the database itself.
pub fn call(data_dir: &Path, req: &Request) -> Result<Option<Reply>, String> {
    let p = path(data_dir);
    let mut stream = match StdUnixStream::connect(&p) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(format!("admin socket {}: {e}", p.display())),
    };
    let io = |e: std::io::Error| format!("admin socket {}: {e}", p.display());
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(io)?;
    let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    if answer.is_empty() {
        return Err(format!(
            "the server closed the admin socket {} without answering (does your user own the data directory?)",
            p.display()
        ));
    }
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(|e| format!("bad answer on the admin socket: {e}"))
}
