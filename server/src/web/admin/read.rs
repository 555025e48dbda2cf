//! The console's listing pages: users, one user, clients, one client, grants, keys.

use askama::Template;
use hyper::StatusCode;

use super::AdminUser;
use super::pages::{
    ClientFields, ClientPage, ClientsPage, Common, Done, GrantRow, GrantsPage, KeysPage,
    SessionRow, UserPage, UserRow, UsersPage,
};
use crate::admin::exec::{self, AdminReply, ClientView};
use crate::http::form::Form;
use crate::http::response::Resp;
use crate::secrets::hex;
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Grant, User};
use crate::views::when;
use crate::web::PageError;

/// The header fields and notice of a console page at `here`.
pub(super) fn common<'a>(csrf: &'a str, q: &Form, here: String) -> Common<'a> {
    Common {
        csrf,
        done: q.get("done").and_then(Done::from_key),
        here,
    }
}

/// Renders a console page with this admin's CSRF token.
pub(super) fn show(
    state: &AppState,
    admin: &AdminUser,
    build: impl FnOnce(&str) -> askama::Result<String>,
) -> Resp {
    admin.browser.page(state, StatusCode::OK, build)
}

fn user_row(u: &User) -> UserRow {
    UserRow {
        name: u.username.clone(),
        disabled: u.disabled,
        admin: u.admin,
        created: when(u.created_at),
    }
}

fn grant_row(g: &Grant) -> GrantRow {
    GrantRow {
        id: hex(&g.id),
        user: g.username.clone(),
        client: g.client_id.clone(),
        scope: g.scope.clone(),
        created: when(g.created_at),
        expires: when(g.expires_at),
    }
}

/// `GET /admin`.
pub(super) async fn users(
    state: &AppState,
    admin: &AdminUser,
    q: &Form,
) -> Result<Resp, PageError> {
    let mut users = state.store.users().await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let users = users.iter().map(user_row).collect();
    Ok(show(state, admin, |csrf| {
        UsersPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, "/admin".into()),
            users,
        }
        .render()
    }))
}

/// The live grants of one user, newest first.
async fn live_grants(state: &AppState, user_id: &str, now: u64) -> Result<Vec<Grant>, PageError> {
    let grants = state.store.grants_of_user(user_id).await?;
    Ok(grants
        .into_iter()
        .filter(|g| !g.revoked && g.expires_at > now)
        .collect())
}

/// `GET /admin/user?name=`.
pub(super) async fn user(
    state: &AppState,
    admin: &AdminUser,
    q: &Form,
    now: u64,
) -> Result<Resp, PageError> {
    let name = q.get("name").unwrap_or_default();
    let Some(user) = state.store.user(name).await? else {
        return Err(PageError::NoSuchUser);
    };
    let grants = live_grants(state, &user.id, now).await?;
    let sessions = state.store.sessions_of_user(&user.id, now).await?;
    let sessions = sessions
        .iter()
        .map(|s| SessionRow {
            ip: s.meta.as_ref().map_or_else(String::new, |m| m.ip.clone()),
            agent: s
                .meta
                .as_ref()
                .map_or_else(String::new, |m| m.user_agent.clone()),
            signed_in: when(s.session.created_at),
        })
        .collect();
    let here = format!("/admin/user?name={}", encode(name));
    Ok(show(state, admin, |csrf| {
        UserPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, here),
            is_self: user.id == admin.user.id,
            user: user_row(&user),
            grants: grants.iter().map(grant_row).collect(),
            sessions,
        }
        .render()
    }))
}

/// `GET /admin/clients`.
pub(super) async fn clients(
    state: &AppState,
    admin: &AdminUser,
    q: &Form,
) -> Result<Resp, PageError> {
    let mut clients = state.store.clients().await?;
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    let clients = clients.iter().map(ClientView::from).collect();
    Ok(show(state, admin, |csrf| {
        ClientsPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, "/admin/clients".into()),
            clients,
            f: ClientFields::blank(),
        }
        .render()
    }))
}

/// `GET /admin/client?id=`.
pub(super) async fn client(
    state: &AppState,
    admin: &AdminUser,
    q: &Form,
) -> Result<Resp, PageError> {
    let id = q.get("id").unwrap_or_default();
    let Some(client) = state.store.client(id).await? else {
        return Err(PageError::NoSuchClient);
    };
    let here = format!("/admin/client?id={}", encode(id));
    Ok(show(state, admin, |csrf| {
        ClientPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, here),
            f: ClientFields::of(&ClientView::from(&*client)),
            client: ClientView::from(&*client),
        }
        .render()
    }))
}

/// `GET /admin/grants`: every user's live grants, newest first. One by-user range
/// per user: the console is for operators of small fleets, not a report engine.
pub(super) async fn grants(
    state: &AppState,
    admin: &AdminUser,
    q: &Form,
    now: u64,
) -> Result<Resp, PageError> {
    let mut all = Vec::new();
    for u in state.store.users().await? {
        all.extend(live_grants(state, &u.id, now).await?);
    }
    all.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    Ok(show(state, admin, |csrf| {
        GrantsPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, "/admin/grants".into()),
            grants: all.iter().map(grant_row).collect(),
        }
        .render()
    }))
}

/// `GET /admin/keys`: the key ring (shared through PostgreSQL, or the files in
/// the data directory), the signing one marked.
pub(super) async fn keys(state: &AppState, admin: &AdminUser, q: &Form) -> Result<Resp, PageError> {
    let keys = match exec::execute(&admin.ctx(state), exec::Request::KeyList).await {
        Ok(AdminReply::Keys(keys)) => keys,
        Ok(_) => Vec::new(),
        Err(e) => return Err(PageError::from(e)),
    };
    let keys = keys.into_iter().map(|k| (when(k.created_at), k)).collect();
    Ok(show(state, admin, |csrf| {
        KeysPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, "/admin/keys".into()),
            keys,
        }
        .render()
    }))
}

/// Percent-encodes a query value.
pub(super) fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).collect()
}
