//! The admin socket: how admin commands reach a running server.
//!
//! redb lets one process open the database, so while the server runs, admin
//! commands can't open it themselves. The server listens on the Unix socket
//! `DATA_DIR/admin.sock` (mode 0600 inside the 0700 data directory) and runs the
//! same [`execute`] an offline command would. Access control is the file system:
//! only the data directory's owner (or root) can reach the socket, and the server
//! also checks the peer's uid (`SO_PEERCRED`) against the directory's owner.
//!
//! Protocol: one JSON [`Request`] line in, one JSON `Result<AdminReply, OpError>`
//! line out (data, rendered by the CLI), then close.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::exec::{AdminReply, Ctx, OpError, Request, execute};
use crate::state::AppState;

/// Largest request line accepted (a client record with a long scope list fits).
const MAX_LINE: u64 = 64 * 1024;

/// What one exchange on the socket answers.
pub type Answer = Result<AdminReply, OpError>;

/// Why the admin socket could not be bound, reached or understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// Binding, connecting, reading or writing failed.
    #[error("admin socket {path}: {source}")]
    Io {
        /// The socket file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server closed without answering (usually: the peer check refused us).
    #[error(
        "the server closed the admin socket {0} without answering (does your user own the data directory?)"
    )]
    Closed(String),
    /// The request could not be encoded.
    #[error("cannot encode the admin request: {0}")]
    Encode(serde_json::Error),
    /// The answer is not one this binary understands.
    #[error("bad answer on the admin socket: {0}")]
    BadAnswer(serde_json::Error),
}

/// The socket's path in a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

fn io_error(p: &Path) -> impl Fn(std::io::Error) -> SocketError + '_ {
    move |source| SocketError::Io {
        path: p.display().to_string(),
        source,
    }
}

/// Binds the admin socket. Call only while holding the database (so any socket file
/// already there is stale, left by a crash).
pub fn bind(data_dir: &Path) -> Result<UnixListener, SocketError> {
    let p = path(data_dir);
    let _ = std::fs::remove_file(&p);
    let listener = UnixListener::bind(&p).map_err(io_error(&p))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(io_error(&p))?;
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
            let mut reader =
                tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_LINE));
            let mut line = String::new();
            let answer = match reader.read_line(&mut line).await {
                Ok(_) => {
                    let ctx = Ctx {
                        store: &state.store,
                        data_dir: &data_dir,
                        keys: Some(&state.keys),
                        actor: format!("cli uid={}", uid.unwrap_or(0)),
                    };
                    answer(&ctx, &line).await
                }
                Err(e) => Err(OpError::BadRequest(format!(
                    "cannot read the admin request: {e}"
                ))),
            };
            let mut out = serde_json::to_string(&answer).unwrap_or_default();
            out.push('\n');
            let _ = write.write_all(out.as_bytes()).await;
        });
    }
}

/// Decodes and runs one request line.
async fn answer(ctx: &Ctx<'_>, line: &str) -> Answer {
    let req = serde_json::from_str::<Request>(line)
        .map_err(|e| OpError::BadRequest(format!("bad admin request: {e}")))?;
    let op = serde_json::to_value(&req)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default();
    tracing::info!(%op, actor = %ctx.actor, "admin request");
    execute(ctx, req).await
}

/// Sends `req` to a running server. `Ok(None)` when no server is listening (no
/// socket, or a stale one): the caller then opens the database itself.
pub fn call(data_dir: &Path, req: &Request) -> Result<Option<Answer>, SocketError> {
    let p = path(data_dir);
    let io = io_error(&p);
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
        Err(e) => return Err(io(e)),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(&io)?;
    let mut line = serde_json::to_string(req).map_err(SocketError::Encode)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(&io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(&io)?;
    if answer.is_empty() {
        return Err(SocketError::Closed(p.display().to_string()));
    }
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(SocketError::BadAnswer)
}
