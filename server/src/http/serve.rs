//! The accept loop: HTTP/1.1 with keep-alive, a header-read timeout against
//! slow-loris clients, and graceful shutdown on SIGTERM/SIGINT that lets in-flight
//! requests (and their pending commits) finish.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::router::route;
use crate::state::AppState;

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open requests.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves (over TLS when `tls` is given) until SIGTERM or SIGINT, then drains.
pub async fn run(listener: TcpListener, state: Arc<AppState>, tls: Option<TlsAcceptor>) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
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
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(observed(state, req, peer).await) }
                });
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
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

/// Runs one request inside a span carrying a fresh request id (so every log line
/// of the request shows it), answers with `X-Request-Id`, and counts it.
async fn observed(
    state: Arc<AppState>,
    req: hyper::Request<hyper::body::Incoming>,
    peer: std::net::SocketAddr,
) -> super::response::Resp {
    let started = std::time::Instant::now();
    let id = crate::secrets::hex(&crate::secrets::random_bytes::<8>());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", id = %id, method = %method, path = %crate::metrics::route_label(&path));
    let mut resp = route(state, req, peer).instrument(span).await;
    if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    crate::metrics::get().request(
        method.as_str(),
        &path,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
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
