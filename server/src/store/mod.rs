//! Storage (the redb backend lives in `redb/`).

mod redb;

pub use redb::*;
