//! The AuthGate server as a library: the `authgate` binary is a thin shell over it,
//! and fuzz targets and examples reach the same code the server runs.
//!
//! Modules are private; this flat list is everything the binary, the examples
//! and the fuzz targets use, so the compiler can flag the rest when it goes dead.
//! Items only the fuzz targets need are `#[doc(hidden)]`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod bootstrap;
mod clock;
mod config;
// Verified but not yet called by an endpoint (issue 14's integration comes next).
#[cfg_attr(not(test), allow(dead_code, unused_imports))]
mod dpop;
mod events;
mod grant;
mod http;
mod i18n;
mod keys;
mod limits;
mod metrics;
mod names;
mod oauth;
mod pacer;
mod password;
mod polls;
mod redirect_uri;
mod router;
mod run;
mod secrets;
mod state;
mod store;
mod throttle;
mod tokens;
mod views;
mod web;

// The binary: command line, configuration, serving, admin commands.
pub use admin::{AdminCommand, AdminError};
pub use config::{ConfigError, ServeArgs, Sources, apply_file};
pub use run::{RunError, print_config, serve};

// The examples (`seed_grants`, `key_order`).
pub use clock::now;
pub use secrets::time_ordered_id;
pub use store::{RedbStore, Store};

// The fuzz targets.
#[doc(hidden)]
pub use dpop::{DpopError, Expected as DpopExpected, verify_proof as verify_dpop_proof};
#[doc(hidden)]
pub use http::form::{Form, FormError};
#[doc(hidden)]
pub use store::check_record_bytes;
#[doc(hidden)]
pub use store::pg::pacing::{BenchOp, POLL_SQL, bench_polls};
#[doc(hidden)]
pub use tokens::{AccessClaims, KeyRing};
