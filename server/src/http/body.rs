//! Reading request bodies with a size limit and a total deadline.
//!
//! hyper's header-read timeout ends at the blank line; without a deadline of our
//! own a client could drip a body one byte at a time and hold a connection (and a
//! task) forever. The deadline covers the whole body, draining included.

use std::pin::{Pin, pin};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};

/// Any request body the server can read: hyper's `Incoming` on a socket, or
/// `http_body_util::Full<Bytes>` in a test that calls the router in-process. The
/// body's own error type is not inspected (a failed frame is [`BodyError::Io`]).
pub trait RequestBody: Body<Data = Bytes> + Send {}

impl<B: Body<Data = Bytes> + Send> RequestBody for B {}

/// Largest form body any endpoint accepts. The largest legitimate one is a
/// revocation or introspection request carrying an access token (~700 bytes).
pub const FORM_LIMIT: usize = 8 * 1024;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit: answer 413.
    TooLarge,
    /// The connection failed mid-body.
    Io,
    /// The body did not arrive within the deadline: answer 408 and close.
    TimedOut,
}

/// Bodies up to this size are read and discarded after a 413, so the client sees the
/// answer instead of a reset (RFC 9112 §9.6); larger ones get the connection closed.
const DRAIN_LIMIT: usize = 256 * 1024;

/// Collects a body of at most `limit` bytes within `deadline`. Oversized bodies are
/// drained (up to [`DRAIN_LIMIT`]) and refused, so an attacker can't make us buffer
/// megabytes; a body still incomplete at the deadline is [`BodyError::TimedOut`].
pub async fn read_limited<B: RequestBody>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    tokio::time::timeout(deadline, read_within(headers, body, limit))
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

async fn read_within<B: RequestBody>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let mut body = pin!(body);
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT as u64) {
            drain(body).await;
        }
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(BodyError::Io);
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                drain(body.as_mut()).await;
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// Reads and discards what is left of a body, up to [`DRAIN_LIMIT`].
async fn drain<B: RequestBody>(mut body: Pin<&mut B>) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

/// Whether the request declares a form body (`application/x-www-form-urlencoded`,
/// any parameters such as `charset` allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
