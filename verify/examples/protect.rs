//! A resource server protected by `authgate-verify`: every request needs an AuthGate
//! access token (Bearer, or DPoP with a proof when the token is bound), verified
//! offline with the issuer's published keys.
//!
//! ```sh
//! cargo run -p authgate-verify --example protect -- \
//!     --issuer http://127.0.0.1:8080 --listen 127.0.0.1:9000 [--audience URI] [--scope read]
//! curl -H "Authorization: Bearer v4.public.…" http://127.0.0.1:9000/hello
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use authgate_verify::{Verifier, VerifierConfig, VerifyError};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The command line: `--issuer URL --listen ADDR [--audience URI] [--scope S]`.
struct Args {
    issuer: String,
    listen: SocketAddr,
    audience: Option<String>,
    scope: Option<String>,
}

fn args() -> Option<Args> {
    let mut it = std::env::args().skip(1);
    let (mut issuer, mut listen, mut audience, mut scope) = (None, None, None, None);
    while let Some(flag) = it.next() {
        let value = it.next()?;
        match flag.as_str() {
            "--issuer" => issuer = Some(value),
            "--listen" => listen = value.parse().ok(),
            "--audience" => audience = Some(value),
            "--scope" => scope = Some(value),
            _ => return None,
        }
    }
    Some(Args {
        issuer: issuer?,
        listen: listen?,
        audience,
        scope,
    })
}

struct App {
    verifier: Verifier,
    /// This server's external base URL, for DPoP `htu`.
    base: String,
    scope: Option<String>,
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp
}

fn refuse(e: VerifyError, scope: Option<&str>) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut resp = text(status, format!("{e}\n"));
    if let Ok(v) = HeaderValue::from_str(&e.www_authenticate(scope)) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    resp
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let uri = format!("{}{}", app.base, req.uri().path());
    let claims = match app
        .verifier
        .authorize(req.headers(), req.method(), &uri)
        .await
    {
        Ok(c) => c,
        Err(e) => return Ok(refuse(e, None)),
    };
    if let Some(s) = &app.scope
        && !claims.has_scope(s)
    {
        return Ok(refuse(VerifyError::InsufficientScope, Some(s)));
    }
    let body = serde_json::json!({
        "hello": claims.sub,
        "client_id": claims.client_id,
        "scope": claims.scope,
        "dpop_bound": claims.cnf.is_some(),
    });
    let mut resp = text(StatusCode::OK, format!("{body}\n"));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = args() else {
        eprintln!("usage: protect --issuer URL --listen ADDR [--audience URI] [--scope S]");
        std::process::exit(2);
    };
    let audience = args.audience.unwrap_or_else(|| args.issuer.clone());
    let verifier = Verifier::discover(VerifierConfig::new(&args.issuer, audience)).await?;
    eprintln!("keys of {}: {:?}", args.issuer, verifier.kids());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let app = Arc::new(App {
        verifier,
        base: format!("http://{}", listener.local_addr()?),
        scope: args.scope,
    });
    eprintln!("protecting {}/", app.base);
    loop {
        let (stream, _) = listener.accept().await?;
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&app), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
