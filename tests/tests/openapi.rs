//! The OpenAPI document against the real binary: `/openapi.json` serves the
//! repository's `server/openapi.json`, and the answers a fuzzer can't reach (a
//! person must approve first: tokens, refresh, active introspection, tokeninfo,
//! revocation) match the schemas the document gives them. `scripts/api-fuzz.sh`
//! covers the rest with generated requests.

use authgate_tests::{DataDir, Reply, TestServer, paths};
use serde_json::Value;

const DOCUMENT: &str = include_str!("../../server/openapi.json");

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("server/openapi.json is JSON")
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(
            doc,
            doc.pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{r} exists")),
        ),
        None => v,
    }
}

/// Checks `value` against `schema`, for the JSON Schema keywords the document
/// uses (`$ref`, `type`, `const`, `enum`, `required`, `properties`,
/// `additionalProperties: false`, `items`, `oneOf`, `minimum`, `minItems`,
/// `maxItems`, `maxLength`, and `pattern` as far as a leading `^literal` goes).
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let s = resolve(doc, schema);
    let fail = |why: String| Err(format!("{at}: {why} (value {value})"));
    if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| validate(doc, o, value, at).is_ok())
            .count();
        if matching != 1 {
            return fail(format!("matches {matching} of oneOf, not exactly one"));
        }
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        return fail(format!("is not {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return fail(format!("not one of {e:?}"));
    }
    let type_ok = match s.get("type").and_then(Value::as_str) {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_u64() || value.is_i64(),
        Some("boolean") => value.is_boolean(),
        Some(t) => return fail(format!("unsupported type {t}")),
    };
    if !type_ok {
        return fail(format!("is not of type {}", s["type"]));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_i64), value.as_i64())
        && n < min
    {
        return fail(format!("below {min}"));
    }
    if let Some(text) = value.as_str() {
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && text.chars().count() as u64 > max
        {
            return fail(format!("longer than {max}"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            let literal: String = p
                .trim_start_matches('^')
                .replace("\\.", "\u{0}")
                .chars()
                .take_while(|c| !"[](){}*+?$|\\.".contains(*c))
                .collect::<String>()
                .replace('\u{0}', ".");
            if !text.starts_with(&literal) {
                return fail(format!("does not start with {literal:?} ({p})"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
            || s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
        {
            return fail(format!("{n} items"));
        }
        if let Some(item) = s.get("items") {
            for (i, v) in items.iter().enumerate() {
                validate(doc, item, v, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = value.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().expect("string");
            if !obj.contains_key(r) {
                return fail(format!("missing required `{r}`"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(doc, ps, v, &format!("{at}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return fail(format!("undocumented member `{k}`"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// Checks a real answer of `method path` against the document: its status is
/// documented, its content type too, and a JSON body matches the schema.
#[track_caller]
fn conforms(doc: &Value, method: &str, path: &str, r: &Reply) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = op["responses"]
        .get(r.status.to_string())
        .map(|v| resolve(doc, v))
        .unwrap_or_else(|| panic!("{method} {path}: status {} undocumented", r.status));
    let ct = r.header("content-type").unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim().to_string();
    let content = &resp["content"][&media];
    assert!(
        content.is_object(),
        "{method} {path} {}: content type {ct:?} undocumented",
        r.status
    );
    if media == "application/json" {
        validate(doc, &content["schema"], &r.json(), "body")
            .unwrap_or_else(|e| panic!("{method} {path} {}: {e}", r.status));
    }
    for (name, h) in resp["headers"].as_object().into_iter().flatten() {
        if resolve(doc, h)["required"] == Value::Bool(true) {
            assert!(
                r.header(name).is_some(),
                "{method} {path} {}: header {name} missing",
                r.status
            );
        }
    }
}

#[test]
fn the_served_document_is_the_repository_file() {
    let server = TestServer::start();
    let r = server.get("/openapi.json");
    r.assert_status(200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.text(), DOCUMENT);
    let doc = r.json();
    // Every endpoint the metadata advertises is described.
    let meta = server.get(paths::METADATA).json();
    for key in [
        "device_authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "tokeninfo_endpoint",
        "paserk_uri",
    ] {
        let url = meta[key].as_str().expect(key);
        let path = url.strip_prefix(server.base_url()).expect("same origin");
        assert!(doc["paths"][path].is_object(), "{key} {path} undocumented");
    }
}

#[test]
fn real_answers_of_a_whole_flow_match_the_document() {
    let doc = document();
    let data = DataDir::new();
    let secret = data.add_confidential_client("rs", "Resource server", "read");
    // No retry window, so the reuse below is reuse at once (tests/tests/retry.rs
    // covers the window).
    let server = TestServer::start_in(data, &["--retry-window", "0"], &[]);
    let post = "post";

    let code = server.device_code(Some("read"));
    conforms(
        &doc,
        post,
        paths::DEVICE_AUTHORIZATION,
        &server.post_form(
            paths::DEVICE_AUTHORIZATION,
            &[("client_id", "authgate-cli")],
        ),
    );
    conforms(
        &doc,
        post,
        paths::DEVICE_AUTHORIZATION,
        &server.post_form(
            paths::DEVICE_AUTHORIZATION,
            &[("client_id", "authgate-cli"), ("scope", "admin")],
        ),
    );
    conforms(
        &doc,
        post,
        paths::DEVICE_AUTHORIZATION,
        &server.post_form(paths::DEVICE_AUTHORIZATION, &[("client_id", "nobody")]),
    );
    let pending = server.poll(&code.device_code);
    pending.assert_error(400, "authorization_pending");
    conforms(&doc, post, paths::TOKEN, &pending);

    let tokens = server.obtain_tokens(Some("read"));
    let issued = Reply {
        status: 200,
        headers: reqwest::header::HeaderMap::from_iter([(
            reqwest::header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        )]),
        body: serde_json::to_vec(&tokens.raw).expect("json"),
    };
    conforms(&doc, post, paths::TOKEN, &issued);
    let refreshed = server.refresh(tokens.refresh());
    refreshed.assert_status(200);
    conforms(&doc, post, paths::TOKEN, &refreshed);
    let fresh = refreshed.tokens();

    let active = server.introspect("rs", &secret, &fresh.access_token);
    assert_eq!(active.json()["active"], true, "{}", active.text());
    conforms(&doc, post, paths::INTROSPECTION, &active);
    let inactive = server.introspect("rs", &secret, "v4.public.nope");
    assert_eq!(inactive.json(), serde_json::json!({"active": false}));
    conforms(&doc, post, paths::INTROSPECTION, &inactive);
    conforms(
        &doc,
        post,
        paths::INTROSPECTION,
        &server.introspect("rs", "wrong", "x"),
    );

    let info = server.get_bearer(paths::TOKENINFO, &fresh.access_token);
    info.assert_status(200);
    conforms(&doc, "get", paths::TOKENINFO, &info);
    conforms(&doc, "get", paths::TOKENINFO, &server.get(paths::TOKENINFO));
    conforms(
        &doc,
        "get",
        paths::TOKENINFO,
        &server.get_bearer(paths::TOKENINFO, "v4.public.x"),
    );

    let revoked = server.revoke(&fresh.access_token, Some("access_token"));
    revoked.assert_status(200);
    conforms(&doc, post, paths::REVOCATION, &revoked);
    conforms(
        &doc,
        post,
        paths::REVOCATION,
        &server.post_form(paths::REVOCATION, &[("client_id", "authgate-cli")]),
    );
    let after = server.introspect("rs", &secret, &fresh.access_token);
    assert_eq!(after.json(), serde_json::json!({"active": false}));

    // Reusing a rotated refresh token revokes the grant (`invalid_grant`).
    let reuse = server.refresh(tokens.refresh());
    reuse.assert_error(400, "invalid_grant");
    conforms(&doc, post, paths::TOKEN, &reuse);

    conforms(&doc, "get", paths::METADATA, &server.get(paths::METADATA));
    conforms(&doc, "get", paths::KEYS, &server.get(paths::KEYS));
    conforms(&doc, "get", "/health", &server.get("/health"));
    conforms(&doc, "get", "/openapi.json", &server.get("/openapi.json"));
}
