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
    // (On PostgreSQL the file names the database too: the `database_url` key.)
    let database = dir
        .database_url()
        .map(|u| format!("database_url = \"{u}\"\n"))
        .unwrap_or_default();
    std::fs::write(&file, format!("data_dir = \"{d}\"\n{database}")).unwrap();
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

#[test]
fn version_names_the_release_commit_and_build_date() {
    let out = std::process::Command::new(authgate_tests::authgate_bin())
        .arg("--version")
        .output()
        .expect("run authgate --version");
    assert!(out.status.success(), "{out:?}");
    // `authgate 0.1.0 (commit 5d718ae52ff2, built 2026-11-29)`
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.trim();
    let rest = line
        .strip_prefix(&format!("authgate {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line:?}"));
    let (commit, date) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", built "))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{line:?}"
    );
    let d: Vec<&str> = date.split('-').collect();
    assert!(
        d.len() == 3
            && [4, 2, 2] == [d[0].len(), d[1].len(), d[2].len()]
            && d.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && d[0] >= "2026",
        "{line:?}"
    );
}

#[test]
fn logs_to_a_pipe_carry_no_colour_and_json_stays_one_object_a_line() {
    for format in ["human", "json"] {
        let dir = DataDir::new();
        let d = dir.path().to_str().unwrap();
        let mut s = spawn(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                d,
                "--log-format",
                format,
            ],
            &[],
        )
        .expect("starts");
        // A request that logs (an unknown client is a warning or info line at most;
        // the `serving` line is there in any case).
        interval(&s.url);
        s.signal("TERM");
        assert!(s.wait(std::time::Duration::from_secs(20)).success());
        let err = s.stderr();
        assert!(err.contains("serving"), "{format}: {err}");
        assert!(
            !err.contains('\u{1b}'),
            "{format}: escape sequences in logs written to a pipe:\n{err:?}"
        );
        if format == "json" {
            for line in err.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line:?}"));
                assert!(v.is_object(), "{line}");
            }
        }
    }
}

#[test]
fn metrics_token_is_a_redacted_secret_and_empty_is_refused() {
    let data = DataDir::new();
    let out = cli(
        data.path(),
        &["config"],
        None,
        &[("AUTHGATE_METRICS_TOKEN", "scrape-me-0123456789")],
    );
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains("metrics_token = \"<redacted>\"  # env"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("scrape-me"), "{}", out.stdout);
    let file = data.path().join("c.toml");
    std::fs::write(&file, "metrics_token = \" \"\n").unwrap();
    let out = cli(
        data.path(),
        &["config", "--config", file.to_str().unwrap()],
        None,
        &[],
    );
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("`metrics_token` (AUTHGATE_METRICS_TOKEN): must not be empty"),
        "{}",
        out.stderr
    );
}
