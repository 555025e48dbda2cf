//! A resource request with the token, as a board would make one: `GET
//! /oauth/tokeninfo` over the same reqwless client, once with the bare token
//! (`Authorization: Bearer`, which the server must refuse for a DPoP-bound token)
//! and once with `Authorization: DPoP` and a proof from the flow's key (RFC 9449 §7).
//! Prints `tokeninfo bearer -> STATUS` and `tokeninfo dpop -> STATUS BODY`.

use authgate_device::embassy::reqwless;
use authgate_device::embassy::reqwless::client::HttpClient;
use authgate_device::embassy::reqwless::request::{Method, RequestBuilder};
use authgate_device::{DPOP_HEADER, DeviceFlow, embassy::now};
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::TcpClient;

/// The TCP client type of the runner (one connection at a time, like a board).
pub type Tcp<'d> = crate::lossy::Lossy<'d, TcpClient<'d, 1, 1024, 1024>>;

/// Tokeninfo's path on the server.
const TOKENINFO: &str = "/oauth/tokeninfo";

/// Asks tokeninfo about the flow's current access token both ways; returns whether
/// the bearer request was refused with 401 and the DPoP one accepted with 200.
pub async fn check_binding(
    http: &mut HttpClient<'_, Tcp<'_>, DnsSocket<'_>>,
    server: &str,
    flow: &mut DeviceFlow<'_>,
    rx: &mut [u8],
) -> bool {
    let Some(token) = flow.access_token(now()).map(str::to_owned) else {
        eprintln!("tap-runner: no access token to check");
        return false;
    };
    let url = format!("{}{TOKENINFO}", server.trim_end_matches('/'));
    let bearer = format!("Bearer {token}");
    let bearer_status = match get(http, &url, &bearer, None, rx).await {
        Ok((status, _)) => status,
        Err(e) => {
            eprintln!("tap-runner: tokeninfo (bearer): {e:?}");
            return false;
        }
    };
    println!("tokeninfo bearer -> {bearer_status}");
    let mut proof = [0u8; 2048];
    let n = match flow.write_resource_proof(now(), "GET", &url, &mut proof) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("tap-runner: resource proof: {e:?}");
            return false;
        }
    };
    let proof = core::str::from_utf8(&proof[..n]).unwrap_or_default();
    let dpop = format!("DPoP {token}");
    let dpop_status = match get(http, &url, &dpop, Some(proof), rx).await {
        Ok((status, body)) => {
            println!("tokeninfo dpop -> {status} {body}");
            status
        }
        Err(e) => {
            eprintln!("tap-runner: tokeninfo (dpop): {e:?}");
            return false;
        }
    };
    bearer_status == 401 && dpop_status == 200
}

/// One GET on a fresh connection: the status and the body as text.
async fn get(
    http: &mut HttpClient<'_, Tcp<'_>, DnsSocket<'_>>,
    url: &str,
    authorization: &str,
    proof: Option<&str>,
    rx: &mut [u8],
) -> Result<(u16, String), reqwless::Error> {
    let mut headers = vec![
        ("Authorization", authorization),
        ("Accept", "application/json"),
        ("Connection", "close"),
    ];
    if let Some(proof) = proof {
        headers.push((DPOP_HEADER, proof));
    }
    let mut request = http.request(Method::GET, url).await?.headers(&headers);
    let response = request.send(rx).await?;
    let status = response.status.0;
    let body = response.body().read_to_end().await?;
    Ok((status, String::from_utf8_lossy(body).into_owned()))
}
