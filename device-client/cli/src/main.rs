//! `authgate-login`: log in from a terminal, with a browser (authorization code +
//! PKCE over a loopback redirect) or with the OAuth 2.0 device flow (RFC 8628).
//!
//! `login` discovers the server's endpoints (RFC 8414). With a local browser and a
//! server that offers it, it opens the browser at the authorization endpoint and
//! waits for the redirect to `127.0.0.1` ([`browser`]); over SSH, without a
//! display, or with `--device`, it shows the verification URL, the code and a QR
//! code, counts down while it polls. Either way it caches the tokens; `token`
//! prints a valid access token for scripts (refreshing it when needed); `status`
//! says who is logged in where; `logout` revokes the tokens (RFC 7009) and forgets
//! them. Works with any RFC 8628 server; the protocol logic is `authgate-device`.

mod browser;
mod store;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use authgate_device::blocking::{
    Control, Endpoints, Handler, HttpTransport, TransportError, unix_now,
};
use authgate_device::{
    Backoff, Config, DeviceFlow, DpopKey, Duration, Event, Instant, QR_BUFFER_LEN,
    QR_DEFAULT_QUIET_ZONE, Qr, TextStyle, Tokens,
};
use clap::{Parser, Subcommand, ValueEnum};

use crate::store::{Session, Store};

/// Refresh when less than this is left on the access token before printing it.
const TOKEN_MIN_VALIDITY: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(
    name = "authgate-login",
    version,
    about = "Log in to an OAuth 2.0 server with the device flow (RFC 8628)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in: show a code and a QR code, wait for approval, cache the tokens.
    Login {
        /// The server's base URL (its RFC 8414 issuer), e.g. https://auth.example.com
        #[arg(long, env = "AUTHGATE_SERVER")]
        server: String,
        /// The client id to log in as.
        #[arg(long, default_value = "authgate-cli")]
        client_id: String,
        /// Space-separated scopes to ask for (default: the client's).
        #[arg(long)]
        scope: Option<String>,
        /// When to draw the QR code.
        #[arg(long, value_enum, default_value_t = QrMode::Auto)]
        qr: QrMode,
        /// Skip RFC 8414 discovery and use AuthGate's default endpoint paths.
        #[arg(long)]
        no_discovery: bool,
        /// Don't bind the tokens to a DPoP key even if the server supports it
        /// (RFC 9449). By default they are, when the server's metadata advertises
        /// EdDSA proofs: a copied token is then worthless without the key, which is
        /// kept beside the tokens.
        #[arg(long)]
        no_dpop: bool,
        /// Use the device flow even where a browser could open.
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Use the browser (authorization code + PKCE) even over SSH or without a
        /// display: open the printed URL wherever a browser can reach 127.0.0.1
        /// of this machine.
        #[arg(long)]
        browser: bool,
        /// Seconds to wait for the browser to come back.
        #[arg(long, default_value_t = 300)]
        browser_timeout: u64,
    },
    /// Show whether and where you are logged in (exit status 1 if not).
    Status,
    /// Print a valid access token, refreshing it if needed (for scripts). A
    /// DPoP-bound token goes out as `Authorization: DPoP <token>` with a proof from
    /// `proof`.
    Token,
    /// Print a DPoP proof (the `DPoP` header value) for one request to a resource
    /// server with the current access token (run `token` first: it refreshes).
    Proof {
        /// The request's full URL (the proof's `htu`).
        #[arg(long)]
        url: String,
        /// The request's method (the proof's `htm`).
        #[arg(long, default_value = "GET")]
        method: String,
    },
    /// Revoke the tokens at the server and forget them.
    Logout,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum QrMode {
    /// Only when standard output is a terminal.
    Auto,
    /// Always (e.g. when piping into a pager).
    Always,
    /// Never.
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Store::locate()
        .map_err(|e| e.to_string())
        .and_then(|store| match cli.command {
            Command::Login {
                server,
                client_id,
                scope,
                qr,
                no_discovery,
                no_dpop,
                device,
                browser,
                browser_timeout,
            } => login(
                &store,
                Session {
                    endpoints: Endpoints::authgate_defaults(&server),
                    server,
                    client_id,
                    scope,
                    dpop: !no_dpop,
                },
                LoginOptions {
                    qr,
                    no_discovery,
                    force_device: device,
                    force_browser: browser,
                    browser_timeout: std::time::Duration::from_secs(browser_timeout),
                },
            ),
            Command::Status => status(&store),
            Command::Token => token(&store),
            Command::Proof { url, method } => proof(&store, &method, &url),
            Command::Logout => logout(&store),
        });
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("authgate-login: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The DPoP key of a session whose tokens are (to be) bound, with fresh `jti`
/// seed bytes; `None` for an unbound session.
fn dpop_key(store: &Store, session: &Session) -> Result<Option<(DpopKey, [u8; 32])>, String> {
    if !session.dpop {
        return Ok(None);
    }
    let key = store
        .dpop_key()
        .map_err(|e| format!("DPoP key in {}: {e}", store.dir().display()))?;
    let seed = store::random_bytes().map_err(|e| e.to_string())?;
    Ok(Some((key, seed)))
}

fn flow_config<'a>(
    session: &'a Session,
    transport: &'a HttpTransport,
    dpop: Option<&'a (DpopKey, [u8; 32])>,
) -> Config<'a> {
    let mut c = Config::new(&session.client_id);
    c.dpop = dpop.map(|(key, seed)| transport.dpop_config(key, *seed));
    c.scope = session.scope.as_deref();
    // Spread retries of many CLIs that lost the same server (issue 15); the seed only
    // needs to differ between processes, not be secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    c.jitter_seed = Some(u64::from(std::process::id()) << 32 | u64::from(nanos));
    c
}

// ----- login -----

struct LoginUi {
    qr: bool,
    countdown: bool,
    last_shown: Option<u64>,
    result: Option<Result<Tokens, String>>,
}

impl LoginUi {
    fn clear_countdown(&mut self) {
        if self.countdown && self.last_shown.take().is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Handler for LoginUi {
    fn event(&mut self, event: Event<'_>) -> Control {
        self.clear_countdown();
        match event {
            Event::ShowCode {
                user_code,
                verification_uri,
                verification_uri_complete,
                ..
            } => {
                println!();
                println!("To log in, open {verification_uri}");
                println!("and enter the code: {user_code}");
                if let Some(uri) = verification_uri_complete {
                    println!("or open {uri}");
                    if self.qr {
                        print_qr(uri);
                    }
                }
                println!();
                let _ = std::io::stdout().flush();
                Control::Continue
            }
            Event::Authorized(tokens) => {
                self.result = Some(Ok(tokens.clone()));
                Control::Stop
            }
            Event::SlowDown { interval } => {
                eprintln!("server asked to poll more slowly: every {interval}");
                Control::Continue
            }
            Event::Retrying {
                error, retry_at, ..
            } => {
                let wait = retry_at - unix_now();
                eprintln!("{error}; retrying in {}s", wait.as_secs_ceil());
                Control::Continue
            }
            Event::Denied => {
                self.result = Some(Err("the request was denied".into()));
                Control::Stop
            }
            Event::CodeExpired { .. } => {
                self.result = Some(Err(
                    "the code expired before it was approved; run login again".into(),
                ));
                Control::Stop
            }
            Event::Failed(e) => {
                self.result = Some(Err(format!("login failed: {e}")));
                Control::Stop
            }
            _ => Control::Continue,
        }
    }

    fn waiting(&mut self, flow: &DeviceFlow<'_>, now: Instant) {
        if !self.countdown {
            return;
        }
        if let Some(code) = flow.code() {
            let left = (code.expires_at - now).as_secs_ceil();
            if self.last_shown != Some(left) {
                self.last_shown = Some(left);
                eprint!(
                    "\r\x1b[2KWaiting for approval… code expires in {}:{:02}",
                    left / 60,
                    left % 60
                );
                let _ = std::io::stderr().flush();
            }
        }
    }

    fn transport_error(&mut self, error: &TransportError) {
        self.clear_countdown();
        eprintln!("{error}");
    }
}

fn print_qr(uri: &str) {
    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
    let Ok(qr) = Qr::encode(uri, &mut out, &mut temp) else {
        return; // A URI too long for a QR code: the link above still works.
    };
    let mut text = String::new();
    // Terminals are mostly light-on-dark: print the light modules as ink.
    if qr
        .render_text(
            &mut text,
            TextStyle::HalfBlocks,
            QR_DEFAULT_QUIET_ZONE,
            true,
        )
        .is_ok()
    {
        print!("{text}");
    }
}

/// How `login` was asked to run.
struct LoginOptions {
    qr: QrMode,
    no_discovery: bool,
    force_device: bool,
    force_browser: bool,
    browser_timeout: std::time::Duration,
}

/// Logs in as `session` says (its endpoints are AuthGate's defaults until
/// discovered; `session.dpop`: whether DPoP is wanted, if the server offers it),
/// through the browser or the device flow ([`browser::Situation::mode`]).
fn login(store: &Store, mut session: Session, opts: LoginOptions) -> Result<ExitCode, String> {
    let LoginOptions {
        qr, no_discovery, ..
    } = opts;
    let transport = if no_discovery {
        HttpTransport::new(session.endpoints.clone())
    } else {
        let server = &session.server;
        HttpTransport::discover(server).map_err(|e| format!("{server}: {e}"))?
    };
    session.endpoints = transport.endpoints().clone();
    session.dpop &= session.endpoints.advertises_dpop();
    let dpop = dpop_key(store, &session)?;
    let offers_code_flow = session.endpoints.authorization_code_with_pkce().is_some();
    let situation = browser::Situation {
        force_browser: opts.force_browser,
        force_device: opts.force_device,
        ..browser::Situation::from_env(offers_code_flow)
    };
    if situation.mode()? == browser::Mode::Browser {
        let key = dpop.as_ref().map(|(key, _)| key);
        match browser_login(store, &session, &transport, key, opts.browser_timeout) {
            Err(BrowserLogin::Unavailable(why)) if !opts.force_browser => {
                eprintln!("authgate-login: {why}; using the device flow");
            }
            Err(BrowserLogin::Unavailable(why) | BrowserLogin::Failed(why)) => return Err(why),
            Ok(code) => return Ok(code),
        }
    }
    let mut flow = DeviceFlow::new(flow_config(&session, &transport, dpop.as_ref()), unix_now());
    let mut ui = LoginUi {
        qr: match qr {
            QrMode::Auto => std::io::stdout().is_terminal(),
            QrMode::Always => true,
            QrMode::Never => false,
        },
        countdown: std::io::stderr().is_terminal(),
        last_shown: None,
        result: None,
    };
    transport
        .run(&mut flow, &mut ui)
        .map_err(|e| e.to_string())?;
    ui.clear_countdown();
    match ui.result {
        Some(Ok(tokens)) => {
            store
                .save(&session, &tokens)
                .map_err(|e| format!("saving tokens in {}: {e}", store.dir().display()))?;
            println!("Logged in to {}.", session.server);
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(msg)) => Err(msg),
        None => Err("the login ended without tokens".into()),
    }
}

/// Why the browser mode did not log in.
enum BrowserLogin {
    /// Before any browser opened: the device flow may still be used.
    Unavailable(String),
    /// After: the login itself failed.
    Failed(String),
}

/// The browser mode of `login` (see [`browser`]): checks that the server takes
/// the request before a browser opens, so a client not registered for it falls
/// back to the device flow instead of showing an error page.
fn browser_login(
    store: &Store,
    session: &Session,
    transport: &HttpTransport,
    dpop: Option<&DpopKey>,
    timeout: std::time::Duration,
) -> Result<ExitCode, BrowserLogin> {
    let unavailable = BrowserLogin::Unavailable;
    let endpoint = session
        .endpoints
        .authorization_code_with_pkce()
        .ok_or_else(|| unavailable("the server has no authorization endpoint".into()))?
        .to_string();
    let loopback = browser::Loopback::bind()
        .map_err(|e| unavailable(format!("cannot listen on 127.0.0.1: {e}")))?;
    let (verifier, challenge) = browser::pkce().map_err(|e| unavailable(e.to_string()))?;
    let state = browser::pkce().map_err(|e| unavailable(e.to_string()))?.0;
    let url = browser::authorize_url(
        &endpoint,
        &session.client_id,
        &loopback.redirect_uri,
        session.scope.as_deref(),
        &state,
        &challenge,
    );
    browser::preflight(transport, &url, &loopback.redirect_uri).map_err(unavailable)?;
    let request = BrowserRequest {
        url: &url,
        loopback: &loopback,
        state: &state,
        verifier: &verifier,
    };
    finish_browser_login(store, session.clone(), transport, dpop, timeout, request)
        .map_err(BrowserLogin::Failed)
}

/// An authorization request the server takes, about to go to the browser.
struct BrowserRequest<'a> {
    url: &'a str,
    loopback: &'a browser::Loopback,
    state: &'a str,
    verifier: &'a str,
}

/// Opens the browser, waits for the redirect, exchanges the code, caches the
/// tokens.
fn finish_browser_login(
    store: &Store,
    mut session: Session,
    transport: &HttpTransport,
    dpop: Option<&DpopKey>,
    timeout: std::time::Duration,
    req: BrowserRequest<'_>,
) -> Result<ExitCode, String> {
    println!("Opening your browser to log in. If it does not open, visit:");
    println!();
    println!("  {}", req.url);
    println!();
    let _ = std::io::stdout().flush();
    if let Err(e) = browser::open_browser(req.url) {
        eprintln!("authgate-login: {e}");
    }
    let code = req
        .loopback
        .wait(timeout)?
        .code(req.state, &session.endpoints)?;
    let (tokens, bound) = browser::Exchange {
        transport,
        client_id: &session.client_id,
        code: &code,
        redirect_uri: &req.loopback.redirect_uri,
        verifier: req.verifier,
        dpop,
    }
    .run()?;
    session.dpop = bound;
    store
        .save(&session, &tokens)
        .map_err(|e| format!("saving tokens in {}: {e}", store.dir().display()))?;
    println!("Logged in to {}.", session.server);
    Ok(ExitCode::SUCCESS)
}

// ----- status -----

/// The claims `status` shows, read from a PASETO v4.public payload (not verified:
/// this is display only, the server decides what a token is worth).
#[derive(serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    scope: Option<String>,
}

fn peek_claims(token: &str) -> Option<Claims> {
    use base64::Engine as _;
    let body = token.strip_prefix("v4.public.")?.split('.').next()?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    // The message is followed by a 64-byte Ed25519 signature.
    let msg = raw.get(..raw.len().checked_sub(64)?)?;
    serde_json::from_slice(msg).ok()
}

fn describe(remaining: Option<Duration>) -> String {
    match remaining {
        None => "no expiry given".into(),
        Some(d) if d == Duration::ZERO => "expired".into(),
        Some(d) => {
            let s = d.as_secs();
            format!("expires in {}m{:02}s", s / 60, s % 60)
        }
    }
}

fn status(store: &Store) -> Result<ExitCode, String> {
    let Some((session, tokens)) = store.load().map_err(|e| e.to_string())? else {
        println!("Not logged in.");
        return Ok(ExitCode::FAILURE);
    };
    let now = unix_now();
    println!(
        "Logged in to {} as client {}",
        session.server, session.client_id
    );
    if let Some(claims) = peek_claims(tokens.access_token()) {
        if let Some(sub) = claims.sub {
            println!("User: {sub}");
        }
        if let (None, Some(scope)) = (tokens.scope(), claims.scope) {
            println!("Scope: {scope}");
        }
    }
    if let Some(scope) = tokens.scope() {
        println!("Scope: {scope}");
    }
    println!("Access token: {}", describe(tokens.remaining(now)));
    println!(
        "Refresh token: {}",
        if tokens.refresh_token().is_some() {
            "present"
        } else {
            "none (login again when the access token expires)"
        }
    );
    println!(
        "DPoP: {}",
        if session.dpop {
            "tokens bound to the key in dpop.key"
        } else {
            "no (bearer tokens)"
        }
    );
    println!("Cache: {}", store.dir().display());
    let usable = !tokens.is_expired(now) || tokens.refresh_token().is_some();
    Ok(if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ----- token -----

fn token(store: &Store) -> Result<ExitCode, String> {
    let Some((session, tokens)) = store.load().map_err(|e| e.to_string())? else {
        return Err("not logged in; run `authgate-login login --server URL`".into());
    };
    let now = unix_now();
    let fresh_enough = tokens
        .remaining(now)
        .is_none_or(|left| left > TOKEN_MIN_VALIDITY);
    if fresh_enough {
        println!("{}", tokens.access_token());
        return Ok(ExitCode::SUCCESS);
    }
    if tokens.refresh_token().is_none() {
        return Err(
            "the access token expired and there is no refresh token; run login again".into(),
        );
    }
    let transport = HttpTransport::new(session.endpoints.clone());
    let dpop = dpop_key(store, &session)?;
    let mut config = flow_config(&session, &transport, dpop.as_ref());
    // A script should not hang on a dead server.
    config.backoff = Backoff {
        max_attempts: Some(3),
        ..Backoff::DEFAULT
    };
    let mut flow = DeviceFlow::resume(config, tokens, now);
    flow.refresh(now).map_err(|e| e.to_string())?;
    let mut ui = TokenUi {
        store,
        outcome: None,
    };
    transport
        .run(&mut flow, &mut ui)
        .map_err(|e| e.to_string())?;
    match ui.outcome {
        Some(Ok(access)) => {
            println!("{access}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(msg)) => Err(msg),
        None => Err("the refresh ended without a token".into()),
    }
}

struct TokenUi<'s> {
    store: &'s Store,
    outcome: Option<Result<String, String>>,
}

impl Handler for TokenUi<'_> {
    fn event(&mut self, event: Event<'_>) -> Control {
        match event {
            Event::Refreshed(tokens) => {
                self.outcome = Some(match self.store.save_tokens(tokens) {
                    Ok(()) => Ok(tokens.access_token().to_owned()),
                    Err(e) => Err(format!("saving refreshed tokens: {e}")),
                });
                Control::Stop
            }
            Event::TokensDiscarded => {
                let _ = self.store.clear();
                self.outcome = Some(Err(
                    "the session has ended (refresh token rejected); run login again".into(),
                ));
                Control::Stop
            }
            Event::Retrying { error, .. } => {
                eprintln!("{error}; retrying");
                Control::Continue
            }
            Event::Failed(e) => {
                self.outcome = Some(Err(format!("refresh failed: {e}")));
                Control::Stop
            }
            _ => Control::Continue,
        }
    }

    fn transport_error(&mut self, error: &TransportError) {
        eprintln!("{error}");
    }
}

// ----- proof -----

fn proof(store: &Store, method: &str, url: &str) -> Result<ExitCode, String> {
    let Some((session, tokens)) = store.load().map_err(|e| e.to_string())? else {
        return Err("not logged in; run `authgate-login login --server URL`".into());
    };
    let Some(dpop) = dpop_key(store, &session)? else {
        return Err("the tokens are not DPoP-bound; send them as Bearer tokens".into());
    };
    let transport = HttpTransport::new(session.endpoints.clone());
    let now = unix_now();
    let mut flow = DeviceFlow::resume(flow_config(&session, &transport, Some(&dpop)), tokens, now);
    let mut buf = vec![0u8; 2048];
    let n = flow
        .write_resource_proof(now, method, url, &mut buf)
        .map_err(|e| format!("cannot sign a proof: {e}"))?;
    println!("{}", String::from_utf8_lossy(&buf[..n]));
    Ok(ExitCode::SUCCESS)
}

// ----- logout -----

struct LogoutUi {
    confirmed: Option<bool>,
}

impl Handler for LogoutUi {
    fn event(&mut self, event: Event<'_>) -> Control {
        match event {
            Event::LoggedOut { confirmed } => {
                self.confirmed = Some(confirmed);
                Control::Stop
            }
            Event::Retrying { error, .. } => {
                eprintln!("{error}; retrying");
                Control::Continue
            }
            _ => Control::Continue,
        }
    }
}

fn logout(store: &Store) -> Result<ExitCode, String> {
    let loaded = match store.load() {
        Ok(l) => l,
        Err(e) => {
            // An unreadable cache cannot be revoked, but it can be forgotten.
            eprintln!("authgate-login: {e}; removing the cache");
            None
        }
    };
    let Some((session, tokens)) = loaded else {
        store.clear().map_err(|e| e.to_string())?;
        println!("Not logged in.");
        return Ok(ExitCode::SUCCESS);
    };
    let confirmed = if session.endpoints.revocation_endpoint.is_some() {
        let transport = HttpTransport::new(session.endpoints.clone());
        let now = unix_now();
        let dpop = dpop_key(store, &session).ok().flatten();
        let config = flow_config(&session, &transport, dpop.as_ref());
        let mut flow = DeviceFlow::resume(config, tokens, now);
        flow.logout(now).map_err(|e| e.to_string())?;
        let mut ui = LogoutUi { confirmed: None };
        transport
            .run(&mut flow, &mut ui)
            .map_err(|e| e.to_string())?;
        ui.confirmed.unwrap_or(false)
    } else {
        false
    };
    store.clear().map_err(|e| e.to_string())?;
    if confirmed {
        println!("Logged out; the tokens were revoked.");
    } else {
        println!("Logged out locally; the server could not confirm the revocation.");
    }
    Ok(ExitCode::SUCCESS)
}
