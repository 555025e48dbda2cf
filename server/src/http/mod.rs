//! HTTP plumbing: the accept loop, routing, body limits, form decoding and response
//! building. Nothing here knows OAuth; the handlers in `oauth` and `web` do.

pub mod body;
pub mod client_ip;
pub mod form;
pub mod response;
pub mod router;
pub mod serve;
pub mod tls;
