//! The AuthGate server as a library: the `authgate` binary is a thin shell over it,
//! and fuzz targets and benchmarks reach the same code the server runs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod events;
pub mod grant;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod names;
pub mod oauth;
pub mod password;
pub mod polls;
pub mod run;
pub mod secrets;
pub mod state;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod views;
pub mod web;
