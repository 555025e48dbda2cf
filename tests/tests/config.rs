//! Configuration: flags beat `AUTHGATE_*` variables, which beat the `--config` file,
//! which beats the defaults; `authgate config` shows the result with secrets
//! redacted; an invalid value stops startup naming the key, before anything listens.

use std::net::TcpListener;

use authgate_tests::ops::{cli, spawn};
use authgate_tests::{DataDir, paths};
use serde_json::Value;

fn interval(url: &str) -> u64 {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}{}", paths::DEVICE_AUTHORIZATION))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=authgate-cli")
        .send()
        .expect("device code");
    serde_json::from_str::<Value>(&r.text().expect("body")).expect("JSON")["interval"]
        .as_u64()
        .expect("interval")
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = DataDir::new();
    let file = dir.path().join("authgate.toml");
    std::fs::write(
        &file,
        "poll_interval = \"9s\"\nsession_ttl = \"2h\"\naccess_token_ttl = 600\nlog_format = \"json\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (f, d) = (file.to_str().unwrap(), data.to_str().unwrap());
    let base = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        d,
        "--config",
        f,
    ];

    // File over default.
    let mut s = spawn(&base, &[]).expect("starts");
    assert_eq!(interval(&s.url), 9);
    // JSON logs from the file, with the request id on the request's lines.
    let line = s
        .stderr()
        .lines()
        .find(|l| l.contains("serving"))
        .map(str::to_owned);
    assert!(line.is_some_and(|l| l.starts_with('{')), "{}", s.stderr());
    s.signal("TERM");
    assert!(s.wait(std::time::Duration::from_secs(20)).success());

    // Env over file.
    let mut s = spawn(&base, &[("AUTHGATE_POLL_INTERVAL", "6")]).expect("starts");
    assert_eq!(interval(&s.url), 6);
    s.signal("TERM");
    s.wait(std::time::Duration::from_secs(20));

    // Flag over env.
    let mut args = base.to_vec();
    args.extend(["--poll-interval", "3"]);
    let s = spawn(&args, &[("AUTHGATE_POLL_INTERVAL", "6")]).expect("starts");
    assert_eq!(interval(&s.url), 3);
    drop(s);

    // `authgate config` shows every key with its source, and redacts secrets.
    let out = cli(
        &data,
        &["config", "--config", f, "--session-ttl", "3h"],
        None,
        &[
            ("AUTHGATE_ACCESS_TOKEN_TTL", "20m"),
            ("AUTHGATE_ADMIN_PASSWORD", "hunter2-hunter2"),
        ],
    );
    assert!(out.success, "{out:?}");
    let t = &out.stdout;
    assert!(t.contains("session_ttl = \"3h\"  # flag"), "{t}");
    assert!(t.contains("access_token_ttl = \"20m\"  # env"), "{t}");
    assert!(t.contains("poll_interval = \"9s\"  # file"), "{t}");
    assert!(t.contains("device_code_ttl = \"15m\"  # default"), "{t}");
    assert!(t.contains("admin_password = \"<redacted>\"  # env"), "{t}");
    assert!(!t.contains("hunter2"), "{t}");
    for key in [
        "listen",
        "data_dir",
        "base_url",
        "refresh_token_ttl",
        "log_level",
        "tls_cert",
        "tls_key",
        "audit_retention",
        "sweep_interval",
        "metrics",
    ] {
        assert!(t.contains(key), "{key} missing from {t}");
    }
    // Admin commands read data_dir from the file too.
    std::fs::write(&file, format!("data_dir = \"{d}\"\n")).unwrap();
    let listed = std::process::Command::new(authgate_tests::authgate_bin())
        .args(["user", "list", "--config", f])
        .env_remove("AUTHGATE_DATA_DIR")
        .output()
        .expect("run authgate");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && stdout.contains("admin\t"),
        "{listed:?}"
    );
}

/// Runs `serve` on a port that is free, expecting it to refuse to start.
fn refused(args: &[&str], env: &[(&str, &str)], file: Option<&str>) -> String {
    let dir = DataDir::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, file.unwrap_or("")).unwrap();
    let mut all = vec![
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    all.extend(["--config", conf.to_str().unwrap()]);
    all.extend(args);
    let failed = match spawn(&all, env) {
        Ok(_) => panic!("authgate started with {args:?} {env:?} {file:?}"),
        Err(f) => f,
    };
    assert!(!failed.status.success());
    assert!(!failed.stdout.contains("listening on"), "{failed:?}");
    assert!(TcpListener::bind(&listen).is_ok(), "the port stayed bound");
    // Nothing was created either: the check runs before the database opens.
    assert!(!dir.path().join("authgate.redb").exists(), "{failed:?}");
    failed.stderr
}

#[test]
fn invalid_values_stop_startup_naming_the_key() {
    let e = refused(&["--poll-interval", "0"], &[], None);
    assert!(e.contains("--poll-interval"), "{e}");
    let e = refused(&[], &[("AUTHGATE_ACCESS_TOKEN_TTL", "soon")], None);
    assert!(e.contains("access-token-ttl"), "{e}");
    let e = refused(&[], &[], Some("session_ttl = \"forever\"\n"));
    assert!(e.contains("`session_ttl`"), "{e}");
    let e = refused(&[], &[], Some("poll_intervall = 5\n"));
    assert!(e.contains("unknown key `poll_intervall`"), "{e}");
    let e = refused(&["--base-url", "ftp://x"], &[], None);
    assert!(e.contains("base_url"), "{e}");
    let e = refused(
        &[],
        &[],
        Some("tls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n"),
    );
    assert!(e.contains("tls_cert"), "{e}");
    let e = refused(&[], &[], Some("tls_cert = \"/nonexistent/cert.pem\"\n"));
    assert!(e.contains("tls_key"), "{e}");
    let e = refused(&[], &[], Some("log_level = \"info,=[\"\n"));
    assert!(e.contains("log_level"), "{e}");
    let e = refused(&[], &[], Some("metrics = \"maybe\"\n"));
    assert!(e.contains("`metrics`"), "{e}");
}
