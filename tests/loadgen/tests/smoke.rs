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

#[test]
fn every_scenario_runs_against_the_real_server_without_errors() {
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
    assert_eq!(
        names,
        [
            "pending polls",
            "device authorizations",
            "complete flows",
            "refreshes",
            "introspections"
        ]
    );
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| pending polls |"),
        "table printed:\n{stdout}"
    );
}
