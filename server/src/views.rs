//! One struct per page template; the templates live in `server/templates/` and are
//! compiled into the binary by askama.
//!
//! Every page carries the [`Lang`] it speaks: the templates and the enums here take
//! their sentences from its Fluent messages (`server/locales/`), never from
//! English literals, and `base.html` writes `<html lang>` and the language switch
//! from it. [`Here`] is where the switch brings the person back to.

use askama::Template;

pub use crate::i18n::Lang;

/// Where a page's language switch returns to: a local path the person can GET
/// (a page shown after a POST names the page its form came from).
pub trait Here {
    /// The local path (with query) of this page for a GET.
    fn here(&self) -> String;
}

/// The language switch links of a page: `(language, href)` for every language
/// but `current`.
pub fn switch_links(current: Lang, here: &str) -> Vec<(Lang, String)> {
    let next: String =
        percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC).collect();
    Lang::ALL
        .into_iter()
        .filter(|l| *l != current)
        .map(|l| (l, format!("/language?set={}&next={next}", l.tag())))
        .collect()
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user (none on this page).
    pub username: Option<&'a str>,
    /// CSRF token for the form.
    pub csrf: &'a str,
    /// Where to go after signing in.
    pub next: &'a str,
    /// What the user typed, kept after a failure.
    pub username_value: &'a str,
    /// Why the last attempt failed.
    pub error: Option<LoginProblem>,
}

impl Here for LoginPage<'_> {
    fn here(&self) -> String {
        if self.next == "/account" {
            return "/login".into();
        }
        let next: String =
            percent_encoding::utf8_percent_encode(self.next, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!("/login?next={next}")
    }
}

/// Why a sign-in was refused, as the form says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginProblem {
    /// Wrong user name or password (one answer for both).
    Wrong,
    /// The guess limits: wait, or the hasher is busy.
    Refused(Wait),
}

impl LoginProblem {
    /// The sentence, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            LoginProblem::Wrong => lang.t("login-wrong"),
            LoginProblem::Refused(Wait::Backoff(secs)) => lang.t1("login-too-many", "secs", *secs),
            LoginProblem::Refused(w) => w.text(lang),
        }
    }
}

/// Why a password check did not run (the sentence after "try again").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Too many failures: wait this many seconds.
    Backoff(u64),
    /// This address already has a check in flight.
    InFlight,
    /// The server's password queue is full.
    Busy,
}

impl Wait {
    /// The sentence for `InFlight` and `Busy` (a backoff is worded by the form).
    fn text(&self, lang: &Lang) -> String {
        match self {
            Wait::InFlight => lang.t("attempt-in-flight"),
            Wait::Busy | Wait::Backoff(_) => lang.t("attempt-busy"),
        }
    }
}

/// The consent page of an authorization request (RFC 6749 §4.1.1).
#[derive(Template)]
#[template(path = "authorize.html")]
pub struct AuthorizePage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The client's display name.
    pub client_name: &'a str,
    /// The client's id.
    pub client_id: &'a str,
    /// Where the answer goes (scheme, host and port of the redirect URI), so the
    /// person sees which site or program receives access.
    pub redirect_host: &'a str,
    /// Scopes as requested (the template puts them in plain words).
    pub scopes: Vec<&'a str>,
    /// The request's parameters, posted back with the decision and checked again.
    pub params: Vec<(&'a str, &'a str)>,
    /// This page's own address (the request's query), for the language switch.
    pub here: String,
}

impl Here for AuthorizePage<'_> {
    fn here(&self) -> String {
        self.here.clone()
    }
}

/// The code entry page.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The code as typed, kept after a failure.
    pub user_code: &'a str,
    /// What was wrong with it.
    pub error: Option<CodeProblem>,
    /// Whether the error is a guess limit ("try again in N s").
    pub throttled: bool,
}

impl Here for DevicePage<'_> {
    fn here(&self) -> String {
        "/device".into()
    }
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The client's display name.
    pub client_name: &'a str,
    /// The client's id.
    pub client_id: &'a str,
    /// Canonical user code (posted back).
    pub user_code: &'a str,
    /// Public reference of the request shown (posted back; see `web::device`).
    pub request: &'a str,
    /// The consent binding: an HMAC over session, request and code (posted back),
    /// so the consent POST can't be used to look codes up.
    pub consent: &'a str,
    /// `XXXX-XXXX`.
    pub display_code: &'a str,
    /// Scopes as requested (the template puts them in plain words).
    pub scopes: Vec<&'a str>,
    /// When the device asked (UTC).
    pub requested_at: String,
    /// How long ago that was.
    pub requested_ago: Span,
    /// How long the code stays valid.
    pub expires_in: Span,
    /// The device's IP.
    pub requester_ip: &'a str,
    /// Whether the device asked from the address this browser uses.
    pub same_network: bool,
    /// The device's user agent.
    pub user_agent: &'a str,
}

impl Here for ConsentPage<'_> {
    fn here(&self) -> String {
        format!("/device?user_code={}", self.user_code)
    }
}

/// A page with a heading, a sentence and an optional link (results, errors).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token (for the sign-out form).
    pub csrf: &'a str,
    /// Heading.
    pub heading: String,
    /// Body text.
    pub text: String,
    /// `(href, label)`.
    pub link: Option<(&'a str, String)>,
    /// Where the language switch returns to.
    pub back: &'a str,
}

impl Here for MessagePage<'_> {
    fn here(&self) -> String {
        self.back.into()
    }
}

/// How a consent decision ended, as the result page tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The device was approved.
    Approved,
    /// The device was denied.
    Denied,
    /// No pending request holds the code (or it is not the one shown).
    NotFound,
    /// The request expired before the decision.
    Expired,
    /// Someone decided first.
    AlreadyDecided,
}

impl Outcome {
    /// The HTTP status of the result page.
    pub fn status(self) -> hyper::StatusCode {
        use hyper::StatusCode;
        match self {
            Outcome::Approved | Outcome::Denied => StatusCode::OK,
            Outcome::NotFound | Outcome::Expired => StatusCode::BAD_REQUEST,
            Outcome::AlreadyDecided => StatusCode::CONFLICT,
        }
    }

    /// `approved`, `denied` or `problem`: picks the icon and colour.
    pub fn kind(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Denied => "denied",
            _ => "problem",
        }
    }

    /// The heading, in `lang`.
    pub fn heading(&self, lang: &Lang) -> String {
        match self {
            Outcome::Approved => lang.t("outcome-approved"),
            Outcome::Denied => lang.t("outcome-denied"),
            Outcome::NotFound => lang.t("outcome-not-found"),
            Outcome::Expired => lang.t("outcome-expired"),
            Outcome::AlreadyDecided => lang.t("outcome-already"),
        }
    }

    /// What happens next, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            Outcome::Approved => lang.t("outcome-approved-text"),
            Outcome::Denied => lang.t("outcome-denied-text"),
            Outcome::NotFound => lang.t("outcome-not-found-text"),
            Outcome::Expired => lang.t("outcome-expired-text"),
            Outcome::AlreadyDecided => lang.t("outcome-already-text"),
        }
    }
}

/// The answer to Approve or Deny (or why it could not be recorded).
#[derive(Template)]
#[template(path = "result.html")]
pub struct ResultPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token (for the sign-out form).
    pub csrf: &'a str,
    /// How the decision ended: heading, text, icon.
    pub outcome: Outcome,
    /// The client's display name (empty on problems).
    pub client_name: &'a str,
    /// What was granted, as scopes (approvals only; shown in plain words).
    pub scopes: Vec<&'a str>,
}

impl Here for ResultPage<'_> {
    fn here(&self) -> String {
        "/account".into()
    }
}

/// A page with only a heading, a sentence and a link, fixed by the situation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A consent form whose binding is missing or stale.
    ConsentExpired,
    /// `GET /logout`: sign-out is the button in the header.
    SignOutPrompt,
}

impl Message {
    /// The page for this message in `lang`, for `username`, with the header's
    /// CSRF token.
    pub fn page<'a>(self, lang: Lang, username: Option<&'a str>, csrf: &'a str) -> MessagePage<'a> {
        let (heading, text, link, back) = match self {
            Message::ConsentExpired => (
                lang.t("message-form-expired"),
                lang.t("message-consent-expired-text"),
                Some(("/device", lang.t("message-enter-code"))),
                "/device",
            ),
            Message::SignOutPrompt => (
                lang.t("message-sign-out"),
                lang.t("message-sign-out-text"),
                None,
                "/logout",
            ),
        };
        MessagePage {
            lang,
            username,
            csrf,
            heading,
            text,
            link,
            back,
        }
    }
}

/// Why a typed user code was not taken, as the code form says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProblem {
    /// A letter outside the alphabet (not counted as a guess).
    InvalidCharacter,
    /// The wrong length or shape (not counted as a guess).
    Shape,
    /// Well-formed but not a pending request (counted).
    Wrong,
    /// The guess limit: try again after this many seconds.
    Throttled(u64),
}

impl CodeProblem {
    /// The sentence, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            CodeProblem::InvalidCharacter => lang.t("code-invalid-character"),
            CodeProblem::Shape => lang.t("code-shape"),
            CodeProblem::Wrong => lang.t("code-wrong"),
            CodeProblem::Throttled(secs) => lang.t1("code-throttled", "secs", *secs),
        }
    }
}

/// A confirmation on the account page after a redirect: the query names a
/// variant (`?notice=revoked`), so no text from the URL is ever shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// One device revoked.
    Revoked,
    /// Every device revoked.
    RevokedAll,
    /// One other browser signed out.
    SignedOut,
    /// Every other browser signed out.
    SignedOutOthers,
    /// The password changed.
    Password,
}

impl Notice {
    const ALL: [Notice; 5] = [
        Notice::Revoked,
        Notice::RevokedAll,
        Notice::SignedOut,
        Notice::SignedOutOthers,
        Notice::Password,
    ];

    /// The query value naming this notice.
    pub fn key(self) -> &'static str {
        match self {
            Notice::Revoked => "revoked",
            Notice::RevokedAll => "revoked-all",
            Notice::SignedOut => "signed-out",
            Notice::SignedOutOthers => "signed-out-others",
            Notice::Password => "password",
        }
    }

    /// The notice a query value names, if any.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.key() == key)
    }

    /// Where to redirect to show it: `/account?notice=…`.
    pub fn location(self) -> &'static str {
        match self {
            Notice::Revoked => "/account?notice=revoked",
            Notice::RevokedAll => "/account?notice=revoked-all",
            Notice::SignedOut => "/account?notice=signed-out",
            Notice::SignedOutOthers => "/account?notice=signed-out-others",
            Notice::Password => "/account?notice=password",
        }
    }

    /// The sentence shown, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            Notice::Revoked => lang.t("notice-revoked"),
            Notice::RevokedAll => lang.t("notice-revoked-all"),
            Notice::SignedOut => lang.t("notice-signed-out"),
            Notice::SignedOutOthers => lang.t("notice-signed-out-others"),
            Notice::Password => lang.t("notice-password"),
        }
    }
}

/// Why the change-password form was refused, as the form says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Under the minimum length.
    TooShort(usize),
    /// The confirmation differs.
    Mismatch,
    /// The current password is wrong.
    WrongCurrent,
    /// A guess limit or a busy hasher.
    Refused(Wait),
}

impl PasswordProblem {
    /// The sentence, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            PasswordProblem::TooShort(n) => lang.t1("password-too-short", "n", *n),
            PasswordProblem::Mismatch => lang.t("password-mismatch"),
            PasswordProblem::WrongCurrent => lang.t("password-wrong-current"),
            PasswordProblem::Refused(Wait::Backoff(secs)) => {
                lang.t1("password-too-many", "secs", *secs)
            }
            PasswordProblem::Refused(w) => w.text(lang),
        }
    }
}

/// One device on the account page.
pub struct DeviceRow {
    /// Grant id, hex.
    pub id: String,
    /// Client display name.
    pub client_name: String,
    /// Scopes as granted (shown in plain words).
    pub scopes: Vec<String>,
    /// Dates, formatted.
    pub approved_at: String,
    /// Dates, formatted; `None`: never refreshed.
    pub last_refreshed: Option<String>,
    /// Dates, formatted.
    pub expires_at: String,
    /// The device's IP.
    pub device_ip: String,
}

/// One browser session on the account page.
pub struct SessionRow {
    /// Session id (hash of the cookie), hex.
    pub id: String,
    /// "Chrome on Android", or "Unknown browser".
    pub browser: BrowserName,
    /// Address it signed in from.
    pub ip: String,
    /// Dates, formatted.
    pub signed_in: String,
    /// "now", "5 minutes ago", or "unknown".
    pub last_active: LastActive,
    /// Whether this is the browser viewing the page.
    pub current: bool,
}

/// The account page: devices holding access, browser sessions, password.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// A confirmation of the last action, if any.
    pub notice: Option<Notice>,
    /// Active grants.
    pub devices: Vec<DeviceRow>,
    /// Live browser sessions, this one included.
    pub sessions: Vec<SessionRow>,
    /// The user has the admin role: link to the console.
    pub admin: bool,
}

/// The change-password page.
#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// What was wrong with the last attempt.
    pub error: Option<PasswordProblem>,
}

impl Here for PasswordPage<'_> {
    fn here(&self) -> String {
        "/account/password".into()
    }
}

impl Here for AccountPage<'_> {
    fn here(&self) -> String {
        "/account".into()
    }
}

/// When a browser session was last active, as the account page says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastActive {
    /// This browser, viewing the page.
    Now,
    /// That long ago.
    Ago(Span),
    /// No record (a session from before activity was kept).
    Unknown,
}

impl LastActive {
    /// In words, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            LastActive::Now => lang.t("time-now"),
            LastActive::Ago(span) => span.ago(lang),
            LastActive::Unknown => lang.t("time-unknown"),
        }
    }
}

/// A length of time, rounded the way pages say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// Under a minute.
    UnderMinute,
    /// Whole minutes (1..120).
    Minutes(u64),
    /// Whole hours (2..48).
    Hours(u64),
    /// Whole days.
    Days(u64),
}

impl Span {
    /// "5 minutes", in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        match self {
            Span::UnderMinute => lang.t("duration-under-minute"),
            Span::Minutes(n) => lang.t1("duration-minutes", "n", *n),
            Span::Hours(n) => lang.t1("duration-hours", "n", *n),
            Span::Days(n) => lang.t1("duration-days", "n", *n),
        }
    }

    /// "5 minutes ago", in `lang`.
    pub fn ago(&self, lang: &Lang) -> String {
        match self {
            Span::UnderMinute => lang.t("ago-under-minute"),
            Span::Minutes(n) => lang.t1("ago-minutes", "n", *n),
            Span::Hours(n) => lang.t1("ago-hours", "n", *n),
            Span::Days(n) => lang.t1("ago-days", "n", *n),
        }
    }
}

/// A browser as the session list names it: its brand and system (proper names,
/// never translated) or that it is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrowserName {
    /// "Firefox", "Chrome"…; `None`: a browser we don't recognise.
    pub brand: Option<&'static str>,
    /// "Android", "macOS"…
    pub os: Option<&'static str>,
    /// No `User-Agent` at all.
    pub unknown: bool,
}

impl BrowserName {
    /// An unknown browser (no record of it).
    pub const UNKNOWN: BrowserName = BrowserName {
        brand: None,
        os: None,
        unknown: true,
    };

    /// "Chrome on Android", in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        if self.unknown {
            return lang.t("browser-unknown");
        }
        let brand = self
            .brand
            .map_or_else(|| lang.t("browser-generic"), str::to_string);
        match self.os {
            Some(os) => lang.t2("browser-on", "browser", brand, "os", os),
            None => brand,
        }
    }
}

/// A duration between two Unix times, rounded for words: under a minute, minutes
/// (below 2 h), hours (below 2 days), days (`later - earlier`, zero if negative).
pub fn ago(later: u64, earlier: u64) -> Span {
    let secs = later.saturating_sub(earlier);
    match secs {
        0..60 => Span::UnderMinute,
        60..7200 => Span::Minutes(secs / 60),
        7200..172_800 => Span::Hours(secs / 3600),
        _ => Span::Days(secs / 86_400),
    }
}

/// A short description of a `User-Agent`: Firefox on Android, Safari on iPhone.
pub fn browser_name(user_agent: &str) -> BrowserName {
    let ua = user_agent;
    if ua.is_empty() {
        return BrowserName::UNKNOWN;
    }
    let brand = if ua.contains("Firefox/") {
        Some("Firefox")
    } else if ua.contains("Edg/") {
        Some("Edge")
    } else if ua.contains("OPR/") {
        Some("Opera")
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS/") {
        Some("Chrome")
    } else if ua.contains("Safari/") {
        Some("Safari")
    } else {
        None
    };
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    BrowserName {
        brand,
        os,
        unknown: false,
    }
}

/// Formats Unix seconds for pages, in UTC.
pub fn when(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(0))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        let en = Lang::En;
        assert_eq!(ago(100, 100).text(&en), "less than a minute");
        assert_eq!(ago(160, 100).text(&en), "1 minute");
        assert_eq!(ago(100 + 3 * 3600, 100).text(&en), "3 hours");
        assert_eq!(ago(0, 100), Span::UnderMinute);
        assert_eq!(ago(5 * 86_400, 0).text(&en), "5 days");
        assert_eq!(ago(5 * 86_400, 0).ago(&en), "5 days ago");
        assert_eq!(ago(5 * 86_400, 0).ago(&Lang::De), "vor 5 Tagen");
        assert_eq!(ago(5 * 86_400, 0).text(&Lang::De), "5 Tage");
        assert_eq!(ago(160, 100).ago(&Lang::De), "vor 1 Minute");
        assert_eq!(ago(100 + 3 * 3600, 100).ago(&Lang::Ja), "3 時間前");
    }

    #[test]
    fn browsers_in_words() {
        let en = Lang::En;
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                       (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(browser_name(android).text(&en), "Chrome on Android");
        assert_eq!(browser_name(android).text(&Lang::Fr), "Chrome sur Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
                      AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_name(iphone).text(&en), "Safari on iPhone");
        assert_eq!(browser_name("").text(&en), "Unknown browser");
        assert_eq!(browser_name("curl/8.0").text(&en), "A browser");
    }
}
