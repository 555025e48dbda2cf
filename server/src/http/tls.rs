//! Built-in HTTPS with rustls (ring provider; TLS 1.3 and 1.2 — embedded-tls on the
//! devices speaks only 1.3).
//!
//! The certificate sits behind an `ArcSwap` in a certificate resolver, so SIGHUP
//! (after certbot renews, say) swaps it for new handshakes while established
//! connections carry on with the one they started with: nothing is dropped.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a certificate or key could not be used; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable or not PEM.
    #[error("tls_cert {}: {source}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("tls_cert {}: no certificate in it", path.display())]
    NoCert {
        /// The file.
        path: PathBuf,
    },
    /// The key file is unreadable or not PEM.
    #[error("tls_key {}: {source}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// The key does not belong to the certificate.
    #[error("tls_key {} does not fit tls_cert {}: {source}", key.display(), cert.display())]
    Mismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls refused the protocol versions.
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// Reads and checks a PEM certificate chain and its private key.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|source| TlsError::Cert {
            path: cert.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCert {
            path: cert.to_path_buf(),
        });
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_path_buf(),
        source,
    })?;
    CertifiedKey::from_der(chain, der, &provider())
        .map(Arc::new)
        .map_err(|source| TlsError::Mismatch {
            key: key.to_path_buf(),
            cert: cert.to_path_buf(),
            source,
        })
}

/// Hands the current certificate to every handshake; [`Reloader::reload`] swaps it.
pub struct Reloader {
    current: ArcSwap<CertifiedKey>,
    cert: PathBuf,
    key: PathBuf,
}

impl fmt::Debug for Reloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader")
            .field("cert", &self.cert)
            .finish()
    }
}

impl ResolvesServerCert for Reloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl Reloader {
    /// Reads the files again; on error the old certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.store(load(&self.cert, &self.key)?);
        Ok(())
    }
}

/// The acceptor for the listener, and the handle SIGHUP reloads through.
pub fn acceptor(cert: &Path, key: &Path) -> Result<(TlsAcceptor, Arc<Reloader>), TlsError> {
    let reloader = Arc::new(Reloader {
        current: ArcSwap::new(load(cert, key)?),
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    });
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_cert_resolver(reloader.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), reloader))
}

/// Reloads the certificate on every SIGHUP, forever.
pub async fn reload_on_sighup(reloader: Arc<Reloader>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGHUP: {e}");
            return;
        }
    };
    while hup.recv().await.is_some() {
        match reloader.reload() {
            Ok(()) => tracing::info!(cert = %reloader.cert.display(), "TLS certificate reloaded"),
            Err(e) => tracing::error!("TLS certificate not reloaded, keeping the old one: {e}"),
        }
    }
}
