//! The real binary on PostgreSQL (`--database-url`), against a throwaway cluster
//! of its own: it serves, `/health` follows the database's state (503 while it is
//! down, 200 again once it is back, without restarting AuthGate), requests fail
//! with a clean `server_error` meanwhile, and the URL's password is never printed.

use std::process::Command;
use std::time::{Duration, Instant};

use authgate_tests::pg::PgCluster;
use authgate_tests::{TestServer, authgate_bin};

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
