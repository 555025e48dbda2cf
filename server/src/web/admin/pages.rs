//! The console's page templates (`server/templates/admin/`) and their rows.

use askama::Template;

use crate::admin::exec::{AuditView, ClientView, KeyView};
use crate::views::{Here, Lang};

/// What the last change did, shown above the page it returned to
/// (`?done=<key>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// A user was added.
    UserAdded,
    /// A user was changed (enabled, disabled, role, password).
    UserChanged,
    /// A user was deleted.
    UserDeleted,
    /// Grants were revoked.
    Revoked,
    /// A client was changed.
    ClientChanged,
    /// A client was deleted.
    ClientDeleted,
    /// A new signing key.
    KeyRotated,
}

impl Done {
    /// Every notice, for the query parser and the i18n tests.
    pub const ALL: [Done; 7] = [
        Done::UserAdded,
        Done::UserChanged,
        Done::UserDeleted,
        Done::Revoked,
        Done::ClientChanged,
        Done::ClientDeleted,
        Done::KeyRotated,
    ];

    /// The query value.
    pub fn key(self) -> &'static str {
        match self {
            Done::UserAdded => "user-added",
            Done::UserChanged => "user-changed",
            Done::UserDeleted => "user-deleted",
            Done::Revoked => "revoked",
            Done::ClientChanged => "client-changed",
            Done::ClientDeleted => "client-deleted",
            Done::KeyRotated => "key-rotated",
        }
    }

    /// The notice with this query value.
    pub fn from_key(key: &str) -> Option<Done> {
        Done::ALL.into_iter().find(|d| d.key() == key)
    }

    /// The sentence, in `lang`.
    pub fn text(&self, lang: &Lang) -> String {
        lang.t(match self {
            Done::UserAdded => "admin-done-user-added",
            Done::UserChanged => "admin-done-user-changed",
            Done::UserDeleted => "admin-done-user-deleted",
            Done::Revoked => "admin-done-revoked",
            Done::ClientChanged => "admin-done-client-changed",
            Done::ClientDeleted => "admin-done-client-deleted",
            Done::KeyRotated => "admin-done-key-rotated",
        })
    }
}

/// What every console page carries.
pub struct Common<'a> {
    /// CSRF token of the forms.
    pub csrf: &'a str,
    /// The last change's notice.
    pub done: Option<Done>,
    /// This page's GET address (the language switch returns here).
    pub here: String,
}

/// A user as the console lists it.
pub struct UserRow {
    /// Login name.
    pub name: String,
    /// Sign-in refused.
    pub disabled: bool,
    /// Has the admin role.
    pub admin: bool,
    /// When it was created.
    pub created: String,
}

/// A grant as the console lists it.
pub struct GrantRow {
    /// Hex id (the revoke form's value).
    pub id: String,
    /// Whose.
    pub user: String,
    /// Which client.
    pub client: String,
    /// Scopes granted.
    pub scope: String,
    /// Approved at.
    pub created: String,
    /// Refresh token lapses at.
    pub expires: String,
}

/// A browser session as the console lists it.
pub struct SessionRow {
    /// Browser's address.
    pub ip: String,
    /// Browser's `User-Agent`.
    pub agent: String,
    /// Signed in at.
    pub signed_in: String,
}

/// `/admin`: the users and the add form.
#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// Every user, by name.
    pub users: Vec<UserRow>,
}

/// `/admin/user?name=`: one user.
#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// The user shown.
    pub user: UserRow,
    /// The user shown is the admin looking (no demote, disable or delete).
    pub is_self: bool,
    /// Their live grants.
    pub grants: Vec<GrantRow>,
    /// Their live browser sessions.
    pub sessions: Vec<SessionRow>,
}

use crate::oauth::grant_type::GrantType;
use crate::store::{AccessTokenFormat, DpopMode, UserCodeFormat};

/// The values of a client's edit fields.
pub struct ClientFields {
    /// Display name.
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Every grant type a client may name, and whether this one has it.
    pub grants: Vec<(&'static str, bool)>,
    /// Access-token lifetime, seconds, or empty.
    pub access: String,
    /// Refresh-token lifetime, seconds, or empty.
    pub refresh_ttl: String,
    /// Redirect URIs, one a line.
    pub redirect_uris: String,
    /// Each access-token format's name, and whether it is this client's.
    pub formats: Vec<(&'static str, bool)>,
    /// Each user-code format's name, and whether it is this client's.
    pub code_formats: Vec<(&'static str, bool)>,
    /// Each DPoP mode's name, and whether it is this client's.
    pub dpop_modes: Vec<(&'static str, bool)>,
    /// Device-code lifetime, seconds, or empty.
    pub device_ttl: String,
    /// Poll interval, seconds, or empty.
    pub poll_interval: String,
}

/// The choices of a select, the current one marked.
fn choices<T: Copy + PartialEq>(
    all: &[T],
    current: T,
    name: fn(T) -> &'static str,
) -> Vec<(&'static str, bool)> {
    all.iter().map(|&v| (name(v), v == current)).collect()
}

/// The select choices of the settings that are enums.
fn selects(
    format: AccessTokenFormat,
    codes: UserCodeFormat,
    dpop: DpopMode,
) -> [Vec<(&'static str, bool)>; 3] {
    [
        choices(
            &[AccessTokenFormat::Paseto, AccessTokenFormat::Jwt],
            format,
            AccessTokenFormat::as_str,
        ),
        choices(
            &[UserCodeFormat::Letters, UserCodeFormat::Digits],
            codes,
            UserCodeFormat::as_str,
        ),
        choices(
            &[DpopMode::Optional, DpopMode::Required],
            dpop,
            DpopMode::as_str,
        ),
    ]
}

impl ClientFields {
    /// The add form's defaults: a device client with the usual scopes.
    pub fn blank() -> Self {
        let [formats, code_formats, dpop_modes] =
            selects(Default::default(), Default::default(), Default::default());
        ClientFields {
            name: String::new(),
            scopes: "profile read write".into(),
            grants: GrantType::KNOWN
                .map(|g| {
                    (
                        g.short(),
                        matches!(g, GrantType::DeviceCode | GrantType::RefreshToken),
                    )
                })
                .to_vec(),
            access: String::new(),
            refresh_ttl: String::new(),
            redirect_uris: String::new(),
            formats,
            code_formats,
            dpop_modes,
            device_ttl: String::new(),
            poll_interval: String::new(),
        }
    }

    /// The edit form's values for `c`.
    pub fn of(c: &ClientView) -> Self {
        let has = |g: &str| c.grant_types.iter().any(|t| t == g);
        let secs = |t: Option<u64>| t.map(|t| t.to_string()).unwrap_or_default();
        let [formats, code_formats, dpop_modes] =
            selects(c.access_token_format, c.user_code_format, c.dpop);
        ClientFields {
            name: c.name.clone(),
            scopes: c.scopes.join(" "),
            grants: GrantType::KNOWN
                .map(|g| (g.short(), has(g.short())))
                .to_vec(),
            access: secs(c.access_ttl),
            refresh_ttl: secs(c.refresh_ttl),
            redirect_uris: c.redirect_uris.join("\n"),
            formats,
            code_formats,
            dpop_modes,
            device_ttl: secs(c.device_code_ttl),
            poll_interval: secs(c.poll_interval),
        }
    }
}

/// `/admin/clients`: the clients and the add form.
#[derive(Template)]
#[template(path = "admin/clients.html")]
pub struct ClientsPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// Every client, by id.
    pub clients: Vec<ClientView>,
    /// The add form's fields.
    pub f: ClientFields,
}

/// `/admin/client?id=`: one client's settings and actions.
#[derive(Template)]
#[template(path = "admin/client.html")]
pub struct ClientPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// The client.
    pub client: ClientView,
    /// The edit form's fields.
    pub f: ClientFields,
}

/// A new client secret, shown once, in the answer to the POST that drew it.
#[derive(Template)]
#[template(path = "admin/secret.html")]
pub struct SecretPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// Whose.
    pub client_id: String,
    /// The secret itself.
    pub secret: String,
}

/// `/admin/grants`: every live grant.
#[derive(Template)]
#[template(path = "admin/grants.html")]
pub struct GrantsPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// Newest first.
    pub grants: Vec<GrantRow>,
}

/// The audit page's filter, as typed.
#[derive(Default)]
pub struct AuditFilterForm {
    /// Kind name, or empty.
    pub kind: String,
    /// Actor or subject, or empty.
    pub user: String,
    /// `YYYY-MM-DD` or Unix seconds, or empty.
    pub since: String,
    /// Same, exclusive.
    pub until: String,
}

/// `/admin/audit`: the filtered log.
#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// The filter.
    pub filter: AuditFilterForm,
    /// Events, newest first.
    pub events: Vec<(String, AuditView)>,
    /// The export link with the same filter.
    pub export: String,
    /// The kind names the filter offers.
    pub kinds: Vec<&'static str>,
}

/// `/admin/keys`: the signing keys.
#[derive(Template)]
#[template(path = "admin/keys.html")]
pub struct KeysPage<'a> {
    /// The page's language.
    pub lang: Lang,
    /// Header user.
    pub username: Option<&'a str>,
    /// CSRF token.
    pub csrf: &'a str,
    /// The rest.
    pub c: Common<'a>,
    /// Oldest first, with the creation time formatted.
    pub keys: Vec<(String, KeyView)>,
}

macro_rules! here {
    ($($t:ident),*) => {$(
        impl Here for $t<'_> {
            fn here(&self) -> String {
                self.c.here.clone()
            }
        }
    )*};
}
here!(
    UsersPage,
    UserPage,
    ClientsPage,
    ClientPage,
    SecretPage,
    GrantsPage,
    AuditPage,
    KeysPage
);
