//! An async transport for [`DeviceFlow`] on embassy: HTTP/1.1 through `reqwless` over
//! any `embedded-nal-async` TCP stack (embassy-net's `TcpClient` and `DnsSocket` on a
//! board, the same types over a TAP device on a PC), timers from `embassy-time`.
//!
//! [`Transport::step`] carries out one thing the flow asked for: it sends the pending
//! request and hands the answer back, or sleeps until [`DeviceFlow::poll_timeout`] and
//! calls [`DeviceFlow::handle_timeout`]. The driver loop stays in the firmware, so it
//! decides what an [`Event`](crate::Event) means on its display and in its flash:
//!
//! ```ignore
//! let client_state = TcpClientState::<1, 1024, 1024>::new();
//! let tcp = TcpClient::new(stack, &client_state);
//! let dns = DnsSocket::new(stack);
//! let mut form = [0u8; authgate_device::REQUEST_BUFFER_LEN];
//! let mut rx = [0u8; 4096];
//! let mut transport = Transport::new(&tcp, &dns, "http://192.168.1.10:8080", &mut form, &mut rx);
//! let mut flow = DeviceFlow::new(Config::new("authgate-cli"), authgate_device::embassy::now());
//! loop {
//!     while let Some(event) = flow.poll_event() {
//!         // ShowCode: print it; Authorized/Refreshed: Tokens::to_bytes into flash; …
//!     }
//!     if transport.step(&mut flow).await? == Step::Idle {
//!         break; // finished: see flow.outcome()
//!     }
//! }
//! ```
//!
//! Every request is `Content-Type: application/x-www-form-urlencoded` (reqwless has no
//! such content type, so it is sent as a plain header) and `Connection: close`: one TCP
//! connection per request, which is what a device polling every few seconds wants and
//! what keeps reqwless from reading past a response.
//!
//! With the `dpop` feature and [`crate::Config::dpop`] set, each proof goes out as the
//! `DPoP` header, and the answer's `Date` and `DPoP-Nonce` headers are handed to the
//! flow: a board learns the server's time from its first answer.
//!
//! With the `tls` feature, [`Transport::new_with_tls`] speaks HTTPS through
//! `embedded-tls` (TLS 1.3 only, `TLS_AES_128_GCM_SHA256`). Certificate checking is
//! whatever the [`TlsConfig`]'s `TlsVerify` says; `TlsVerify::None` encrypts but
//! authenticates nobody, so pin the server's CA with `TlsVerify::Certificate` outside
//! a lab.

use embassy_time::{Duration as EmbassyDuration, Instant as EmbassyInstant, Timer, with_timeout};
use embedded_nal_async::{Dns, TcpConnect};
use heapless::{String, Vec};
use reqwless::client::HttpClient;
use reqwless::request::{Method as HttpMethod, RequestBuilder};

use crate::error::Error;
use crate::flow::DeviceFlow;
use crate::request::{FORM_CONTENT_TYPE, Method, RequestKind};
use crate::time::Instant;

mod resource;

pub use reqwless;
#[cfg(feature = "tls")]
pub use reqwless::client::{TlsConfig, TlsVerify};
pub use resource::{ResourceAnswer, ResourceError};

/// Longest request URL (base URL plus endpoint path) the transport builds.
pub const URL_CAP: usize = 256;

/// How long one request may take, connect to last body byte, before it counts as a
/// transport failure (and the flow retries with backoff).
pub const DEFAULT_REQUEST_TIMEOUT: EmbassyDuration = EmbassyDuration::from_secs(30);

const HEADERS: &[(&str, &str)] = &[
    ("Content-Type", FORM_CONTENT_TYPE),
    ("Accept", "application/json"),
    ("Connection", "close"),
];

/// The current time on the flow's clock: milliseconds of `embassy-time` since boot.
pub fn now() -> Instant {
    Instant::from_millis(EmbassyInstant::now().as_millis())
}

/// What one [`Transport::step`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step {
    /// A request was answered and the answer (and its `Retry-After`, if any) handed to
    /// the flow, which has reacted already and queued any event.
    Answered {
        /// What the request was for.
        kind: RequestKind,
        /// The HTTP status.
        status: u16,
        /// [`DeviceFlow::last_error`]: why the answer was unusual, for logs only.
        error: Option<Error>,
    },
    /// A request got no answer; the flow was told through
    /// [`DeviceFlow::handle_transport_error`] and schedules a retry.
    NoAnswer {
        /// What the request was for.
        kind: RequestKind,
        /// Why.
        error: TransportError,
    },
    /// The flow's timer fired, or the sleep reached [`Transport::set_max_sleep`], and
    /// [`DeviceFlow::handle_timeout`] was called.
    Timer,
    /// Nothing is left to do: the flow has finished ([`DeviceFlow::outcome`]).
    Idle,
}

/// Why a request got no answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// No answer within the request timeout.
    Timeout,
    /// Base URL plus path is longer than [`URL_CAP`].
    UrlTooLong,
    /// DNS, TCP, TLS or HTTP framing failed, or the answer did not fit the receive buffer.
    Http(reqwless::Error),
}

/// Runs a [`DeviceFlow`]'s requests and timers over embassy.
///
/// `form` holds the request body ([`crate::REQUEST_BUFFER_LEN`] fits every request);
/// `rx` holds the response status line, headers and body (4 KiB fits a token answer
/// with a full [`crate::ACCESS_TOKEN_CAP`] token).
pub struct Transport<'a, T, D>
where
    T: TcpConnect + 'a,
    D: Dns + 'a,
{
    http: HttpClient<'a, T, D>,
    base_url: &'a str,
    form: &'a mut [u8],
    rx: &'a mut [u8],
    timeout: EmbassyDuration,
    max_sleep: Option<EmbassyDuration>,
}

impl<'a, T, D> Transport<'a, T, D>
where
    T: TcpConnect + 'a,
    D: Dns + 'a,
{
    /// A plain-HTTP transport to the server at `base_url` (`http://host:port`, no
    /// trailing path; the flow's [`crate::Config`] supplies the paths).
    pub fn new(
        tcp: &'a T,
        dns: &'a D,
        base_url: &'a str,
        form: &'a mut [u8],
        rx: &'a mut [u8],
    ) -> Self {
        Self::with_client(HttpClient::new(tcp, dns), base_url, form, rx)
    }

    /// An HTTPS-capable transport (`https://` base URLs); see the module docs about
    /// certificate checking.
    #[cfg(feature = "tls")]
    pub fn new_with_tls(
        tcp: &'a T,
        dns: &'a D,
        tls: TlsConfig<'a>,
        base_url: &'a str,
        form: &'a mut [u8],
        rx: &'a mut [u8],
    ) -> Self {
        Self::with_client(HttpClient::new_with_tls(tcp, dns, tls), base_url, form, rx)
    }

    fn with_client(
        http: HttpClient<'a, T, D>,
        base_url: &'a str,
        form: &'a mut [u8],
        rx: &'a mut [u8],
    ) -> Self {
        Transport {
            http,
            base_url: base_url.trim_end_matches('/'),
            form,
            rx,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            max_sleep: None,
        }
    }

    /// Replaces [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn set_request_timeout(&mut self, timeout: EmbassyDuration) {
        self.timeout = timeout;
    }

    /// Caps how long one [`Transport::step`] sleeps waiting for the flow's next timer
    /// (`None`, the default: until the timer). A firmware loop that feeds a watchdog,
    /// checks its Wi-Fi link or redraws a countdown needs to come round at least this
    /// often; a step woken early returns [`Step::Timer`] and the flow, told early,
    /// does nothing ([`DeviceFlow::handle_timeout`]).
    pub fn set_max_sleep(&mut self, max_sleep: Option<EmbassyDuration>) {
        self.max_sleep = max_sleep;
    }

    /// Does the next thing `flow` asks for: sends its pending request and hands back
    /// the answer, or else sleeps until its next timer and fires it. Drain
    /// [`DeviceFlow::poll_event`] before each call.
    ///
    /// Errors only on a driver bug: `form` too small for the request
    /// ([`Error::BufferTooSmall`]) or events not drained
    /// ([`crate::ApiMisuse::EventsPending`]); network failures are the flow's business
    /// and come back as [`Step::NoAnswer`], server errors as events.
    ///
    /// Dropping the future mid-request (e.g. losing a `select`) leaves the flow waiting
    /// for an answer; call [`DeviceFlow::handle_transport_error`] then.
    pub async fn step(&mut self, flow: &mut DeviceFlow<'_>) -> Result<Step, Error> {
        if let Some(tx) = flow.poll_transmit(now(), self.form)? {
            let body = tx.body(self.form);
            let proof = tx.dpop_proof(self.form);
            let mut url: String<URL_CAP> = String::new();
            let answer = if url
                .push_str(self.base_url)
                .and_then(|()| url.push_str(tx.path))
                .is_err()
            {
                Err(TransportError::UrlTooLong)
            } else {
                let method = match tx.method {
                    Method::Post => HttpMethod::POST,
                };
                match with_timeout(
                    self.timeout,
                    exchange(&mut self.http, method, &url, body, proof, self.rx),
                )
                .await
                {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(e)) => Err(TransportError::Http(e)),
                    Err(_) => Err(TransportError::Timeout),
                }
            };
            return Ok(match answer {
                Ok(Answer {
                    status,
                    retry_after,
                    date,
                    dpop_nonce,
                    body,
                }) => {
                    if let Some(value) = retry_after {
                        flow.handle_retry_after(&value)?;
                    }
                    #[cfg(feature = "dpop")]
                    {
                        if let Some(value) = date {
                            flow.handle_date(&value)?;
                        }
                        if let Some(value) = dpop_nonce {
                            flow.handle_dpop_nonce(&value)?;
                        }
                    }
                    #[cfg(not(feature = "dpop"))]
                    let _ = (date, dpop_nonce);
                    flow.handle_response(now(), status, body)?;
                    Step::Answered {
                        kind: tx.kind,
                        status,
                        error: flow.last_error(),
                    }
                }
                Err(error) => {
                    // The flow schedules the retry and queues `Event::Retrying`.
                    flow.handle_transport_error(now())?;
                    Step::NoAnswer {
                        kind: tx.kind,
                        error,
                    }
                }
            });
        }
        match flow.poll_timeout() {
            Some(at) => {
                let mut wake = EmbassyInstant::from_millis(at.as_millis());
                if let Some(max) = self.max_sleep {
                    wake = wake.min(EmbassyInstant::now().saturating_add(max));
                }
                Timer::at(wake).await;
                flow.handle_timeout(now());
                Ok(Step::Timer)
            }
            None => Ok(Step::Idle),
        }
    }
}

/// Longest `Retry-After` value kept: delay-seconds up to 10 digits (an HTTP-date is
/// longer, and the flow could not use it anyway).
const RETRY_AFTER_CAP: usize = 16;

/// Longest `Date` value kept (an IMF-fixdate is 29 bytes).
const DATE_CAP: usize = 32;

/// One answer: status, `Retry-After`, `Date` and `DPoP-Nonce` (copied, since the body
/// reuses the buffer the headers were in) and the body, which borrows `rx`.
struct Answer<'r> {
    status: u16,
    retry_after: Option<Vec<u8, RETRY_AFTER_CAP>>,
    date: Option<Vec<u8, DATE_CAP>>,
    dpop_nonce: Option<Vec<u8, NONCE_CAP>>,
    body: &'r [u8],
}

/// Longest `DPoP-Nonce` kept (the flow's own limit).
const NONCE_CAP: usize = 128;

/// One request on a fresh connection.
async fn exchange<'r, T: TcpConnect, D: Dns>(
    http: &mut HttpClient<'_, T, D>,
    method: HttpMethod,
    url: &str,
    body: &[u8],
    dpop: Option<&str>,
    rx: &'r mut [u8],
) -> Result<Answer<'r>, reqwless::Error> {
    let with_proof;
    let headers = match dpop {
        Some(proof) => {
            with_proof = [HEADERS[0], HEADERS[1], HEADERS[2], ("DPoP", proof)];
            &with_proof[..]
        }
        None => HEADERS,
    };
    let mut request = http.request(method, url).await?.headers(headers).body(body);
    let response = request.send(rx).await?;
    let status = response.status.0;
    fn header<'h, const N: usize>(
        headers: impl Iterator<Item = (&'h str, &'h [u8])>,
        name: &str,
    ) -> Option<Vec<u8, N>> {
        let mut headers = headers;
        headers
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| Vec::from_slice(value).ok())
    }
    let retry_after = header(response.headers(), "retry-after");
    let date = header(response.headers(), "date");
    let dpop_nonce = header(response.headers(), "dpop-nonce");
    let body = response.body().read_to_end().await?;
    Ok(Answer {
        status,
        retry_after,
        date,
        dpop_nonce,
        body,
    })
}
