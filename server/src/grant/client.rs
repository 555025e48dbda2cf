//! The client credentials grant (RFC 6749 §4.4): a confidential client gets an
//! access token for itself. No person approves it and no refresh token comes with
//! it (§4.4.3); the grant record exists so the token can be introspected and
//! revoked like any other, and dies with the token.

use super::{Grant, Issue, NewTokens};

/// Makes the grant of a client-credentials exchange and its [`Issue`]: the client
/// is its own subject (no user), the grant lives exactly as long as its access
/// token, and it has no refresh token (`current_refresh` and `refresh_id` stay
/// zero, which no presented token can match: refresh tokens are looked up by the
/// id inside them and compared by SHA-256).
pub fn issue(client_id: &str, scope: String, new: &NewTokens, now: u64) -> Issue {
    let grant = Grant {
        id: new.grant_id,
        user_id: String::new(),
        username: String::new(),
        client_id: client_id.to_string(),
        scope,
        created_at: now,
        last_refreshed_at: None,
        expires_at: new.access_expires_at,
        current_refresh: [0; 32],
        revoked: false,
        device_ip: new.device_ip.clone(),
        refresh_id: [0; 16],
        jti: new.jti.clone(),
        dpop_jkt: None,
    };
    Issue::new(grant, new, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_grant_has_no_user_and_no_refresh_token() {
        let new = NewTokens {
            grant_id: [1; 16],
            refresh_id: [2; 16],
            refresh_hash: [3; 32],
            refresh_expires_at: 9_999,
            jti: "j".into(),
            access_expires_at: 400,
            device_ip: "192.0.2.1".into(),
            dpop_jkt: Some("k".into()),
        };
        let issue = issue("svc", "read".into(), &new, 100);
        let g = issue.grant();
        assert_eq!((g.user_id.as_str(), g.client_id.as_str()), ("", "svc"));
        assert_eq!((g.refresh_id, g.current_refresh), ([0; 16], [0; 32]));
        assert_eq!((g.expires_at, g.dpop_jkt.as_deref()), (400, None));
        assert_eq!((issue.jti(), issue.access_expires_at()), ("j", 400));
    }
}
