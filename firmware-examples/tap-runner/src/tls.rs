//! HTTPS the way the boards do it (feature `tls`): reqwless with embedded-tls, the
//! server's CA pinned (`TlsVerify::Certificate`), and a new `TlsConfig` with a fresh
//! RNG seed for every connection (reqwless re-seeds from the config on each one).

#[cfg(feature = "tls")]
use authgate_device::embassy::{TlsConfig, TlsVerify};

/// embedded-tls record buffers: a full TLS record (16 KiB + overhead) each way, as
/// on the boards.
#[cfg(feature = "tls")]
const TLS_RECORD: usize = 16_640;

/// The pinned CA and the record buffers.
#[cfg(feature = "tls")]
pub struct Tls {
    ca: Vec<u8>,
    rx: Box<[u8]>,
    tx: Box<[u8]>,
}

/// Without feature `tls` there is no HTTPS: no value of this type exists.
#[cfg(not(feature = "tls"))]
pub enum Tls {}

impl Tls {
    /// Pins the CA certificate in `ca_der` (DER, like the boards' `SERVER_CA_DER`).
    #[cfg(feature = "tls")]
    pub fn new(ca_der: Vec<u8>) -> Self {
        Tls {
            ca: ca_der,
            rx: vec![0; TLS_RECORD].into_boxed_slice(),
            tx: vec![0; TLS_RECORD].into_boxed_slice(),
        }
    }

    /// A configuration for one connection, seeded afresh from the RNG.
    #[cfg(feature = "tls")]
    pub fn config(&mut self) -> TlsConfig<'_> {
        TlsConfig::new(
            u64::from_ne_bytes(crate::state::random()),
            &mut self.rx,
            &mut self.tx,
            TlsVerify::Certificate {
                ca: &self.ca,
                cert: None,
                key: None,
            },
        )
    }
}
