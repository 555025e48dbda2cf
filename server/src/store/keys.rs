//! Server-wide secrets kept with the data, such as the CSRF key.

use super::StoreError;

/// Server-wide secrets kept with the data. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Secrets {
    /// A server-wide secret, created with `init` on first use and stable afterwards.
    fn meta_secret(
        &self,
        name: &'static str,
        init: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}
