//! Grants, sessions, users and clients on PostgreSQL against a throwaway cluster
//! (`authgate_tests::pg`), with two "instances" (two independent `PgStore`s, each
//! with its pool and its listener) on one database.

use std::time::{Duration, Instant};

use authgate_tests::pg::PgCluster;

use super::notify::{Change, notify_change};
use super::{PgStore, users};
use crate::grant::{
    Decision, DeviceAuth, DeviceStatus, Issue, NewTokens, Presenter, Standing, refresh_is_live,
};
use crate::store::prelude::*;
use crate::store::records::{Client, Session, User};
use crate::store::{
    DecideOutcome, EndSessions, PasswordChange, RedeemOutcome, RevokeOutcome, RotateOutcome,
    SessionMeta, SessionStart,
};

fn cluster() -> PgCluster {
    PgCluster::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn two(cluster: &PgCluster) -> (PgStore, PgStore) {
    let a = PgStore::connect(&cluster.url(), 8)
        .await
        .expect("A connects");
    let b = PgStore::connect(&cluster.url(), 8)
        .await
        .expect("B connects");
    (a, b)
}

/// Waits (at most `secs`, polling every 10 ms) until `done` holds.
async fn wait_until<F: AsyncFnMut() -> bool>(secs: u64, mut done: F) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done().await
}

/// Looks client `id` up on `store` until it is held in memory: the notification
/// of its own creation may still be on its way and evict the first fill.
async fn cache(store: &PgStore, id: &str) {
    assert!(
        wait_until(2, async || {
            store.client(id).await.unwrap().is_some() && store.client_cache().holds(id)
        })
        .await,
        "{id} is cached"
    );
}

/// Commits a notification about client `id` (changing nothing) and waits until
/// `store` evicted it: notifications arrive in commit order, so every one committed
/// before has been applied too.
async fn barrier(notifier: &PgStore, store: &PgStore, id: &str) {
    cache(store, id).await;
    let mut conn = notifier.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    notify_change(&tx, Change::Client(id)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(wait_until(2, async || !store.client_cache().holds(id)).await);
}

fn user(name: &str) -> User {
    User {
        id: format!("id-{name}"),
        username: name.into(),
        password_hash: "x".into(),
        disabled: false,
        created_at: 1,
        admin: false,
    }
}

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: "TV".into(),
        secret_hash: None,
        scopes: vec!["read".into()],
        grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
        disabled: false,
        access_ttl: Some(600),
        refresh_ttl: None,
        created_at: 1,
        audiences: vec![],
        dpop: crate::store::DpopMode::Required,
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        access_token_format: crate::store::AccessTokenFormat::Jwt,
        device_code_ttl: Some(300),
        poll_interval: Some(9),
        user_code_format: crate::store::UserCodeFormat::Digits,
    }
}

async fn add_user(store: &PgStore, name: &str) {
    let mut conn = store.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    assert!(users::insert_user(&tx, &user(name)).await.unwrap());
    tx.commit().await.unwrap();
}

/// Runs `sql` with `params` and notifies `change`, in one transaction (what the
/// admin commands do).
async fn change(store: &PgStore, sql: &str, id: &str, what: Change<'_>) {
    let mut conn = store.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    tx.execute(sql, &[&id]).await.unwrap();
    notify_change(&tx, what).await.unwrap();
    tx.commit().await.unwrap();
}

async fn raw(store: &PgStore, sql: &str) {
    store.conn().await.unwrap().execute(sql, &[]).await.unwrap();
}

fn tokens(n: u8) -> NewTokens {
    NewTokens {
        grant_id: [n; 16],
        refresh_id: [n.wrapping_add(100); 16],
        refresh_hash: [n; 32],
        refresh_expires_at: 100_000,
        jti: format!("jti-{n}"),
        access_expires_at: 2_000,
        device_ip: "192.0.2.7".into(),
        dpop_jkt: Some(format!("jkt-{n}")),
    }
}

/// A grant of `name` to client `tv`, through the device flow on `store`, with the
/// tokens of `tokens(n)`.
async fn grant(store: &PgStore, name: &str, n: u8, code: &str) -> Issue {
    let id = [n; 16];
    let auth = DeviceAuth {
        code_hash: [n; 32],
        client_id: "tv".into(),
        scope: "read".into(),
        user_code: code.into(),
        created_at: 100,
        expires_at: 700,
        interval: 5,
        status: DeviceStatus::Pending,
        requester_ip: "192.0.2.7".into(),
        user_agent: "test".into(),
        dpop_jkt: Some(format!("jkt-{n}")),
    };
    assert!(store.create_device_auth(id, auth).await.unwrap());
    let approve = Decision::Approve {
        user_id: format!("id-{name}"),
        username: name.into(),
    };
    let decided = store.decide(code.into(), None, approve, 110).await.unwrap();
    assert!(matches!(decided, DecideOutcome::Done(_)));
    match store
        .redeem(
            crate::store::PresentedCode::new(id, [n; 32]),
            tv(n),
            120,
            0,
            tokens(n),
        )
        .await
        .unwrap()
    {
        RedeemOutcome::Issued(issue) => *issue,
        other => panic!("not issued: {other:?}"),
    }
}

/// Client `tv` with the key `tokens(n)` binds a grant to.
fn tv(n: u8) -> Presenter {
    Presenter {
        client_id: "tv".into(),
        jkt: Some(format!("jkt-{n}")),
    }
}

/// The refresh token of `tokens(n)`: its key and hash.
fn refresh(n: u8) -> ([u8; 16], [u8; 32]) {
    ([n.wrapping_add(100); 16], [n; 32])
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_of_one_token_on_two_instances_let_exactly_one_win() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "alice").await;
    // Redemption wrote the grant and both its tokens in its transaction.
    let issue = grant(&a, "alice", 1, "BCDFGHJK").await;
    assert_eq!(count(&a, "SELECT count(*) FROM grants").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM refresh_tokens").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM access_tokens").await, 1);
    let (id, hash) = refresh(1);

    let (ra, rb) = tokio::join!(
        a.rotate_refresh(id, hash, tv(1), 200, 0, tokens(2)),
        b.rotate_refresh(id, hash, tv(1), 200, 0, tokens(3)),
    );
    let outcomes = [ra.unwrap(), rb.unwrap()];
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated(_)))
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert!(
        outcomes.contains(&RotateOutcome::ReuseDetected),
        "the loser presented a superseded token: {outcomes:?}"
    );
    // The reuse revoked the family, the winner's new token included.
    let winner = if matches!(outcomes[0], RotateOutcome::Rotated(_)) {
        2
    } else {
        3
    };
    let (new_id, new_hash) = refresh(winner);
    let (token, g) = b.refresh_token(&new_id, &new_hash).await.unwrap().unwrap();
    assert_eq!(g.id, issue.grant().id);
    assert!(g.revoked);
    assert!(!refresh_is_live(&token, &g, &new_hash, 200));
    assert_eq!(
        a.rotate_refresh(new_id, new_hash, tv(1), 201, 0, tokens(4))
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // Many at once on both instances: still one winner; the rest are reuse or,
    // once the family is revoked, invalid.
    let _ = grant(&b, "alice", 10, "WXYZWXYZ").await;
    let mut tasks = Vec::new();
    for n in 0..12u8 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        let (id, hash) = refresh(10);
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh(id, hash, tv(10), 300, 0, tokens(20 + n))
                .await
        }));
    }
    let (mut won, mut reuse) = (0, 0);
    for t in tasks {
        match t.await.unwrap().unwrap() {
            RotateOutcome::Rotated(_) => won += 1,
            RotateOutcome::ReuseDetected => reuse += 1,
            RotateOutcome::Invalid => {}
            RotateOutcome::Retried(_) => panic!("no retry window here"),
        }
    }
    assert_eq!(won, 1);
    assert!(reuse >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_lost_answer_on_two_instances_leave_one_live_pair() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "alice").await;
    let issue = grant(&a, "alice", 1, "BCDFGHJK").await;
    let (id1, hash1) = refresh(1);
    // Token 1 is rotated to token 2 on A; that answer is lost.
    let rotated = a
        .rotate_refresh(id1, hash1, tv(1), 200, 60, tokens(2))
        .await
        .unwrap();
    assert!(matches!(rotated, RotateOutcome::Rotated(_)), "{rotated:?}");
    // The device retries token 1 twice, once through each instance, at once.
    let (ra, rb) = tokio::join!(
        a.rotate_refresh(id1, hash1, tv(1), 210, 60, tokens(3)),
        b.rotate_refresh(id1, hash1, tv(1), 210, 60, tokens(4)),
    );
    let outcomes = [ra.unwrap(), rb.unwrap()];
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, RotateOutcome::Retried(i) if i.grant().id == issue.grant().id)),
        "{outcomes:?}"
    );
    // Serialized by the grant's row lock: the second retired the first's pair.
    let mut live = Vec::new();
    for n in [2u8, 3, 4] {
        let (id, hash) = refresh(n);
        if let Some((t, g)) = b.refresh_token(&id, &hash).await.unwrap()
            && refresh_is_live(&t, &g, &hash, 211)
        {
            live.push(n);
        }
    }
    assert_eq!(live.len(), 1, "one live refresh token: {live:?}");
    // Of the access tokens of the three pairs, only the live pair's is active
    // (the retired pairs' were revoked; token 1's stays valid until it expires,
    // as after any rotation).
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM access_tokens
              WHERE NOT revoked AND jti IN ('jti-2', 'jti-3', 'jti-4')"
        )
        .await,
        1,
        "one live access token"
    );
    assert_eq!(
        count(&a, "SELECT count(*) FROM grants WHERE revoked").await,
        0
    );
    // Another client, or another key, retries nothing and revokes nothing.
    let other = Presenter {
        client_id: "tv".into(),
        jkt: Some("jkt-2".into()),
    };
    for who in [Presenter::bearer("other"), Presenter::bearer("tv"), other] {
        assert_eq!(
            b.rotate_refresh(id1, hash1, who, 211, 60, tokens(5))
                .await
                .unwrap(),
            RotateOutcome::Invalid
        );
    }
    // A retired token coming back is reuse: the family dies.
    let retired = if live == [3] { 4 } else { 3 };
    let (idr, hashr) = refresh(retired);
    assert_eq!(
        a.rotate_refresh(idr, hashr, tv(1), 212, 60, tokens(6))
            .await
            .unwrap(),
        RotateOutcome::ReuseDetected
    );
    assert_eq!(
        count(&a, "SELECT count(*) FROM grants WHERE revoked").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_on_a_and_reused_on_b_revokes_the_family() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "alice").await;
    let first = grant(&a, "alice", 1, "BCDFGHJK").await;
    let (id1, hash1) = refresh(1);
    let RotateOutcome::Rotated(second) = a
        .rotate_refresh(id1, hash1, tv(1), 200, 0, tokens(2))
        .await
        .unwrap()
    else {
        panic!("rotates");
    };
    let g = second.grant();
    assert_eq!(g.id, first.grant().id);
    assert_eq!((g.last_refreshed_at, g.jti.as_str()), (Some(200), "jti-2"));
    // The new token is live on B; the old one is not, and is kept for detection.
    let (id2, hash2) = refresh(2);
    let (t2, g2) = b.refresh_token(&id2, &hash2).await.unwrap().unwrap();
    assert!(refresh_is_live(&t2, &g2, &hash2, 201));
    // The DPoP binding is the grant's for life: read back on another instance,
    // and kept by rotation (tokens(2) would bind jkt-2 if rotation rebound).
    assert_eq!(g2.dpop_jkt.as_deref(), Some("jkt-1"));
    let (t1, g1) = b.refresh_token(&id1, &hash1).await.unwrap().unwrap();
    assert!(!refresh_is_live(&t1, &g1, &hash1, 201));
    // A wrong hash finds nothing; another client's exchange changes nothing.
    assert!(b.refresh_token(&id2, &[0; 32]).await.unwrap().is_none());
    assert_eq!(
        b.rotate_refresh(id2, hash2, "other".into(), 201, 0, tokens(5))
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // The old token comes back through B: reuse, the whole grant is revoked.
    assert_eq!(
        b.rotate_refresh(id1, hash1, tv(1), 210, 0, tokens(3))
            .await
            .unwrap(),
        RotateOutcome::ReuseDetected
    );
    assert_eq!(
        a.rotate_refresh(id2, hash2, tv(1), 211, 0, tokens(4))
            .await
            .unwrap(),
        RotateOutcome::Invalid,
        "the current token died with its family"
    );
    let (at, ag) = a.access_token("jti-2").await.unwrap().unwrap();
    assert!(ag.revoked, "its access tokens introspect inactive");
    assert_eq!(
        (at.grant_id, at.expires_at, at.revoked),
        (ag.id, 2_000, false)
    );
    let listed = b.grants_of_user("id-alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_and_a_disabled_user_follow_the_redb_rules() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "alice").await;
    add_user(&a, "bob").await;
    let _ = grant(&a, "alice", 1, "BCDFGHJK").await;
    let _ = grant(&b, "alice", 2, "CDFGHJKL").await;
    let g3 = grant(&b, "bob", 3, "DFGHJKLM").await;

    // RFC 7009: access tokens by jti, refresh tokens revoke their grant.
    assert_eq!(
        b.revoke_access("jti-1".into(), "other".into())
            .await
            .unwrap(),
        RevokeOutcome::WrongClient
    );
    assert_eq!(
        b.revoke_access("nope".into(), "tv".into()).await.unwrap(),
        RevokeOutcome::Unknown
    );
    assert_eq!(
        b.revoke_access("jti-1".into(), "tv".into()).await.unwrap(),
        RevokeOutcome::Revoked
    );
    assert!(a.access_token("jti-1").await.unwrap().unwrap().0.revoked);
    let (id2, hash2) = refresh(2);
    assert_eq!(
        a.revoke_refresh(id2, [0; 32], "tv".into(), 300)
            .await
            .unwrap(),
        RevokeOutcome::Unknown
    );
    assert_eq!(
        a.revoke_refresh(id2, hash2, "other".into(), 300)
            .await
            .unwrap(),
        RevokeOutcome::WrongClient
    );
    assert_eq!(
        a.revoke_refresh(id2, hash2, "tv".into(), 300)
            .await
            .unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(
        a.revoke_refresh(id2, hash2, "tv".into(), 301)
            .await
            .unwrap(),
        RevokeOutcome::Revoked,
        "again: already revoked"
    );

    // The account page: only one's own grants, newest first; another user's grant
    // can't be revoked by id.
    let ids: Vec<_> = b
        .grants_of_user("id-alice")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        a.revoke_user_grants("id-alice".into(), Some(g3.grant().id), 400)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        a.revoke_user_grants("id-alice".into(), None, 400)
            .await
            .unwrap(),
        1,
        "only the unrevoked one"
    );
    assert!(
        b.grants_of_user("id-alice")
            .await
            .unwrap()
            .iter()
            .all(|g| g.revoked)
    );
    assert!(!b.grants_of_user("id-bob").await.unwrap()[0].revoked);

    // Bob is disabled through B: his next refresh on A is refused and his grant
    // revoked, in that transaction.
    change(
        &b,
        "UPDATE users SET disabled = true WHERE id = $1",
        "id-bob",
        Change::User("id-bob"),
    )
    .await;
    let (id3, hash3) = refresh(3);
    assert_eq!(
        a.rotate_refresh(id3, hash3, tv(3), 500, 0, tokens(9))
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert!(b.grants_of_user("id-bob").await.unwrap()[0].revoked);
    assert!(
        a.user("bob").await.unwrap().unwrap().disabled,
        "no user cache"
    );

    // `client disable` revokes what is left of the client's grants, in its
    // transaction.
    let _ = grant(&a, "alice", 4, "FGHJKLMN").await;
    let mut conn = b.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    assert_eq!(
        super::grants::revoke_client_in(&tx, "tv", 600)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(
        count(&a, "SELECT count(*) FROM grants WHERE NOT revoked").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_reads_one_users_grants_through_the_index() {
    let cluster = cluster();
    let (a, _b) = two(&cluster).await;
    add_user(&a, "alice").await;
    raw(
        &a,
        "INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                             expires_at, current_refresh, refresh_id, jti, device_ip)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'seed-' || n, 'seed' || n, 'tv',
                'read', n, 100000, decode(repeat('00', 32), 'hex'),
                decode(repeat('00', 16), 'hex'), '', '192.0.2.1'
           FROM generate_series(1, 20000) AS n",
    )
    .await;
    let _ = grant(&a, "alice", 1, "BCDFGHJK").await;
    let _ = grant(&a, "alice", 2, "CDFGHJKL").await;
    raw(&a, "ANALYZE grants").await;
    let plan: Vec<String> = a
        .conn()
        .await
        .unwrap()
        .query(
            "EXPLAIN SELECT * FROM grants g WHERE g.user_id = $1 ORDER BY g.created_at DESC",
            &[&"id-alice"],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("grants_by_user"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    let mine = a.grants_of_user("id-alice").await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|g| g.user_id == "id-alice"));
}

fn session(user: &str, now: u64) -> (Session, SessionMeta) {
    (
        Session {
            user_id: format!("id-{user}"),
            username: user.into(),
            created_at: now,
            expires_at: now + 12 * 3600,
        },
        SessionMeta {
            user_id: format!("id-{user}"),
            created_at: now,
            last_seen_at: now,
            idle_secs: 3600,
            ip: "192.0.2.1".into(),
            user_agent: "test".into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_a_is_valid_on_b_with_the_same_timeouts() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "u1").await;
    add_user(&a, "u2").await;
    let now = 1_000_000;
    let (x, y, z) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    for (h, u) in [(x, "u1"), (y, "u1"), (z, "u2")] {
        let (s, m) = session(u, now);
        assert_eq!(
            a.start_session(h, s, m, None).await.unwrap(),
            SessionStart::Started
        );
    }
    let (s, m) = b.live_session(&x, now + 3599).await.unwrap().expect("on B");
    assert_eq!(
        (s.username.as_str(), m.map(|m| m.ip)),
        ("u1", Some("192.0.2.1".into()))
    );
    assert!(
        b.live_session(&x, now + 3600).await.unwrap().is_none(),
        "idle"
    );

    // A touch inside the gap changes nothing; after it, it moves last_seen for all.
    b.touch_session(x, now + 60, 300).await.unwrap();
    let seen = |s: Option<(Session, Option<SessionMeta>)>| s.unwrap().1.unwrap().last_seen_at;
    assert_eq!(seen(a.live_session(&x, now + 60).await.unwrap()), now);
    b.touch_session(x, now + 3000, 300).await.unwrap();
    assert_eq!(
        seen(a.live_session(&x, now + 3000).await.unwrap()),
        now + 3000
    );
    assert!(
        a.live_session(&x, now + 6000).await.unwrap().is_some(),
        "touched"
    );
    assert!(
        a.live_session(&x, now + 12 * 3600).await.unwrap().is_none(),
        "absolute"
    );
    let listed: Vec<_> = b
        .sessions_of_user("id-u1", now + 3000)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.hash)
        .collect();
    assert_eq!(listed, vec![x, y], "most recently active first");

    // Someone else's session can't be ended by hash; sign out the others on B.
    assert_eq!(
        b.end_user_sessions("id-u2".into(), EndSessions::One(x))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        b.end_user_sessions("id-u1".into(), EndSessions::AllExcept(x))
            .await
            .unwrap(),
        1
    );
    assert!(a.live_session(&y, now + 10).await.unwrap().is_none());

    // A new sign-in replacing x (a new id per login); then a password change on A
    // keeps only the browser asking.
    let (s, m) = session("u1", now + 100);
    a.start_session(y, s, m, Some(x)).await.unwrap();
    assert!(
        b.live_session(&x, now + 100).await.unwrap().is_none(),
        "replaced"
    );
    let (s, m) = session("u1", now + 100);
    b.start_session(x, s, m, None).await.unwrap();
    assert_eq!(
        a.change_password("id-u1".into(), "u1".into(), "new".into(), y)
            .await
            .unwrap(),
        PasswordChange::Changed { signed_out: 1 }
    );
    assert_eq!(b.user("u1").await.unwrap().unwrap().password_hash, "new");
    assert_eq!(
        b.change_password("id-other".into(), "u1".into(), "x".into(), y)
            .await
            .unwrap(),
        PasswordChange::UnknownUser
    );
    a.end_session(y).await.unwrap();
    assert!(
        b.sessions_of_user("id-u1", now + 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A user disabled on B gets no session on A.
    change(
        &b,
        "UPDATE users SET disabled = true WHERE id = $1",
        "id-u2",
        Change::User("id-u2"),
    )
    .await;
    let (s, m) = session("u2", now);
    assert_eq!(
        a.start_session([9; 32], s, m, Some(z)).await.unwrap(),
        SessionStart::UserInactive
    );
    assert!(
        b.live_session(&z, now).await.unwrap().is_none(),
        "replaced still ends"
    );
    assert_eq!(count(&a, "SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disabled_through_a_is_refused_by_b_at_once() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    assert!(wait_until(10, async || b.client_cache().is_live()).await);
    // Bootstrap on both at once: exactly one does it.
    let (ra, rb) = tokio::join!(
        a.bootstrap(user("admin"), vec![client("tv"), client("barrier")]),
        b.bootstrap(user("root"), vec![client("tv"), client("barrier")]),
    );
    assert_eq!([ra.unwrap(), rb.unwrap()].iter().filter(|d| **d).count(), 1);
    assert_eq!(count(&a, "SELECT count(*) FROM users").await, 1);
    assert_eq!(
        b.clients().await.unwrap(),
        vec![client("barrier"), client("tv")]
    );
    assert_eq!(a.users().await.unwrap().len(), 1);
    // The bootstrap's own notices may still be on their way to B: once B has heard a
    // later one (notices arrive in commit order), none of them can evict what B
    // caches next.
    barrier(&a, &b, "barrier").await;

    // B serves the client from memory: a change without a notification goes unseen.
    cache(&b, "tv").await;
    assert!(!b.client("tv").await.unwrap().unwrap().disabled);
    assert!(b.client("nobody").await.unwrap().is_none());
    assert!(!b.client_cache().holds("nobody"));
    raw(&a, "UPDATE clients SET name = 'silent' WHERE id = 'tv'").await;
    assert_eq!(b.client("tv").await.unwrap().unwrap().name, "TV", "cached");

    // Disabled through A, with its notification: B refuses it at once.
    change(
        &a,
        "UPDATE clients SET disabled = true WHERE id = $1",
        "tv",
        Change::Client("tv"),
    )
    .await;
    assert!(
        wait_until(2, async || b.client("tv").await.unwrap().unwrap().disabled).await,
        "B still accepts the disabled client"
    );
    assert_eq!(b.client("tv").await.unwrap().unwrap().name, "silent");
    // A's own cache heard it too.
    assert!(a.client("tv").await.unwrap().unwrap().disabled);
    // A change that rolls back tells no one.
    cache(&b, "tv").await;
    {
        let mut conn = a.conn().await.unwrap();
        let tx = conn.transaction().await.unwrap();
        notify_change(&tx, Change::Client("tv")).await.unwrap();
        tx.rollback().await.unwrap();
    }
    barrier(&a, &b, "barrier").await;
    assert!(b.client_cache().holds("tv"), "still cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_cache_is_dropped_when_the_listener_reconnects_after_a_restart() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    assert!(wait_until(10, async || b.client_cache().listens() == 1).await);
    {
        let mut conn = a.conn().await.unwrap();
        let tx = conn.transaction().await.unwrap();
        users::insert_client(&tx, &client("tv")).await.unwrap();
        tx.commit().await.unwrap();
    }
    cache(&b, "tv").await;
    assert_eq!(b.client("tv").await.unwrap().unwrap().name, "TV");

    cluster.stop().unwrap();
    assert!(
        wait_until(10, async || !b.client_cache().is_live()).await,
        "the listener noticed the database going away"
    );
    assert!(
        !b.client_cache().holds("tv"),
        "nothing is served while dark"
    );
    assert!(b.client("tv").await.unwrap_err().is_unavailable());
    cluster.restart().unwrap();
    assert!(
        wait_until(15, async || b.client_cache().listens() == 2).await,
        "the listener reconnected by itself"
    );
    // A change no notification told B about (as if missed while it was away).
    let mut renamed = false;
    for _ in 0..5 {
        if let Ok(conn) = a.conn().await
            && conn
                .execute("UPDATE clients SET name = 'after' WHERE id = 'tv'", &[])
                .await
                .is_ok()
        {
            renamed = true;
            break;
        }
    }
    assert!(renamed);
    let mut name = None;
    for _ in 0..5 {
        if let Ok(found) = b.client("tv").await {
            name = found.map(|c| c.name.clone());
            break;
        }
    }
    assert_eq!(name.as_deref(), Some("after"), "the cache started empty");
    assert!(
        b.client_cache().holds("tv"),
        "and caches again: live {} listens {}",
        b.client_cache().is_live(),
        b.client_cache().listens()
    );
    let _ = Standing::Active;
}

/// What `user disable` does (the admin commands' order): the user's row, then
/// their sessions and grants, then the flag and the notification, in one
/// transaction.
async fn disable(store: &PgStore, username: &str, now: u64) {
    let mut conn = store.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    let row = tx
        .query_one(
            "SELECT id FROM users WHERE username = $1 FOR UPDATE",
            &[&username],
        )
        .await
        .unwrap();
    let id: String = row.get(0);
    super::sessions::end_user_sessions_in(&tx, &id, None)
        .await
        .unwrap();
    super::grants::revoke_user_in(&tx, &id, None, now)
        .await
        .unwrap();
    tx.execute("UPDATE users SET disabled = true WHERE id = $1", &[&id])
        .await
        .unwrap();
    notify_change(&tx, Change::User(&id)).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_racing_refreshes_and_sign_ins_on_two_instances_leaves_nothing_live() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "dave").await;
    let codes = ["BCDFGHJK", "CDFGHJKL", "DFGHJKLM", "FGHJKLMN"];
    for (n, code) in (1u8..).zip(codes) {
        let _ = grant(if n % 2 == 0 { &a } else { &b }, "dave", n, code).await;
        let (s, m) = session("dave", 100);
        a.start_session([n; 32], s, m, None).await.unwrap();
    }
    let mut tasks = Vec::new();
    for n in 1..=4u8 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let (id, hash) = refresh(n);
            let rotated = store
                .rotate_refresh(id, hash, tv(n), 200, 0, tokens(40 + n))
                .await?;
            let (s, m) = session("dave", 200);
            let started = store
                .start_session([40 + n; 32], s, m, Some([n; 32]))
                .await?;
            Ok::<_, crate::store::StoreError>((rotated, started))
        }));
    }
    disable(&a, "dave", 200).await;
    for t in tasks {
        // Every transaction commits: none was chosen as a deadlock victim.
        let (rotated, _started) = t.await.unwrap().expect("no deadlock, no error");
        assert!(!matches!(rotated, RotateOutcome::ReuseDetected));
    }
    // Whatever ran before the disable was swept along by it; whatever ran after
    // saw the user disabled. Either way nothing of dave's is live.
    assert!(
        b.grants_of_user("id-dave")
            .await
            .unwrap()
            .iter()
            .all(|g| g.revoked)
    );
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM sessions WHERE user_id = 'id-dave'"
        )
        .await,
        0
    );
    let (id, hash) = refresh(41);
    assert!(matches!(
        b.rotate_refresh(id, hash, tv(1), 300, 0, tokens(60))
            .await
            .unwrap(),
        RotateOutcome::Invalid
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_waiting_on_a_disable_holds_no_session_row_it_needs() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    add_user(&a, "erin").await;
    let (s, m) = session("erin", 100);
    a.start_session([1; 32], s, m, None).await.unwrap();
    // `user disable` has locked erin's row and not yet ended her sessions.
    let mut conn = a.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    tx.execute(
        "SELECT id FROM users WHERE username = 'erin' FOR UPDATE",
        &[],
    )
    .await
    .unwrap();
    // Meanwhile the browser signs in again on B, replacing its session.
    let sign_in = tokio::spawn(async move {
        let (s, m) = session("erin", 200);
        b.start_session([2; 32], s, m, Some([1; 32])).await
    });
    let waiting = async || {
        count(
            &a,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
        )
        .await
            > 0
    };
    assert!(
        wait_until(5, waiting).await,
        "the sign-in waits for the user row"
    );
    // The disable goes on to the sessions: had the sign-in already locked the one
    // it replaces, this would be a deadlock and one of the two would fail.
    let ended = super::sessions::end_user_sessions_in(&tx, "id-erin", None)
        .await
        .expect("no deadlock");
    assert_eq!(ended, 1);
    tx.execute(
        "UPDATE users SET disabled = true WHERE username = 'erin'",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        sign_in.await.unwrap().expect("no deadlock"),
        SessionStart::UserInactive
    );
    assert_eq!(count(&a, "SELECT count(*) FROM sessions").await, 0);
}
