//! HTTP plumbing: the accept loop, body limits, form decoding, client addresses,
//! TLS and response building. Nothing here knows OAuth, pages or routes (those are
//! `crate::router`, `oauth` and `web`); this module imports none of them.

pub mod body;
pub mod client_ip;
pub mod cookie;
pub mod form;
pub mod response;
pub mod serve;
pub mod tls;
