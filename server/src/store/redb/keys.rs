//! Server-wide secrets kept in the database (`META`), such as the CSRF key.

use redb::{ReadableDatabase, ReadableTable};

use super::tables::META;
use super::{RedbStore, StoreError};
use crate::store::Secrets;

impl Secrets for RedbStore {
    /// A server-wide secret, created with `init` on first use and stable afterwards.
    async fn meta_secret(&self, name: &'static str, init: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        {
            let txn = self.db.begin_read()?;
            if let Some(v) = txn.open_table(META)?.get(name)? {
                return Ok(v.value().to_vec());
            }
        }
        self.writer
            .write(move |tx| {
                let mut table = tx.txn().open_table(META)?;
                if let Some(v) = table.get(name)? {
                    return Ok(v.value().to_vec());
                }
                table.insert(name, init.as_slice())?;
                Ok(init.clone())
            })
            .await
    }
}
