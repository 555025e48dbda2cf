//! RedbStore operations end to end on a real (temporary) database.

use super::records::{DeviceAuth, DeviceStatus, Session, User};
use super::tables::{DEVICE_REQUESTS, GRANTS, GRANTS_BY_USER, META};
use super::*;
use crate::grant::{NewTokens, Refusal};
use crate::secrets::{keyed_token, new_jti, sha256, time_ordered_id};
use crate::store::prelude::*;
use crate::store::{
    AuditEvent, AuditKind, Consequences, DecideOutcome, Decision, RedeemOutcome, RotateOutcome,
};
use sweep::SWEEP_CHUNK;

fn open(dir: &tempfile::TempDir) -> RedbStore {
    RedbStore::open(&dir.path().join("authgate.redb"), |_| {}).expect("store opens")
}

fn request(code: &str, created_at: u64, ttl: u64) -> ([u8; 16], DeviceAuth) {
    let id = time_ordered_id();
    let auth = DeviceAuth {
        code_hash: sha256(keyed_token(&id).as_bytes()),
        client_id: "cli".into(),
        scope: "read".into(),
        user_code: code.into(),
        created_at,
        expires_at: created_at + ttl,
        interval: 5,
        status: DeviceStatus::Pending,
        requester_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        dpop_jkt: None,
    };
    (id, auth)
}

fn tokens(expires_at: u64) -> NewTokens {
    let refresh_id = time_ordered_id();
    NewTokens {
        grant_id: time_ordered_id(),
        refresh_id,
        refresh_hash: sha256(keyed_token(&refresh_id).as_bytes()),
        refresh_expires_at: expires_at,
        jti: new_jti(),
        access_expires_at: expires_at,
        device_ip: "127.0.0.1".into(),
        dpop_jkt: None,
    }
}

#[tokio::test]
async fn user_codes_are_unique_while_live_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let (id, auth) = request("BCDFGHJK", 1_000, 600);
    assert!(
        store
            .create_device_auth(id, auth.clone())
            .await
            .expect("write")
    );
    let (other, mut again) = request("BCDFGHJK", 1_100, 600);
    again.created_at = 1_100;
    assert!(
        !store.create_device_auth(other, again).await.expect("write"),
        "a live code must not be handed out twice"
    );
    let found = store
        .device_auth_by_user_code("BCDFGHJK")
        .await
        .expect("read");
    assert_eq!(found.as_ref(), Some(&auth));
    // The poll path needs the right hash, not just the id.
    assert_eq!(
        store.device_auth(&id, &auth.code_hash).await.expect("read"),
        Some(auth.clone())
    );
    assert_eq!(store.device_auth(&id, &[0; 32]).await.expect("read"), None);
    drop(store);

    // The in-memory lookup is rebuilt from disk. (The writer thread lets go of
    // the file just after the last handle is dropped.)
    let path = dir.path().join("authgate.redb");
    let mut reopened = RedbStore::open(&path, |_| {});
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reopened = RedbStore::open(&path, |_| {});
    }
    let store = reopened.expect("store reopens");
    assert_eq!(store.user_code_entries(), 1);
    let decided = store
        .decide("BCDFGHJK".into(), None, Decision::Deny, 1_200)
        .await
        .expect("write");
    assert!(matches!(decided, DecideOutcome::Done(_)), "{decided:?}");
    // A decided request leaves the lookup (it can't be decided again), so the
    // lookup's size follows the requests waiting for a person, not the traffic.
    assert_eq!(store.user_code_entries(), 0);
    let again = store
        .decide("BCDFGHJK".into(), None, Decision::Deny, 1_201)
        .await
        .expect("write");
    assert_eq!(again, DecideOutcome::NotFound);
}

/// A consent page's decision lands only on the request it showed: once that
/// request expired and a new one took its user code, the old page's reference
/// decides nothing (checked in the deciding write itself).
#[tokio::test]
async fn a_decision_lands_only_on_the_request_its_page_showed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let (old_id, old) = request("BCDFGHJK", 1_000, 60);
    assert!(
        store
            .create_device_auth(old_id, old.clone())
            .await
            .expect("write")
    );
    let (new_id, new) = request("BCDFGHJK", 1_100, 600);
    assert!(
        store
            .create_device_auth(new_id, new.clone())
            .await
            .expect("write")
    );
    let stale = store
        .decide(
            "BCDFGHJK".into(),
            Some(old.reference()),
            Decision::Deny,
            1_200,
        )
        .await
        .expect("write");
    assert_eq!(stale, DecideOutcome::NotFound);
    let pending = store
        .device_auth(&new_id, &new.code_hash)
        .await
        .expect("read");
    assert_eq!(pending.map(|a| a.status), Some(DeviceStatus::Pending));
    let shown = store
        .decide(
            "BCDFGHJK".into(),
            Some(new.reference()),
            Decision::Deny,
            1_200,
        )
        .await
        .expect("write");
    assert!(matches!(shown, DecideOutcome::Done(_)), "{shown:?}");
}

#[tokio::test]
async fn sweep_removes_what_expired_in_chunks_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let now = 1_000_000;
    // More than two chunks of device requests past their grace period…
    let old = 2 * SWEEP_CHUNK + 10;
    for i in 0..old {
        let (id, auth) = request(&format!("OLD{i:05}"), 1_000, 600);
        assert!(store.create_device_auth(id, auth).await.expect("write"));
    }
    // …one expired but still within the grace period, and one live.
    let (recent_id, recent) = request("RECENTXX", now - 700, 600);
    assert!(
        store
            .create_device_auth(recent_id, recent)
            .await
            .expect("write")
    );
    let (live_id, live) = request("LIVEXXXX", now, 600);
    assert!(
        store
            .create_device_auth(live_id, live)
            .await
            .expect("write")
    );

    // Tokens: one pair expired, one pair live.
    add_user(&store, "admin").await;
    for (i, expires) in [(0u8, now - 1), (1, now + 3600)] {
        let (id, mut auth) = request(&format!("TOKEN{i}XX"), now - 10, 600);
        auth.status = DeviceStatus::Approved {
            user_id: "id-admin".into(),
            username: "admin".into(),
            at: now - 5,
        };
        assert!(
            store
                .create_device_auth(id, auth.clone())
                .await
                .expect("write")
        );
        let done = store
            .writer
            .write(move |tx| {
                tx.put(DEVICE_REQUESTS, id.as_slice(), &auth)?;
                Ok(())
            })
            .await;
        done.expect("approve");
        let hash = store
            .device_auth_by_user_code(&format!("TOKEN{i}XX"))
            .await
            .expect("read")
            .expect("found")
            .code_hash;
        let out = store
            .redeem(
                crate::store::PresentedCode::new(id, hash),
                "cli".into(),
                now - 4,
                0,
                tokens(expires),
            )
            .await
            .expect("redeem");
        assert!(matches!(out, RedeemOutcome::Issued(_)), "{out:?}");
    }

    let stats = store.sweep(now).await.expect("sweep");
    assert_eq!(stats.device_codes, old);
    assert_eq!(stats.refresh_tokens, 1);
    assert_eq!(stats.access_tokens, 1);
    assert_eq!(
        store
            .device_auth_by_user_code("OLD00000")
            .await
            .expect("read"),
        None
    );
    assert!(
        store
            .device_auth_by_user_code("RECENTXX")
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .device_auth_by_user_code("LIVEXXXX")
            .await
            .expect("read")
            .is_some()
    );
    // Four requests remain in memory and on disk: recent, live, and the two
    // redeemed ones.
    assert_eq!(store.user_code_entries(), 4);
    // A second sweep finds nothing more to do.
    assert_eq!(store.sweep(now).await.expect("sweep").entries, 0);
}

fn user(name: &str) -> User {
    User {
        id: format!("id-{name}"),
        username: name.into(),
        password_hash: String::new(),
        disabled: false,
        created_at: 1,
        admin: false,
    }
}

/// A request approved by `username` (whose id is `id-{username}`); returns its
/// key and code hash.
async fn approved(store: &RedbStore, code: &str, username: &str, now: u64) -> ([u8; 16], [u8; 32]) {
    let (id, mut auth) = request(code, now - 10, 600);
    assert!(
        store
            .create_device_auth(id, auth.clone())
            .await
            .expect("write")
    );
    auth.status = DeviceStatus::Approved {
        user_id: format!("id-{username}"),
        username: username.into(),
        at: now - 5,
    };
    let hash = auth.code_hash;
    store
        .writer
        .write(move |tx| tx.put(DEVICE_REQUESTS, id.as_slice(), &auth))
        .await
        .expect("approve");
    (id, hash)
}

async fn add_user(store: &RedbStore, name: &str) {
    let ev = AuditEvent::new(AuditKind::UserAdded, "test", name);
    assert!(store.admin_add_user(user(name), ev).await.expect("add"));
}

async fn disable(store: &RedbStore, name: &str) -> Consequences {
    let ev = AuditEvent::new(AuditKind::UserDisabled, "test", name);
    store
        .admin_change_user(name.into(), true, false, ev)
        .await
        .expect("write")
        .expect("user exists")
}

#[tokio::test]
async fn a_disabled_user_gets_no_tokens_refresh_or_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let now = crate::clock::now();
    add_user(&store, "carol").await;
    // Approved, not yet redeemed, then disabled: the poll is refused, for good.
    let (id, hash) = approved(&store, "CAROLAAA", "carol", now).await;
    let (id2, hash2) = approved(&store, "CAROLBBB", "carol", now).await;
    let t = tokens(now + 3600);
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id2, hash2),
            "cli".into(),
            now,
            0,
            t.clone(),
        )
        .await
        .expect("redeem");
    assert!(matches!(out, RedeemOutcome::Issued(_)), "{out:?}");
    let done = disable(&store, "carol").await;
    assert_eq!(done.grants, 1, "the redeemed grant is revoked");
    for _ in 0..2 {
        let out = store
            .redeem(
                crate::store::PresentedCode::new(id, hash),
                "cli".into(),
                now,
                0,
                tokens(now + 3600),
            )
            .await
            .expect("redeem");
        assert_eq!(out, RedeemOutcome::Refused(Refusal::Denied));
    }
    // The redeemed grant no longer refreshes, and its access token is revoked.
    let out = store
        .rotate_refresh(
            t.refresh_id,
            t.refresh_hash,
            "cli".into(),
            now,
            0,
            tokens(now + 7200),
        )
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::Invalid);
    let (_, grant) = store
        .access_token(&t.jti)
        .await
        .expect("read")
        .expect("entry");
    assert!(grant.revoked);
    // A sign-in whose password check raced the disable records no session.
    let session = Session {
        user_id: "id-carol".into(),
        username: "carol".into(),
        created_at: now,
        expires_at: now + 60,
    };
    let meta = crate::store::SessionMeta {
        user_id: "id-carol".into(),
        created_at: now,
        last_seen_at: now,
        idle_secs: 60,
        ip: "127.0.0.1".into(),
        user_agent: "t".into(),
    };
    let started = store
        .start_session([9; 32], session, meta, None)
        .await
        .expect("write");
    assert_eq!(started, crate::store::SessionStart::UserInactive);
    assert!(
        store
            .live_session(&[9; 32], now)
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn account_listing_reads_only_the_users_index_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let now = crate::clock::now();
    add_user(&store, "alice").await;
    let (id, hash) = approved(&store, "ALICEAAA", "alice", now).await;
    let t = tokens(now + 3600);
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id, hash),
            "cli".into(),
            now,
            0,
            t.clone(),
        )
        .await;
    assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
    // Other users' grants, stored as bytes no build can decode, with index
    // entries of their own (one user id being a prefix of alice's): a listing
    // or revocation that touched any of them would fail with `Corrupt`.
    store
        .writer
        .write(|tx| {
            let t = tx.txn();
            let mut grants_table = t.open_table(GRANTS.def())?;
            let mut index = t.open_table(GRANTS_BY_USER)?;
            for (i, owner) in ["id-alic", "id-alicee", "id-bob", "i"].iter().enumerate() {
                let gid = [u8::try_from(i).unwrap_or(0) + 1; 16];
                grants_table.insert(gid.as_slice(), [99u8, 1, 2].as_slice())?;
                index.insert(grants::user_key(owner, &gid).as_slice(), ())?;
            }
            Ok(())
        })
        .await
        .expect("seed");
    let mine = store
        .grants_of_user("id-alice")
        .await
        .expect("only alice's range");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, t.grant_id);
    let n = store
        .revoke_user_grants("id-alice".into(), Some(t.grant_id), now)
        .await
        .expect("revoke one");
    assert_eq!(n, 1);
    // Someone else's grant id can't be revoked through alice's account.
    let n = store
        .revoke_user_grants("id-alice".into(), Some([3; 16]), now)
        .await
        .expect("revoke other");
    assert_eq!(n, 0);
    // The sweep deletes the revoked grant, its index entry and token records.
    let stats = store.sweep(now).await.expect("sweep");
    assert_eq!(stats.grants, 1);
    assert!(
        store
            .grants_of_user("id-alice")
            .await
            .expect("read")
            .is_empty()
    );
    assert!(store.access_token(&t.jti).await.expect("read").is_none());
    assert!(
        store
            .refresh_token(&t.refresh_id, &t.refresh_hash)
            .await
            .expect("read")
            .is_none()
    );
}

fn dave_session(now: u64) -> (Session, crate::store::SessionMeta) {
    let session = Session {
        user_id: "id-dave".into(),
        username: "dave".into(),
        created_at: now,
        expires_at: now + 60,
    };
    let meta = crate::store::SessionMeta {
        user_id: "id-dave".into(),
        created_at: now,
        last_seen_at: now,
        idle_secs: 60,
        ip: "127.0.0.1".into(),
        user_agent: "t".into(),
    };
    (session, meta)
}

#[tokio::test]
async fn an_older_database_gets_its_grant_index_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("authgate.redb");
    let now = crate::clock::now();
    let t = tokens(now + 3600);
    {
        let store = open(&dir);
        add_user(&store, "dave").await;
        let (id, hash) = approved(&store, "DAVEAAAA", "dave", now).await;
        let out = store
            .redeem(
                crate::store::PresentedCode::new(id, hash),
                "cli".into(),
                now,
                0,
                t.clone(),
            )
            .await;
        assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
        let (session, meta) = dave_session(now);
        store
            .start_session([5; 32], session, meta, None)
            .await
            .expect("session");
        // Back to the earlier format: no indexes, no markers.
        store
            .writer
            .write(|tx| {
                let t = tx.txn();
                t.delete_table(GRANTS_BY_USER)?;
                t.delete_table(tables::SESSIONS_BY_USER)?;
                t.open_table(META)?.remove("grant_indexes")?;
                t.open_table(META)?.remove("session_index")?;
                Ok(())
            })
            .await
            .expect("downgrade");
    }
    let mut reopened = RedbStore::open(&path, |_| {});
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reopened = RedbStore::open(&path, |_| {});
    }
    let store = reopened.expect("reopens");
    let mine = store.grants_of_user("id-dave").await.expect("read");
    assert_eq!(mine.len(), 1, "the index was built at open");
    assert_eq!(
        store
            .sessions_of_user("id-dave", now)
            .await
            .expect("read")
            .len(),
        1
    );
    let done = disable(&store, "dave").await;
    assert_eq!((done.sessions, done.grants), (1, 1));
    // The revocation is due at the disable's own clock reading, which may be a
    // second past `now`.
    let stats = store.sweep(crate::clock::now()).await.expect("sweep");
    assert_eq!(stats.grants, 1);
    assert!(store.access_token(&t.jti).await.expect("read").is_none());
}

#[tokio::test]
async fn a_refreshed_grant_outlives_its_first_sweep_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let now = crate::clock::now();
    add_user(&store, "erin").await;
    let (id, hash) = approved(&store, "ERINAAAA", "erin", now).await;
    let first = tokens(now + 100);
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id, hash),
            "cli".into(),
            now,
            0,
            first.clone(),
        )
        .await;
    assert!(matches!(out, Ok(RedeemOutcome::Issued(_))), "{out:?}");
    let second = tokens(now + 1000);
    let out = store
        .rotate_refresh(
            first.refresh_id,
            first.refresh_hash,
            "cli".into(),
            now + 50,
            0,
            second.clone(),
        )
        .await
        .expect("rotate");
    assert!(matches!(out, RotateOutcome::Rotated(_)), "{out:?}");
    // The creation's entry comes due: the grant is alive, so it stays and its
    // entry moves to its new expiry.
    let stats = store.sweep(now + 200).await.expect("sweep");
    assert_eq!(stats.grants, 0);
    assert_eq!(
        store.grants_of_user("id-erin").await.expect("read").len(),
        1
    );
    let (_, g) = store
        .refresh_token(&second.refresh_id, &second.refresh_hash)
        .await
        .expect("read")
        .expect("current token kept");
    assert!(!g.revoked);
    // Past it, the grant goes.
    let stats = store.sweep(now + 1000).await.expect("sweep");
    assert_eq!(stats.grants, 1);
    assert!(
        store
            .grants_of_user("id-erin")
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn health_check_fails_once_the_writer_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.check().await.expect("healthy");
    // A writer that panics (here: an operation that panics in its thread).
    let died = store
        .writer
        .write(|_| -> Result<(), StoreError> { panic!("test: the writer dies") })
        .await;
    assert!(matches!(died, Err(StoreError::WriterGone)), "{died:?}");
    let mut failed = false;
    for _ in 0..100 {
        if store.check().await.is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(failed, "check() must fail without a writer");
}

/// Holds the writer thread inside a job until the returned sender is dropped or
/// sent to, so what is queued meanwhile lands in one batch.
fn hold_writer(store: &RedbStore) -> std::sync::mpsc::Sender<()> {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let _held = store.writer.write_then(
        move |_| {
            let _ = started_tx.send(());
            let _ = wait.lock().map(|w| w.recv());
            Ok(())
        },
        |_| {},
    );
    started.recv().expect("the writer runs the holding job");
    release
}

#[tokio::test]
async fn a_failing_job_does_not_fail_the_others_in_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let release = hold_writer(&store);
    let mut writes = Vec::new();
    for i in 0..5u8 {
        writes.push(store.writer.write_then(
            move |tx| {
                tx.txn()
                    .open_table(META)?
                    .insert(format!("k{i}").as_str(), [i].as_slice())?;
                if i == 2 {
                    // It wrote, then failed: its write must not survive either.
                    return Err(StoreError::WriterGone);
                }
                Ok(i)
            },
            |_| {},
        ));
    }
    drop(release);
    for (i, w) in writes.into_iter().enumerate() {
        let out = w.await;
        if i == 2 {
            assert!(matches!(out, Err(StoreError::WriterGone)), "{out:?}");
        } else {
            assert_eq!(out.expect("survivor commits"), u8::try_from(i).unwrap_or(0));
        }
    }
    let txn = store.db.begin_read().expect("read");
    let meta = txn.open_table(META).expect("meta");
    for i in 0..5u8 {
        let found = redb::ReadableTable::get(&meta, format!("k{i}").as_str())
            .expect("get")
            .is_some();
        assert_eq!(found, i != 2, "k{i}");
    }
}

#[tokio::test]
async fn a_full_queue_answers_busy_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let release = hold_writer(&store);
    let mut queued = Vec::new();
    let mut busy = false;
    for _ in 0..=writer::QUEUE_BOUND {
        let w = store.writer.write_then(|_| Ok(()), |_| {});
        queued.push(w);
    }
    let extra = store.writer.write(|_| Ok(())).await;
    if matches!(extra, Err(StoreError::Busy)) {
        busy = true;
    }
    assert!(busy, "{extra:?}");
    assert!(StoreError::Busy.is_busy());
    drop(release);
    let mut ok = 0;
    for w in queued {
        ok += usize::from(w.await.is_ok());
    }
    assert!(ok >= writer::QUEUE_BOUND - 1, "{ok}");
}

#[tokio::test]
async fn audit_kinds_reach_the_batch_report_only_when_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store = RedbStore::open(&dir.path().join("authgate.redb"), move |b| {
        if let Ok(mut s) = sink.lock() {
            s.extend(b.audited);
        }
    })
    .expect("store opens");
    store
        .audit(AuditEvent::new(AuditKind::LoginOk, "a", "a"))
        .await
        .expect("audit");
    let failed = store
        .writer
        .write(|tx| {
            audit::append(tx, AuditEvent::new(AuditKind::LoginFailed, "b", "b"))?;
            Err::<(), _>(StoreError::WriterGone)
        })
        .await;
    assert!(failed.is_err());
    store.flush().await.expect("flush");
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen, vec![AuditKind::LoginOk]);
}

/// The console's additions on redb: the admin role is stored, and a client's
/// settings are edited in place (and the cache sees it).
#[tokio::test]
async fn the_admin_role_and_client_settings_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(&dir);
        add_user(&store, "alice").await;
        assert!(!store.user("alice").await.unwrap().unwrap().admin);
        let ev = AuditEvent::new(AuditKind::UserRoleSet, "root", "alice");
        assert!(
            store
                .admin_set_role("alice".into(), true, ev.clone())
                .await
                .unwrap()
        );
        assert!(
            !store
                .admin_set_role("nobody".into(), true, ev)
                .await
                .unwrap()
        );
        assert!(store.user("alice").await.unwrap().unwrap().admin);
        let client = crate::store::Client {
            id: "tv".into(),
            name: "TV".into(),
            secret_hash: None,
            scopes: vec!["read".into(), "write".into()],
            grant_types: vec!["device_code".into(), "refresh_token".into()],
            disabled: false,
            access_ttl: None,
            refresh_ttl: None,
            created_at: 1,
            audiences: vec![],
            dpop: Default::default(),
            redirect_uris: Vec::new(),
            access_token_format: Default::default(),
            device_code_ttl: None,
            poll_interval: None,
            user_code_format: Default::default(),
        };
        let ev = AuditEvent::new(AuditKind::ClientAdded, "root", "tv");
        assert!(store.admin_add_client(client, ev).await.unwrap());
        assert_eq!(store.client("tv").await.unwrap().unwrap().name, "TV");
        let settings = crate::store::ClientPatch {
            name: Some("Living room".into()),
            scopes: Some(vec!["read".into()]),
            grant_types: Some(vec!["device_code".into()]),
            access_ttl: Some(Some(300)),
            device_code_ttl: Some(Some(120)),
            ..Default::default()
        };
        let change = crate::store::ClientChange::Update(settings);
        let ev = AuditEvent::new(AuditKind::ClientUpdated, "root", "tv");
        assert_eq!(
            store
                .admin_change_client("tv".into(), change, ev)
                .await
                .unwrap(),
            Some(0)
        );
        let c = store.client("tv").await.unwrap().unwrap();
        assert_eq!((c.name.as_str(), c.access_ttl), ("Living room", Some(300)));
        assert_eq!(c.device_code_ttl, Some(120));
        assert_eq!(c.scopes, vec!["read".to_string()]);
    }
}

#[tokio::test]
async fn lost_answers_are_retried_in_the_writer_and_the_records_say_so() {
    use super::tables::ACCESS_TOKENS;
    use crate::grant::IssuedFor;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let now = 10_000;
    add_user(&store, "fay").await;
    let (id, hash) = approved(&store, "FAYAAAAA", "fay", now).await;
    let first = tokens(now + 1000);
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id, hash),
            "cli".into(),
            now,
            60,
            first.clone(),
        )
        .await;
    let Ok(RedeemOutcome::Issued(issue)) = out else {
        panic!("issued: {out:?}");
    };
    let grant_id = issue.grant().id;
    let stored = store
        .device_auth(&id, &hash)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(stored.status, DeviceStatus::Redeemed { at: now, grant_id });
    // The redemption's answer is lost: the code again, 30 s later, retries.
    let second = tokens(now + 1000);
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id, hash),
            "cli".into(),
            now + 30,
            60,
            second.clone(),
        )
        .await;
    assert!(matches!(out, Ok(RedeemOutcome::Retried(_))), "{out:?}");
    let g = store.grant(&grant_id).await.expect("read").expect("kept");
    assert_eq!(g.current_refresh, second.refresh_hash);
    assert_eq!(g.issued_for, IssuedFor::DeviceCode { at: now });
    let retired = store.get(ACCESS_TOKENS, first.jti.as_str()).expect("read");
    assert!(retired.expect("kept").revoked, "the unused access token");
    // A refresh, whose answer is lost too, then retried twice.
    let third = tokens(now + 2000);
    let out = store
        .rotate_refresh(
            second.refresh_id,
            second.refresh_hash,
            "cli".into(),
            now + 40,
            60,
            third.clone(),
        )
        .await;
    assert!(matches!(out, Ok(RotateOutcome::Rotated(_))), "{out:?}");
    for n in 0..2 {
        let again = tokens(now + 2000);
        let out = store
            .rotate_refresh(
                second.refresh_id,
                second.refresh_hash,
                "cli".into(),
                now + 50 + n,
                60,
                again,
            )
            .await;
        assert!(matches!(out, Ok(RotateOutcome::Retried(_))), "{out:?}");
    }
    let g = store.grant(&grant_id).await.expect("read").expect("kept");
    assert_eq!(
        g.issued_for,
        IssuedFor::Refresh {
            previous: second.refresh_hash,
            at: now + 40
        }
    );
    // Reopened, the grant reads back as written. (The writer thread lets go of
    // the file just after the last handle is dropped.)
    drop(store);
    let path = dir.path().join("authgate.redb");
    let mut reopened = RedbStore::open(&path, |_| {});
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reopened = RedbStore::open(&path, |_| {});
    }
    let store = reopened.expect("store reopens");
    assert_eq!(store.grant(&grant_id).await.expect("read"), Some(g.clone()));
    // The code again, its tokens used: a replay, the grant is revoked.
    let out = store
        .redeem(
            crate::store::PresentedCode::new(id, hash),
            "cli".into(),
            now + 55,
            60,
            tokens(now + 1000),
        )
        .await;
    assert!(matches!(out, Ok(RedeemOutcome::Replayed)), "{out:?}");
    let g = store.grant(&grant_id).await.expect("read").expect("kept");
    assert!(g.revoked);
}

#[tokio::test]
async fn an_authorization_code_redeems_once_its_reuse_revokes_and_the_sweep_removes_it() {
    use crate::grant::{AuthCode, CodeRefusal, Presented};
    use crate::store::CodeOutcome;
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    add_user(&store, "carol").await;
    let verifier = "v".repeat(43);
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    let id = time_ordered_id();
    let code = keyed_token(&id);
    let record = AuthCode {
        code_hash: sha256(code.as_bytes()),
        client_id: "app".into(),
        redirect_uri: Some("https://app.example/cb".into()),
        code_challenge: challenge,
        scope: "read".into(),
        user_id: "id-carol".into(),
        username: "carol".into(),
        created_at: 1_000,
        expires_at: 1_060,
        redeemed: None,
    };
    store.create_auth_code(id, record).await.expect("create");
    let presented = |v: &str| Presented {
        client_id: "app".into(),
        redirect_uri: Some("https://app.example/cb".into()),
        code_verifier: v.into(),
    };
    let hash = sha256(code.as_bytes());
    let wrong = store
        .redeem_auth_code(id, hash, presented(&"w".repeat(43)), 1_010, tokens(9_000))
        .await
        .expect("redeem");
    assert_eq!(wrong, CodeOutcome::Refused(CodeRefusal::WrongVerifier));
    assert_eq!(
        store
            .redeem_auth_code(id, [0; 32], presented(&verifier), 1_010, tokens(9_000))
            .await
            .expect("redeem"),
        CodeOutcome::Unknown
    );
    let new = tokens(9_000);
    let CodeOutcome::Issued(issue) = store
        .redeem_auth_code(id, hash, presented(&verifier), 1_011, new.clone())
        .await
        .expect("redeem")
    else {
        panic!("the genuine request redeems");
    };
    assert_eq!(issue.grant().id, new.grant_id);
    let again = store
        .redeem_auth_code(id, hash, presented(&verifier), 1_012, tokens(9_000))
        .await
        .expect("redeem");
    assert_eq!(again, CodeOutcome::Refused(CodeRefusal::Reused));
    let grant = store
        .get(GRANTS, new.grant_id.as_slice())
        .expect("read")
        .expect("grant");
    assert!(grant.revoked, "reuse revoked what the code issued");
    let swept = store.sweep(1_060 + 600).await.expect("sweep");
    assert_eq!(swept.auth_codes, 1);
    assert_eq!(
        store
            .redeem_auth_code(id, hash, presented(&verifier), 1_700, tokens(9_000))
            .await
            .expect("redeem"),
        CodeOutcome::Unknown
    );
}
