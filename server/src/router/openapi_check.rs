//! `server/openapi.json` against the code it describes, so the document can't
//! drift: its operations are exactly the JSON routes of [`ROUTES`], its error
//! codes are `authgate_proto::ErrorCode`'s and sit under the status the code
//! implies, its metadata keys are what the handler answers, and `/openapi.json`
//! serves it.

use std::collections::BTreeSet;

use authgate_proto::ErrorCode;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde_json::Value;

use super::inprocess::{request, run, send};
use super::{Api, Endpoint, OPENAPI, Page, Plain, ROUTES, Verb};

fn document() -> Value {
    serde_json::from_slice(OPENAPI).expect("server/openapi.json is JSON")
}

/// Whether a route answers JSON (and so belongs in the document). Exhaustive on
/// purpose: a new route must be sorted here before the tests compile.
fn answers_json(endpoint: Endpoint) -> bool {
    match endpoint {
        Endpoint::Api(
            Api::DeviceAuthorization
            | Api::Token
            | Api::Revocation
            | Api::Introspection
            | Api::TokenInfo
            | Api::Metadata
            | Api::Keys
            | Api::Jwks,
        ) => true,
        Endpoint::Plain(Plain::Health | Plain::OpenApi) => true,
        Endpoint::Plain(Plain::Metrics | Plain::Style | Plain::Root) => false,
        Endpoint::Page(
            Page::Login
            | Page::LoginSubmit
            | Page::LogoutPrompt
            | Page::Logout
            | Page::Device
            | Page::DeviceSubmit
            | Page::Consent
            | Page::Authorize
            | Page::AuthorizeDecision
            | Page::Account
            | Page::RevokeGrant
            | Page::SignOut
            | Page::PasswordForm
            | Page::ChangePassword
            | Page::Language
            | Page::Admin(_)
            | Page::AdminAction,
        ) => false,
    }
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(
                doc,
                doc.pointer(pointer).unwrap_or_else(|| panic!("{r} exists")),
            )
        }
        None => v,
    }
}

#[test]
fn operations_are_exactly_the_json_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| answers_json(r.endpoint))
        .map(|r| {
            let method = match r.verb {
                Verb::Get => "get",
                Verb::Post => "post",
            };
            (r.path.to_string(), method.to_string())
        })
        .collect();
    assert_eq!(documented, routed);
}

#[test]
fn error_codes_are_the_wire_crates_and_match_their_status() {
    let doc = document();
    let vocabulary: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|v| v.as_str().expect("string"))
        .collect();
    let known: Vec<&str> = ErrorCode::known().map(ErrorCode::as_str).collect();
    assert_eq!(vocabulary, known, "components.schemas.ErrorCode");

    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for (status, resp) in op["responses"].as_object().expect("responses") {
                let resp = resolve(&doc, resp);
                let Some(schema) = resp.pointer("/content/application~1json/schema") else {
                    continue;
                };
                let Some(codes) = resolve(&doc, schema).pointer("/properties/error/enum") else {
                    continue;
                };
                let status: u16 = status.parse().expect("numeric status");
                for code in codes.as_array().expect("enum") {
                    let name = code.as_str().expect("string");
                    let parsed: ErrorCode = name
                        .parse()
                        .unwrap_or_else(|_| panic!("{method} {path} {status}: unknown `{name}`"));
                    // The status an OAuthError answers: the code's own, or an
                    // override the server applies to `invalid_request` (405, 408,
                    // 413, 414) and `temporarily_unavailable` (429).
                    let fits = parsed.http_status() == status
                        || (parsed == ErrorCode::InvalidRequest
                            && [405, 408, 413, 414].contains(&status))
                        || (parsed == ErrorCode::TemporarilyUnavailable && status == 429);
                    assert!(
                        fits,
                        "{method} {path}: `{name}` is never answered with {status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} codes found: is the walk broken?"
    );
}

#[test]
fn metadata_keys_and_the_served_document_match() {
    run(|state| async move {
        let doc = document();
        let schema = &doc["components"]["schemas"]["Metadata"];
        let described: BTreeSet<&str> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|v| v.as_str().expect("string"))
            .collect();
        let req = request(Method::GET, authgate_proto::paths::METADATA, "");
        let (resp, text) = send(&state, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let answered: Value = serde_json::from_str(&text).expect("json");
        let answered: BTreeSet<&str> = answered
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(described, answered, "Metadata properties");
        assert_eq!(required, answered, "Metadata required");

        let (resp, text) = send(&state, request(Method::GET, "/openapi.json", "")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(resp.headers()[CACHE_CONTROL], "public, max-age=300");
        assert_eq!(text.as_bytes(), OPENAPI);
    });
}
