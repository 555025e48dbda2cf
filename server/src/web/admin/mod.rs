//! The admin console at `/admin`: users, clients, grants, the audit log and the
//! signing keys, for users with the admin role.
//!
//! Every page checks the role on each request (read from the store, so a role
//! withdrawn anywhere is refused at once): no session → the sign-in page, a
//! session without the role → 403. Every change is one POST to `/admin/action`
//! carrying the CSRF token; destructive ones also need their confirmation box
//! ticked. Changes run through the same operations as the `authgate` admin
//! commands ([`crate::admin::exec`]), audited with the admin's name as actor.

mod act;
mod audit;
pub mod pages;
mod read;

use hyper::Request;
use hyper::header::HeaderMap;

use super::session::Browser;
use super::{PageError, to_login};
use crate::admin::exec::Ctx;
use crate::http::body::RequestBody;
use crate::http::response::Resp;
use crate::state::AppState;
use crate::store::User;
use crate::store::prelude::*;

pub use act::action;

/// The console's GET pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `/admin`: every user, and the add form.
    Users,
    /// `/admin/user?name=`: one user's devices, sessions and actions.
    User,
    /// `/admin/clients`: every client, and the add form.
    Clients,
    /// `/admin/client?id=`: one client's settings and actions.
    Client,
    /// `/admin/grants`: every live grant.
    Grants,
    /// `/admin/audit`: the audit log, filtered.
    Audit,
    /// `/admin/audit.jsonl`: the filtered audit log as JSON lines.
    AuditExport,
    /// `/admin/keys`: the signing keys.
    Keys,
}

impl View {
    /// The path of this page (where the sign-in page returns to).
    pub fn path(self) -> &'static str {
        match self {
            View::Users => "/admin",
            View::User => "/admin/user",
            View::Clients => "/admin/clients",
            View::Client => "/admin/client",
            View::Grants => "/admin/grants",
            View::Audit => "/admin/audit",
            View::AuditExport => "/admin/audit.jsonl",
            View::Keys => "/admin/keys",
        }
    }
}

/// A signed-in browser whose user has the admin role.
pub struct AdminUser {
    /// The browser (language, CSRF).
    pub browser: Browser,
    /// The admin, as stored now.
    pub user: User,
}

impl AdminUser {
    /// The operations context: changes are audited with this admin's name.
    fn ctx<'a>(&self, state: &'a AppState) -> Ctx<'a> {
        Ctx {
            store: &state.store,
            data_dir: &state.data_dir,
            keys: Some(&state.keys),
            actor: self.user.username.clone(),
        }
    }
}

/// What the role check found.
pub enum Gate {
    /// An enabled user with the admin role.
    Admin(Box<AdminUser>),
    /// Not signed in: the answer is a redirect to the sign-in page.
    SignIn(Resp),
}

/// Checks the role of `browser`'s user: an admin, or a redirect to sign in
/// (coming back to `back`), or [`PageError::Forbidden`].
pub async fn gate(state: &AppState, browser: Browser, back: &str) -> Result<Gate, PageError> {
    let Some(session) = &browser.session else {
        return Ok(Gate::SignIn(to_login(back)));
    };
    match state.store.user(&session.username).await? {
        Some(user) if user.admin && !user.disabled && user.id == session.user_id => {
            Ok(Gate::Admin(Box::new(AdminUser { browser, user })))
        }
        _ => Err(PageError::Forbidden),
    }
}

/// The browser of a GET, checked with [`gate`].
async fn gate_headers(
    state: &AppState,
    headers: &HeaderMap,
    back: &str,
    now: u64,
) -> Result<Gate, PageError> {
    let browser = Browser::from_headers(state, headers, now).await?;
    gate(state, browser, back).await
}

/// `GET /admin…`: the page `view`, for an admin.
pub async fn page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    view: View,
    now: u64,
) -> Result<Resp, PageError> {
    let back = match req.uri().query() {
        Some(q) => format!("{}?{q}", view.path()),
        None => view.path().to_string(),
    };
    let admin = match gate_headers(state, req.headers(), &back, now).await? {
        Gate::Admin(a) => a,
        Gate::SignIn(resp) => return Ok(resp),
    };
    let q = super::query(req);
    match view {
        View::Users => read::users(state, &admin, &q).await,
        View::User => read::user(state, &admin, &q, now).await,
        View::Clients => read::clients(state, &admin, &q).await,
        View::Client => read::client(state, &admin, &q).await,
        View::Grants => read::grants(state, &admin, &q, now).await,
        View::Audit => audit::page(state, &admin, &q).await,
        View::AuditExport => audit::export(state, &q).await,
        View::Keys => read::keys(state, &admin, &q).await,
    }
}
