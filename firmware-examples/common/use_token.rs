//! Using the token (shared by the board examples through `#[path]`): after each sign-in
//! or refresh, one authenticated `GET` of `RESOURCE_URL` (build-time setting; default
//! the server's own `/oauth/tokeninfo`), printed to the console. With a DPoP key the
//! request carries `Authorization: DPoP` and a proof, otherwise `Authorization: Bearer`:
//! `DeviceFlow::write_resource_auth` decides, `Transport::get_resource` sends.

use core::fmt::Write;

use authgate_device::DeviceFlow;
use authgate_device::embassy::{ResourceError, Transport, URL_CAP, now};
use embedded_nal_async::{Dns, TcpConnect};
use heapless::String;

/// Bytes of the answer shown on the console.
const SHOWN_BYTES: usize = 160;

/// `RESOURCE_URL` if set at build time, else `server_url` + `/oauth/tokeninfo`;
/// `None` if that is longer than the transport's [`URL_CAP`].
pub fn resource_url(server_url: &str) -> Option<String<URL_CAP>> {
    let mut url = String::new();
    match option_env!("RESOURCE_URL") {
        Some(u) if !u.is_empty() => url.push_str(u).ok()?,
        _ => {
            url.push_str(server_url.trim_end_matches('/')).ok()?;
            url.push_str("/oauth/tokeninfo").ok()?;
        }
    }
    Some(url)
}

/// One `GET url` with the flow's token. A 401 asks the flow for a refresh (the next
/// sign-in or refresh calls this again); other outcomes are only printed.
pub async fn use_token<T: TcpConnect, D: Dns>(
    transport: &mut Transport<'_, T, D>,
    flow: &mut DeviceFlow<'_>,
    url: &str,
    con: &mut impl Write,
) {
    match transport.get_resource(flow, url).await {
        Ok(answer) => {
            let status = answer.status;
            let shown = &answer.body[..answer.body.len().min(SHOWN_BYTES)];
            let text = core::str::from_utf8(shown).unwrap_or("(not UTF-8)");
            let _ = writeln!(con, "resource: GET {url}: {status} {text}");
            if status == 401 && flow.refresh(now()).is_ok() {
                let _ = writeln!(con, "resource: token refused; refreshing");
            }
        }
        Err(ResourceError::Auth(e)) => {
            let _ = writeln!(con, "resource: no request made ({e})");
        }
        Err(e) => {
            let _ = writeln!(con, "resource: GET {url}: no answer ({e:?})");
        }
    }
}
