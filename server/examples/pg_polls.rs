//! The PostgreSQL polling path alone, without HTTP (issue 13, "pending polls"):
//! a throwaway cluster (`authgate_tests::pg`), 1,000 pending device requests, and
//! the one-round-trip poll statement (read + pacing update) run by concurrent
//! tasks of this binary (tokio-postgres, as the server runs it) or by `pgbench`
//! (a lighter client in C, so the database's own ceiling), beside the read alone.
//!
//! ```sh
//! cargo build --release -p authgate-server --example pg_polls
//! target/release/examples/pg_polls [SECONDS] [CONNECTIONS] [TASKS]
//! ```

use std::process::Command;
use std::time::Duration;

use authgate_server::{BenchOp, POLL_SQL, bench_polls};
use authgate_tests::pg::{PgCluster, bindir};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let secs = args.next().transpose()?.unwrap_or(5);
    let connections = args.next().transpose()?.unwrap_or(8);
    let tasks = args.next().transpose()?.unwrap_or(32);
    let cluster = PgCluster::start()?;
    for op in [BenchOp::Read, BenchOp::Poll, BenchOp::Read, BenchOp::Poll] {
        let n = bench_polls(
            &cluster.url(),
            connections,
            tasks,
            1000,
            op,
            Duration::from_secs(u64::try_from(secs)?),
        )
        .await?;
        println!(
            "tokio-postgres {op:?}: {n} in {secs} s = {:.0}/s ({connections} connections, {tasks} tasks)",
            n as f64 / secs as f64
        );
    }
    pgbench(&cluster, secs, connections, "as migrated")?;
    // Every poll's update should be HOT (no index entries): see the migration.
    let hot = cluster.psql(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables \
          WHERE relname = 'rate_counters'",
    )?;
    println!("rate_counters updates, HOT updates: {}", hot.trim());
    Ok(())
}

/// The same poll statement from `pgbench -M prepared`, on the requests
/// `bench_polls` created (key: the request number, big-endian, then zeros).
fn pgbench(
    cluster: &PgCluster,
    secs: usize,
    clients: usize,
    schema: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(bin) = bindir() else {
        println!("pgbench: no PostgreSQL binaries");
        return Ok(());
    };
    let id = "decode(lpad(to_hex(:n::int), 4, '0') || repeat('00', 14), 'hex')";
    let hash = "decode(lpad(to_hex(:n::int), 4, '0') || repeat('00', 30), 'hex')";
    let key = "lpad(to_hex(:n::int), 4, '0') || repeat('00', 30)";
    // The batch statement with one poll, its arrays spelled out.
    let sql = POLL_SQL
        .replace("$1", &format!("ARRAY[{id}]"))
        .replace("$2", &format!("ARRAY[{key}]"))
        .replace(
            "$3",
            "ARRAY[(extract(epoch from clock_timestamp()) * 1000)::bigint]",
        )
        .replace("$4", "3600000")
        .replace("$5", "500")
        .replace("$6", "5")
        .replace("$7", &format!("ARRAY[{hash}]"));
    // The script's keys must name the requests, or it would measure empty reads.
    let found = cluster.psql(&format!(
        "SELECT count(*) FROM device_requests WHERE id = {}",
        id.replace(":n::int", "7")
    ))?;
    println!(
        "pgbench: request 7 found by the script's key: {}",
        found.trim()
    );
    let script = std::env::temp_dir().join(format!("pg_polls_{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "\\set n random(0, 999)\n{}\n",
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    )?;
    let out = Command::new(bin.join("pgbench"))
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(cluster.url())
        .output()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text
        .lines()
        .filter(|l| l.starts_with("tps") || l.contains("latency average"))
    {
        println!("pgbench Poll ({clients} clients, {schema}): {line}");
    }
    if !out.status.success() {
        println!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
