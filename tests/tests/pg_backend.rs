//! The real binary on PostgreSQL (`--database-url`), against a throwaway cluster
//! of its own: it serves the device flow, `/health` follows the database's state
//! (503 while it is down, 200 again once it is back, without restarting AuthGate),
//! requests fail with a clean `server_error` meanwhile, two instances starting
//! together bootstrap once, admin commands act on the database directly, and the
//! URL's password is never printed.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use authgate_tests::pg::PgCluster;
use authgate_tests::{ADMIN_PASSWORD, DataDir, TestServer, authgate_bin, run_admin};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn cluster() -> PgCluster {
    PgCluster::start().unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `/health` until it answers `status` (the pool notices a database coming
/// back on its next checkout; no timing is asserted, only the outcome).
fn wait_for_health(server: &TestServer, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = server.get("/health").status;
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health stayed {got}, want {status}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serves_on_postgres_and_rides_out_a_database_restart() {
    let pg = cluster();
    let server = TestServer::start_with(&["--database-url", &pg.url()], &[]);
    assert!(
        server.stderr().contains("backend=\"postgres\"")
            || server.stderr().contains("backend=postgres"),
        "{}",
        server.stderr()
    );
    server.get("/health").assert_status(200);
    let meta = server.get("/.well-known/oauth-authorization-server");
    meta.assert_status(200);
    assert_eq!(meta.json()["issuer"], server.base_url());
    // The schema is in PostgreSQL, not a redb file in the data directory.
    assert!(!server.data_dir().join("authgate.redb").exists());
    assert_eq!(
        pg.psql("SELECT count(*) > 0 FROM schema_migrations")
            .unwrap(),
        "t"
    );

    // The whole device flow, then a refresh, stored in PostgreSQL.
    let tokens = server.obtain_tokens(Some("read"));
    server.refresh(tokens.refresh()).assert_status(200);
    assert_eq!(pg.psql("SELECT count(*) FROM grants").unwrap(), "1");

    pg.stop().unwrap();
    wait_for_health(&server, 503);
    let token = server.post_form(
        "/oauth/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", "not-a-real-code"),
            ("client_id", "authgate-cli"),
        ],
    );
    token.assert_error(503, "server_error");
    assert!(server.is_running(), "nothing panicked");

    pg.restart().unwrap();
    wait_for_health(&server, 200);
    server
        .get("/.well-known/oauth-authorization-server")
        .assert_status(200);
    assert!(server.is_running());
}

#[test]
fn the_database_password_is_never_printed() {
    let url = "postgres://authgate:hunter2-secret@127.0.0.1:1/authgate";
    let out = Command::new(authgate_bin())
        .args(["config", "--database-url", url])
        .env_remove("AUTHGATE_DATABASE_URL")
        .output()
        .expect("run authgate config");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("database_url = \"postgres://authgate:<redacted>@127.0.0.1:1/authgate\""),
        "{stdout}"
    );
    assert!(stdout.contains("database_max_connections = 16"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");

    // Nor when the value is refused, nor when the database can't be reached.
    for (value, data) in [
        ("mysql://authgate:hunter2-secret@h/d", "bad"),
        (url, "unreachable"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(authgate_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("AUTHGATE_DATABASE_URL", value)
            .output()
            .expect("run authgate serve");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{data}: {all}");
        assert!(
            all.contains("database_url") || all.contains("PostgreSQL"),
            "{data}: {all}"
        );
        assert!(!all.contains("hunter2"), "{data}: {all}");
    }
}

#[test]
fn two_instances_starting_together_bootstrap_once() {
    let pg = cluster();
    let url = pg.url();
    let servers: Vec<TestServer> = thread::scope(|s| {
        let starts: Vec<_> = (0..2)
            .map(|_| s.spawn(|| TestServer::start_with(&["--database-url", &url], &[])))
            .collect();
        starts
            .into_iter()
            .map(|h| h.join().expect("started"))
            .collect()
    });
    assert_eq!(pg.psql("SELECT count(*) FROM users").unwrap(), "1");
    assert_eq!(
        pg.psql("SELECT count(*) FROM clients WHERE id = 'authgate-cli'")
            .unwrap(),
        "1"
    );
    for server in &servers {
        server.get("/health").assert_status(200);
        let mut browser = server.browser();
        browser.login("admin", ADMIN_PASSWORD);
    }
}

#[test]
fn admin_commands_act_on_the_database_directly() {
    let pg = cluster();
    let url = pg.url();
    let server = TestServer::start_with(&["--database-url", &url], &[]);
    // Another machine's data directory: no socket, no redb file; the database is
    // the truth.
    let elsewhere = DataDir::new();
    let added = run_admin(
        elsewhere.path(),
        &[
            "client",
            "add",
            "tv-app",
            "--name",
            "TV",
            "--database-url",
            &url,
        ],
    );
    assert!(added.success, "{added:?}");
    let listed = run_admin(
        elsewhere.path(),
        &["client", "list", "--database-url", &url],
    );
    assert!(listed.stdout.contains("tv-app"), "{listed:?}");
    assert!(!elsewhere.path().join("authgate.redb").exists());
    // The running instance sees the new client.
    let code = server.device_code_as("tv-app", None);
    assert!(!code.user_code.is_empty());
    let users = run_admin(elsewhere.path(), &["user", "list", "--database-url", &url]);
    assert!(users.success && users.stdout.contains("admin"), "{users:?}");
}
