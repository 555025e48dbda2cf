//! The browser mode of `login`: the authorization code flow with PKCE and a
//! loopback redirect, for a terminal on a machine with a browser (RFC 6749 §4.1,
//! RFC 7636, RFC 8252 §7.3, RFC 9207).
//!
//! `login` binds `127.0.0.1` on a port the OS picks, opens the browser at the
//! authorization endpoint with `redirect_uri=http://127.0.0.1:PORT/callback`,
//! waits for that one redirect, checks its `state` (and `iss` when the server
//! sends it), answers the browser with a "you can close this tab" page, and
//! exchanges the code and the PKCE verifier for tokens. The client must have
//! `http://127.0.0.1/callback` registered (any port matches, RFC 8252 §7.3).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use authgate_device::blocking::{Endpoints, HttpTransport, unix_now};
use authgate_device::{DpopKey, Duration, Proof, Tokens};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::store::random_bytes;

/// The path of the loopback redirect.
pub const CALLBACK_PATH: &str = "/callback";

/// Which way `login` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Authorization code + PKCE through a local browser.
    Browser,
    /// The device flow (RFC 8628): a code to type on another device.
    Device,
}

/// What decides the mode, read once from flags and the environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Situation {
    /// `--browser`.
    pub force_browser: bool,
    /// `--device`.
    pub force_device: bool,
    /// `SSH_CONNECTION` or `SSH_TTY` is set: the browser would open on the far
    /// side, if anywhere.
    pub over_ssh: bool,
    /// Linux/BSD without `DISPLAY` or `WAYLAND_DISPLAY`: no browser to open.
    pub no_display: bool,
    /// The server's metadata offers the authorization endpoint with `S256`.
    pub server_offers_code_flow: bool,
}

impl Situation {
    /// Reads the environment (the flags are set by the caller).
    pub fn from_env(server_offers_code_flow: bool) -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let needs_display = cfg!(all(unix, not(target_os = "macos")));
        Situation {
            over_ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
            no_display: needs_display && !set("DISPLAY") && !set("WAYLAND_DISPLAY"),
            server_offers_code_flow,
            ..Situation::default()
        }
    }

    /// The mode to use, or why `--browser` can't be honoured.
    pub fn mode(&self) -> Result<Mode, String> {
        if self.force_device {
            return Ok(Mode::Device);
        }
        if !self.server_offers_code_flow {
            return if self.force_browser {
                Err(
                    "the server offers no authorization endpoint with PKCE S256; use --device"
                        .into(),
                )
            } else {
                Ok(Mode::Device)
            };
        }
        if self.force_browser || !(self.over_ssh || self.no_display) {
            Ok(Mode::Browser)
        } else {
            Ok(Mode::Device)
        }
    }
}

/// A PKCE verifier (32 random bytes, base64url: 43 characters, RFC 7636 §4.1)
/// and its S256 challenge (§4.2).
pub fn pkce() -> std::io::Result<(String, String)> {
    let verifier = URL_SAFE_NO_PAD.encode(random_bytes()?);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Ok((verifier, challenge))
}

/// Percent-encodes a query or form value (everything but RFC 3986 unreserved).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes one percent-encoded query value (`+` is a space).
fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The query parameters of the redirect.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Callback {
    /// Parses a query string; a repeated parameter makes it invalid (RFC 6749 §3.1).
    pub fn parse(query: &str) -> Option<Callback> {
        let mut c = Callback::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "code" => &mut c.code,
                "state" => &mut c.state,
                "iss" => &mut c.iss,
                "error" => &mut c.error,
                "error_description" => &mut c.error_description,
                _ => continue,
            };
            if slot.replace(decode(value)?).is_some() {
                return None;
            }
        }
        Some(c)
    }

    /// The code, if the redirect is the answer to our request (`state`) from the
    /// server we asked (`iss`, RFC 9207 §2.4: required when the server says it
    /// sends it, compared exactly), and not an error.
    pub fn code(self, state: &str, endpoints: &Endpoints) -> Result<String, String> {
        if self.state.as_deref() != Some(state) {
            return Err("the browser came back with another state: not our request".into());
        }
        let iss_required = endpoints.authorization_response_iss_parameter_supported;
        match self.iss.as_deref() {
            Some(iss) if iss != endpoints.issuer => {
                return Err(format!(
                    "the answer names issuer {iss}, not {}: refused (RFC 9207)",
                    endpoints.issuer
                ));
            }
            None if iss_required => {
                return Err("the answer has no iss although the server sends it: refused".into());
            }
            _ => {}
        }
        if let Some(error) = self.error {
            let detail = self.error_description.unwrap_or_default();
            return Err(format!("the server refused: {error} {detail}")
                .trim_end()
                .to_string());
        }
        self.code
            .ok_or_else(|| "the browser came back without a code".into())
    }
}

/// A bound loopback listener and the redirect URI it answers.
pub struct Loopback {
    listener: TcpListener,
    /// `http://127.0.0.1:PORT/callback`.
    pub redirect_uri: String,
}

impl Loopback {
    /// Binds `127.0.0.1` on a port the OS picks (RFC 8252 §7.3: the IP literal, not
    /// `localhost`).
    pub fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// Waits up to `timeout` for the redirect to [`CALLBACK_PATH`] and answers it
    /// with a page saying the result. Other requests (a favicon) get a 404 and the
    /// wait goes on.
    pub fn wait(&self, timeout: StdDuration) -> Result<Callback, String> {
        let deadline = StdInstant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(callback) = answer(stream) {
                        return Ok(callback);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if StdInstant::now() >= deadline {
                        return Err(format!(
                            "no answer from the browser within {} s; run login again (or use --device)",
                            timeout.as_secs()
                        ));
                    }
                    std::thread::sleep(StdDuration::from_millis(50));
                }
                Err(e) => return Err(format!("loopback listener: {e}")),
            }
        }
    }
}

/// Reads one request from the browser; answers it and returns the callback if it
/// is the redirect.
fn answer(stream: TcpStream) -> Option<Callback> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(StdDuration::from_secs(5)))
        .ok()?;
    let mut reader = BufReader::new(stream.take_limited());
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    // Drain the headers so the browser sees a clean answer.
    let mut header = String::new();
    while reader.read_line(&mut header).ok()? > 2 {
        header.clear();
    }
    let mut stream = reader.into_inner().into_inner();
    let target = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        let _ = respond(&mut stream, "404 Not Found", "Not found.");
        return None;
    }
    let callback = Callback::parse(query).unwrap_or_default();
    let text = if callback.code.is_some() {
        "You are logged in. You can close this tab and return to the terminal."
    } else {
        "The login did not complete. You can close this tab; the terminal says why."
    };
    let _ = respond(&mut stream, "200 OK", text);
    Some(callback)
}

/// A stream whose reads stop after 16 KiB, so a hostile local client can't make
/// the request line or headers grow without bound.
trait TakeLimited {
    fn take_limited(self) -> std::io::Take<TcpStream>;
}

impl TakeLimited for TcpStream {
    fn take_limited(self) -> std::io::Take<TcpStream> {
        std::io::Read::take(self, 16 * 1024)
    }
}

fn respond(stream: &mut TcpStream, status: &str, text: &str) -> std::io::Result<()> {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>authgate-login</title>\
         <p style=\"font:16px sans-serif;margin:3em\">{text}</p>"
    );
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Opens `url` in the browser: `$BROWSER` (its first `:`-separated entry; `%s`
/// is replaced by the URL, else the URL is appended), else `open` on macOS and
/// `xdg-open` elsewhere. Not waited for; a failure is reported, not fatal (the
/// URL is printed too).
pub fn open_browser(url: &str) -> Result<(), String> {
    let configured = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let (program, args) = match configured.as_deref().and_then(|b| b.split(':').next()) {
        Some(entry) => {
            let mut words = entry.split_whitespace();
            let program = words.next().unwrap_or_default().to_string();
            let mut args: Vec<String> = words.map(|w| w.replace("%s", url)).collect();
            if !entry.contains("%s") {
                args.push(url.to_string());
            }
            (program, args)
        }
        None if cfg!(target_os = "macos") => ("open".to_string(), vec![url.to_string()]),
        None => ("xdg-open".to_string(), vec![url.to_string()]),
    };
    Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start {program}: {e}"))
}

/// The authorization request URL (RFC 6749 §4.1.1 with RFC 7636 §4.3).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: Option<&str>,
    state: &str,
    challenge: &str,
) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{endpoint}{sep}response_type=code&client_id={}&redirect_uri={}&state={}\
         &code_challenge={}&code_challenge_method=S256",
        encode(client_id),
        encode(redirect_uri),
        encode(state),
        encode(challenge)
    );
    if let Some(scope) = scope {
        url.push_str("&scope=");
        url.push_str(&encode(scope));
    }
    url
}

/// Whether the server would take this authorization request: it answers one it
/// accepts with a redirect to its sign-in page; an unregistered client or
/// redirect URI gets an error page (never a redirect, RFC 6749 §4.1.2.1), any
/// other refusal a redirect back to us with `error`. `Err` says why, so `login`
/// can fall back to the device flow before a browser shows an error.
pub fn preflight(transport: &HttpTransport, url: &str, redirect_uri: &str) -> Result<(), String> {
    let (status, location) = transport.peek(url).map_err(|e| e.to_string())?;
    let back = location
        .as_deref()
        .filter(|l| l.starts_with(redirect_uri))
        .map(|l| l.split_once('?').map_or("", |(_, q)| q));
    match (status, back) {
        (300..=399, None) => Ok(()),
        (300..=399, Some(query)) => {
            let c = Callback::parse(query).unwrap_or_default();
            Err(format!(
                "the server refuses this client's browser login: {} {}",
                c.error.unwrap_or_default(),
                c.error_description.unwrap_or_default()
            )
            .trim_end()
            .to_string())
        }
        _ => Err(format!(
            "the server refuses this client's browser login (HTTP {status}): is              {redirect_uri} (any port) registered for it with the authorization_code grant?"
        )),
    }
}

/// What the code exchange needs.
pub struct Exchange<'a> {
    /// The transport (its endpoints name the token endpoint).
    pub transport: &'a HttpTransport,
    /// The client id (a public client: no secret).
    pub client_id: &'a str,
    /// The code from the redirect.
    pub code: &'a str,
    /// The redirect URI of the authorization request, sent again (§4.1.3).
    pub redirect_uri: &'a str,
    /// The PKCE verifier (RFC 7636 §4.5).
    pub verifier: &'a str,
    /// The DPoP key to bind the tokens to, if any.
    pub dpop: Option<&'a DpopKey>,
}

/// The token response fields the cache keeps.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// An OAuth error body.
#[derive(serde::Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

impl Exchange<'_> {
    /// Exchanges the code; returns the tokens and whether they are DPoP-bound. A
    /// `use_dpop_nonce` answer is retried once with the server's nonce (RFC 9449
    /// §8).
    pub fn run(&self) -> Result<(Tokens, bool), String> {
        let url = &self.transport.endpoints().token_endpoint;
        let form = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
            encode(self.code),
            encode(self.redirect_uri),
            encode(self.client_id),
            encode(self.verifier)
        );
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let proof = self.proof(url, nonce.as_deref())?;
            let answer = self
                .transport
                .post_form(url, &form, proof.as_deref())
                .map_err(|e| e.to_string())?;
            if answer.status == 200 {
                return tokens(&answer.body, self.dpop.is_some());
            }
            let err: Option<ErrorAnswer> = serde_json::from_slice(&answer.body).ok();
            let fresh = answer
                .dpop_nonce
                .and_then(|n| String::from_utf8(n).ok())
                .filter(|_| err.as_ref().is_some_and(|e| e.error == "use_dpop_nonce"));
            match (fresh, nonce.is_none()) {
                (Some(n), true) => nonce = Some(n),
                _ => return Err(describe_error(answer.status, err)),
            }
        }
        Err("the server kept asking for a new DPoP nonce".into())
    }

    fn proof(&self, url: &str, nonce: Option<&str>) -> Result<Option<String>, String> {
        let Some(key) = self.dpop else {
            return Ok(None);
        };
        let jti = random_bytes().map_err(|e| e.to_string())?;
        let proof = Proof {
            htm: "POST",
            htu: url,
            iat: unix_now().as_millis() / 1000,
            jti: &jti[..16],
            nonce,
            access_token: None,
        };
        let mut buf = vec![0u8; 2048];
        let n = key
            .write_proof(&proof, &mut buf)
            .map_err(|e| format!("cannot sign a DPoP proof: {e}"))?;
        Ok(Some(String::from_utf8_lossy(&buf[..n]).into_owned()))
    }
}

fn describe_error(status: u16, err: Option<ErrorAnswer>) -> String {
    match err {
        Some(e) => format!(
            "the token endpoint refused the code: {} {}",
            e.error,
            e.error_description.unwrap_or_default()
        )
        .trim_end()
        .to_string(),
        None => format!("the token endpoint answered HTTP {status}"),
    }
}

fn tokens(body: &[u8], dpop_sent: bool) -> Result<(Tokens, bool), String> {
    let t: TokenAnswer =
        serde_json::from_slice(body).map_err(|e| format!("unreadable token response: {e}"))?;
    let bound = dpop_sent && t.token_type.eq_ignore_ascii_case("DPoP");
    let expires_at = t.expires_in.map(|s| unix_now() + Duration::from_secs(s));
    let tokens = Tokens::new(
        &t.access_token,
        t.refresh_token.as_deref(),
        t.scope.as_deref(),
        expires_at,
    )
    .ok_or("the token response does not fit the token cache")?;
    Ok((tokens, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(iss_supported: bool) -> Endpoints {
        let mut e = Endpoints::authgate_defaults("https://auth.example");
        e.authorization_response_iss_parameter_supported = iss_supported;
        e
    }

    #[test]
    fn the_mode_follows_flags_ssh_display_and_the_server() {
        let base = Situation {
            server_offers_code_flow: true,
            ..Situation::default()
        };
        assert_eq!(base.mode(), Ok(Mode::Browser));
        let ssh = Situation {
            over_ssh: true,
            ..base
        };
        assert_eq!(ssh.mode(), Ok(Mode::Device));
        let headless = Situation {
            no_display: true,
            ..base
        };
        assert_eq!(headless.mode(), Ok(Mode::Device));
        let forced = Situation {
            force_browser: true,
            ..ssh
        };
        assert_eq!(forced.mode(), Ok(Mode::Browser));
        let device = Situation {
            force_device: true,
            ..base
        };
        assert_eq!(device.mode(), Ok(Mode::Device));
        let old_server = Situation {
            server_offers_code_flow: false,
            ..base
        };
        assert_eq!(old_server.mode(), Ok(Mode::Device));
        let impossible = Situation {
            force_browser: true,
            ..old_server
        };
        assert!(impossible.mode().is_err());
    }

    #[test]
    fn pkce_pairs_are_s256() {
        let (v, c) = pkce().unwrap();
        assert_eq!(v.len(), 43);
        assert_eq!(c, URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())));
    }

    #[test]
    fn the_callback_must_carry_our_state_and_the_issuer() {
        let e = endpoints(true);
        let ok = Callback::parse("code=abc&state=s1&iss=https%3A%2F%2Fauth.example").unwrap();
        assert_eq!(ok.code("s1", &e).unwrap(), "abc");
        let other = Callback::parse("code=abc&state=s2&iss=https%3A%2F%2Fauth.example").unwrap();
        assert!(other.code("s1", &e).is_err());
        let no_iss = Callback::parse("code=abc&state=s1").unwrap();
        assert!(no_iss.code("s1", &e).is_err());
        let no_iss = Callback::parse("code=abc&state=s1").unwrap();
        assert_eq!(no_iss.code("s1", &endpoints(false)).unwrap(), "abc");
        let mix_up = Callback::parse("code=abc&state=s1&iss=https%3A%2F%2Fevil.example").unwrap();
        assert!(mix_up.code("s1", &endpoints(false)).is_err());
        let denied = Callback::parse(
            "error=access_denied&error_description=the+user+denied&state=s1&iss=https%3A%2F%2Fauth.example",
        )
        .unwrap();
        let msg = denied.code("s1", &e).unwrap_err();
        assert!(
            msg.contains("access_denied") && msg.contains("the user denied"),
            "{msg}"
        );
        assert_eq!(Callback::parse("code=a&code=b"), None);
    }

    #[test]
    fn the_authorize_url_escapes_every_value() {
        let url = authorize_url(
            "https://a.example/oauth/authorize",
            "cli",
            "http://127.0.0.1:5/callback",
            Some("read write"),
            "st",
            "ch",
        );
        assert_eq!(
            url,
            "https://a.example/oauth/authorize?response_type=code&client_id=cli\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&state=st&code_challenge=ch\
             &code_challenge_method=S256&scope=read%20write"
        );
    }
}
