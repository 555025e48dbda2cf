//! The account page: devices holding access, and revoking them.

use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;

use super::session::Browser;
use super::{PageError, read_post, render, to_login};
use crate::http::response::{self, Resp};
use crate::secrets::{hex, unhex};
use crate::state::{AppState, describe_scope};
use crate::views::{AccountPage, DeviceRow, when};

/// `GET /account`.
pub fn page(state: &AppState, req: &Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
    let Some(session) = &browser.session else {
        return Ok(to_login("/account"));
    };
    let devices = state
        .store
        .grants_of_user(&session.user_id)?
        .into_iter()
        .filter(|g| !g.revoked && g.expires_at > now)
        .map(|g| DeviceRow {
            id: hex(&g.id),
            client_name: state
                .store
                .client(&g.client_id)
                .ok()
                .flatten()
                .map(|c| c.name)
                .unwrap_or_else(|| g.client_id.clone()),
            scopes: g
                .scope
                .split(' ')
                .map(describe_scope)
                .collect::<Vec<_>>()
                .join(", "),
            approved_at: when(g.created_at),
            last_refreshed: g
                .last_refreshed_at
                .map(when)
                .unwrap_or_else(|| "never".into()),
            expires_at: when(g.expires_at),
            device_ip: g.device_ip,
        })
        .collect();
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        StatusCode::OK,
        &AccountPage {
            username: Some(&session.username),
            csrf: &csrf,
            devices,
        },
    );
    browser.finish(state, &mut resp);
    Ok(resp)
}

/// `POST /account/revoke` with `grant` = a grant id or `all`: stops refreshes and
/// makes the grant's access tokens inactive at introspection.
pub async fn revoke(state: &AppState, req: Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let Some(session) = browser.session else {
        return Ok(to_login("/account"));
    };
    let target = match form.get("grant") {
        Some("all") => None,
        Some(id) => Some(unhex::<16>(id).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown device",
                "That device was not found.",
            )
        })?),
        None => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown device",
                "No device was chosen.",
            ));
        }
    };
    let n = state
        .store
        .revoke_user_grants(session.user_id.clone(), target)
        .await?;
    tracing::info!(user = %session.username, revoked = n, "grants revoked from the account page");
    Ok(response::see_other("/account"))
}
