//! Signing keys shared through PostgreSQL: two instances on one database publish
//! the same PASERK set; `authgate key rotate --database-url` (from a machine with
//! no server) is seen by both within seconds, and tokens issued by either then
//! name the new key; `token verify --database-url` checks against the table.

use std::time::{Duration, Instant};

use authgate_proto::paths;
use authgate_tests::pg::PgCluster;
use authgate_tests::{DataDir, TestServer, run_admin};
use serde_json::Value;

/// The `kid` in a v4.public token's footer (base64url JSON).
fn footer_kid(token: &str) -> String {
    let footer = token.rsplit('.').next().expect("a footer");
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in footer.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {footer}"),
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    let json: Value = serde_json::from_slice(&out).expect("a JSON footer");
    json["kid"].as_str().expect("a kid").to_string()
}

fn kids(server: &TestServer) -> Vec<String> {
    let doc = server.get(paths::KEYS).assert_status(200).json();
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

#[test]
fn a_key_rotated_from_the_cli_signs_on_every_instance_within_seconds() {
    let pg = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = pg.url();
    let a = TestServer::start_with(&["--database-url", &url], &[]);
    let b = TestServer::start_with(&["--database-url", &url], &[]);
    let first = kids(&a);
    assert_eq!(first.len(), 1, "one key made on first start");
    assert_eq!(kids(&b), first, "the same key on both instances");

    let elsewhere = DataDir::new();
    let rotated = run_admin(elsewhere.path(), &["key", "rotate", "--database-url", &url]);
    assert!(rotated.success, "{rotated:?}");
    let kid = rotated.field("kid").expect("kid");
    let want = vec![first[0].clone(), kid.clone()];
    let deadline = Instant::now() + Duration::from_secs(15);
    while kids(&a) != want || kids(&b) != want {
        assert!(
            Instant::now() < deadline,
            "instances did not follow the rotation"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        a.get(paths::KEYS).json(),
        b.get(paths::KEYS).json(),
        "the same PASERK set"
    );
    for server in [&a, &b] {
        let tokens = server.obtain_tokens(None);
        assert_eq!(
            footer_kid(&tokens.access_token),
            kid,
            "signed with the new key"
        );
        let verified = run_admin(
            elsewhere.path(),
            &[
                "token",
                "verify",
                &tokens.access_token,
                "--database-url",
                &url,
            ],
        );
        assert!(verified.success, "{verified:?}");
    }
    let listed = run_admin(elsewhere.path(), &["key", "list", "--database-url", &url]);
    assert!(listed.success && listed.stdout.contains(&kid), "{listed:?}");
    assert_eq!(pg.psql("SELECT count(*) FROM signing_keys").unwrap(), "2");
    assert!(
        !elsewhere.path().join("keys").exists(),
        "nothing written to the CLI machine's data directory"
    );
}
