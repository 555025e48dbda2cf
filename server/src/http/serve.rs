//! The accept loop: HTTP/1.1 with keep-alive, a header-read timeout against
//! slow-loris clients, and graceful shutdown on SIGTERM/SIGINT that lets in-flight
//! requests (and their pending commits) finish.
//!
//! Connections are capped globally and per client address ([`ConnLimits`]): a new
//! connection over either cap is closed at once, before TLS or any parsing, so a
//! flood costs us an accept and a close. The per-address counts live in a map whose
//! entries disappear when their count reaches zero, so it never holds more entries
//! than there are open connections (at most the global cap).
//!
//! This module is plumbing: it knows connections, not routes. What answers a
//! request is the [`Handler`] the caller passes in (the crate's `router::App`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::client_ip::TrustedProxies;
use super::response::Resp;

/// What the accept loop hands every request to, with the peer's socket address.
/// Kept as a trait so `http` never names the application that implements it.
pub trait Handler: Clone + Send + Sync + 'static {
    /// Answers one request from `peer` (the TCP peer, before any proxy headers).
    fn handle(&self, req: Request<Incoming>, peer: SocketAddr)
    -> impl Future<Output = Resp> + Send;
}

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open requests.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default cap on open connections. Each costs a task, a file descriptor and
/// buffers of a few KiB; 1024 stays well inside the usual `ulimit -n` of 1024+.
pub const MAX_CONNECTIONS: usize = 1024;
/// Default cap on open connections per client address (IPv6: per /64). A browser
/// opens about six; a NAT of busy users a few dozen.
pub const MAX_CONNECTIONS_PER_IP: usize = 64;

/// The connection caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections in total.
    pub max_connections: usize,
    /// Open connections per client address (0: no per-address cap). Connections
    /// from trusted proxies are exempt: they carry many clients.
    pub max_per_ip: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: MAX_CONNECTIONS,
            max_per_ip: MAX_CONNECTIONS_PER_IP,
        }
    }
}

/// Counts open connections against [`ConnLimits`].
struct ConnTracker {
    limits: ConnLimits,
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<String, usize>>,
}

/// One admitted connection; dropping it gives its places back.
struct ConnSlot {
    tracker: Arc<ConnTracker>,
    key: Option<String>,
    _total: OwnedSemaphorePermit,
}

impl ConnTracker {
    fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(ConnTracker {
            limits,
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a connection from `peer`, or `None` when a cap is reached.
    fn admit(self: &Arc<Self>, peer: IpAddr, exempt: bool) -> Option<ConnSlot> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let key = if exempt || self.limits.max_per_ip == 0 {
            None
        } else {
            let key = crate::throttle::client_key(peer);
            let mut map = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let open = map.entry(key.clone()).or_insert(0);
            if *open >= self.limits.max_per_ip {
                return None;
            }
            *open += 1;
            Some(key)
        };
        Some(ConnSlot {
            tracker: self.clone(),
            key,
            _total: total,
        })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut map = self
                .tracker
                .per_ip
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = map.get_mut(&key) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

/// Serves `app` (over TLS when `tls` is given) until SIGTERM or SIGINT, then
/// drains. Connections from `trusted` proxies are exempt from the per-address cap.
pub async fn run(
    listener: TcpListener,
    app: impl Handler,
    trusted: TrustedProxies,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
) {
    let tracker = ConnTracker::new(limits);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        // A request read in full runs to its end even if the client hangs up
        // (EOF) before the answer: what it started (a counted login attempt, its
        // audit event, a write) finishes the same whatever the backend. Without
        // this, hyper drops the handler at its next await point, and on
        // PostgreSQL every query is one, so a hung-up login could escape the
        // backoff and the audit log. Bounded like any request (body deadline,
        // password queue, connection caps).
        .half_close(true)
        .keep_alive(true);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let exempt = trusted.contains(peer.ip());
                let Some(slot) = tracker.admit(peer.ip(), exempt) else {
                    tracing::debug!("connection from {peer} refused: too many open");
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let svc = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(app.handle(req, peer).await) }
                });
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let result = match tls {
                        None => watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await,
                        Some(tls) => {
                            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!("TLS handshake with {peer} failed: {e}");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake with {peer} timed out");
                                    return;
                                }
                            };
                            watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!("connection from {peer} ended: {e}");
                    }
                });
            }
            () = &mut shutdown => {
                tracing::info!("shutting down: no new connections, draining");
                break;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain deadline passed; closing remaining connections");
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
