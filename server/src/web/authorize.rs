//! The authorization endpoint's pages (RFC 6749 §4.1.1–4.1.2): sign-in (the
//! device flow's), consent, and the redirect back to the client with a code or
//! an error. The rules of the request are `oauth::authorize`'s.

use askama::Template;
use hyper::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use hyper::{Request, StatusCode};

use super::session::Browser;
use super::{PageError, read_post, to_login};
use crate::grant::AuthCode;
use crate::http::body::RequestBody;
use crate::http::form::Form;
use crate::http::response::{self, CSP_WITHOUT_FORM_ACTION, Resp};
use crate::oauth::authorize::{
    self, Answer, Authorization, AuthorizeErrorCode, NoRedirect, PARAMS,
};
use crate::oauth::redirect_uri;
use crate::secrets::{keyed_token, sha256, time_ordered_id};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::views::AuthorizePage;

/// The path of the endpoint (GET: the request; POST: the consent decision).
pub const PATH: &str = authgate_proto::paths::AUTHORIZATION;

/// `GET /oauth/authorize`: checks the request, then signs in and asks consent.
pub async fn page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let query = req.uri().query().unwrap_or("");
    let form = Form::parse(query.as_bytes()).map_err(NoRedirect::from)?;
    let auth = match authorize::check(state, &form).await? {
        Ok(auth) => auth,
        Err(answer) => return Ok(redirect(&answer)),
    };
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    if browser.session.is_none() {
        return Ok(to_login(&format!("{PATH}?{query}")));
    }
    Ok(consent_page(state, &browser, &auth, &form, query))
}

/// `POST /oauth/authorize`: the consent form. The request's parameters come back
/// with it and are checked again, so nothing the browser could change is trusted.
pub async fn decide<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let auth = match authorize::check(state, &form).await? {
        Ok(auth) => auth,
        Err(answer) => return Ok(redirect(&answer)),
    };
    let Some(session) = browser.session.as_ref() else {
        return Ok(to_login(PATH));
    };
    let iss = state.settings.base_url.as_str();
    let st = auth.state.as_deref();
    let detail = format!(
        "client={} scope={} redirect_uri={}",
        auth.client.id, auth.scope, auth.redirect_uri
    );
    match form.get("decision") {
        Some("approve") => {
            let code = issue_code(state, &auth, &session.user_id, &session.username, now).await?;
            crate::events::authorization_decided(state, &session.username, true, &detail);
            Ok(redirect(&Answer::code(&auth.redirect_uri, code, st, iss)))
        }
        Some("deny") => {
            crate::events::authorization_decided(state, &session.username, false, &detail);
            let denied = AuthorizeErrorCode::AccessDenied;
            let answer = Answer::error(
                &auth.redirect_uri,
                denied,
                "the user denied access",
                st,
                iss,
            );
            Ok(redirect(&answer))
        }
        _ => Err(PageError::NoDecision),
    }
}

/// Stores a fresh code for `auth`, approved by `user_id`, and returns it.
async fn issue_code(
    state: &AppState,
    auth: &Authorization,
    user_id: &str,
    username: &str,
    now: u64,
) -> Result<String, PageError> {
    let id = time_ordered_id();
    let code = keyed_token(&id);
    let record = AuthCode {
        code_hash: sha256(code.as_bytes()),
        client_id: auth.client.id.clone(),
        redirect_uri: auth.redirect_sent.then(|| auth.redirect_uri.clone()),
        code_challenge: auth.code_challenge.clone(),
        scope: auth.scope.clone(),
        user_id: user_id.to_string(),
        username: username.to_string(),
        created_at: now,
        expires_at: now + state.settings.authorization_code_ttl,
        redeemed: None,
    };
    state.store.create_auth_code(id, record).await?;
    Ok(code)
}

/// The consent page, whose form may post here and, through our redirect, to the
/// client's redirect origin (CSP `form-action` governs redirects after a form
/// submission too).
fn consent_page(
    state: &AppState,
    browser: &Browser,
    auth: &Authorization,
    form: &Form,
    query: &str,
) -> Resp {
    let host = redirect_uri::origin(&auth.redirect_uri).unwrap_or("");
    let params = PARAMS
        .iter()
        .filter_map(|&name| form.get(name).map(|v| (name, v)))
        .collect();
    let mut resp = browser.page(state, StatusCode::OK, |csrf| {
        AuthorizePage {
            lang: browser.lang,
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            client_name: &auth.client.name,
            client_id: &auth.client.id,
            redirect_host: host,
            scopes: auth.scope.split(' ').filter(|s| !s.is_empty()).collect(),
            params,
            here: format!("{PATH}?{query}"),
        }
        .render()
    });
    let csp = format!("{CSP_WITHOUT_FORM_ACTION}; form-action 'self' {host}");
    if let (false, Ok(v)) = (host.is_empty(), HeaderValue::from_str(&csp)) {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `303 See Other` to the client's (registered) redirect URI with `answer`.
fn redirect(answer: &Answer) -> Resp {
    response::see_other(&answer.location())
}

impl From<NoRedirect> for PageError {
    fn from(e: NoRedirect) -> Self {
        match e {
            NoRedirect::UnknownClient => PageError::UnknownClient,
            NoRedirect::BadRedirect => PageError::BadRedirect,
            NoRedirect::Form(f) => PageError::InvalidForm(f),
            NoRedirect::Store(s) => s.into(),
        }
    }
}
