//! Offline verification of AuthGate access tokens for resource servers.
//!
//! An AuthGate access token is a PASETO v4.public token signed by one of the keys the
//! issuer publishes as PASERK at `/oauth/keys`. A resource server that checks it
//! locally needs no call to the issuer per request: [`Verifier`] fetches the key set
//! once (found through the RFC 8414 metadata), caches it, refetches it when a token
//! names an unknown key (rate limited) and periodically, and checks the signature,
//! issuer, audience and expiry. A token bound to a DPoP key (`cnf.jkt`, RFC 9449) is
//! only accepted with `Authorization: DPoP` and a fresh proof by that key.
//!
//! ```no_run
//! # async fn run(headers: hyper::HeaderMap) -> Result<(), Box<dyn std::error::Error>> {
//! use authgate_verify::{Verifier, VerifierConfig};
//! let verifier = Verifier::discover(VerifierConfig::new(
//!     "https://auth.example",
//!     "https://api.example",
//! ))
//! .await?;
//! let claims = verifier
//!     .authorize(&headers, &hyper::Method::GET, "https://api.example/things")
//!     .await?;
//! println!("{} may {}", claims.sub, claims.scope);
//! # Ok(()) }
//! ```
//!
//! Module [`dpop`] is the pure DPoP proof verifier, shared with the AuthGate server;
//! it is all this crate builds without its default feature `client`.

pub mod dpop;

#[cfg(feature = "client")]
mod claims;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod fetch;
#[cfg(feature = "client")]
mod keys;
#[cfg(feature = "client")]
mod replay;
#[cfg(feature = "client")]
mod verifier;

#[cfg(feature = "client")]
pub use claims::Claims;
#[cfg(feature = "client")]
pub use error::{Scheme, VerifyError};
#[cfg(feature = "client")]
pub use fetch::FetchError;
#[cfg(feature = "client")]
pub use keys::KeySet;
#[cfg(feature = "client")]
pub use replay::ReplayCache;
#[cfg(feature = "client")]
pub use verifier::{Verifier, VerifierConfig};
