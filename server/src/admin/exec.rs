//! The admin operations, as requests that run the same way whether they came over
//! the running server's admin socket or were opened directly on a stopped server's
//! database. An operation answers with data ([`AdminReply`]) or a refusal
//! ([`OpError`]); the CLI renders either (`render.rs`), so the socket carries no
//! formatted text. Passwords are hashed and client secrets drawn by the command
//! itself, so neither ever crosses the socket; only hashes do.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::keys::{KeySource, Keys};
use crate::store::prelude::*;
use crate::store::{
    AccessTokenFormat, AuditEvent, AuditKind, Client, ClientChange, ClientPatch, DpopMode, Store,
    StoreError, User, UserCodeFormat,
};
use crate::tokens::KeyError;

/// One admin request (a line of JSON on the socket).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Create a user with this argon2id hash.
    UserAdd {
        /// Login name.
        username: String,
        /// argon2id PHC string.
        password_hash: String,
        /// With the admin role (the web console).
        #[serde(default)]
        admin: bool,
    },
    /// List users.
    UserList,
    /// Replace a password hash.
    UserPasswd {
        /// Login name.
        username: String,
        /// argon2id PHC string.
        password_hash: String,
    },
    /// Give or take the admin role (the web console): how a deployment that
    /// predates the role names its first console admin.
    UserRole {
        /// Login name.
        username: String,
        /// Admin afterwards.
        admin: bool,
    },
    /// Disable, enable or delete a user.
    UserChange {
        /// Login name.
        username: String,
        /// What to do.
        action: UserAction,
    },
    /// Register a client.
    ClientAdd {
        /// The full record (secret already hashed).
        client: Client,
    },
    /// List clients.
    ClientList,
    /// Show one client.
    ClientShow {
        /// client_id.
        id: String,
    },
    /// Change the settings a patch names (`client update`).
    ClientUpdate {
        /// client_id.
        id: String,
        /// The settings to change.
        patch: ClientPatch,
    },
    /// Disable, enable, delete a client or set its secret hash.
    ClientChange {
        /// client_id.
        id: String,
        /// What to do.
        change: ClientChange,
    },
    /// New signing key.
    KeyRotate,
    /// List signing keys.
    KeyList,
    /// Read the audit log.
    Audit {
        /// Unix seconds.
        since: u64,
        /// Most events.
        limit: usize,
    },
}

/// What `user disable|enable|delete` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAction {
    /// No sign-in; sessions end, grants are revoked.
    Disable,
    /// Sign-in again.
    Enable,
    /// Gone; sessions end, grants are revoked.
    Delete,
}

/// What happened to a client, for the CLI's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAction {
    /// Disabled.
    Disabled,
    /// Enabled.
    Enabled,
    /// Deleted.
    Deleted,
    /// Has a new secret.
    SecretRotated,
    /// Has new scopes, grant types or lifetimes.
    Updated,
}

/// A user as the CLI lists it (no password hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserView {
    /// Login name.
    pub username: String,
    /// Stable id.
    pub id: String,
    /// Whether sign-in is refused.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// Has the admin role.
    #[serde(default)]
    pub admin: bool,
}

/// A client as the CLI shows it (no secret hash, only whether it has one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientView {
    /// `client_id`.
    pub id: String,
    /// Shown on the consent page.
    pub name: String,
    /// Has a secret (a resource server or backend).
    pub confidential: bool,
    /// Refused everywhere.
    pub disabled: bool,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// Its audiences (empty: the server's default).
    pub audiences: Vec<String>,
    /// Access-token lifetime override, seconds.
    pub access_ttl: Option<u64>,
    /// Refresh-token lifetime override, seconds.
    pub refresh_ttl: Option<u64>,
    /// Unix seconds.
    pub created_at: u64,
    /// Whether it must send DPoP proofs.
    #[serde(default)]
    pub dpop: DpopMode,
    /// Registered redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Access-token format.
    #[serde(default)]
    pub access_token_format: AccessTokenFormat,
    /// Device-code lifetime override, seconds.
    #[serde(default)]
    pub device_code_ttl: Option<u64>,
    /// Poll interval override, seconds.
    #[serde(default)]
    pub poll_interval: Option<u64>,
    /// User-code alphabet.
    #[serde(default)]
    pub user_code_format: UserCodeFormat,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        ClientView {
            id: c.id.clone(),
            name: c.name.clone(),
            confidential: c.secret_hash.is_some(),
            disabled: c.disabled,
            scopes: c.scopes.clone(),
            grant_types: c.grant_types.iter().map(ToString::to_string).collect(),
            audiences: c.audiences.clone(),
            access_ttl: c.access_ttl,
            refresh_ttl: c.refresh_ttl,
            created_at: c.created_at,
            dpop: c.dpop,
            redirect_uris: c.redirect_uris.clone(),
            access_token_format: c.access_token_format,
            device_code_ttl: c.device_code_ttl,
            poll_interval: c.poll_interval,
            user_code_format: c.user_code_format,
        }
    }
}

/// A signing key as the CLI lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyView {
    /// PASERK id.
    pub kid: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The key new tokens are signed with (otherwise only published).
    pub signing: bool,
}

/// An audit event as the CLI prints or exports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditView {
    /// Unix seconds.
    pub at: u64,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// Client IP, if over HTTP.
    pub ip: String,
    /// Anything else.
    pub detail: String,
}

impl From<AuditEvent> for AuditView {
    fn from(ev: AuditEvent) -> Self {
        AuditView {
            at: ev.at,
            kind: ev.kind.to_string(),
            actor: ev.actor,
            subject: ev.subject,
            ip: ev.ip,
            detail: ev.detail,
        }
    }
}

/// The answer to a [`Request`]: data for the CLI to render.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminReply {
    /// `user add`.
    UserAdded {
        /// Login name.
        username: String,
        /// New id.
        id: String,
    },
    /// `user list`, sorted by name.
    Users(Vec<UserView>),
    /// `user passwd`.
    PasswordSet {
        /// Login name.
        username: String,
        /// Browser sessions signed out.
        sessions: usize,
    },
    /// `user admin`.
    RoleSet {
        /// Login name.
        username: String,
        /// Admin afterwards.
        admin: bool,
    },
    /// `user disable|enable|delete`.
    UserChanged {
        /// Login name.
        username: String,
        /// What was done.
        action: UserAction,
        /// Browser sessions ended.
        sessions: usize,
        /// Grants revoked.
        grants: usize,
    },
    /// `client add`.
    ClientAdded {
        /// `client_id`.
        id: String,
    },
    /// `client list`, sorted by id.
    Clients(Vec<ClientView>),
    /// `client show`.
    Client(ClientView),
    /// `client disable|enable|delete|rotate-secret`.
    ClientChanged {
        /// `client_id`.
        id: String,
        /// What was done.
        action: ClientAction,
        /// Grants revoked.
        revoked: usize,
    },
    /// `key rotate`.
    KeyRotated {
        /// The new key's id.
        kid: String,
        /// Whether a running server signs with it already.
        live: bool,
    },
    /// `key list`, oldest first.
    Keys(Vec<KeyView>),
    /// `audit`, oldest first.
    Audit(Vec<AuditView>),
}

/// Why an operation was refused; it crosses the socket, so it holds only text.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OpError {
    /// A user or client name outside the allowed characters.
    #[error("`{0}`: use 1 to 64 letters, digits and - _ . @ only")]
    BadName(String),
    /// `user add` of an existing name.
    #[error("a user `{0}` already exists")]
    UserExists(String),
    /// No such user.
    #[error("no user `{0}`")]
    NoUser(String),
    /// `client add` of an existing id.
    #[error("a client `{0}` already exists")]
    ClientExists(String),
    /// No such client.
    #[error("no client `{0}`")]
    NoClient(String),
    /// `rotate-secret` of a public client.
    #[error("`{0}` is a public client: it has no secret to rotate")]
    PublicClient(String),
    /// The database failed (its message).
    #[error("{0}")]
    Store(String),
    /// The key files failed (their message).
    #[error("{0}")]
    Keys(String),
    /// The server could not read or decode the request line.
    #[error("{0}")]
    BadRequest(String),
    /// A client setting the rules refuse.
    #[error(transparent)]
    Rule(#[from] super::rules::RuleError),
    /// `client update` naming nothing to change.
    #[error("nothing to change: name a setting (see --help)")]
    EmptyUpdate,
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Store(e.to_string())
    }
}

impl From<KeyError> for OpError {
    fn from(e: KeyError) -> Self {
        OpError::Keys(e.to_string())
    }
}

/// What an operation runs against.
pub struct Ctx<'a> {
    /// The database.
    pub store: &'a Store,
    /// The data directory (keys live in files there).
    pub data_dir: &'a Path,
    /// The running server's live keys, reloaded after a rotation; `None` offline.
    pub keys: Option<&'a Keys>,
    /// Who is asking, for the audit log (`cli uid=N`).
    pub actor: String,
}

impl Ctx<'_> {
    fn event(&self, kind: AuditKind, subject: &str) -> AuditEvent {
        AuditEvent::new(kind, &self.actor, subject)
    }

    /// Where the signing keys live: with PostgreSQL, the table every instance reads
    /// (so `key rotate` through any instance, or offline with `--database-url`,
    /// reaches them all); with redb, the files in the data directory.
    fn key_source(&self) -> KeySource {
        KeySource::of(self.store, self.data_dir)
    }
}

/// Runs one request.
pub async fn execute(ctx: &Ctx<'_>, req: Request) -> Result<AdminReply, OpError> {
    match req {
        Request::UserAdd {
            username,
            password_hash,
            admin,
        } => user_add(ctx, username, password_hash, admin).await,
        Request::UserList => user_list(ctx).await,
        Request::UserPasswd {
            username,
            password_hash,
        } => {
            let event = ctx.event(AuditKind::UserPasswordSet, &username);
            let done = ctx
                .store
                .admin_set_password(username.clone(), password_hash, event)
                .await?
                .ok_or_else(|| OpError::NoUser(username.clone()))?;
            Ok(AdminReply::PasswordSet {
                username,
                sessions: done.sessions,
            })
        }
        Request::UserChange { username, action } => user_change(ctx, username, action).await,
        Request::UserRole { username, admin } => {
            let event = ctx
                .event(AuditKind::UserRoleSet, &username)
                .detail(if admin { "admin" } else { "user" });
            if !ctx
                .store
                .admin_set_role(username.clone(), admin, event)
                .await?
            {
                return Err(OpError::NoUser(username));
            }
            Ok(AdminReply::RoleSet { username, admin })
        }
        Request::ClientAdd { client } => {
            check_name(&client.id)?;
            super::rules::check(&client)?;
            let id = client.id.clone();
            let event = ctx.event(AuditKind::ClientAdded, &id);
            if !ctx.store.admin_add_client(client, event).await? {
                return Err(OpError::ClientExists(id));
            }
            Ok(AdminReply::ClientAdded { id })
        }
        Request::ClientList => client_list(ctx).await,
        Request::ClientShow { id } => {
            let c = ctx.store.client(&id).await?.ok_or(OpError::NoClient(id))?;
            Ok(AdminReply::Client(ClientView::from(&*c)))
        }
        Request::ClientChange { id, change } => client_change(ctx, id, change).await,
        Request::ClientUpdate { id, patch } => client_update(ctx, id, patch).await,
        Request::KeyRotate => key_rotate(ctx).await,
        Request::KeyList => key_list(ctx).await,
        Request::Audit { since, limit } => {
            let events = ctx.store.audit_events(since, limit).await?;
            Ok(AdminReply::Audit(
                events.into_iter().map(AuditView::from).collect(),
            ))
        }
    }
}

async fn user_list(ctx: &Ctx<'_>) -> Result<AdminReply, OpError> {
    let mut users = ctx.store.users().await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let users = users.into_iter().map(|u| UserView {
        username: u.username,
        id: u.id,
        disabled: u.disabled,
        created_at: u.created_at,
        admin: u.admin,
    });
    Ok(AdminReply::Users(users.collect()))
}

async fn client_list(ctx: &Ctx<'_>) -> Result<AdminReply, OpError> {
    let mut clients = ctx.store.clients().await?;
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(AdminReply::Clients(
        clients.iter().map(ClientView::from).collect(),
    ))
}

/// Key files and key ids come in the same (creation) order; the newest signs.
async fn key_list(ctx: &Ctx<'_>) -> Result<AdminReply, OpError> {
    let keys = ctx.key_source().list().await?.into_iter();
    let keys = keys.map(|k| KeyView {
        kid: k.kid,
        created_at: k.created_at,
        signing: k.signing,
    });
    Ok(AdminReply::Keys(keys.collect()))
}

async fn user_add(
    ctx: &Ctx<'_>,
    username: String,
    password_hash: String,
    admin: bool,
) -> Result<AdminReply, OpError> {
    check_name(&username)?;
    let user = User {
        id: crate::secrets::hex(&crate::secrets::random_bytes::<8>()),
        username: username.clone(),
        password_hash,
        disabled: false,
        created_at: crate::clock::now(),
        admin,
    };
    let id = user.id.clone();
    let event = ctx.event(AuditKind::UserAdded, &username);
    if !ctx.store.admin_add_user(user, event).await? {
        return Err(OpError::UserExists(username));
    }
    Ok(AdminReply::UserAdded { username, id })
}

async fn user_change(
    ctx: &Ctx<'_>,
    username: String,
    action: UserAction,
) -> Result<AdminReply, OpError> {
    let (kind, disabled, delete) = match action {
        UserAction::Delete => (AuditKind::UserDeleted, true, true),
        UserAction::Disable => (AuditKind::UserDisabled, true, false),
        UserAction::Enable => (AuditKind::UserEnabled, false, false),
    };
    let event = ctx.event(kind, &username);
    let done = ctx
        .store
        .admin_change_user(username.clone(), disabled, delete, event)
        .await?
        .ok_or_else(|| OpError::NoUser(username.clone()))?;
    Ok(AdminReply::UserChanged {
        username,
        action,
        sessions: done.sessions,
        grants: done.grants,
    })
}

async fn client_change(
    ctx: &Ctx<'_>,
    id: String,
    change: ClientChange,
) -> Result<AdminReply, OpError> {
    if let ClientChange::SetSecret(_) = change {
        let c = ctx
            .store
            .client(&id)
            .await?
            .ok_or_else(|| OpError::NoClient(id.clone()))?;
        if c.secret_hash.is_none() {
            return Err(OpError::PublicClient(id));
        }
    }
    let (kind, action) = match change {
        ClientChange::Disable => (AuditKind::ClientDisabled, ClientAction::Disabled),
        ClientChange::Enable => (AuditKind::ClientEnabled, ClientAction::Enabled),
        ClientChange::Delete => (AuditKind::ClientDeleted, ClientAction::Deleted),
        ClientChange::SetSecret(_) => (AuditKind::ClientSecretRotated, ClientAction::SecretRotated),
        ClientChange::Update(_) => (AuditKind::ClientUpdated, ClientAction::Updated),
    };
    let event = ctx.event(kind, &id);
    let revoked = ctx
        .store
        .admin_change_client(id.clone(), change, event)
        .await?
        .ok_or_else(|| OpError::NoClient(id.clone()))?;
    Ok(AdminReply::ClientChanged {
        id,
        action,
        revoked,
    })
}

/// Checks the client as the patch would leave it, then lets the store apply the
/// patch to the row it locks. A concurrent change of another field between the
/// check and the write can't break a rule the patch's own fields are checked
/// against; only the cross-field rule (client_credentials needs a secret) could
/// see a stale secret, and secrets are never removed from a client.
async fn client_update(
    ctx: &Ctx<'_>,
    id: String,
    patch: ClientPatch,
) -> Result<AdminReply, OpError> {
    if patch.is_empty() {
        return Err(OpError::EmptyUpdate);
    }
    let mut client = (*ctx
        .store
        .client(&id)
        .await?
        .ok_or_else(|| OpError::NoClient(id.clone()))?)
    .clone();
    patch.apply(&mut client);
    super::rules::check(&client)?;
    client_change(ctx, id, ClientChange::Update(patch)).await
}

async fn key_rotate(ctx: &Ctx<'_>) -> Result<AdminReply, OpError> {
    let ring = ctx.key_source().rotate().await?;
    let kid = ring.signing_kid().to_string();
    // This instance signs with it at once; other instances sharing the database
    // follow within `keys::FOLLOW_PERIOD`.
    if let Some(keys) = ctx.keys {
        keys.replace(ring);
    }
    ctx.store
        .audit(ctx.event(AuditKind::KeyRotated, &kid))
        .await?;
    Ok(AdminReply::KeyRotated {
        kid,
        live: ctx.keys.is_some(),
    })
}

/// Names must be printable, without spaces, and short.
fn check_name(name: &str) -> Result<(), OpError> {
    if crate::names::is_valid_name(name) {
        Ok(())
    } else {
        Err(OpError::BadName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::render::{AuditFormat, render};

    /// The socket path sends the reply as JSON; the offline path renders it
    /// directly. Both must print the same text.
    fn over_the_socket(answer: &Result<AdminReply, OpError>) -> Result<AdminReply, OpError> {
        let line = serde_json::to_string(answer).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    #[tokio::test]
    async fn replies_render_the_same_after_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::bootstrap::open_store(dir.path(), |_| {}).unwrap();
        let ctx = Ctx {
            store: &store,
            data_dir: dir.path(),
            keys: None,
            actor: "cli uid=0".into(),
        };
        let added = execute(
            &ctx,
            Request::UserAdd {
                username: "alice".into(),
                password_hash: "x".into(),
                admin: false,
            },
        )
        .await;
        let text = render(added.as_ref().unwrap(), AuditFormat::Text);
        assert!(text.starts_with("user: alice\nid: "), "{text}");
        let again = execute(
            &ctx,
            Request::UserAdd {
                username: "alice".into(),
                password_hash: "x".into(),
                admin: false,
            },
        )
        .await;
        let refused = over_the_socket(&again).unwrap_err().to_string();
        assert_eq!(refused, "a user `alice` already exists");
        for req in [
            Request::UserList,
            Request::Audit {
                since: 0,
                limit: 10,
            },
        ] {
            let direct = execute(&ctx, req).await;
            let via_socket = over_the_socket(&direct);
            for format in [AuditFormat::Text, AuditFormat::JsonLines] {
                assert_eq!(
                    render(direct.as_ref().unwrap(), format),
                    render(via_socket.as_ref().unwrap(), format)
                );
            }
        }
        let bad = execute(
            &ctx,
            Request::UserChange {
                username: "bob".into(),
                action: UserAction::Disable,
            },
        )
        .await;
        assert_eq!(
            over_the_socket(&bad).unwrap_err().to_string(),
            "no user `bob`"
        );
    }
}
