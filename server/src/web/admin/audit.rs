//! The audit log in the console: filtered by kind, user (actor or subject) and
//! time, newest first, and exported as JSON lines with the same filter.

use askama::Template;
use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, CONTENT_DISPOSITION, HeaderValue};

use super::AdminUser;
use super::pages::{AuditFilterForm, AuditPage};
use super::read::{common, encode, show};
use crate::admin::exec::{AdminReply, AuditView};
use crate::admin::render::{AuditFormat, render};
use crate::http::form::Form;
use crate::http::response::{self, Resp};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{AuditEvent, AuditKind};
use crate::views::when;
use crate::web::PageError;

/// Most events read from the store for one page or export.
const READ_LIMIT: usize = 10_000;
/// Most events one page shows (the export has them all).
const PAGE_LIMIT: usize = 500;

/// The kinds the filter offers (every kind this build writes).
const KINDS: [AuditKind; 27] = [
    AuditKind::LoginOk,
    AuditKind::LoginFailed,
    AuditKind::DeviceApproved,
    AuditKind::DeviceDenied,
    AuditKind::AuthorizationApproved,
    AuditKind::AuthorizationDenied,
    AuditKind::RefreshReuse,
    AuditKind::RefreshRetry,
    AuditKind::DeviceCodeRetry,
    AuditKind::DeviceCodeReplay,
    AuditKind::CodeReuse,
    AuditKind::TokenRevoked,
    AuditKind::GrantRevoked,
    AuditKind::UserAdded,
    AuditKind::UserPasswordSet,
    AuditKind::UserDisabled,
    AuditKind::UserEnabled,
    AuditKind::UserDeleted,
    AuditKind::UserRoleSet,
    AuditKind::ClientAdded,
    AuditKind::ClientUpdated,
    AuditKind::ClientDisabled,
    AuditKind::ClientEnabled,
    AuditKind::ClientDeleted,
    AuditKind::ClientSecretRotated,
    AuditKind::ClientCredentialsIssued,
    AuditKind::KeyRotated,
];

/// A parsed filter.
struct Filter {
    kind: Option<AuditKind>,
    user: Option<String>,
    since: u64,
    until: Option<u64>,
}

impl Filter {
    /// Reads the query; an unreadable time is refused rather than ignored.
    fn parse(q: &Form) -> Result<(Filter, AuditFilterForm), PageError> {
        let text = |k| q.get(k).unwrap_or_default().trim().to_string();
        let form = AuditFilterForm {
            kind: text("kind"),
            user: text("user"),
            since: text("since"),
            until: text("until"),
        };
        let filter = Filter {
            kind: (!form.kind.is_empty()).then(|| AuditKind::parse(&form.kind)),
            user: (!form.user.is_empty()).then(|| form.user.clone()),
            since: time_of(&form.since)?.unwrap_or(0),
            until: time_of(&form.until)?,
        };
        Ok((filter, form))
    }

    fn keeps(&self, e: &AuditEvent) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == e.kind)
            && self
                .user
                .as_ref()
                .is_none_or(|u| *u == e.actor || *u == e.subject)
            && self.until.is_none_or(|t| e.at < t)
    }

    /// The matching events, newest first.
    async fn events(&self, state: &AppState) -> Result<Vec<AuditEvent>, PageError> {
        let mut events = state.store.audit_events(self.since, READ_LIMIT).await?;
        events.retain(|e| self.keeps(e));
        events.reverse();
        Ok(events)
    }
}

/// `YYYY-MM-DD` (midnight UTC) or Unix seconds; empty is `None`.
fn time_of(s: &str) -> Result<Option<u64>, PageError> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Some(secs));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(s, format).map_err(|_| PageError::BadTime)?;
    let secs = date.midnight().assume_utc().unix_timestamp();
    u64::try_from(secs)
        .map(Some)
        .map_err(|_| PageError::BadTime)
}

/// `GET /admin/audit`.
pub(super) async fn page(state: &AppState, admin: &AdminUser, q: &Form) -> Result<Resp, PageError> {
    let (filter, form) = Filter::parse(q)?;
    let events = filter.events(state).await?;
    let query = format!(
        "kind={}&user={}&since={}&until={}",
        encode(&form.kind),
        encode(&form.user),
        encode(&form.since),
        encode(&form.until)
    );
    let events = events
        .into_iter()
        .take(PAGE_LIMIT)
        .map(|e| (when(e.at), AuditView::from(e)))
        .collect();
    Ok(show(state, admin, |csrf| {
        AuditPage {
            lang: admin.browser.lang,
            username: Some(&admin.user.username),
            csrf,
            c: common(csrf, q, format!("/admin/audit?{query}")),
            filter: form,
            events,
            export: format!("/admin/audit.jsonl?{query}"),
            kinds: KINDS.iter().map(|k| k.as_str()).collect(),
        }
        .render()
    }))
}

/// `GET /admin/audit.jsonl`: the matching events, oldest first, one JSON object a
/// line (the shape of `authgate audit --json`).
pub(super) async fn export(state: &AppState, q: &Form) -> Result<Resp, PageError> {
    let (filter, _) = Filter::parse(q)?;
    let mut events = filter.events(state).await?;
    events.reverse();
    let reply = AdminReply::Audit(events.into_iter().map(AuditView::from).collect());
    let out = render(&reply, AuditFormat::JsonLines);
    let mut resp = response::text(StatusCode::OK, "application/jsonl; charset=utf-8", out);
    resp.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"authgate-audit.jsonl\""),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
