//! Fetching the issuer's metadata and key set over HTTP(S): a small hyper client with
//! rustls (ring, the Mozilla roots), a timeout and a size limit.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// Why the key set could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not a valid absolute http(s) URI.
    #[error("invalid URL")]
    BadUrl,
    /// TLS could not be set up.
    #[error("TLS setup failed")]
    Tls,
    /// Connecting or the exchange failed.
    #[error("request failed: {0}")]
    Http(#[from] hyper_util::client::legacy::Error),
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The answer was not 200.
    #[error("status {0}")]
    Status(u16),
    /// The body could not be read or exceeded the size limit.
    #[error("body unreadable or too large")]
    Body,
    /// The metadata is not RFC 8414 metadata with a `paserk_uri`, or names another
    /// issuer (RFC 8414 §3.3).
    #[error("invalid authorization server metadata")]
    BadMetadata,
    /// The key document is not a PASERK key set.
    #[error("invalid PASERK key document")]
    BadKeys,
}

/// The largest metadata or key document read.
const MAX_BODY: usize = 64 * 1024;

/// How long one fetch may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client every fetch of one verifier uses (connections are reused).
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    paserk_uri: String,
}

impl Fetcher {
    pub(crate) fn new() -> Result<Self, FetchError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls_ring())
            .map_err(|_| FetchError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Fetcher {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// GET `url`, the body if the answer is 200.
    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        let uri: hyper::Uri = url.parse().map_err(|_| FetchError::BadUrl)?;
        let exchange = async {
            let resp = self.client.get(uri).await?;
            if resp.status() != hyper::StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|_| FetchError::Body)?;
            Ok(body.to_bytes())
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    /// The `paserk_uri` from the issuer's RFC 8414 metadata.
    pub(crate) async fn keys_url(&self, issuer: &str) -> Result<String, FetchError> {
        let url = format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        );
        let meta: Metadata =
            serde_json::from_slice(&self.get(&url).await?).map_err(|_| FetchError::BadMetadata)?;
        if meta.issuer != issuer {
            return Err(FetchError::BadMetadata);
        }
        Ok(meta.paserk_uri)
    }

    /// The key set at `url`.
    pub(crate) async fn keys(&self, url: &str) -> Result<crate::KeySet, FetchError> {
        crate::KeySet::from_document(&self.get(url).await?).ok_or(FetchError::BadKeys)
    }
}

/// rustls with ring, as the AuthGate server uses it (no aws-lc build).
fn rustls_ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
