//! The token endpoint (RFC 6749 §3.2): authenticates the client and dispatches on
//! `grant_type`, one module per grant.

use authgate_proto::{ErrorCode, params};

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::{OAuthRequest, device_grant, refresh_grant};
use crate::http::response::Resp;
use crate::state::AppState;

/// `POST /oauth/token`.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let grant_type = req.form.require(params::GRANT_TYPE)?.to_string();
    let client = authenticate(state, &req.headers, &req.form)?.client;
    let (short, run): (&str, _) = match grant_type.as_str() {
        params::GRANT_TYPE_DEVICE_CODE => ("device_code", Grant::Device),
        params::GRANT_TYPE_REFRESH_TOKEN => ("refresh_token", Grant::Refresh),
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported grant types: device_code, refresh_token",
            ));
        }
    };
    if !client.grant_types.iter().any(|g| g == short) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {short} grant"),
        ));
    }
    match run {
        Grant::Device => device_grant::handle(state, &client, &req, now).await,
        Grant::Refresh => refresh_grant::handle(state, &client, &req, now).await,
    }
}

enum Grant {
    Device,
    Refresh,
}
