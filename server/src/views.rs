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
    /// Canonical user code (posted back).
    pub user_code: &'a str,
    /// `XXXX-XXXX`.
    pub display_code: &'a str,
    /// Scopes in plain words.
    pub scopes: Vec<&'a str>,
    /// When the device asked (UTC).
    pub requested_at: String,
    /// The device's IP.
    pub requester_ip: &'a str,
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

/// The account page: devices holding access.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    /// Signed-in user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// Active grants.
    pub devices: Vec<DeviceRow>,
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
