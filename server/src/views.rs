//! One struct per page template; the templates live in `server/templates/` and are
//! compiled into the binary by askama.

use askama::Template;

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// Header user (none on this page).
    pub username: Option<&'a str>,
    /// CSRF token for the form.
    pub csrf: &'a str,
    /// Where to go after signing in.
    pub next: &'a str,
    /// What the user typed, kept after a failure.
    pub username_value: &'a str,
    /// Why the last attempt failed.
    pub error: Option<&'a str>,
}

/// The code entry page.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The code as typed, kept after a failure.
    pub user_code: &'a str,
    /// What was wrong with it.
    pub error: Option<&'a str>,
    /// Whether the error is a guess limit ("try again in N s").
    pub throttled: bool,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
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
    /// Scopes: `(scope, plain words)`.
    pub scopes: Vec<(&'a str, &'a str)>,
    /// When the device asked (UTC).
    pub requested_at: String,
    /// How long ago that was ("3 minutes").
    pub requested_ago: String,
    /// How long the code stays valid ("12 minutes").
    pub expires_in: String,
    /// The device's IP.
    pub requester_ip: &'a str,
    /// Whether the device asked from the address this browser uses.
    pub same_network: bool,
    /// The device's user agent.
    pub user_agent: &'a str,
}

/// A page with a heading, a sentence and an optional link (results, errors).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token (for the sign-out form).
    pub csrf: &'a str,
    /// Heading.
    pub heading: &'a str,
    /// Body text.
    pub text: &'a str,
    /// `(href, label)`.
    pub link: Option<(&'a str, &'a str)>,
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

    /// The heading.
    pub fn heading(self) -> &'static str {
        match self {
            Outcome::Approved => "Device approved",
            Outcome::Denied => "Request denied",
            Outcome::NotFound => "Unknown code",
            Outcome::Expired => "Code expired",
            Outcome::AlreadyDecided => "Already answered",
        }
    }

    /// What happens next.
    pub fn text(self) -> &'static str {
        match self {
            Outcome::Approved => {
                "Go back to your device: it connects within a few seconds. \
                 Changed your mind? Revoke it under Your devices."
            }
            Outcome::Denied => {
                "The device was not given access, and its code can't be used again. \
                 Nothing else is needed."
            }
            Outcome::NotFound => {
                "No request is waiting with this code: it does not exist or was already \
                 answered. Check the code on your device."
            }
            Outcome::Expired => {
                "This code has expired. Start again on your device to get a new one."
            }
            Outcome::AlreadyDecided => "This request was already approved or denied.",
        }
    }
}

/// The answer to Approve or Deny (or why it could not be recorded).
#[derive(Template)]
#[template(path = "result.html")]
pub struct ResultPage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token (for the sign-out form).
    pub csrf: &'a str,
    /// How the decision ended: heading, text, icon.
    pub outcome: Outcome,
    /// The client's display name (empty on problems).
    pub client_name: &'a str,
    /// What was granted, in plain words (approvals only).
    pub scopes: Vec<&'a str>,
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
    /// The page for this message, for `username`, with the header's CSRF token.
    pub fn page<'a>(self, username: Option<&'a str>, csrf: &'a str) -> MessagePage<'a> {
        let (heading, text, link) = match self {
            Message::ConsentExpired => (
                "Form expired",
                "This approval form is no longer valid. Enter the code from your device again.",
                Some(("/device", "Enter the code")),
            ),
            Message::SignOutPrompt => (
                "Sign out?",
                "Use the Sign out button at the top of the page.",
                None,
            ),
        };
        MessagePage {
            username,
            csrf,
            heading,
            text,
            link,
        }
    }
}

/// Why a typed user code was not taken, as the code form says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    /// A letter outside the alphabet (not counted as a guess).
    #[error(
        "A code has only the letters shown on your device (no vowels or digits). Check it and try again."
    )]
    InvalidCharacter,
    /// The wrong length or shape (not counted as a guess).
    #[error("A code has 8 letters, like BCDF-GHJK. Check it and try again.")]
    Shape,
    /// Well-formed but not a pending request (counted).
    #[error(
        "That code is wrong, expired or already used. Check the code on your device; if it has expired, start again there."
    )]
    Wrong,
    /// The guess limit: try again after this many seconds.
    #[error(
        "Too many wrong codes. For your safety, codes can't be checked for a moment. Try again in {0} s."
    )]
    Throttled(u64),
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

    /// The sentence shown.
    pub fn text(self) -> &'static str {
        match self {
            Notice::Revoked => {
                "Device revoked. It can no longer refresh, and its access token stopped working."
            }
            Notice::RevokedAll => {
                "All devices revoked. None of them can use your account any more."
            }
            Notice::SignedOut => "That browser was signed out.",
            Notice::SignedOutOthers => "Every other browser was signed out.",
            Notice::Password => {
                "Password changed. Every other browser was signed out; devices keep their access."
            }
        }
    }
}

/// Why the change-password form was refused, as the form says it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Under the minimum length.
    #[error("The new password is too short: use at least {0} characters.")]
    TooShort(usize),
    /// The confirmation differs.
    #[error("The two new passwords are not the same.")]
    Mismatch,
    /// The current password is wrong.
    #[error("Your current password is not right.")]
    WrongCurrent,
    /// A guess limit or a busy hasher (the sentence comes from `web::attempt`).
    #[error("{0}")]
    Refused(String),
}

/// One device on the account page.
pub struct DeviceRow {
    /// Grant id, hex.
    pub id: String,
    /// Client display name.
    pub client_name: String,
    /// Scopes in plain words.
    pub scopes: String,
    /// Dates, formatted.
    pub approved_at: String,
    /// Dates, formatted.
    pub last_refreshed: String,
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
    pub browser: String,
    /// Address it signed in from.
    pub ip: String,
    /// Dates, formatted.
    pub signed_in: String,
    /// "now", "5 minutes ago", or "unknown".
    pub last_active: String,
    /// Whether this is the browser viewing the page.
    pub current: bool,
}

/// The account page: devices holding access, browser sessions, password.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// A confirmation of the last action, if any.
    pub notice: Option<&'a str>,
    /// Active grants.
    pub devices: Vec<DeviceRow>,
    /// Live browser sessions, this one included.
    pub sessions: Vec<SessionRow>,
}

/// The change-password page.
#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// What was wrong with the last attempt.
    pub error: Option<&'a str>,
}

/// A duration between two Unix times in words: "less than a minute", "5 minutes",
/// "2 hours", "3 days" (`later - earlier`, zero if negative).
pub fn ago(later: u64, earlier: u64) -> String {
    let secs = later.saturating_sub(earlier);
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match secs {
        0..60 => "less than a minute".into(),
        60..7200 => plural(secs / 60, "minute"),
        7200..172_800 => plural(secs / 3600, "hour"),
        _ => plural(secs / 86_400, "day"),
    }
}

/// A short description of a `User-Agent`: "Firefox on Android", "Safari on iPhone".
pub fn browser_name(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        return "Unknown browser".into();
    } else {
        "A browser"
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
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
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
    use super::{ago, browser_name};

    #[test]
    fn durations_in_words() {
        assert_eq!(ago(100, 100), "less than a minute");
        assert_eq!(ago(160, 100), "1 minute");
        assert_eq!(ago(100 + 3 * 3600, 100), "3 hours");
        assert_eq!(ago(0, 100), "less than a minute");
        assert_eq!(ago(5 * 86_400, 0), "5 days");
    }

    #[test]
    fn browsers_in_words() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                       (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(browser_name(android), "Chrome on Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
                      AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_name(iphone), "Safari on iPhone");
        assert_eq!(browser_name(""), "Unknown browser");
        assert_eq!(browser_name("curl/8.0"), "A browser");
    }
}
