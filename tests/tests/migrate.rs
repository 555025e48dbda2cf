//! `authgate export` / `authgate import`: a deployment moves from redb to
//! PostgreSQL and back without any device signing in again. Runs the same on
//! either suite backend: it picks both itself (a redb data directory, and fresh
//! databases of the test binary's shared PostgreSQL cluster).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, AdminOutput, DataDir, TestServer, Tokens, backend, run_admin,
};
use serde_json::Value;

/// The resource server that introspects.
const RS: &str = "rs";

/// A redb data directory, whatever backend the suite runs on.
fn redb_dir() -> DataDir {
    DataDir::with_database_url(None)
}

/// A fresh PostgreSQL database as a data directory's backend.
fn pg_dir() -> DataDir {
    DataDir::with_database_url(Some(backend::fresh_database()))
}

fn export(dir: &Path, out: &Path) -> AdminOutput {
    let out = run_admin(dir, &["export", "--out", &out.display().to_string()]);
    assert!(out.success, "export failed: {out:?}");
    assert!(
        out.stdout.contains("0600"),
        "export says the file is secret: {out:?}"
    );
    out
}

fn import(dir: &Path, file: &Path) -> AdminOutput {
    run_admin(dir, &["import", &file.display().to_string()])
}

/// Starts a server on `dir` under the old issuer URL, with another first-run
/// password: signing in with the old one proves the imported hash is used.
fn start_on(dir: DataDir, base_url: &str) -> TestServer {
    TestServer::start_in(
        dir,
        &["--base-url", base_url],
        &[("AUTHGATE_ADMIN_PASSWORD", "not the password of the dump")],
    )
}

/// What a device and a resource server hold across the move.
struct Held {
    tokens: Tokens,
    rs_secret: String,
    keys: Value,
}

/// Checks on `server` that the device signed in before still is: its access token
/// introspects active and is signed by a published key, its refresh token
/// refreshes, and the admin signs in with the same password. Returns the new tokens.
fn still_signed_in(server: &TestServer, held: &Held) -> Tokens {
    let keys = server.get("/oauth/keys");
    keys.assert_status(200);
    assert_eq!(keys.json(), held.keys, "the same keys are published");
    let r = server.introspect(RS, &held.rs_secret, &held.tokens.access_token);
    r.assert_status(200);
    assert_eq!(r.json()["active"], Value::Bool(true), "{}", r.text());
    assert_eq!(r.json()["client_id"], "authgate-cli");
    let fresh = server.refresh(held.tokens.refresh()).tokens();
    assert_ne!(fresh.refresh(), held.tokens.refresh());
    let r = server.introspect(RS, &held.rs_secret, &fresh.access_token);
    assert_eq!(r.json()["active"], Value::Bool(true), "{}", r.text());
    server.browser().login(ADMIN_USER, ADMIN_PASSWORD);
    fresh
}

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn a_device_signed_in_on_redb_keeps_working_on_postgres_and_back() {
    let files = tempfile::tempdir().unwrap();
    // On the Pi: a device signs in through the real device flow.
    let dir = redb_dir();
    let rs_secret = dir.add_confidential_client(RS, "Resource server", "read");
    add_gateway_client(&dir);
    let mut pi = TestServer::start_in(dir, &[], &[]);
    let base = pi.base_url().to_owned();
    let tokens = pi.obtain_tokens(Some("read"));
    let keys = pi.get("/oauth/keys").json();
    // A revoked access token stays revoked after the move.
    let revoked = pi.refresh(tokens.refresh()).tokens();
    let tokens = pi.refresh(revoked.refresh()).tokens();
    pi.revoke(&revoked.access_token, Some("access_token"))
        .assert_status(200);
    assert!(pi.stop());

    let dump = temp_file(&files, "pi.dump");
    let out = export(pi.data_dir(), &dump);
    assert!(out.stdout.contains("1 grants"), "{out:?}");
    let mode = std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the dump holds the signing keys");
    let text = std::fs::read_to_string(&dump).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "header");
    assert_eq!(first["format"], "authgate-dump");
    assert_eq!(first["version"], 1);
    assert_eq!(first["source"], "redb");
    assert!(
        !text.contains(tokens.refresh()),
        "refresh tokens stay hashed"
    );

    // Onto PostgreSQL.
    let pg = pg_dir();
    let out = import(pg.path(), &dump);
    assert!(out.success, "import into PostgreSQL failed: {out:?}");
    assert_gateway_client(&pg);
    let server = start_on(pg, &base);
    let held = Held {
        tokens,
        rs_secret,
        keys,
    };
    let fresh = still_signed_in(&server, &held);
    let r = server.introspect(RS, &held.rs_secret, &revoked.access_token);
    assert_eq!(r.json()["active"], Value::Bool(false), "revocation carried");
    let mut server = server;
    assert!(server.stop());

    // And back into a fresh redb directory.
    let back = temp_file(&files, "pg.dump");
    let out = export(server.data_dir(), &back);
    assert!(
        std::fs::read_to_string(&back)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .contains(r#""source":"postgres""#),
        "{out:?}"
    );
    let dir = redb_dir();
    let out = import(dir.path(), &back);
    assert!(out.success, "import into redb failed: {out:?}");
    assert_gateway_client(&dir);
    let key_files = std::fs::read_dir(dir.path().join("keys")).unwrap();
    for f in key_files {
        let mode = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let pi_again = start_on(dir, &base);
    let held = Held {
        tokens: fresh,
        ..held
    };
    still_signed_in(&pi_again, &held);
    let r = pi_again.introspect(RS, &held.rs_secret, &revoked.access_token);
    assert_eq!(
        r.json()["active"],
        Value::Bool(false),
        "revocation carried back"
    );
}

/// The per-client settings of issue 16, all away from their defaults.
const GATEWAY_SETTINGS: [(&str, &str); 6] = [
    ("grant_types", "client_credentials"),
    ("redirect_uris", "https://gw.example/cb http://127.0.0.1/cb"),
    ("access_token_format", "jwt"),
    ("device_code_ttl", "600s"),
    ("poll_interval", "3s"),
    ("user_code_format", "digits"),
];

fn add_gateway_client(dir: &DataDir) {
    let out = dir.run_admin(&[
        "client",
        "add",
        "gw",
        "--confidential",
        "--grant-type",
        "client_credentials",
        "--redirect-uri",
        "https://gw.example/cb",
        "--redirect-uri",
        "http://127.0.0.1/cb",
        "--access-token-format",
        "jwt",
        "--device-code-ttl",
        "10m",
        "--poll-interval",
        "3",
        "--user-code-format",
        "digits",
        "--dpop",
        "required",
    ]);
    assert!(out.success, "{out:?}");
}

/// The dump carried every setting of [`add_gateway_client`].
fn assert_gateway_client(dir: &DataDir) {
    let out = dir.run_admin(&["client", "show", "gw"]);
    assert!(out.success, "{out:?}");
    for (key, value) in GATEWAY_SETTINGS.into_iter().chain([("dpop", "required")]) {
        assert_eq!(out.field(key).as_deref(), Some(value), "{key}: {out:?}");
    }
}

/// A dump of a deployment with one signed-in device, and that deployment's
/// directory (stopped).
fn one_dump(files: &tempfile::TempDir) -> (PathBuf, TestServer) {
    let mut pi = TestServer::start_in(redb_dir(), &[], &[]);
    pi.obtain_tokens(Some("read"));
    assert!(pi.stop());
    let dump = temp_file(files, "one.dump");
    export(pi.data_dir(), &dump);
    (dump, pi)
}

#[test]
fn import_into_a_non_empty_target_is_refused() {
    let files = tempfile::tempdir().unwrap();
    let (dump, pi) = one_dump(&files);
    let out = import(pi.data_dir(), &dump);
    assert!(!out.success);
    assert!(out.stderr.contains("not empty"), "{out:?}");

    let pg = pg_dir();
    assert!(import(pg.path(), &dump).success);
    let out = import(pg.path(), &dump);
    assert!(!out.success);
    assert!(out.stderr.contains("not empty"), "{out:?}");
}

#[test]
fn a_truncated_or_garbage_dump_is_refused_and_nothing_is_written() {
    let files = tempfile::tempdir().unwrap();
    let (dump, _pi) = one_dump(&files);
    let text = std::fs::read_to_string(&dump).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut_line = temp_file(&files, "cut-line.dump");
    std::fs::write(
        &cut_line,
        format!("{}\n", lines[..lines.len() - 1].join("\n")),
    )
    .unwrap();
    let cut_bytes = temp_file(&files, "cut-bytes.dump");
    std::fs::write(&cut_bytes, &text[..text.len() * 2 / 3]).unwrap();
    let garbage = temp_file(&files, "garbage.dump");
    std::fs::write(&garbage, "PK\u{3}\u{4} not a dump\n").unwrap();
    let bad_line = temp_file(&files, "bad-line.dump");
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[2] = r#"{"kind":"grant","id":"not hex"}"#.into();
    std::fs::write(&bad_line, broken.join("\n") + "\n").unwrap();

    for (file, says) in [
        (&cut_line, "truncated"),
        (&cut_bytes, "truncated"),
        (&garbage, "not an AuthGate dump"),
        (&bad_line, "line 3"),
    ] {
        let dir = redb_dir();
        let out = import(dir.path(), file);
        assert!(!out.success, "{file:?} was accepted");
        assert!(out.stderr.contains(says), "{file:?}: {out:?}");
        assert!(
            !dir.path().join("authgate.redb").exists(),
            "no database left"
        );
        let keys = dir.path().join("keys");
        assert!(
            !keys.exists() || std::fs::read_dir(&keys).unwrap().next().is_none(),
            "no key file left"
        );

        let pg = pg_dir();
        let out = import(pg.path(), file);
        assert!(!out.success, "{file:?} was accepted by PostgreSQL");
        assert!(out.stderr.contains(says), "{file:?}: {out:?}");
        // Nothing was written: the whole dump still imports into that database.
        let out = import(pg.path(), &dump);
        assert!(out.success, "the database was left non-empty: {out:?}");
    }
}

#[test]
fn export_refuses_a_running_server_and_an_existing_file() {
    let files = tempfile::tempdir().unwrap();
    let pi = TestServer::start_in(redb_dir(), &[], &[]);
    let dump = temp_file(&files, "live.dump");
    let out = run_admin(
        pi.data_dir(),
        &["export", "--out", &dump.display().to_string()],
    );
    assert!(!out.success);
    assert!(out.stderr.contains("stop it first"), "{out:?}");
    assert!(!dump.exists(), "no partial file");
    drop(pi);
    std::fs::write(&dump, "keep me").unwrap();
    let dir = redb_dir();
    dir.run_admin(&["user", "list"]);
    let out = run_admin(
        dir.path(),
        &["export", "--out", &dump.display().to_string()],
    );
    assert!(!out.success);
    assert!(out.stderr.contains("exists"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&dump).unwrap(), "keep me");
}
