//! The device flow driven by the `oauth2` crate (v5): a client we did not write.

use std::thread;
use std::time::Duration;

use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, Browser, DEFAULT_CLIENT, DataDir, TestServer, paths,
};
use oauth2::basic::{BasicClient, BasicTokenType};
use oauth2::reqwest;
use oauth2::{
    ClientId, ClientSecret, DeviceAuthorizationUrl, DeviceCodeErrorResponseType, IntrospectionUrl,
    RequestTokenError, RevocationUrl, Scope, StandardDeviceAuthorizationResponse,
    StandardRevocableToken, SyncHttpClient, TokenIntrospectionResponse, TokenResponse, TokenUrl,
};

const RS_ID: &str = "resource-server";

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::ClientBuilder::new()
        // Following redirects opens the client up to SSRF (oauth2 docs).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Approves (or denies) from "the phone" on another thread, a little later so
/// the device sees `authorization_pending` first.
fn user_acts_later(base: String, user_code: String, approve: bool) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(700));
        let mut phone = Browser::new(&base);
        phone.login(ADMIN_USER, ADMIN_PASSWORD);
        if approve {
            phone.approve(&user_code);
        } else {
            phone.deny(&user_code);
        }
    })
}

#[test]
fn oauth2_crate_device_flow_refresh_introspect_revoke() {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    // Retry window off: the rotated-away token is refused at once (within the
    // window it would be a retry of a lost answer; see tests/retry.rs).
    let server = TestServer::start_in(dir, &["--retry-window", "0"], &[]);
    let base = server.base_url().to_owned();
    let http = http();

    let device = BasicClient::new(ClientId::new(DEFAULT_CLIENT.to_owned()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(server.url(paths::DEVICE_AUTHORIZATION)).unwrap(),
        )
        .set_token_uri(TokenUrl::new(server.url(paths::TOKEN)).unwrap())
        // oauth2 insists on an https revocation URL (RFC 7009 §2); the transport
        // below maps it back to our loopback http server.
        .set_revocation_url(
            RevocationUrl::new(
                server
                    .url(paths::REVOCATION)
                    .replacen("http://", "https://", 1),
            )
            .unwrap(),
        );

    let details: StandardDeviceAuthorizationResponse = device
        .exchange_device_code()
        .add_scope(Scope::new("read".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .request(&http)
        .expect("device authorization");
    assert_eq!(
        details.verification_uri().to_string(),
        format!("{base}/device")
    );
    assert_eq!(details.interval(), Duration::from_secs(1));
    assert!(details.expires_in() > Duration::from_secs(0));

    let phone = user_acts_later(base.clone(), details.user_code().secret().clone(), true);
    let token = device
        .exchange_device_access_token(&details)
        .request(&http, thread::sleep, Some(Duration::from_secs(60)))
        .expect("device access token");
    phone.join().expect("approval thread");

    assert!(token.access_token().secret().starts_with("v4.public."));
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert!(token.expires_in().is_some_and(|d| d.as_secs() > 0));
    let mut scopes: Vec<_> = token
        .scopes()
        .expect("scope in token response")
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["profile", "read"]);
    let refresh = token.refresh_token().expect("refresh token").clone();

    // Refresh through oauth2.
    let refreshed = device
        .exchange_refresh_token(&refresh)
        .request(&http)
        .expect("refresh");
    assert!(refreshed.access_token().secret().starts_with("v4.public."));
    let rotated = refreshed.refresh_token().expect("rotated refresh token");
    assert_ne!(rotated.secret(), refresh.secret());

    // The rotated-away token fails the oauth2 way.
    match device.exchange_refresh_token(&refresh).request(&http) {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error().as_ref(), "invalid_grant")
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }

    // Introspection with oauth2 as the resource server (client_secret_basic).
    let rs = BasicClient::new(ClientId::new(RS_ID.to_owned()))
        .set_client_secret(ClientSecret::new(secret))
        .set_introspection_url(IntrospectionUrl::new(server.url(paths::INTROSPECTION)).unwrap());
    let fresh = server.obtain_tokens(Some("read"));
    let at = oauth2::AccessToken::new(fresh.access_token.clone());
    let info = rs.introspect(&at).request(&http).expect("introspect");
    assert!(info.active());
    assert_eq!(info.client_id().map(|c| c.as_str()), Some(DEFAULT_CLIENT));
    assert_eq!(info.username(), Some(ADMIN_USER));
    let exp = info.exp().expect("numeric exp").timestamp();
    assert!(
        exp > authgate_tests::now_unix() as i64,
        "exp {exp} in the past"
    );

    // Revocation with oauth2 as the device (RFC 7009).
    device
        .revoke_token(StandardRevocableToken::AccessToken(at.clone()))
        .expect("revocation url accepted")
        .request(&|mut req: oauth2::HttpRequest| {
            let uri = req.uri().to_string().replacen("https://", "http://", 1);
            *req.uri_mut() = uri.parse().expect("uri");
            http.call(req)
        })
        .expect("revoke");
    let info = rs.introspect(&at).request(&http).expect("introspect");
    assert!(!info.active());
}

#[test]
fn oauth2_crate_sees_access_denied() {
    let server = TestServer::start();
    let http = http();
    let device = BasicClient::new(ClientId::new(DEFAULT_CLIENT.to_owned()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(server.url(paths::DEVICE_AUTHORIZATION)).unwrap(),
        )
        .set_token_uri(TokenUrl::new(server.url(paths::TOKEN)).unwrap());
    let details: StandardDeviceAuthorizationResponse = device
        .exchange_device_code()
        .request(&http)
        .expect("device authorization");
    let phone = user_acts_later(
        server.base_url().to_owned(),
        details.user_code().secret().clone(),
        false,
    );
    let result = device.exchange_device_access_token(&details).request(
        &http,
        thread::sleep,
        Some(Duration::from_secs(60)),
    );
    phone.join().expect("deny thread");
    match result {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), DeviceCodeErrorResponseType::AccessDenied)
        }
        other => panic!("expected access_denied, got {other:?}"),
    }
}
