//! Renders admin replies as the text the CLI prints (tests and scripts parse it:
//! tab-separated lists, `key: value` lines).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::exec::{AdminReply, AuditView, ClientAction, ClientView, UserAction};

/// How `authgate audit` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// One tab-separated line per event, control characters escaped.
    Text,
    /// One JSON object per line.
    JsonLines,
}

/// The text printed on stdout for `reply`.
pub fn render(reply: &AdminReply, audit: AuditFormat) -> String {
    let mut out = String::new();
    match reply {
        AdminReply::UserAdded { username, id } => {
            let _ = write!(out, "user: {username}\nid: {id}\n");
        }
        AdminReply::Users(users) => {
            for u in users {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.id,
                    status(u.disabled),
                    time_str(u.created_at)
                );
            }
        }
        AdminReply::PasswordSet { username, sessions } => {
            let _ = writeln!(
                out,
                "password changed for {username}; {sessions} session(s) signed out"
            );
        }
        AdminReply::RoleSet { username, admin } => {
            let role = if *admin { "an admin" } else { "not an admin" };
            let _ = writeln!(out, "user {username} is {role} now");
        }
        AdminReply::UserChanged {
            username,
            action,
            sessions,
            grants,
        } => {
            let verb = match action {
                UserAction::Delete => "deleted",
                UserAction::Disable => "disabled",
                UserAction::Enable => "enabled",
            };
            let _ = writeln!(
                out,
                "user {username} {verb}; {sessions} session(s) ended, {grants} grant(s) revoked"
            );
        }
        AdminReply::ClientAdded { id } => {
            let _ = writeln!(out, "client_id: {id}");
        }
        AdminReply::Clients(clients) => {
            for c in clients {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    c.id,
                    kind(c),
                    c.scopes.join(" "),
                    c.name,
                    status(c.disabled)
                );
            }
        }
        AdminReply::Client(c) => client(&mut out, c),
        AdminReply::ClientChanged {
            id,
            action,
            revoked,
        } => {
            let verb = match action {
                ClientAction::Disabled => "disabled",
                ClientAction::Enabled => "enabled",
                ClientAction::Deleted => "deleted",
                ClientAction::SecretRotated => "has a new secret",
                ClientAction::Updated => "updated",
            };
            let _ = writeln!(out, "client {id} {verb}; {revoked} grant(s) revoked");
        }
        AdminReply::KeyRotated { kid, live } => {
            let live = if *live {
                "the running server signs with it now"
            } else {
                "the server will sign with it when started"
            };
            let _ = write!(out, "kid: {kid}\n({live})\n");
        }
        AdminReply::Keys(keys) => {
            for k in keys {
                let role = if k.signing { "signing" } else { "published" };
                let _ = writeln!(out, "{}\t{}\t{role}", k.kid, time_str(k.created_at));
            }
        }
        AdminReply::Audit(events) => {
            for ev in events {
                audit_line(&mut out, ev, audit);
            }
        }
    }
    out
}

fn client(out: &mut String, c: &ClientView) {
    let ttl = |t: Option<u64>| t.map_or("server default".to_string(), |s| format!("{s}s"));
    let audiences = if c.audiences.is_empty() {
        "server default".to_string()
    } else {
        c.audiences.join(" ")
    };
    let _ = write!(
        out,
        "client_id: {}\nname: {}\nkind: {}\nstatus: {}\nscopes: {}\ngrant_types: {}\naudiences: {}\naccess_token_ttl: {}\nrefresh_token_ttl: {}\ndpop: {}\nredirect_uris: {}\naccess_token_format: {}\ndevice_code_ttl: {}\npoll_interval: {}\nuser_code_format: {}\ncreated: {}\n",
        c.id,
        c.name,
        kind(c),
        status(c.disabled),
        c.scopes.join(" "),
        c.grant_types.join(" "),
        audiences,
        ttl(c.access_ttl),
        ttl(c.refresh_ttl),
        c.dpop.as_str(),
        if c.redirect_uris.is_empty() {
            "none".to_string()
        } else {
            c.redirect_uris.join(" ")
        },
        c.access_token_format.as_str(),
        ttl(c.device_code_ttl),
        ttl(c.poll_interval),
        c.user_code_format.as_str(),
        time_str(c.created_at),
    );
}

fn audit_line(out: &mut String, ev: &AuditView, format: AuditFormat) {
    match format {
        AuditFormat::JsonLines => {
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
        }
        AuditFormat::Text => {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}",
                time_str(ev.at),
                text_field(&ev.kind),
                text_field(&ev.actor),
                text_field(&ev.subject),
                text_field(&ev.ip),
                text_field(&ev.detail)
            );
        }
    }
}

fn kind(c: &ClientView) -> &'static str {
    if c.confidential {
        "confidential"
    } else {
        "public"
    }
}

fn status(disabled: bool) -> &'static str {
    if disabled { "disabled" } else { "enabled" }
}

/// One field of the tab-separated audit text: control characters (the tab and
/// newline that separate fields and events among them), and the backslash that
/// escapes them, are shown escaped (`\n`, `\t`, `\u{1b}`, `\\`), so every event
/// is exactly one line and no field can forge another event.
fn text_field(field: &str) -> Cow<'_, str> {
    if !field.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len() + 8);
    for c in field.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
mod tests {
    use super::*;

    #[test]
    fn audit_fields_cannot_break_lines() {
        assert_eq!(text_field("alice"), "alice");
        assert_eq!(text_field("x\nlogin_ok admin"), "x\\nlogin_ok admin");
        assert_eq!(text_field("a\tb\r\u{1b}[2J\\"), "a\\tb\\r\\u{1b}[2J\\\\");
    }

    #[test]
    fn a_forged_audit_event_stays_on_its_line() {
        let ev = AuditView {
            at: 0,
            kind: "login_failed".into(),
            actor: "x\n1970-01-01T00:00:00Z\tlogin_ok".into(),
            subject: "s".into(),
            ip: String::new(),
            detail: String::new(),
        };
        let text = render(&AdminReply::Audit(vec![ev]), AuditFormat::Text);
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
