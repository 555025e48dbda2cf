//! The PostgreSQL polling path alone, without HTTP (issue 13, "pending polls"):
//! a throwaway cluster (`authgate_tests::pg`), pending device requests, and
//! concurrent tasks running the one-round-trip poll statement (read + pacing
//! update) or, for comparison, the read alone.
//!
//! ```sh
//! cargo build --release -p authgate-server --example pg_polls
//! target/release/examples/pg_polls [SECONDS] [CONNECTIONS] [TASKS]
//! ```

use std::time::Duration;

use authgate_server::{BenchOp, bench_polls};
use authgate_tests::pg::PgCluster;

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
            "{op:?}: {n} in {secs} s = {:.0}/s ({connections} connections, {tasks} tasks)",
            n as f64 / secs as f64
        );
    }
    Ok(())
}
