//! Security events: one call per event from the handlers, which counts it in the
//! metrics and queues it for the audit log (without waiting for the disk, so no
//! request is slowed by the log; it rides in the next group commit).

use std::net::IpAddr;

use crate::metrics::{Metrics, get};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{AuditEvent, AuditKind, Store};

/// A successful sign-in.
pub fn login_ok(state: &AppState, username: &str, ip: IpAddr) {
    state
        .store
        .audit_detached(AuditEvent::new(AuditKind::LoginOk, username, username).ip(ip));
}

/// A failed sign-in (unknown user, wrong password or disabled account).
///
/// Takes the store, not the state: it is called from the blocking task that ran
/// the hash, after the request may already be gone.
pub fn login_failed(store: &Store, username: &str, ip: IpAddr) {
    get().login_failures.inc();
    store.audit_detached(AuditEvent::new(AuditKind::LoginFailed, username, username).ip(ip));
}

/// An attempt refused by a guess limit (`what`: `login`, `user_code`, `device_auth`).
pub fn throttled(what: &str) {
    get().throttled.inc();
    tracing::info!(what, "attempt throttled");
}

/// A device code was issued.
pub fn device_code_issued() {
    Metrics::kind(&get().device_codes, "issued");
}

/// A person approved or denied a device.
pub fn device_decided(
    state: &AppState,
    username: &str,
    user_code: &str,
    approved: bool,
    detail: &str,
) {
    let kind = if approved { "approved" } else { "denied" };
    Metrics::kind(&get().device_codes, kind);
    let audit = if approved {
        AuditKind::DeviceApproved
    } else {
        AuditKind::DeviceDenied
    };
    state
        .store
        .audit_detached(AuditEvent::new(audit, username, user_code).detail(detail));
}

/// A person approved or denied an app's authorization request (RFC 6749 §4.1).
pub fn authorization_decided(state: &AppState, username: &str, approved: bool, detail: &str) {
    let (kind, audit) = if approved {
        ("approved", AuditKind::AuthorizationApproved)
    } else {
        ("denied", AuditKind::AuthorizationDenied)
    };
    tracing::info!(user = %username, kind, "authorization request decided");
    state
        .store
        .audit_detached(AuditEvent::new(audit, username, username).detail(detail));
}

/// A redeemed authorization code came back: the grant it issued was revoked.
pub fn code_reuse(state: &AppState, client_id: &str, ip: IpAddr) {
    state.store.audit_detached(
        AuditEvent::new(AuditKind::CodeReuse, client_id, client_id)
            .ip(ip)
            .detail("authorization code reused; grant revoked"),
    );
}

/// Tokens were issued for a device grant.
pub fn tokens_issued() {
    Metrics::kind(&get().tokens, "issued");
}

/// A refresh token was exchanged.
pub fn tokens_refreshed() {
    Metrics::kind(&get().tokens, "refreshed");
}

/// A rotated refresh token came back: the grant was revoked.
pub fn refresh_reuse(state: &AppState, client_id: &str, ip: IpAddr) {
    get().refresh_reuse.inc();
    state.store.audit_detached(
        AuditEvent::new(AuditKind::RefreshReuse, client_id, client_id)
            .ip(ip)
            .detail("grant revoked"),
    );
}

/// A lost answer was retried within the retry window with the credential it
/// answered (`kind`: [`AuditKind::RefreshRetry`] or [`AuditKind::DeviceCodeRetry`]):
/// a fresh pair was issued and the unused one retired. Audited apart from reuse,
/// so a stream of retries (a flaky network, or a thief racing a device) shows.
pub fn lost_answer_retried(state: &AppState, kind: AuditKind, client_id: &str, ip: IpAddr) {
    Metrics::kind(&get().tokens, "retried");
    state.store.audit_detached(
        AuditEvent::new(kind, client_id, client_id)
            .ip(ip)
            .detail("unused pair retired"),
    );
}

/// A redeemed device code came back too late or after its tokens were used: the
/// grant it yielded was revoked.
pub fn device_code_replay(state: &AppState, client_id: &str, ip: IpAddr) {
    get().refresh_reuse.inc();
    state.store.audit_detached(
        AuditEvent::new(AuditKind::DeviceCodeReplay, client_id, client_id)
            .ip(ip)
            .detail("grant revoked"),
    );
}

/// A confidential client got an access token for itself (RFC 6749 §4.4): audited,
/// as nobody approved it, with the scope it got.
pub fn client_credentials_issued(state: &AppState, client_id: &str, scope: &str, ip: IpAddr) {
    Metrics::kind(&get().tokens, "client_credentials");
    state.store.audit_detached(
        AuditEvent::new(AuditKind::ClientCredentialsIssued, client_id, client_id)
            .ip(ip)
            .detail(scope),
    );
}

/// A client revoked a token (RFC 7009).
pub fn token_revoked(state: &AppState, client_id: &str, kind: &str, ip: IpAddr) {
    Metrics::kind(&get().tokens, "revoked");
    state
        .store
        .audit_detached(AuditEvent::new(AuditKind::TokenRevoked, client_id, kind).ip(ip));
}

/// A person revoked grants from the account page.
pub fn grants_revoked(state: &AppState, username: &str, n: usize) {
    Metrics::kind_by(&get().tokens, "revoked", n as u64);
    state.store.audit_detached(
        AuditEvent::new(AuditKind::GrantRevoked, username, username)
            .detail(format!("{n} grant(s)")),
    );
}
