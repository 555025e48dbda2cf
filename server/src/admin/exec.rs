//! The admin operations, as requests that run the same way whether they came over
//! the running server's admin socket or were opened directly on a stopped server's
//! database. Passwords are hashed and client secrets drawn by the command itself,
//! so neither ever crosses the socket; only hashes do.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::keys::Keys;
use crate::store::prelude::*;
use crate::store::{AuditEvent, AuditKind, Client, ClientChange, Store, User};

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
    /// Disable, enable or delete a user.
    UserChange {
        /// Login name.
        username: String,
        /// New disabled flag.
        disabled: bool,
        /// Delete instead.
        delete: bool,
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
        /// JSON lines.
        json: bool,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Whether it succeeded.
    pub ok: bool,
    /// What to print on stdout.
    pub stdout: String,
    /// What went wrong, for stderr.
    pub error: String,
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

/// Runs one request; `Err` is a message for the operator.
pub async fn execute(ctx: &Ctx<'_>, req: Request) -> Result<String, String> {
    let store = ctx.store;
    let ev = |kind: AuditKind, subject: &str| AuditEvent::new(kind, &ctx.actor, subject);
    let e = |e: crate::store::StoreError| e.to_string();
    match req {
        Request::UserAdd {
            username,
            password_hash,
        } => {
            check_name(&username)?;
            let user = User {
                id: crate::secrets::hex(&crate::secrets::random_bytes::<8>()),
                username: username.clone(),
                password_hash,
                disabled: false,
                created_at: crate::clock::now(),
            };
            let id = user.id.clone();
            if !store
                .admin_add_user(user, ev(AuditKind::UserAdded, &username))
                .await
                .map_err(e)?
            {
                return Err(format!("a user `{username}` already exists"));
            }
            Ok(format!("user: {username}\nid: {id}\n"))
        }
        Request::UserList => {
            let mut out = String::new();
            let mut users = store.users().map_err(e)?;
            users.sort_by(|a, b| a.username.cmp(&b.username));
            for u in users {
                let status = if u.disabled { "disabled" } else { "enabled" };
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.id,
                    status,
                    time_str(u.created_at)
                );
            }
            Ok(out)
        }
        Request::UserPasswd {
            username,
            password_hash,
        } => {
            let done = store
                .admin_set_password(
                    username.clone(),
                    password_hash,
                    ev(AuditKind::UserPasswordSet, &username),
                )
                .await
                .map_err(e)?
                .ok_or_else(|| format!("no user `{username}`"))?;
            Ok(format!(
                "password changed for {username}; {} session(s) signed out\n",
                done.sessions
            ))
        }
        Request::UserChange {
            username,
            disabled,
            delete,
        } => {
            let (kind, verb) = match (delete, disabled) {
                (true, _) => (AuditKind::UserDeleted, "deleted"),
                (false, true) => (AuditKind::UserDisabled, "disabled"),
                (false, false) => (AuditKind::UserEnabled, "enabled"),
            };
            let done = store
                .admin_change_user(username.clone(), disabled, delete, ev(kind, &username))
                .await
                .map_err(e)?
                .ok_or_else(|| format!("no user `{username}`"))?;
            Ok(format!(
                "user {username} {verb}; {} session(s) ended, {} grant(s) revoked\n",
                done.sessions, done.grants
            ))
        }
        Request::ClientAdd { client } => {
            check_name(&client.id)?;
            let id = client.id.clone();
            if !store
                .admin_add_client(client, ev(AuditKind::ClientAdded, &id))
                .await
                .map_err(e)?
            {
                return Err(format!("a client `{id}` already exists"));
            }
            Ok(format!("client_id: {id}\n"))
        }
        Request::ClientList => {
            let mut out = String::new();
            let mut clients = store.clients().map_err(e)?;
            clients.sort_by(|a, b| a.id.cmp(&b.id));
            for c in clients {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    c.id,
                    kind(&c),
                    c.scopes.join(" "),
                    c.name,
                    if c.disabled { "disabled" } else { "enabled" }
                );
            }
            Ok(out)
        }
        Request::ClientShow { id } => {
            let c = store
                .client(&id)
                .map_err(e)?
                .ok_or_else(|| format!("no client `{id}`"))?;
            let ttl = |t: Option<u64>| t.map_or("server default".to_string(), |s| format!("{s}s"));
            Ok(format!(
                "client_id: {}\nname: {}\nkind: {}\nstatus: {}\nscopes: {}\ngrant_types: {}\naudiences: {}\naccess_token_ttl: {}\nrefresh_token_ttl: {}\ncreated: {}\n",
                c.id,
                c.name,
                kind(&c),
                if c.disabled { "disabled" } else { "enabled" },
                c.scopes.join(" "),
                c.grant_types.join(" "),
                if c.audiences.is_empty() {
                    "server default".to_string()
                } else {
                    c.audiences.join(" ")
                },
                ttl(c.access_ttl),
                ttl(c.refresh_ttl),
                time_str(c.created_at),
            ))
        }
        Request::ClientChange { id, change } => {
            if let ClientChange::SetSecret(_) = change {
                let c = store
                    .client(&id)
                    .map_err(e)?
                    .ok_or_else(|| format!("no client `{id}`"))?;
                if c.secret_hash.is_none() {
                    return Err(format!(
                        "`{id}` is a public client: it has no secret to rotate"
                    ));
                }
            }
            let (kind, verb) = match change {
                ClientChange::Disable => (AuditKind::ClientDisabled, "disabled"),
                ClientChange::Enable => (AuditKind::ClientEnabled, "enabled"),
                ClientChange::Delete => (AuditKind::ClientDeleted, "deleted"),
                ClientChange::SetSecret(_) => (AuditKind::ClientSecretRotated, "has a new secret"),
            };
            let revoked = store
                .admin_change_client(id.clone(), change, ev(kind, &id))
                .await
                .map_err(e)?
                .ok_or_else(|| format!("no client `{id}`"))?;
            Ok(format!("client {id} {verb}; {revoked} grant(s) revoked\n"))
        }
        Request::KeyRotate => {
            crate::keys::rotate(ctx.data_dir).map_err(|e| e.to_string())?;
            let ring =
                crate::tokens::KeyRing::load_or_create(ctx.data_dir).map_err(|e| e.to_string())?;
            if let Some(keys) = ctx.keys {
                keys.reload(ctx.data_dir).map_err(|e| e.to_string())?;
            }
            let kid = ring.signing_kid().to_string();
            store
                .audit(ev(AuditKind::KeyRotated, &kid))
                .await
                .map_err(e)?;
            let live = if ctx.keys.is_some() {
                "the running server signs with it now"
            } else {
                "the server will sign with it when started"
            };
            Ok(format!("kid: {kid}\n({live})\n"))
        }
        Request::KeyList => {
            let files = crate::keys::key_files(ctx.data_dir).map_err(|e| e.to_string())?;
            let ring =
                crate::tokens::KeyRing::load_or_create(ctx.data_dir).map_err(|e| e.to_string())?;
            let kids = ring.kids();
            let mut out = String::new();
            for (i, (f, kid)) in files.iter().zip(&kids).enumerate() {
                let role = if i + 1 == kids.len() {
                    "signing"
                } else {
                    "published"
                };
                let _ = writeln!(out, "{kid}\t{}\t{role}", time_str(f.created_at));
            }
            Ok(out)
        }
        Request::Audit { since, limit, json } => {
            let events = store.audit_events(since, limit).map_err(e)?;
            let mut out = String::new();
            for ev in events {
                if json {
                    let line = serde_json::json!({
                        "time": time_str(ev.at),
                        "ts": ev.at,
                        "kind": ev.kind,
                        "actor": ev.actor,
                        "subject": ev.subject,
                        "ip": ev.ip,
                        "detail": ev.detail,
                    });
                    let _ = writeln!(out, "{line}");
                } else {
                    let _ = writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        time_str(ev.at),
                        text_field(ev.kind.as_str()),
                        text_field(&ev.actor),
                        text_field(&ev.subject),
                        text_field(&ev.ip),
                        text_field(&ev.detail)
                    );
                }
            }
            Ok(out)
        }
    }
}

fn kind(c: &Client) -> &'static str {
    if c.secret_hash.is_some() {
        "confidential"
    } else {
        "public"
    }
}

/// Names must be printable, without spaces, and short.
fn check_name(name: &str) -> Result<(), String> {
    if crate::names::is_valid_name(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}`: use 1 to 64 letters, digits and - _ . @ only"
        ))
    }
}

/// One field of the tab-separated audit text: control characters (the tab and
/// newline that separate fields and events among them), and the backslash that
/// escapes them, are shown escaped (`\n`, `\t`, `\u{1b}`, `\\`), so every event
/// is exactly one line and no field can forge another event.
fn text_field(field: &str) -> std::borrow::Cow<'_, str> {
    if !field.chars().any(|c| c.is_control() || c == '\\') {
        return std::borrow::Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len() + 8);
    for c in field.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// RFC 3339 UTC time of Unix seconds.
pub fn time_str(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(0))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod text_tests {
    use super::text_field;

    #[test]
    fn audit_fields_cannot_break_lines() {
        assert_eq!(text_field("alice"), "alice");
        assert_eq!(text_field("x\nlogin_ok admin"), "x\\nlogin_ok admin");
        assert_eq!(text_field("a\tb\r\u{1b}[2J\\"), "a\\tb\\r\\u{1b}[2J\\\\");
    }
}
