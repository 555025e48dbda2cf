//! Built-in HTTPS: a full device flow over TLS 1.3 against a certificate from a test
//! CA made here, `https` base URL and `Secure` cookies, and a certificate reload on
//! SIGHUP that keeps established connections, and the `__Host-` language cookie.

use std::path::Path;
use std::time::Duration;

use authgate_tests::ops::{browser_with_client, spawn};
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, paths};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "AuthGate test CA");
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// Writes a fresh leaf certificate for 127.0.0.1 and localhost; returns its DER.
    fn leaf(&self, cert: &Path, key: &Path) -> Vec<u8> {
        let kp = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let c = params.signed_by(&kp, &self.0).unwrap();
        std::fs::write(cert, c.pem()).unwrap();
        std::fs::write(key, kp.serialize_pem()).unwrap();
        c.der().to_vec()
    }

    /// A client that trusts only this CA and speaks only TLS 1.3 (like embedded-tls).
    fn client(&self) -> Client {
        Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.0.pem().as_bytes()).unwrap())
            .min_tls_version(reqwest::tls::Version::TLS_1_3)
            .tls_info(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }
}

fn peer_cert(r: &Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

fn post(c: &Client, url: &str, body: &str) -> Response {
    c.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .expect("HTTPS request")
}

#[test]
fn device_flow_over_tls13_and_reload_on_sighup() {
    let dir = DataDir::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ca = Ca::new();
    let first_der = ca.leaf(&cert, &key);
    let data = dir.path().join("data");
    let mut server = spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--poll-interval",
            "1",
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    )
    .expect("starts with TLS");
    let base = server.url.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let http = ca.client();

    // The device asks for a code: the URIs it shows follow the https base URL.
    let r = post(
        &http,
        &format!("{base}{}", paths::DEVICE_AUTHORIZATION),
        "client_id=authgate-cli",
    );
    assert_eq!(peer_cert(&r), first_der);
    let code: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(code["verification_uri"], format!("{base}/device"));
    let meta: Value = serde_json::from_str(
        &http
            .get(format!("{base}{}", paths::METADATA))
            .send()
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["issuer"], base.as_str());

    // The person approves in a browser over HTTPS; cookies are Secure.
    let mut browser = browser_with_client(&base, ca.client());
    let login = browser.try_login(ADMIN_USER, ADMIN_PASSWORD);
    assert_eq!(login.status, 303, "{login:?}");
    let cookies: Vec<String> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure")),
        "{cookies:?}"
    );
    let approved = browser.approve(code["user_code"].as_str().unwrap());
    assert_eq!(approved.status, 200);

    // The language switch under https: a `__Host-` cookie (Secure, Path=/), honoured.
    let r = browser.get("/language?set=de&next=/account");
    assert_eq!(r.status, 303);
    let lang = r.header("set-cookie").unwrap_or_default();
    assert!(
        lang.starts_with("__Host-lang=de;")
            && lang.contains("Secure")
            && lang.contains("Path=/")
            && !lang.contains("Domain"),
        "{lang}"
    );
    let html = browser.get("/account").text();
    assert!(html.contains(r#"<html lang="de">"#), "{html}");
    browser.set_cookie("lang", "ja");
    let html = browser.get("/account").text();
    assert!(
        html.contains(r#"<html lang="de">"#),
        "a plain `lang` cookie is not taken under https: {html}"
    );

    // The device polls and gets its tokens.
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=authgate-cli&device_code={}",
        code["device_code"].as_str().unwrap()
    );
    let tokens: Value = serde_json::from_str(
        &post(&http, &format!("{base}{}", paths::TOKEN), &body)
            .text()
            .unwrap(),
    )
    .unwrap();
    let access = tokens["access_token"].as_str().expect("tokens over TLS");
    let info = http
        .get(format!("{base}{}", paths::TOKENINFO))
        .bearer_auth(access)
        .send()
        .unwrap();
    assert_eq!(info.status(), 200);

    // A renewed certificate is picked up on SIGHUP by new connections, while the
    // connection `http` holds open keeps working on the old one.
    let second_der = ca.leaf(&cert, &key);
    assert_ne!(first_der, second_der);
    server.signal("HUP");
    let mut reloaded = false;
    for _ in 0..50 {
        let r = ca.client().get(format!("{base}/health")).send().unwrap();
        if peer_cert(&r) == second_der {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reloaded,
        "new certificate not served after SIGHUP; stderr:\n{}",
        server.stderr()
    );
    let old_conn = http
        .get(format!("{base}/health"))
        .send()
        .expect("kept connection");
    assert_eq!(old_conn.status(), 200);
    assert_eq!(
        peer_cert(&old_conn),
        first_der,
        "the established connection was dropped"
    );

    // A broken certificate on SIGHUP keeps the current one.
    std::fs::write(&cert, "not a certificate").unwrap();
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let r = ca.client().get(format!("{base}/health")).send().unwrap();
    assert_eq!(peer_cert(&r), second_der);

    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(20)).success());
}
