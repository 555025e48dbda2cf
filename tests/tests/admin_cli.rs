//! Every admin subcommand, with the server stopped (the command opens the database)
//! and while it runs (the command goes through the admin socket), with effects
//! checked over HTTP.

use authgate_tests::ops::cli;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, TestServer, paths};
use serde_json::Value;

fn ok(out: &authgate_tests::AdminOutput) -> &str {
    assert!(out.success, "command failed: {out:?}");
    &out.stdout
}

#[test]
fn every_subcommand_works_with_the_server_stopped() {
    let dir = DataDir::new();
    let d = dir.path();
    // user
    ok(&cli(
        d,
        &["user", "add", "bob", "--password-stdin"],
        Some("bob-password-1\n"),
        &[],
    ));
    let dup = cli(
        d,
        &["user", "add", "bob", "--password-stdin"],
        Some("xxxxxxxxxx\n"),
        &[],
    );
    assert!(
        !dup.success && dup.stderr.contains("already exists"),
        "{dup:?}"
    );
    let gen_out = cli(d, &["user", "add", "carol"], None, &[]);
    let carol_pw = gen_out
        .field("password")
        .expect("generated password printed");
    assert!(ok(&cli(d, &["user", "list"], None, &[])).contains("bob\t"));
    ok(&cli(
        d,
        &["user", "passwd", "bob", "--password-stdin"],
        Some("bob-password-2\n"),
        &[],
    ));
    ok(&cli(d, &["user", "disable", "carol"], None, &[]));
    assert!(ok(&cli(d, &["user", "list"], None, &[])).contains("\tdisabled\t"));
    ok(&cli(d, &["user", "enable", "carol"], None, &[]));
    ok(&cli(
        d,
        &["user", "add", "dave", "--password-stdin"],
        Some("dave-password\n"),
        &[],
    ));
    ok(&cli(d, &["user", "delete", "dave"], None, &[]));
    assert!(!ok(&cli(d, &["user", "list"], None, &[])).contains("dave"));
    let short = cli(
        d,
        &["user", "add", "eve", "--password-stdin"],
        Some("short\n"),
        &[],
    );
    assert!(!short.success, "{short:?}");
    // client
    ok(&cli(
        d,
        &[
            "client",
            "add",
            "tv",
            "--name",
            "Living-room TV",
            "--scopes",
            "read",
            "--access-token-ttl",
            "5m",
        ],
        None,
        &[],
    ));
    let show = cli(d, &["client", "show", "tv"], None, &[]);
    assert!(ok(&show).contains("access_token_ttl: 300s"), "{show:?}");
    assert!(show.stdout.contains("kind: public"));
    let secret1 = dir.add_confidential_client("rs", "Resource server", "read");
    let rotate_public = cli(d, &["client", "rotate-secret", "tv"], None, &[]);
    assert!(!rotate_public.success, "{rotate_public:?}");
    let secret2 = cli(d, &["client", "rotate-secret", "rs"], None, &[])
        .field("client_secret")
        .expect("new secret");
    assert_ne!(secret1, secret2);
    ok(&cli(d, &["client", "disable", "tv"], None, &[]));
    assert!(
        ok(&cli(d, &["client", "list"], None, &[]))
            .contains("tv\tpublic\tread\tLiving-room TV\tdisabled")
    );
    ok(&cli(d, &["client", "enable", "tv"], None, &[]));
    ok(&cli(d, &["client", "add", "gone"], None, &[]));
    ok(&cli(d, &["client", "delete", "gone"], None, &[]));
    assert!(!cli(d, &["client", "show", "gone"], None, &[]).success);
    // key
    ok(&cli(d, &["key", "rotate"], None, &[]));
    let kid2 = cli(d, &["key", "rotate"], None, &[])
        .field("kid")
        .expect("kid");
    let keys = cli(d, &["key", "list"], None, &[]);
    assert_eq!(ok(&keys).lines().count(), 2, "{keys:?}");
    assert!(
        keys.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with(&format!("{kid2}\t"))
    );
    assert!(keys.stdout.lines().last().unwrap().ends_with("signing"));
    // audit
    let audit = cli(d, &["audit", "--json"], None, &[]);
    let kinds: Vec<String> = ok(&audit)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for k in [
        "user_added",
        "user_password_set",
        "user_disabled",
        "user_enabled",
        "user_deleted",
        "client_added",
        "client_secret_rotated",
        "client_disabled",
        "client_deleted",
        "key_rotated",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // The server starts on this directory and the changes hold.
    let server = TestServer::start_in(dir, &[], &[]);
    let doc = server.get(paths::KEYS).json();
    assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
    let mut b = server.browser();
    assert_eq!(b.try_login("bob", "bob-password-1").status, 401);
    b.login("bob", "bob-password-2");
    let mut c = server.browser();
    c.login("carol", &carol_pw);
    let t = server.obtain_tokens(Some("read"));
    server
        .introspect("rs", &secret2, &t.access_token)
        .assert_status(200);
    assert_eq!(
        server.introspect("rs", &secret1, &t.access_token).status,
        401
    );
}

#[test]
fn every_subcommand_works_while_the_server_runs() {
    let server = TestServer::start();
    let d = server.data_dir().to_path_buf();
    // Users take effect at once.
    ok(&cli(
        &d,
        &["user", "add", "carol", "--password-stdin"],
        Some("carol-password\n"),
        &[],
    ));
    let mut carol = server.browser();
    carol.login("carol", "carol-password");
    assert!(ok(&cli(&d, &["user", "list"], None, &[])).contains("carol\t"));
    ok(&cli(&d, &["user", "disable", "carol"], None, &[]));
    // Disabling ended her session: the account page sends her to sign in.
    assert_eq!(carol.get("/account").status, 303);
    assert_eq!(
        server.browser().try_login("carol", "carol-password").status,
        401
    );
    ok(&cli(&d, &["user", "enable", "carol"], None, &[]));
    ok(&cli(
        &d,
        &["user", "passwd", "carol", "--password-stdin"],
        Some("carol-new-pass\n"),
        &[],
    ));
    server.browser().login("carol", "carol-new-pass");
    ok(&cli(&d, &["user", "delete", "carol"], None, &[]));
    assert_eq!(
        server.browser().try_login("carol", "carol-new-pass").status,
        401
    );

    // Clients too.
    let add = cli(
        &d,
        &["client", "add", "rs", "--confidential", "--scopes", "read"],
        None,
        &[],
    );
    let secret = add.field("client_secret").expect("secret printed");
    let tokens = server.obtain_tokens(Some("read"));
    let r = server.introspect("rs", &secret, &tokens.access_token);
    assert_eq!(r.assert_status(200).json()["active"], true);
    let secret2 = cli(&d, &["client", "rotate-secret", "rs"], None, &[])
        .field("client_secret")
        .expect("rotated");
    // Through the socket (redb) the change is in place when the command returns; on
    // PostgreSQL the running server hears of it by NOTIFY, sent at the command's
    // commit: milliseconds, so a bounded 1 s covers a busy host.
    let rotated = std::time::Instant::now();
    let old_secret = loop {
        let status = server
            .introspect("rs", &secret, &tokens.access_token)
            .status;
        let waited = rotated.elapsed() > std::time::Duration::from_secs(1);
        if status == 401 || !authgate_tests::backend::is_postgres() || waited {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(old_secret, 401, "old secret after {:?}", rotated.elapsed());
    server
        .introspect("rs", &secret2, &tokens.access_token)
        .assert_status(200);
    assert!(ok(&cli(&d, &["client", "show", "rs"], None, &[])).contains("kind: confidential"));
    assert!(ok(&cli(&d, &["client", "list"], None, &[])).contains("authgate-cli\tpublic"));
    ok(&cli(&d, &["client", "disable", "authgate-cli"], None, &[]));
    // As above: on PostgreSQL the running server hears of it by NOTIFY (bounded 1 s).
    let disabled = std::time::Instant::now();
    let refused = loop {
        let r = server.post_form(
            paths::DEVICE_AUTHORIZATION,
            &[("client_id", "authgate-cli")],
        );
        let waited = disabled.elapsed() > std::time::Duration::from_secs(1);
        if r.status == 401 || !authgate_tests::backend::is_postgres() || waited {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(
        refused.error().as_deref(),
        Some("invalid_client"),
        "{refused:?}"
    );
    // Disabling revoked the client's grants.
    assert_eq!(
        server
            .introspect("rs", &secret2, &tokens.access_token)
            .json()["active"],
        false
    );
    ok(&cli(&d, &["client", "enable", "authgate-cli"], None, &[]));
    server.device_code(None);
    ok(&cli(&d, &["client", "add", "gone"], None, &[]));
    ok(&cli(&d, &["client", "delete", "gone"], None, &[]));
    assert!(!cli(&d, &["client", "show", "gone"], None, &[]).success);

    // Key rotation: the running server signs with the new key at once, and the
    // old key stays published so tokens it signed still verify.
    let old = server.obtain_tokens(None);
    let kid = cli(&d, &["key", "rotate"], None, &[])
        .field("kid")
        .expect("kid");
    // With redb the command goes through the server's admin socket: at once. On
    // PostgreSQL it writes the shared key table, which every instance follows
    // within seconds (issue 13): a bounded wait.
    let wait = if authgate_tests::backend::is_postgres() {
        std::time::Duration::from_secs(6)
    } else {
        std::time::Duration::ZERO
    };
    let deadline = std::time::Instant::now() + wait;
    let kids: Vec<String> = loop {
        let keys = server.get(paths::KEYS).json();
        let kids: Vec<String> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        if kids.len() == 2 || std::time::Instant::now() >= deadline {
            break kids;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&kid));
    let new = server.obtain_tokens(None);
    assert!(
        footer(&new.access_token).contains(&kid),
        "new token not signed with {kid}"
    );
    assert!(!footer(&old.access_token).contains(&kid));
    assert!(ok(&cli(&d, &["key", "list"], None, &[])).contains(&format!("{kid}\t")));

    // Offline verification with the data directory's keys, old and new.
    for t in [&old.access_token, &new.access_token] {
        let v = cli(&d, &["token", "verify", t], None, &[]);
        assert!(ok(&v).contains("\"sub\""), "{v:?}");
        assert!(v.stdout.contains("valid: signature ok"));
    }
    let stdin = cli(&d, &["token", "verify", "-"], Some(&new.access_token), &[]);
    assert!(stdin.success, "{stdin:?}");
    let mut bad = new.access_token.clone();
    bad.pop();
    bad.push(if new.access_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let v = cli(&d, &["token", "verify", &bad], None, &[]);
    assert!(!v.success && v.stderr.contains("invalid"), "{v:?}");

    // The audit log saw all of it, from HTTP and the CLI.
    let mut b = server.browser();
    assert_eq!(b.try_login(ADMIN_USER, "wrong password").status, 401);
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    let audit = cli(&d, &["audit", "--json", "--since", "1h"], None, &[]);
    let events: Vec<Value> = ok(&audit)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let has = |kind: &str| events.iter().any(|e| e["kind"] == kind);
    for k in [
        "user_added",
        "user_disabled",
        "user_deleted",
        "client_added",
        "client_secret_rotated",
        "client_disabled",
        "key_rotated",
        "login_ok",
        "login_failed",
        "device_approved",
    ] {
        assert!(has(k), "{k} missing: {}", audit.stdout);
    }
    let failed = events.iter().find(|e| e["kind"] == "login_failed").unwrap();
    assert_eq!(failed["ip"], "127.0.0.1");
    let table = cli(&d, &["audit", "--limit", "3"], None, &[]);
    assert_eq!(ok(&table).lines().count(), 3);
}

#[test]
fn help_is_everywhere() {
    let dir = DataDir::new();
    for args in [
        &["--help"][..],
        &["user", "--help"],
        &["user", "add", "--help"],
        &["client", "rotate-secret", "--help"],
        &["key", "rotate", "--help"],
        &["token", "verify", "--help"],
        &["audit", "--help"],
        &["serve", "--help"],
        &["config", "--help"],
    ] {
        let out = cli(dir.path(), args, None, &[]);
        assert!(
            out.success && out.stdout.contains("Usage"),
            "{args:?}: {out:?}"
        );
    }
}

fn footer(token: &str) -> String {
    use pasetors::token::UntrustedToken;
    use pasetors::{Public, version4::V4};
    let t = UntrustedToken::<Public, V4>::try_from(token).expect("a v4.public token");
    String::from_utf8(t.untrusted_footer().to_vec()).expect("UTF-8 footer")
}

/// `client show`'s value for `key`.
fn shown(d: &std::path::Path, id: &str, key: &str) -> String {
    let out = cli(d, &["client", "show", id], None, &[]);
    ok(&out);
    out.field(key)
        .unwrap_or_else(|| panic!("no `{key}:` in {out:?}"))
}

/// A `client add` or `update` that must fail, with this in its message.
fn refused(d: &std::path::Path, args: &[&str], why: &str) {
    let out = cli(d, args, None, &[]);
    assert!(
        !out.success && out.stderr.contains(why),
        "{args:?} should fail with {why:?}: {out:?}"
    );
}

#[test]
fn per_client_settings_are_stored_checked_shown_and_updated_offline() {
    let dir = DataDir::new();
    let d = dir.path();
    ok(&cli(
        d,
        &[
            "client",
            "add",
            "app",
            "--grant-type",
            "device_code",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://app.example/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--redirect-uri",
            "com.example.app:/cb",
            "--access-token-format",
            "jwt",
            "--device-code-ttl",
            "5m",
            "--poll-interval",
            "7",
            "--user-code-format",
            "digits",
        ],
        None,
        &[],
    ));
    assert_eq!(
        shown(d, "app", "grant_types"),
        "device_code authorization_code"
    );
    assert_eq!(
        shown(d, "app", "redirect_uris"),
        "https://app.example/cb http://127.0.0.1/cb com.example.app:/cb"
    );
    assert_eq!(shown(d, "app", "access_token_format"), "jwt");
    assert_eq!(shown(d, "app", "device_code_ttl"), "300s");
    assert_eq!(shown(d, "app", "poll_interval"), "7s");
    assert_eq!(shown(d, "app", "user_code_format"), "digits");
    // A client added without them has the defaults.
    ok(&cli(d, &["client", "add", "plain"], None, &[]));
    assert_eq!(shown(d, "plain", "access_token_format"), "paseto");
    assert_eq!(shown(d, "plain", "user_code_format"), "letters");
    assert_eq!(shown(d, "plain", "redirect_uris"), "none");
    assert_eq!(shown(d, "plain", "poll_interval"), "server default");
    // A confidential client may have client_credentials, a public one may not.
    let add = cli(
        d,
        &[
            "client",
            "add",
            "svc",
            "--confidential",
            "--grant-type",
            "client_credentials",
        ],
        None,
        &[],
    );
    assert!(ok(&add).contains("client_secret: "));
    assert_eq!(shown(d, "svc", "grant_types"), "client_credentials");
    let add = ["client", "add", "bad"];
    for (extra, why) in [
        (
            &["--grant-type", "client_credentials"][..],
            "confidential client",
        ),
        (
            &["--grant-type", "password"][..],
            "unknown grant type `password`",
        ),
        (
            &["--redirect-uri", "http://app.example/cb"][..],
            "127.0.0.1",
        ),
        (
            &["--redirect-uri", "http://localhost:8080/cb"][..],
            "localhost",
        ),
        (
            &["--redirect-uri", "https://app.example/cb#x"][..],
            "fragment",
        ),
        (&["--redirect-uri", "/cb"][..], "absolute"),
        (
            &["--redirect-uri", "javascript:alert(1)"][..],
            "private-use",
        ),
        (
            &["--redirect-uri", "https://u@evil.example/"][..],
            "user info",
        ),
        (&["--poll-interval", "0"][..], "--poll-interval"),
        (&["--poll-interval", "2m"][..], "poll interval"),
        (&["--device-code-ttl", "2h"][..], "device code lifetime"),
        (&["--device-code-ttl", "10"][..], "device code lifetime"),
        (&["--user-code-format", "hex"][..], "invalid value"),
        (&["--access-token-format", "jws"][..], "invalid value"),
    ] {
        refused(d, &[&add[..], extra].concat(), why);
    }
    assert!(!ok(&cli(d, &["client", "list"], None, &[])).contains("bad"));

    // `update` changes what it names and keeps the rest.
    ok(&cli(
        d,
        &[
            "client",
            "update",
            "app",
            "--name",
            "The App",
            "--scope",
            "read write",
            "--dpop",
            "required",
            "--poll-interval",
            "default",
            "--user-code-format",
            "letters",
            "--redirect-uri",
            "http://[::1]/cb",
        ],
        None,
        &[],
    ));
    assert_eq!(shown(d, "app", "name"), "The App");
    assert_eq!(shown(d, "app", "scopes"), "read write");
    assert_eq!(shown(d, "app", "dpop"), "required");
    assert_eq!(shown(d, "app", "poll_interval"), "server default");
    assert_eq!(shown(d, "app", "user_code_format"), "letters");
    assert_eq!(shown(d, "app", "redirect_uris"), "http://[::1]/cb");
    assert_eq!(shown(d, "app", "device_code_ttl"), "300s");
    assert_eq!(shown(d, "app", "access_token_format"), "jwt");
    assert_eq!(
        shown(d, "app", "grant_types"),
        "device_code authorization_code"
    );
    ok(&cli(
        d,
        &[
            "client",
            "update",
            "app",
            "--no-redirect-uris",
            "--access-token-format",
            "paseto",
        ],
        None,
        &[],
    ));
    assert_eq!(shown(d, "app", "redirect_uris"), "none");
    assert_eq!(shown(d, "app", "access_token_format"), "paseto");
    refused(d, &["client", "update", "app"], "nothing to change");
    refused(
        d,
        &["client", "update", "nobody", "--dpop", "required"],
        "no client `nobody`",
    );
    refused(
        d,
        &[
            "client",
            "update",
            "plain",
            "--grant-type",
            "client_credentials",
        ],
        "confidential client",
    );
    refused(
        d,
        &[
            "client",
            "update",
            "app",
            "--redirect-uri",
            "http://example.com/",
        ],
        "127.0.0.1",
    );
    assert_eq!(
        shown(d, "app", "redirect_uris"),
        "none",
        "a refused update changes nothing"
    );
    let audit = ok(&cli(d, &["audit"], None, &[])).to_string();
    assert!(audit.contains("client_updated"), "{audit}");
}

#[test]
fn client_update_takes_effect_on_the_running_server() {
    let server = TestServer::start();
    let d = server.data_dir().to_path_buf();
    ok(&cli(
        &d,
        &["client", "add", "tv2", "--scopes", "read"],
        None,
        &[],
    ));
    let form = [("client_id", "tv2"), ("scope", "read")];
    server
        .post_form(paths::DEVICE_AUTHORIZATION, &form)
        .assert_status(200);
    ok(&cli(
        &d,
        &[
            "client",
            "update",
            "tv2",
            "--dpop",
            "required",
            "--poll-interval",
            "9",
        ],
        None,
        &[],
    ));
    assert_eq!(shown(&d, "tv2", "poll_interval"), "9s");
    // Issue 14 left no way to require DPoP of an existing client; now the running
    // server (its client cache, on PostgreSQL every instance's) follows at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let r = server.post_form(paths::DEVICE_AUTHORIZATION, &form);
        if r.status == 400 {
            r.assert_error(400, "invalid_dpop_proof");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still served without DPoP: {r:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
