//! One keep-alive HTTP/1.1 connection driven by hyper's low-level client: no pool,
//! no redirects, no per-request work beyond building the request itself.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A failed exchange.
#[derive(Debug)]
pub struct ConnError(pub String);

/// An answer: status, headers (only when asked for) and body.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, when the caller asked to keep them.
    pub headers: Option<HeaderMap>,
    /// The whole body.
    pub body: Bytes,
}

/// An HTTP/1.1 keep-alive connection, reopened after a failure.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    tx: Option<SendRequest<Full<Bytes>>>,
}

const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

impl Conn {
    /// A connection to `addr`, opened on first use.
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            host: HeaderValue::from_str(&addr.to_string())
                .unwrap_or(HeaderValue::from_static("localhost")),
            tx: None,
        }
    }

    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ConnError> {
        if self.tx.as_ref().is_none_or(|t| t.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| ConnError(format!("connect: {e}")))?;
            stream.set_nodelay(true).ok();
            let (tx, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| ConnError(format!("handshake: {e}")))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.tx = Some(tx);
        }
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| ConnError("no connection".into()))?;
        if let Err(e) = tx.ready().await {
            self.tx = None;
            return Err(ConnError(format!("connection closed: {e}")));
        }
        self.tx
            .as_mut()
            .ok_or_else(|| ConnError("no connection".into()))
    }

    /// Sends one request and reads the whole answer. A `form` body is sent as
    /// `application/x-www-form-urlencoded`; `keep_headers` keeps the response headers.
    pub async fn send(
        &mut self,
        method: Method,
        uri: Uri,
        form: Option<Bytes>,
        headers: &[(HeaderName, &HeaderValue)],
        keep_headers: bool,
    ) -> Result<Answer, ConnError> {
        let host = self.host.clone();
        let has_form = form.is_some();
        let mut req = Request::new(Full::new(form.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.insert(HOST, host);
        if has_form {
            h.insert(CONTENT_TYPE, FORM);
        }
        for (k, v) in headers {
            h.insert(k.clone(), (*v).clone());
        }
        let tx = self.ready().await?;
        let resp = match tx.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.tx = None;
                return Err(ConnError(format!("send: {e}")));
            }
        };
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                self.tx = None;
                return Err(ConnError(format!("body: {e}")));
            }
        };
        Ok(Answer {
            status,
            headers: keep_headers.then_some(parts.headers),
            body,
        })
    }
}
