//! Why records are keyed by time-ordered ids: group commits of random keys against
//! time-ordered keys, in redb with durable (`Immediate`) commits on the real disk.
//!
//! ```sh
//! cargo run --release -p authgate-server --example key_order [DIR]
//! ```
//!
//! Each operation inserts one 180-byte record into each of two tables (like a device
//! request and its expiry entry); 100,000 rows are loaded first, then batches of 32
//! operations are committed one after another. DIR (default: the system temp dir)
//! must be on the disk being measured, not tmpfs.

use std::time::{Duration, Instant};

use authgate_server::time_ordered_id;
use rand::RngCore;
use redb::{Database, TableDefinition};

const TABLES: [TableDefinition<&[u8], &[u8]>; 2] = [
    TableDefinition::new("first"),
    TableDefinition::new("second"),
];
const PRELOAD: usize = 100_000;
const BATCH: usize = 32;
const BATCHES: usize = 400;
const VALUE: [u8; 180] = [7; 180];

fn random_key() -> [u8; 16] {
    let mut k = [0u8; 16];
    rand::rng().fill_bytes(&mut k);
    k
}

/// Inserts `batches` × `batch` operations, one commit per batch; returns the
/// commit times.
fn run(db: &Database, key: fn() -> [u8; 16], batches: usize, batch: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        let started = Instant::now();
        let txn = db.begin_write().expect("begin");
        for def in TABLES {
            let mut table = txn.open_table(def).expect("table");
            for _ in 0..batch {
                table
                    .insert(key().as_slice(), VALUE.as_slice())
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
        times.push(started.elapsed());
    }
    times
}

fn measure(name: &str, key: fn() -> [u8; 16], parent: &std::path::Path) {
    let dir = tempfile::tempdir_in(parent).expect("temp dir");
    let db = Database::create(dir.path().join("bench.redb")).expect("create");
    run(&db, key, PRELOAD / 1000, 1000);
    let started = Instant::now();
    let mut times = run(&db, key, BATCHES, BATCH);
    let secs = started.elapsed().as_secs_f64();
    times.sort();
    let p50 = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{name:>13}: {:>6.0} ops/s (2 inserts each), commit p50 {:.2} ms, p99 {:.2} ms",
        (BATCHES * BATCH) as f64 / secs,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let parent = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    println!(
        "{PRELOAD} rows preloaded, batches of {BATCH}, durable commits, in {}",
        parent.display()
    );
    for round in 1..=2 {
        println!("round {round}");
        measure("random keys", random_key, &parent);
        measure("time-ordered", time_ordered_id, &parent);
    }
}
