//! Using the token over the same transport: one authenticated `GET` to a resource
//! server (e.g. AuthGate's `/oauth/tokeninfo`), with the headers
//! [`DeviceFlow::write_resource_auth`] writes.

use embassy_time::with_timeout;
use embedded_nal_async::{Dns, TcpConnect};
use reqwless::client::HttpClient;
use reqwless::request::{Method as HttpMethod, RequestBuilder};

use super::{Transport, TransportError, now};
use crate::error::Error;
use crate::flow::DeviceFlow;

/// What a resource server answered.
#[derive(Debug)]
pub struct ResourceAnswer<'r> {
    /// The HTTP status: 401 means the token was refused (refresh with
    /// [`DeviceFlow::refresh`] and try once more, or sign in again).
    pub status: u16,
    /// The body, in the transport's receive buffer.
    pub body: &'r [u8],
}

/// Why a resource request was not answered.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResourceError {
    /// The headers could not be written: no unexpired access token
    /// ([`crate::ApiMisuse::NoTokens`]) or the transport's `form` buffer is too small.
    Auth(Error),
    /// The request got no answer.
    Transport(TransportError),
}

impl<'a, T, D> Transport<'a, T, D>
where
    T: TcpConnect + 'a,
    D: Dns + 'a,
{
    /// `GET url` (a full URL) with the flow's access token: `Authorization: Bearer`,
    /// or `Authorization: DPoP` and a `DPoP` proof when the flow has a DPoP key. The
    /// headers are built in the transport's `form` buffer, the answer lands in `rx`.
    /// Call it between [`Transport::step`]s, when [`DeviceFlow::is_authorized`].
    pub async fn get_resource(
        &mut self,
        flow: &mut DeviceFlow<'_>,
        url: &str,
    ) -> Result<ResourceAnswer<'_>, ResourceError> {
        let auth = flow
            .write_resource_auth(now(), "GET", url, self.form)
            .map_err(ResourceError::Auth)?;
        let authorization = auth.authorization(self.form);
        let with_proof;
        let without_proof;
        let headers: &[(&str, &str)] = match auth.dpop(self.form) {
            Some(proof) => {
                with_proof = [
                    ("Authorization", authorization),
                    ("DPoP", proof),
                    ("Accept", "application/json"),
                    ("Connection", "close"),
                ];
                &with_proof
            }
            None => {
                without_proof = [
                    ("Authorization", authorization),
                    ("Accept", "application/json"),
                    ("Connection", "close"),
                ];
                &without_proof
            }
        };
        match with_timeout(self.timeout, get(&mut self.http, url, headers, self.rx)).await {
            Ok(Ok((status, body))) => Ok(ResourceAnswer { status, body }),
            Ok(Err(e)) => Err(ResourceError::Transport(TransportError::Http(e))),
            Err(_) => Err(ResourceError::Transport(TransportError::Timeout)),
        }
    }
}

/// One `GET` on a fresh connection: the status and the body.
async fn get<'r, T: TcpConnect, D: Dns>(
    http: &mut HttpClient<'_, T, D>,
    url: &str,
    headers: &[(&str, &str)],
    rx: &'r mut [u8],
) -> Result<(u16, &'r [u8]), reqwless::Error> {
    let mut request = http.request(HttpMethod::GET, url).await?.headers(headers);
    let response = request.send(rx).await?;
    let status = response.status.0;
    let body = response.body().read_to_end().await?;
    Ok((status, body))
}
