//! The load generator itself works: a short run of every scenario against the real
//! `authgate` binary finishes with zero errors and a complete JSON report. The
//! numbers are not checked (a debug build on a shared CI machine says nothing about
//! speed); the README's performance section is where they are measured.

use std::path::PathBuf;
use std::process::Command;

/// The server binary: `AUTHGATE_BIN` (set by `scripts/test-all.sh`), else the
/// workspace's debug build.
fn authgate_bin() -> PathBuf {
    std::env::var_os("AUTHGATE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/authgate")
        })
}

/// Runs every scenario for half a second with `extra` arguments and checks the
/// report: zero errors, every row measured; returns it and the printed table.
fn run_every_scenario(extra: &[&str]) -> (serde_json::Value, String) {
    let bin = authgate_bin();
    assert!(
        bin.exists(),
        "build the server first (`cargo build -p authgate-server`) or set AUTHGATE_BIN: {}",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--server-bin")
        .arg(&bin)
        .arg("--data-parent")
        .arg(dir.path())
        .args(["--connections", "4", "--duration", "0.5", "--warmup", "0"])
        .args(["--codes", "200", "--json"])
        .arg(&json)
        .args(extra)
        .output()
        .expect("run loadgen");
    assert!(
        out.status.success(),
        "loadgen failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON report")).expect("valid JSON");
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["scenario"].as_str()).collect();
    // Under --dpop the rows whose requests carry proofs say so.
    let bound = if extra.contains(&"--dpop") {
        " (DPoP)"
    } else {
        ""
    };
    let want = [
        format!("pending polls{bound}"),
        format!("device authorizations{bound}"),
        format!("complete flows{bound}"),
        format!("refreshes{bound}"),
        "introspections".to_string(),
    ];
    assert_eq!(names, want);
    for row in rows {
        assert_eq!(row["errors"], 0, "{row}");
        assert!(row["operations"].as_u64().unwrap_or(0) > 0, "{row}");
        assert!(row["p99_ms"].as_f64().is_some_and(|v| v > 0.0), "{row}");
        assert!(row["server_cpu_us_per_op"].as_f64().is_some(), "{row}");
        assert!(row["client_cpu_us_per_op"].as_f64().is_some(), "{row}");
    }
    assert!(report["idle_rss_mib"].as_f64().is_some_and(|v| v > 0.0));
    assert!(
        report["rss_with_codes_mib"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains(&format!("| {} |", want[0])),
        "table printed:\n{stdout}"
    );
    (report, stdout)
}

#[test]
fn every_scenario_runs_against_the_real_server_without_errors() {
    let (report, _) = run_every_scenario(&[]);
    assert_eq!(report["backend"], "redb");
    assert_eq!(report["instances"], 1);
    for row in report["rows"].as_array().expect("rows") {
        assert!(row["pg_cpu_us_per_op"].is_null(), "{row}");
    }
}

/// The PostgreSQL mode: a throwaway cluster, two servers on it sharing the load
/// (a flow's requests land on one instance, its browser session was opened on the
/// other), PostgreSQL's CPU reported apart. The servers reach it through its
/// Unix-domain socket (the end-to-end suite covers TCP), so the socket form of
/// `database_url` the README recommends on one machine is exercised. Needs
/// PostgreSQL installed, as the other `pg_*` tests do.
#[test]
fn every_scenario_runs_on_postgresql_with_two_instances() {
    let (report, stdout) = run_every_scenario(&["--postgres", "--unix-socket", "--instances", "2"]);
    assert_eq!(report["backend"], "postgres");
    assert_eq!(report["instances"], 2);
    for row in report["rows"].as_array().expect("rows") {
        assert!(
            row["pg_cpu_us_per_op"].as_f64().is_some_and(|v| v >= 0.0),
            "{row}"
        );
    }
    assert!(stdout.contains("postgres, 2 instance(s)"), "{stdout}");
}

/// `--dpop`: every device authorization, poll and token request carries a fresh
/// proof, and a flow or refresh that did not come back as `token_type: DPoP` counts
/// as an error (which the zero-errors check refuses). Reused `jti`s would be refused
/// by the server's replay cache, so this also shows each proof is fresh.
#[test]
fn every_scenario_runs_dpop_bound() {
    let (report, _) = run_every_scenario(&["--dpop"]);
    assert_eq!(report["backend"], "redb");
}
