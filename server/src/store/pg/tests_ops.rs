//! The operations side of the PostgreSQL backend against a throwaway cluster
//! (`authgate_tests::pg`), with two "instances" (two independent pools) on one
//! database: meta secrets, the audit log, the sweeper, the admin operations and the
//! shared signing keys.

use std::sync::Arc;
use std::time::Duration;

use authgate_tests::pg::PgCluster;
use tokio_postgres::{AsyncMessage, NoTls};

use super::PgStore;
use super::sweep::SWEEP_LOCK;
use crate::keys::{FOLLOW_PERIOD, KeySource, Keys, follow_shared};
use crate::store::prelude::*;
use crate::store::{AuditEvent, AuditKind, Client, ClientChange, User};
use crate::tokens::KeyRing;

fn cluster() -> PgCluster {
    PgCluster::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn two_instances(cluster: &PgCluster) -> (PgStore, PgStore) {
    let a = PgStore::connect(&cluster.url(), 8).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 8).await.unwrap();
    (a, b)
}

async fn count(store: &PgStore, sql: &str) -> i64 {
    store
        .conn()
        .await
        .unwrap()
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

async fn exec(store: &PgStore, sql: &str) {
    store
        .conn()
        .await
        .unwrap()
        .batch_execute(sql)
        .await
        .unwrap();
}

/// Waits (at most 10 s) until `check` holds; false if it never did.
async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_secrets_are_one_value_and_audit_is_one_ordered_log_across_instances() {
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;

    // Eight racing first uses, each with its own candidate: all get the same value.
    let calls = (0..8u8).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { store.meta_secret("csrf_key", vec![i; 32]).await })
    });
    let mut values = Vec::new();
    for call in calls {
        values.push(call.await.unwrap().unwrap());
    }
    assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");
    assert!((0..8u8).any(|i| values[0] == vec![i; 32]));
    assert_eq!(
        a.meta_secret("csrf_key", vec![99; 32]).await.unwrap(),
        values[0]
    );
    assert_eq!(count(&a, "SELECT count(*) FROM meta").await, 1);

    // Two instances append concurrently, each in its own order.
    let writers = [("a", a.clone()), ("b", b.clone())].map(|(name, store)| {
        tokio::spawn(async move {
            for i in 0..40 {
                let ev = AuditEvent::new(AuditKind::LoginFailed, name, &format!("{name}{i}"));
                store.audit(ev).await.unwrap();
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    let all = b.audit_events(0, 1000).await.unwrap();
    assert_eq!(all.len(), 80);
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "distinct, increasing"
    );
    for name in ["a", "b"] {
        let mine: Vec<_> = all.iter().filter(|e| e.actor == name).collect();
        let expected: Vec<_> = (0..40).map(|i| format!("{name}{i}")).collect();
        assert_eq!(
            mine.iter().map(|e| e.subject.clone()).collect::<Vec<_>>(),
            expected,
            "each writer's events in the order it wrote them"
        );
    }
    // The limit keeps the newest.
    let last2 = a.audit_events(0, 2).await.unwrap();
    assert_eq!(last2, all[78..].to_vec());

    // Detached events arrive without anyone waiting for them.
    a.audit_detached(AuditEvent::new(AuditKind::LoginOk, "x", "detached"));
    assert!(
        eventually(|| async { b.audit_events(0, 1).await.unwrap()[0].subject == "detached" }).await
    );
    // Many at once are written in batches, each event once, in the order sent.
    let burst: Vec<String> = (0..300).map(|n| format!("burst-{n}")).collect();
    for subject in &burst {
        a.audit_detached(AuditEvent::new(AuditKind::LoginOk, "x", subject));
    }
    assert!(
        eventually(|| async {
            let last = b.audit_events(0, 300).await.unwrap();
            last.iter().map(|e| &e.subject).eq(burst.iter())
        })
        .await
    );
    let detached = a.audit_events(0, 1000).await.unwrap().len();

    // Retention: events before the cutoff go, a chunk at a time.
    let mut old = AuditEvent::new(AuditKind::LoginOk, "x", "old");
    old.at = 1_000;
    a.audit(old).await.unwrap();
    assert_eq!(detached, 81 + 300);
    assert_eq!(a.audit_events(2_000, 1000).await.unwrap().len(), 81 + 300);
    assert_eq!(a.sweep_audit(2_000).await.unwrap(), 1);
    assert_eq!(a.sweep_audit(u64::MAX).await.unwrap(), 81 + 300);
    assert!(b.audit_events(0, 10).await.unwrap().is_empty());
}

/// Fills every swept table with one row due at `now` and one still live.
async fn fill(store: &PgStore, now: i64) {
    let past = now - 10;
    let future = now + 1000;
    let long_past = now - 4000;
    exec(
        store,
        &format!(
            "INSERT INTO device_requests (id, code_hash, client_id, scope, user_code, created_at,
                 expires_at, interval, status, requester_ip, user_agent) VALUES
               ('\\x{a}', '\\x{h}', 'tv', '', 'AAAA', 1, {long_past}, 5, 'pending', '', ''),
               ('\\x{b}', '\\x{h}', 'tv', '', 'BBBB', 1, {past}, 5, 'pending', '', '');
             INSERT INTO user_codes VALUES ('AAAA', '\\x{a}', 'tv', {long_past});
             INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                 expires_at, current_refresh, revoked, device_ip, refresh_id, jti) VALUES
               ('\\x{a}', 'u', 'u', 'tv', '', 1, {future}, '\\x{h}', true, '', '\\x{a}', 'ja'),
               ('\\x{b}', 'u', 'u', 'tv', '', 1, {past}, '\\x{h}', false, '', '\\x{b}', 'jb'),
               ('\\x{c}', 'u', 'u', 'tv', '', 1, {future}, '\\x{h}', false, '', '\\x{c}', 'jc');
             INSERT INTO access_tokens VALUES ('ja', '\\x{a}', {future}, false),
               ('jc', '\\x{c}', {future}, false), ('jc-old', '\\x{c}', {past}, false);
             INSERT INTO refresh_tokens VALUES ('\\x{c}', '\\x{h}', '\\x{c}', {future}),
               ('\\x{d}', '\\x{h}', '\\x{c}', {past});
             INSERT INTO sessions VALUES
               ('\\x{h}', 'u', 'u', 1, {past}, 1, 3600, '', ''),
               ('\\x{h2}', 'u', 'u', 1, {future}, {past}, 5, '', ''),
               ('\\x{h3}', 'u', 'u', 1, {future}, {now}, 3600, '', '');
             INSERT INTO rate_counters VALUES
               ('poll', 'old', 0, 5, {past}000), ('poll', 'new', 0, 5, {future}000),
               ('user_code_ip', 'old', 0, 1, {past}000), ('user_code_ip', 'new', 0, 1, {future}000);
             INSERT INTO dpop_jtis VALUES ('\\x{h}', {past}), ('\\x{h2}', {future});",
            a = "01".repeat(16),
            b = "02".repeat(16),
            c = "03".repeat(16),
            d = "04".repeat(16),
            h = "aa".repeat(32),
            h2 = "bb".repeat(32),
            h3 = "cc".repeat(32),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_sweeps_at_a_time_and_the_sweep_removes_only_what_is_due() {
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;
    let now = 1_000_000i64;
    fill(&a, now).await;

    // Hold one due session row locked, so A's sweep stops inside, holding the sweep
    // lock; B's sweep meanwhile is skipped, not queued.
    let (blocker, conn) = tokio_postgres::connect(&cluster.url(), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    blocker.batch_execute("BEGIN").await.unwrap();
    blocker
        .execute(
            "SELECT 1 FROM sessions WHERE expires_at <= $1 FOR UPDATE",
            &[&now],
        )
        .await
        .unwrap();
    let sweeping = tokio::spawn({
        let a = a.clone();
        async move { a.try_sweep(now as u64).await }
    });
    let held = eventually(|| async {
        count(
            &b,
            &format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND ((classid::bigint << 32) | objid::bigint) = {SWEEP_LOCK}"
            ),
        )
        .await
            == 1
    })
    .await;
    assert!(held, "A took the sweep lock");
    assert_eq!(b.try_sweep(now as u64).await.unwrap(), None, "B skips");
    assert_eq!(b.sweep(now as u64).await.unwrap(), Default::default());
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let stats = sweeping.await.unwrap().unwrap().expect("A swept");

    assert_eq!(stats.device_codes, 1, "only the one an hour past expiry");
    assert_eq!(stats.grants, 2, "the revoked one and the expired one");
    assert_eq!(stats.access_tokens, 1);
    assert_eq!(stats.refresh_tokens, 1);
    assert_eq!(stats.sessions, 2, "absolute and idle timeouts");
    assert_eq!(count(&a, "SELECT count(*) FROM device_requests").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM user_codes").await, 0);
    assert_eq!(count(&a, "SELECT count(*) FROM grants").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM access_tokens").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM refresh_tokens").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM sessions").await, 1);
    assert_eq!(
        count(&a, "SELECT count(*) FROM rate_counters WHERE key = 'new'").await,
        2
    );
    assert_eq!(count(&a, "SELECT count(*) FROM rate_counters").await, 2);
    assert_eq!(count(&a, "SELECT count(*) FROM dpop_jtis").await, 1);
    // The lock was released: B sweeps now (nothing left that is due).
    let again = b.try_sweep(now as u64).await.unwrap().expect("B sweeps");
    assert_eq!(again.entries, 0);
}

/// A listening connection's notification payloads, as they arrive.
async fn listen(
    cluster: &PgCluster,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (client, mut conn) = tokio_postgres::connect(&cluster.url(), NoTls)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(m)) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.payload().to_string());
            }
        }
    });
    client
        .batch_execute("LISTEN authgate_changes")
        .await
        .unwrap();
    (client, rx)
}

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: "TV".into(),
        secret_hash: None,
        scopes: vec!["read".into()],
        grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
        disabled: false,
        access_ttl: Some(7200),
        refresh_ttl: None,
        created_at: 1,
        audiences: vec![],
        dpop: Default::default(),
        redirect_uris: Vec::new(),
        access_token_format: Default::default(),
        device_code_ttl: None,
        poll_interval: None,
        user_code_format: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_commit_with_their_consequences_audit_and_notification() {
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;
    let (_listener, mut heard) = listen(&cluster).await;
    let ev = |kind| AuditEvent::new(kind, "cli uid=0", "s");
    let user = User {
        id: "u1".into(),
        username: "alice".into(),
        password_hash: "h".into(),
        disabled: false,
        created_at: 1,
        admin: false,
    };
    assert!(
        a.admin_add_user(user.clone(), ev(AuditKind::UserAdded))
            .await
            .unwrap()
    );
    assert!(
        !b.admin_add_user(user, ev(AuditKind::UserAdded))
            .await
            .unwrap(),
        "taken"
    );
    assert_eq!(heard.recv().await.unwrap(), "user:u1");
    assert!(
        a.admin_add_client(client("tv"), ev(AuditKind::ClientAdded))
            .await
            .unwrap()
    );
    assert!(
        !b.admin_add_client(client("tv"), ev(AuditKind::ClientAdded))
            .await
            .unwrap()
    );
    assert_eq!(heard.recv().await.unwrap(), "client:tv");
    assert_eq!(a.max_access_ttl(900).await.unwrap(), 7200);
    assert_eq!(a.max_access_ttl(9000).await.unwrap(), 9000);

    let h = "aa".repeat(32);
    let g = |n: u8| format!("{n:02x}").repeat(16);
    exec(
        &a,
        &format!(
            "INSERT INTO sessions VALUES ('\\x{h}', 'u1', 'alice', 1, 9, 1, 9, '', '');
             INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                 expires_at, current_refresh, device_ip, refresh_id, jti) VALUES
               ('\\x{g1}', 'u1', 'alice', 'tv', '', 1, 9, '\\x{h}', '', '\\x{g1}', 'j1'),
               ('\\x{g2}', 'u1', 'alice', 'tv', '', 1, 9, '\\x{h}', '', '\\x{g2}', 'j2'),
               ('\\x{g3}', 'u2', 'bob', 'tv', '', 1, 9, '\\x{h}', '', '\\x{g3}', 'j3');",
            g1 = g(1),
            g2 = g(2),
            g3 = g(3)
        ),
    )
    .await;

    let done = b
        .admin_set_password("alice".into(), "h2".into(), ev(AuditKind::UserPasswordSet))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.sessions, done.grants), (1, 0));
    assert_eq!(heard.recv().await.unwrap(), "user:u1");
    assert!(
        b.admin_set_password("nobody".into(), "h".into(), ev(AuditKind::UserPasswordSet))
            .await
            .unwrap()
            .is_none()
    );
    let done = a
        .admin_change_user("alice".into(), true, false, ev(AuditKind::UserDisabled))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.sessions, done.grants), (0, 2));
    assert_eq!(heard.recv().await.unwrap(), "user:u1");
    assert_eq!(
        count(&a, "SELECT count(*) FROM users WHERE disabled").await,
        1
    );
    assert_eq!(
        count(&a, "SELECT count(*) FROM grants WHERE revoked").await,
        2
    );

    let revoked = b
        .admin_change_client(
            "tv".into(),
            ClientChange::Disable,
            ev(AuditKind::ClientDisabled),
        )
        .await
        .unwrap();
    assert_eq!(
        revoked,
        Some(1),
        "bob's grant; alice's were revoked already"
    );
    assert_eq!(heard.recv().await.unwrap(), "client:tv");
    assert_eq!(
        count(&a, "SELECT count(*) FROM clients WHERE disabled").await,
        1
    );
    let secret = ClientChange::SetSecret([7; 32]);
    assert_eq!(
        a.admin_change_client("tv".into(), secret, ev(AuditKind::ClientSecretRotated))
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(heard.recv().await.unwrap(), "client:tv");
    assert_eq!(
        a.admin_change_client(
            "tv".into(),
            ClientChange::Delete,
            ev(AuditKind::ClientDeleted)
        )
        .await
        .unwrap(),
        Some(0)
    );
    assert_eq!(heard.recv().await.unwrap(), "client:tv");
    assert!(
        a.admin_change_client(
            "tv".into(),
            ClientChange::Enable,
            ev(AuditKind::ClientEnabled)
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        a.admin_change_user("alice".into(), true, true, ev(AuditKind::UserDeleted))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(count(&a, "SELECT count(*) FROM users").await, 0);
    // Every change committed its audit record; the refusals none.
    let kinds: Vec<_> = a
        .audit_events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            AuditKind::UserAdded,
            AuditKind::ClientAdded,
            AuditKind::UserPasswordSet,
            AuditKind::UserDisabled,
            AuditKind::ClientDisabled,
            AuditKind::ClientSecretRotated,
            AuditKind::ClientDeleted,
            AuditKind::UserDeleted,
        ]
    );
    assert_eq!(heard.recv().await.unwrap(), "user:u1");
    assert!(heard.try_recv().is_err(), "refusals announce nothing");
    a.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_through_one_instance_signs_on_the_other_within_seconds() {
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;
    // Instance A moves from a Pi: its data directory has a key ring of files.
    let pi = tempfile::tempdir().unwrap();
    KeyRing::load_or_create(pi.path()).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let src_a = KeySource::Shared {
        store: a.clone(),
        data_dir: pi.path().to_path_buf(),
    };
    let src_b = KeySource::Shared {
        store: b.clone(),
        data_dir: empty.path().to_path_buf(),
    };
    // Both start at once on the empty table: one seeds it, both load the same ring.
    let (ra, rb) = tokio::join!(src_a.load(), src_b.load());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.kids(), rb.kids());
    assert_eq!(ra.kids().len(), 1, "seeded once");

    let keys_b = Arc::new(Keys::new(rb));
    let follower = tokio::spawn({
        let keys_b = keys_b.clone();
        async move { follow_shared(b, &keys_b, FOLLOW_PERIOD).await }
    });
    let old = keys_b.signing_kid();
    let rotated = src_a.rotate().await.unwrap();
    let new = rotated.signing_kid().to_string();
    assert_ne!(new, old);
    assert!(
        eventually(|| async { keys_b.signing_kid() == new }).await,
        "B signs with the key rotated through A"
    );
    assert_eq!(keys_b.paserk_document(), rotated.paserk_document());
    assert_eq!(
        rotated.kids(),
        vec![old.clone(), new.clone()],
        "the old key stays published"
    );
    let listed = src_b.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[1].signing && !listed[0].signing);
    assert_eq!(listed[1].kid, new);

    // Retirement: not while the old key's tokens may live, then once, everywhere.
    let made = listed[1].created_at;
    assert_eq!(src_a.retire_old(900, made + 100).await.unwrap(), 0);
    assert_eq!(src_b.retire_old(900, made + 1000).await.unwrap(), 1);
    assert_eq!(src_a.retire_old(900, made + 1000).await.unwrap(), 0);
    assert!(
        eventually(|| async { keys_b.ring().kids() == vec![new.clone()] }).await,
        "B stops publishing the retired key"
    );
    assert_eq!(src_a.load().await.unwrap().kids(), vec![new]);
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_table_takes_the_data_directorys_keys() {
    let cluster = cluster();
    let store = PgStore::connect(&cluster.url(), 2).await.unwrap();
    let pi = tempfile::tempdir().unwrap();
    crate::keys::rotate(pi.path()).unwrap();
    crate::keys::rotate(pi.path()).unwrap();
    let files = KeyRing::load_or_create(pi.path()).unwrap();
    let shared = KeySource::Shared {
        store,
        data_dir: pi.path().to_path_buf(),
    };
    let ring = shared.load().await.unwrap();
    assert_eq!(ring.kids(), files.kids(), "same keys, same order");
    assert_eq!(ring.paserk_document(), files.paserk_document());
    // The files are only a seed: a rotation goes to the table, not the directory.
    shared.rotate().await.unwrap();
    assert_eq!(crate::keys::key_files(pi.path()).unwrap().len(), 2);
    assert_eq!(shared.list().await.unwrap().len(), 3);
}

/// The console's additions on PostgreSQL: the admin role (migration 0003) read
/// back through the other instance, and a client's settings edited in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_role_and_client_settings_are_shared() {
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;
    let ev = |kind| AuditEvent::new(kind, "root", "s");
    let user = User {
        id: "u1".into(),
        username: "alice".into(),
        password_hash: "h".into(),
        disabled: false,
        created_at: 1,
        admin: true,
    };
    assert!(
        a.admin_add_user(user, ev(AuditKind::UserAdded))
            .await
            .unwrap()
    );
    assert!(b.user("alice").await.unwrap().unwrap().admin);
    assert!(
        b.admin_set_role("alice".into(), false, ev(AuditKind::UserRoleSet))
            .await
            .unwrap()
    );
    assert!(!a.user("alice").await.unwrap().unwrap().admin);
    assert!(
        !a.admin_set_role("nobody".into(), true, ev(AuditKind::UserRoleSet))
            .await
            .unwrap()
    );

    assert!(
        a.admin_add_client(client("tv"), ev(AuditKind::ClientAdded))
            .await
            .unwrap()
    );
    let settings = crate::store::ClientPatch {
        name: Some("Living room".into()),
        scopes: Some(vec!["read".into()]),
        grant_types: Some(vec!["device_code".into()]),
        refresh_ttl: Some(Some(60)),
        redirect_uris: Some(vec!["https://tv.example/cb".into()]),
        access_token_format: Some(crate::store::AccessTokenFormat::Jwt),
        poll_interval: Some(Some(9)),
        user_code_format: Some(crate::store::UserCodeFormat::Digits),
        ..Default::default()
    };
    let change = ClientChange::Update(settings.clone());
    assert_eq!(
        b.admin_change_client("tv".into(), change, ev(AuditKind::ClientUpdated))
            .await
            .unwrap(),
        Some(0)
    );
    let mut expected = client("tv");
    settings.apply(&mut expected);
    let listed = a.clients().await.unwrap();
    assert_eq!(listed, vec![expected]);
    let kinds: Vec<_> = a
        .audit_events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::UserRoleSet) && kinds.contains(&AuditKind::ClientUpdated));
}

/// An authorization code redeemed through one instance is spent for the other:
/// presented there again, it revokes the grant the first issued (RFC 6749
/// §4.1.2); the sweep removes it once past its grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_code_is_redeemed_once_across_instances() {
    use crate::grant::{AuthCode, CodeRefusal, NewTokens, Presented};
    use crate::secrets::{keyed_token, new_jti, sha256, time_ordered_id};
    use crate::store::CodeOutcome;
    use base64::Engine as _;
    let cluster = cluster();
    let (a, b) = two_instances(&cluster).await;
    let user = User {
        id: "u-carol".into(),
        username: "carol".into(),
        password_hash: "h".into(),
        disabled: false,
        created_at: 1,
        admin: false,
    };
    let ev = AuditEvent::new(AuditKind::UserAdded, "test", "carol");
    assert!(a.admin_add_user(user, ev).await.unwrap());
    let verifier = "v".repeat(43);
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    let id = time_ordered_id();
    let code = keyed_token(&id);
    let hash = sha256(code.as_bytes());
    let record = AuthCode {
        code_hash: hash,
        client_id: "app".into(),
        redirect_uri: None,
        code_challenge: challenge,
        scope: "read".into(),
        user_id: "u-carol".into(),
        username: "carol".into(),
        created_at: 1_000,
        expires_at: 1_060,
        redeemed: None,
    };
    a.create_auth_code(id, record).await.unwrap();
    let presented = Presented {
        client_id: "app".into(),
        redirect_uri: None,
        code_verifier: verifier.clone(),
    };
    let tokens = || {
        let refresh_id = time_ordered_id();
        NewTokens {
            grant_id: time_ordered_id(),
            refresh_id,
            refresh_hash: sha256(keyed_token(&refresh_id).as_bytes()),
            refresh_expires_at: 9_000,
            jti: new_jti(),
            access_expires_at: 2_000,
            device_ip: "127.0.0.1".into(),
            dpop_jkt: None,
        }
    };
    let first = tokens();
    let CodeOutcome::Issued(issue) = a
        .redeem_auth_code(id, hash, presented.clone(), 1_010, first.clone())
        .await
        .unwrap()
    else {
        panic!("the first redemption issues");
    };
    assert_eq!(issue.grant().id, first.grant_id);
    assert_eq!(
        b.redeem_auth_code(id, hash, presented.clone(), 1_011, tokens())
            .await
            .unwrap(),
        CodeOutcome::Refused(CodeRefusal::Reused)
    );
    let (_, grant) = a
        .access_token(&first.jti)
        .await
        .unwrap()
        .expect("the access token's record");
    assert!(grant.revoked, "reuse revoked the grant the code issued");
    let swept = a.sweep(1_060 + 600).await.unwrap();
    assert_eq!(swept.auth_codes, 1);
    assert_eq!(
        count(&a, "SELECT count(*) FROM authorization_codes").await,
        0
    );
}
