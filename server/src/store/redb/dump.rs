//! [`Dump`] for a data directory: the records of the redb file, read in one read
//! transaction, and the published signing keys, which redb deployments keep as
//! files in `DATA_DIR/keys` (not in the database).
//!
//! Import is one redb write transaction, committed only after the source reached
//! its verified end; the key files are written just before that commit and removed
//! again if it fails, so a failed import leaves no record and no key behind.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::expiry::{self, Kind as Due};
use super::grants;
use super::tables::{ACCESS_TOKENS, CLIENTS, GRANTS, REFRESH_TOKENS, USERS};
use super::{RedbStore, Tx};
use crate::store::dump::{
    AccessLine, Counts, Dump, DumpError, Item, RefreshLine, SigningKey, Sink, Source, check_key,
};
use crate::tokens::{KeyError, KeyRing};

/// A data directory as a dump source or target: its open redb store and where its
/// key files live.
pub struct RedbDump<'a> {
    /// The data directory's database (opened by this process: the server must be
    /// stopped, redb allows one process per file).
    pub store: &'a RedbStore,
    /// The data directory (`keys/` inside it).
    pub data_dir: &'a Path,
}

impl Dump for RedbDump<'_> {
    async fn export(&self, sink: &mut dyn Sink) -> Result<Counts, DumpError> {
        let mut counts = Counts::default();
        let mut emit = |item: Item| {
            counts.add(item.kind());
            sink.put(&item)
        };
        for key in read_keys(self.data_dir)? {
            emit(Item::SigningKey(key))?;
        }
        let txn = self.store.db.begin_read().map_err(db)?;
        for entry in txn
            .open_table(USERS.def())
            .map_err(db)?
            .iter()
            .map_err(db)?
        {
            let (_, v) = entry.map_err(db)?;
            emit(Item::User(USERS.decode(v.value())?.into()))?;
        }
        for entry in txn
            .open_table(CLIENTS.def())
            .map_err(db)?
            .iter()
            .map_err(db)?
        {
            let (_, v) = entry.map_err(db)?;
            emit(Item::Client(CLIENTS.decode(v.value())?.into()))?;
        }
        let grants = txn.open_table(GRANTS.def()).map_err(db)?;
        for entry in grants.iter().map_err(db)? {
            let (_, v) = entry.map_err(db)?;
            emit(Item::Grant(GRANTS.decode(v.value())?.into()))?;
        }
        // Token entries whose grant was swept are inert (they refresh and
        // introspect as nothing); they are left behind.
        for entry in txn
            .open_table(REFRESH_TOKENS.def())
            .map_err(db)?
            .iter()
            .map_err(db)?
        {
            let (k, v) = entry.map_err(db)?;
            let rt = REFRESH_TOKENS.decode(v.value())?;
            if let Ok(id) = <[u8; 16]>::try_from(k.value())
                && grants.get(rt.grant_id.as_slice()).map_err(db)?.is_some()
            {
                emit(Item::RefreshToken(RefreshLine::of(id, rt)))?;
            }
        }
        for entry in txn
            .open_table(ACCESS_TOKENS.def())
            .map_err(db)?
            .iter()
            .map_err(db)?
        {
            let (k, v) = entry.map_err(db)?;
            let at = ACCESS_TOKENS.decode(v.value())?;
            if grants.get(at.grant_id.as_slice()).map_err(db)?.is_some() {
                emit(Item::AccessToken(AccessLine::of(k.value().to_string(), at)))?;
            }
        }
        Ok(counts)
    }

    async fn import(&self, source: &mut dyn Source) -> Result<Counts, DumpError> {
        self.refuse_non_empty()?;
        let txn = self.store.db.begin_write().map_err(db)?;
        let tx = Tx::new(&txn);
        let now = crate::clock::now();
        let mut counts = Counts::default();
        let mut keys = Vec::new();
        while let Some(item) = source.next_item()? {
            counts.add(item.kind());
            put(&tx, item, now, &mut keys)?;
        }
        drop(tx);
        let written = write_keys(self.data_dir, &keys)?;
        if let Err(e) = txn.commit() {
            remove(&written);
            return Err(DumpError::Store(e.into()));
        }
        Ok(counts)
    }
}

impl RedbDump<'_> {
    /// [`DumpError::NotEmpty`] if the directory has key files or the database
    /// has users, clients or grants (a server that ran once has all three).
    fn refuse_non_empty(&self) -> Result<(), DumpError> {
        let dir = self.data_dir.join("keys");
        if !key_paths(self.data_dir)?.is_empty() {
            return Err(DumpError::NotEmpty(format!(
                "signing keys in {}",
                dir.display()
            )));
        }
        let txn = self.store.db.begin_read().map_err(db)?;
        let users = txn.open_table(USERS.def()).map_err(db)?.len().map_err(db)?;
        let clients = txn
            .open_table(CLIENTS.def())
            .map_err(db)?
            .len()
            .map_err(db)?;
        let grants = txn
            .open_table(GRANTS.def())
            .map_err(db)?
            .len()
            .map_err(db)?;
        if users + clients + grants > 0 {
            return Err(DumpError::NotEmpty(format!(
                "{users} users, {clients} clients, {grants} grants in {}",
                self.data_dir.display()
            )));
        }
        Ok(())
    }
}

/// Writes one record into the import transaction; keys are collected for
/// [`write_keys`].
fn put(tx: &Tx<'_>, item: Item, now: u64, keys: &mut Vec<SigningKey>) -> Result<(), DumpError> {
    match item {
        Item::SigningKey(k) => {
            check_key(&k)?;
            keys.push(k);
        }
        Item::User(u) => tx.put(USERS, u.username.as_str(), &u.clone().into())?,
        Item::Client(c) => tx.put(CLIENTS, c.id.as_str(), &c.clone().into())?,
        Item::Grant(g) => {
            // The sweeper deletes a grant at its entry only if it is dead by then
            // (else it reschedules), so its expiry is a safe first entry.
            let sweep_at = if g.revoked { now } else { g.expires_at };
            grants::create(tx, &g.into(), sweep_at)?;
        }
        Item::RefreshToken(r) => {
            tx.put(REFRESH_TOKENS, r.id.as_slice(), &r.record())?;
            expiry::schedule(tx.txn(), r.expires_at, Due::RefreshToken, &r.id)?;
        }
        Item::AccessToken(a) => {
            tx.put(ACCESS_TOKENS, a.jti.as_str(), &a.record())?;
            expiry::schedule(tx.txn(), a.expires_at, Due::AccessToken, a.jti.as_bytes())?;
        }
    }
    Ok(())
}

/// The published key files of `data_dir` (`keys/*.secret`, oldest first); none if
/// there is no `keys` directory.
fn key_paths(data_dir: &Path) -> Result<Vec<crate::keys::KeyFile>, DumpError> {
    match crate::keys::key_files(data_dir) {
        Ok(files) => Ok(files),
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// The published keys of `data_dir`, oldest first (the last signs).
fn read_keys(data_dir: &Path) -> Result<Vec<SigningKey>, DumpError> {
    let mut keys = Vec::new();
    for f in key_paths(data_dir)? {
        let text = fs::read_to_string(&f.path).map_err(|source| KeyError::Io {
            path: f.path.clone(),
            source,
        })?;
        let secret = text.trim().to_string();
        let kid = KeyRing::kid_of(&secret).ok_or_else(|| KeyError::Invalid(f.path.clone()))?;
        keys.push(SigningKey {
            kid,
            secret,
            created_at: f.created_at,
        });
    }
    Ok(keys)
}

/// Writes `keys` as `DATA_DIR/keys/<created>.secret` files (mode 0600, in a 0700
/// directory), named so that they sort in the dump's order (a second is added
/// where two keys share one); returns the files written. On failure, the files
/// written so far are removed.
fn write_keys(data_dir: &Path, keys: &[SigningKey]) -> Result<Vec<PathBuf>, DumpError> {
    let dir = data_dir.join("keys");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DumpError::Keys(KeyError::Io { path, source })
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
    let mut written = Vec::new();
    let mut last = 0u64;
    for key in keys {
        let at = key.created_at.max(last.saturating_add(1));
        last = at;
        let path = dir.join(format!("{at:012}.secret"));
        let result = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| {
                writeln!(f, "{}", key.secret)?;
                f.sync_all()
            });
        if let Err(e) = result {
            remove(&written);
            return Err(io(&path)(e));
        }
        written.push(path);
    }
    Ok(written)
}

/// Best-effort removal of the key files of a failed import.
fn remove(paths: &[PathBuf]) {
    for p in paths {
        let _ = fs::remove_file(p);
    }
}

fn db(e: impl Into<redb::Error>) -> DumpError {
    DumpError::Store(crate::store::StoreError::Database(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dump::{GrantLine, Origin, Reader, UserLine, Writer};

    fn key(created_at: u64) -> SigningKey {
        let secret = KeyRing::new_secret().unwrap();
        SigningKey {
            kid: KeyRing::kid_of(&secret).unwrap(),
            secret,
            created_at,
        }
    }

    fn items() -> Vec<Item> {
        let grant = GrantLine {
            id: [1; 16],
            user_id: "u1".into(),
            username: "alice".into(),
            client_id: "tv".into(),
            scope: "read".into(),
            created_at: 10,
            last_refreshed_at: Some(11),
            expires_at: u64::MAX / 2,
            current_refresh: [2; 32],
            revoked: false,
            device_ip: "192.0.2.1".into(),
            refresh_id: [3; 16],
            jti: "j1".into(),
            dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
            retry_from: Some(11),
            retry_previous: Some([4; 32]),
        };
        vec![
            Item::SigningKey(key(100)),
            // Same second: still sorts after the first once written as files.
            Item::SigningKey(key(100)),
            Item::User(UserLine {
                id: "u1".into(),
                username: "alice".into(),
                password_hash: "$argon2id$v=19$x".into(),
                disabled: false,
                created_at: 1,
                admin: false,
            }),
            Item::Grant(grant),
            Item::RefreshToken(RefreshLine {
                id: [3; 16],
                token_hash: [2; 32],
                grant_id: [1; 16],
                expires_at: u64::MAX / 2,
            }),
            Item::AccessToken(AccessLine {
                jti: "j1".into(),
                grant_id: [1; 16],
                expires_at: u64::MAX / 2,
                revoked: true,
            }),
        ]
    }

    fn dump_of(items: &[Item]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), Origin::Redb, 1).unwrap();
        for i in items {
            w.put(i).unwrap();
        }
        w.finish().unwrap().0
    }

    fn open(dir: &Path) -> RedbStore {
        RedbStore::open(&dir.join("authgate.redb"), |_| {}).unwrap()
    }

    #[tokio::test]
    async fn what_is_imported_exports_the_same_and_a_second_import_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let target = RedbDump {
            store: &store,
            data_dir: dir.path(),
        };
        let dumped = items();
        let bytes = dump_of(&dumped);
        let mut reader = Reader::new(bytes.as_slice()).unwrap();
        let counts = target.import(&mut reader).await.unwrap();
        assert_eq!((counts.signing_key, counts.grant), (2, 1));
        let mut w = Writer::new(Vec::new(), Origin::Redb, 1).unwrap();
        target.export(&mut w).await.unwrap();
        let (out, _) = w.finish().unwrap();
        let mut again = Reader::new(out.as_slice()).unwrap();
        let mut read = Vec::new();
        while let Some(i) = again.next_item().unwrap() {
            read.push(i);
        }
        let mut expected = dumped;
        if let Item::SigningKey(k) = &mut expected[1] {
            k.created_at = 101;
        }
        assert_eq!(read, expected);
        let mut reader = Reader::new(bytes.as_slice()).unwrap();
        assert!(matches!(
            target.import(&mut reader).await,
            Err(DumpError::NotEmpty(_))
        ));
    }

    #[tokio::test]
    async fn a_bad_key_leaves_no_record_and_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let target = RedbDump {
            store: &store,
            data_dir: dir.path(),
        };
        let mut bad = items();
        if let Item::SigningKey(k) = &mut bad[1] {
            k.kid = "k4.pid.someone-else".into();
        }
        let bytes = dump_of(&bad);
        let mut reader = Reader::new(bytes.as_slice()).unwrap();
        assert!(matches!(
            target.import(&mut reader).await,
            Err(DumpError::Key(_))
        ));
        assert!(key_paths(dir.path()).unwrap().is_empty());
        target.refuse_non_empty().unwrap();
    }
}
