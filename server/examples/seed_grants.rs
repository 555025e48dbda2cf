//! Seeds a stopped server's data directory with grants of other users, for the
//! load generator's `account` scenario (issue 11, item 7): the account page and
//! revoking a device must cost the same with 1,000 or 100,000 other grants.
//!
//! ```sh
//! cargo build --release -p authgate-server --example seed_grants
//! target/release/examples/seed_grants DATA_DIR 100000
//! ```
//!
//! The server must not be running on DATA_DIR (redb allows one process).

use std::path::PathBuf;
use std::process::ExitCode;

use authgate_server::RedbStore;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: seed_grants DATA_DIR COUNT");
        return ExitCode::FAILURE;
    };
    let path = PathBuf::from(dir).join("authgate.redb");
    let started = std::time::Instant::now();
    let result = RedbStore::open(&path, |_| {})
        .and_then(|store| store.seed_other_grants_blocking(n, authgate_server::now()));
    match result {
        Ok(()) => {
            println!(
                "seeded {n} grants of other users in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_grants: {e}");
            ExitCode::FAILURE
        }
    }
}
