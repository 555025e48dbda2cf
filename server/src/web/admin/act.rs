//! `POST /admin/action`: every change the console makes. The CSRF token is checked
//! before anything else ([`read_post`]), then the role; destructive operations
//! also need `confirm` ticked. Each runs through [`exec::execute`] (or the store
//! for grants and roles), audited with the admin's name.

use askama::Template;
use hyper::{Request, StatusCode};

use super::pages::{Done, SecretPage};
use super::read::{common, encode};
use super::{AdminUser, Gate, gate};
use crate::admin::exec::{self, AdminReply, Request as Op, UserAction};
use crate::http::body::RequestBody;
use crate::http::form::Form;
use crate::http::response::{self, Resp};
use crate::oauth::grant_type::GrantType;
use crate::secrets::{random_token, sha256, unhex};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{
    AccessTokenFormat, AuditEvent, AuditKind, Client, ClientChange, ClientPatch, DpopMode,
    UserCodeFormat,
};
use crate::web::{PageError, read_post};

/// Shortest password the console sets.
const MIN_PASSWORD_CHARS: usize = crate::web::account::MIN_PASSWORD_CHARS;

/// `POST /admin/action` with `op` naming the change.
pub async fn action<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let admin = match gate(state, browser, "/admin").await? {
        Gate::Admin(a) => a,
        Gate::SignIn(resp) => return Ok(resp),
    };
    let op = form.get("op").unwrap_or_default();
    if DESTRUCTIVE.contains(&op) && form.get("confirm") != Some("yes") {
        return Err(PageError::NotConfirmed);
    }
    match op {
        "user_add" => user_add(state, &admin, &form).await,
        "user_password" => user_password(state, &admin, &form).await,
        "user_disable" | "user_enable" | "user_delete" => user_change(state, &admin, &form).await,
        "user_role" => user_role(state, &admin, &form).await,
        "grant_revoke" => grant_revoke(state, &admin, &form, now).await,
        "client_add" => client_add(state, &admin, &form).await,
        "client_update" => client_update(state, &admin, &form).await,
        "client_rotate" => client_rotate(state, &admin, &form).await,
        "client_disable" | "client_enable" | "client_delete" => {
            client_change(state, &admin, &form).await
        }
        "key_rotate" => run(state, &admin, Op::KeyRotate)
            .await
            .map(|_| done("/admin/keys", Done::KeyRotated)),
        _ => Err(PageError::UnknownAction),
    }
}

/// The operations whose form must carry `confirm=yes`.
const DESTRUCTIVE: [&str; 8] = [
    "user_disable",
    "user_delete",
    "user_password",
    "grant_revoke",
    "client_rotate",
    "client_disable",
    "client_delete",
    "key_rotate",
];

/// Runs an admin operation as this admin.
async fn run(state: &AppState, admin: &AdminUser, op: Op) -> Result<AdminReply, PageError> {
    Ok(exec::execute(&admin.ctx(state), op).await?)
}

/// Back to `page` with the notice `what`.
fn done(page: &str, what: Done) -> Resp {
    let sep = if page.contains('?') { '&' } else { '?' };
    response::see_other(&format!("{page}{sep}done={}", what.key()))
}

fn user_page(name: &str) -> String {
    format!("/admin/user?name={}", encode(name))
}

fn client_page(id: &str) -> String {
    format!("/admin/client?id={}", encode(id))
}

/// Hashes a new password typed into the console.
async fn hash(state: &AppState, form: &Form) -> Result<String, PageError> {
    let password = form.require("password")?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PageError::PasswordTooShort);
    }
    state
        .passwords
        .hash(password.to_string())
        .await
        .ok_or(PageError::PasswordNotStored)
}

async fn user_add(state: &AppState, admin: &AdminUser, form: &Form) -> Result<Resp, PageError> {
    let username = form.require("username")?.trim().to_string();
    let password_hash = hash(state, form).await?;
    let op = Op::UserAdd {
        username: username.clone(),
        password_hash,
        admin: form.get("admin") == Some("yes"),
    };
    run(state, admin, op).await?;
    Ok(done(&user_page(&username), Done::UserAdded))
}

async fn user_password(
    state: &AppState,
    admin: &AdminUser,
    form: &Form,
) -> Result<Resp, PageError> {
    let username = form.require("username")?.to_string();
    let password_hash = hash(state, form).await?;
    let op = Op::UserPasswd {
        username: username.clone(),
        password_hash,
    };
    run(state, admin, op).await?;
    Ok(done(&user_page(&username), Done::UserChanged))
}

async fn user_change(state: &AppState, admin: &AdminUser, form: &Form) -> Result<Resp, PageError> {
    let username = form.require("username")?.to_string();
    let action = match form.get("op") {
        Some("user_delete") => UserAction::Delete,
        Some("user_disable") => UserAction::Disable,
        _ => UserAction::Enable,
    };
    if action != UserAction::Enable && username == admin.user.username {
        return Err(PageError::NotYourself);
    }
    let op = Op::UserChange {
        username: username.clone(),
        action,
    };
    run(state, admin, op).await?;
    Ok(match action {
        UserAction::Delete => done("/admin", Done::UserDeleted),
        _ => done(&user_page(&username), Done::UserChanged),
    })
}

async fn user_role(state: &AppState, admin: &AdminUser, form: &Form) -> Result<Resp, PageError> {
    let username = form.require("username")?.to_string();
    let make_admin = form.get("admin") == Some("yes");
    if !make_admin && username == admin.user.username {
        return Err(PageError::NotYourself);
    }
    let event = AuditEvent::new(AuditKind::UserRoleSet, &admin.user.username, &username)
        .detail(if make_admin { "admin" } else { "user" });
    if !state
        .store
        .admin_set_role(username.clone(), make_admin, event)
        .await?
    {
        return Err(PageError::NoSuchUser);
    }
    Ok(done(&user_page(&username), Done::UserChanged))
}

/// Revokes one grant (`grant` = its id) or all of a user's (`grant=all`).
async fn grant_revoke(
    state: &AppState,
    admin: &AdminUser,
    form: &Form,
    now: u64,
) -> Result<Resp, PageError> {
    let username = form.require("username")?.to_string();
    let user = state
        .store
        .user(&username)
        .await?
        .ok_or(PageError::NoSuchUser)?;
    let target = match form.require("grant")? {
        "all" => None,
        id => Some(unhex::<16>(id).ok_or(PageError::UnknownDevice)?),
    };
    let n = state
        .store
        .revoke_user_grants(user.id.clone(), target, now)
        .await?;
    let event = AuditEvent::new(AuditKind::GrantRevoked, &admin.user.username, &username)
        .detail(format!("{n} grant(s) from the admin console"));
    state.store.audit(event).await?;
    let back = match form.get("back") {
        Some("grants") => "/admin/grants".to_string(),
        _ => user_page(&username),
    };
    Ok(done(&back, Done::Revoked))
}

/// The edit fields of a client form.
/// Every setting of the console's client form, as a patch naming them all.
fn settings(form: &Form) -> Result<ClientPatch, PageError> {
    let words = |k| -> Vec<String> {
        form.get(k)
            .unwrap_or_default()
            .split([' ', ',', '\n', '\r'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let grant_types: Vec<String> = GrantType::KNOWN
        .map(GrantType::short)
        .into_iter()
        .filter(|g| form.get(&format!("grant_{g}")) == Some("yes"))
        .map(str::to_string)
        .collect();
    let ttl = |k| -> Result<Option<u64>, PageError> {
        match form.get(k).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => crate::config::parse_duration(v)
                .map(|d| Some(d.as_secs()))
                .map_err(|_| PageError::BadLifetime),
        }
    };
    let pick = |k, default: &'static str| form.get(k).unwrap_or(default);
    let bad = || PageError::BadClientSetting;
    Ok(ClientPatch {
        name: Some(form.get("name").unwrap_or_default().trim().to_string()),
        scopes: Some(words("scopes")),
        grant_types: Some(grant_types),
        redirect_uris: Some(words("redirect_uris")),
        dpop: Some(match pick("dpop", "optional") {
            "optional" => DpopMode::Optional,
            "required" => DpopMode::Required,
            _ => return Err(bad()),
        }),
        access_token_format: Some(
            AccessTokenFormat::parse(pick("access_token_format", "paseto")).ok_or_else(bad)?,
        ),
        device_code_ttl: Some(ttl("device_code_ttl")?),
        poll_interval: Some(ttl("poll_interval")?),
        user_code_format: Some(
            UserCodeFormat::parse(pick("user_code_format", "letters")).ok_or_else(bad)?,
        ),
        access_ttl: Some(ttl("access_ttl")?),
        refresh_ttl: Some(ttl("refresh_ttl")?),
    })
}

/// Shows a new secret once, in the answer to the POST that drew it.
fn secret_page(state: &AppState, admin: &AdminUser, client_id: String, secret: String) -> Resp {
    let here = client_page(&client_id);
    admin.browser.page(state, StatusCode::OK, |csrf| {
        SecretPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, &Form::default(), here),
            client_id,
            secret,
        }
        .render()
    })
}

async fn client_add(state: &AppState, admin: &AdminUser, form: &Form) -> Result<Resp, PageError> {
    let id = form.require("id")?.trim().to_string();
    let mut s = settings(form)?;
    if s.name.as_deref().is_none_or(str::is_empty) {
        s.name = Some(id.clone());
    }
    let secret = (form.get("confidential") == Some("yes")).then(random_token);
    let mut client = Client {
        secret_hash: secret.as_ref().map(|s| sha256(s.as_bytes())),
        created_at: crate::clock::now(),
        ..Client::new(id.clone(), String::new(), Vec::new(), Vec::new())
    };
    s.apply(&mut client);
    run(state, admin, Op::ClientAdd { client }).await?;
    Ok(match secret {
        Some(secret) => secret_page(state, admin, id, secret),
        None => done(&client_page(&id), Done::ClientChanged),
    })
}

async fn client_update(
    state: &AppState,
    admin: &AdminUser,
    form: &Form,
) -> Result<Resp, PageError> {
    let id = form.require("id")?.to_string();
    let mut patch = settings(form)?;
    if patch.name.as_deref().is_none_or(str::is_empty) {
        patch.name = Some(id.clone());
    }
    // Through the same checks as `authgate client update` (admin::rules).
    run(
        state,
        admin,
        Op::ClientUpdate {
            id: id.clone(),
            patch,
        },
    )
    .await?;
    Ok(done(&client_page(&id), Done::ClientChanged))
}

async fn client_rotate(
    state: &AppState,
    admin: &AdminUser,
    form: &Form,
) -> Result<Resp, PageError> {
    let id = form.require("id")?.to_string();
    let secret = random_token();
    let change = ClientChange::SetSecret(sha256(secret.as_bytes()));
    run(
        state,
        admin,
        Op::ClientChange {
            id: id.clone(),
            change,
        },
    )
    .await?;
    Ok(secret_page(state, admin, id, secret))
}

async fn client_change(
    state: &AppState,
    admin: &AdminUser,
    form: &Form,
) -> Result<Resp, PageError> {
    let id = form.require("id")?.to_string();
    let change = match form.get("op") {
        Some("client_delete") => ClientChange::Delete,
        Some("client_disable") => ClientChange::Disable,
        _ => ClientChange::Enable,
    };
    let deleted = matches!(change, ClientChange::Delete);
    run(
        state,
        admin,
        Op::ClientChange {
            id: id.clone(),
            change,
        },
    )
    .await?;
    Ok(if deleted {
        done("/admin/clients", Done::ClientDeleted)
    } else {
        done(&client_page(&id), Done::ClientChanged)
    })
}
