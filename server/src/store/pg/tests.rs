//! The PostgreSQL backend against a throwaway cluster of its own
//! (`authgate_tests::pg`): migrations under concurrency, and the device requests
//! with two "instances" (two independent pools) on one database.

use authgate_tests::pg::PgCluster;
use tokio_postgres::NoTls;

use super::{PgStore, migrate};
use crate::grant::{Decision, DeviceAuth, DeviceStatus, NewTokens, Refusal};
use crate::store::prelude::*;
use crate::store::{DecideOutcome, Pending, RedeemOutcome};

fn cluster() -> PgCluster {
    PgCluster::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn raw(cluster: &PgCluster) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&cluster.url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

fn request(user_code: &str, created_at: u64, code_hash: [u8; 32]) -> DeviceAuth {
    DeviceAuth {
        code_hash,
        client_id: "tv".into(),
        scope: "read".into(),
        user_code: user_code.into(),
        created_at,
        expires_at: created_at + 600,
        interval: 5,
        status: DeviceStatus::Pending,
        requester_ip: "192.0.2.7".into(),
        user_agent: "test".into(),
        dpop_jkt: None,
    }
}

fn tokens(n: u8) -> NewTokens {
    NewTokens {
        grant_id: [n; 16],
        refresh_id: [n.wrapping_add(100); 16],
        refresh_hash: [n; 32],
        refresh_expires_at: 10_000,
        jti: format!("jti-{n}"),
        access_expires_at: 2_000,
        device_ip: "192.0.2.7".into(),
        dpop_jkt: None,
    }
}

fn approve(user: &str) -> Decision {
    Decision::Approve {
        user_id: format!("id-{user}"),
        username: user.into(),
    }
}

async fn add_user(store: &PgStore, user: &str, disabled: bool) {
    store
        .conn()
        .await
        .unwrap()
        .execute(
            "INSERT INTO users (id, username, password_hash, disabled, created_at)
             VALUES ($1, $2, 'x', $3, 1)",
            &[&format!("id-{user}"), &user, &disabled],
        )
        .await
        .unwrap();
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
async fn migrations_applied_by_two_instances_at_once_run_once() {
    let cluster = cluster();
    let (mut a, mut b) = (raw(&cluster).await, raw(&cluster).await);
    let (ra, rb) = tokio::join!(migrate::migrate(&mut a), migrate::migrate(&mut b));
    let (ra, rb) = (
        ra.expect("instance A migrates"),
        rb.expect("instance B migrates"),
    );
    let mut applied = [ra, rb].concat();
    applied.sort();
    let every: Vec<i32> = migrate::MIGRATIONS.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        applied, every,
        "each version applied by exactly one of them"
    );
    let rows = a
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), every.len());
    assert_eq!(rows[rows.len() - 1].get::<_, i32>(0), migrate::latest());
    // Idempotent: a restart applies nothing.
    assert!(migrate::migrate(&mut a).await.unwrap().is_empty());
    // Poll pacing and throttle counters produce no WAL.
    let persistence: i8 = a
        .query_one(
            "SELECT relpersistence::\"char\" FROM pg_class WHERE relname = 'rate_counters'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(persistence as u8, b'u', "rate_counters is UNLOGGED");
    // A database from a newer build is refused, not run against.
    a.execute("INSERT INTO schema_migrations (version) VALUES (999)", &[])
        .await
        .unwrap();
    let err = migrate::migrate(&mut b).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

/// The user-code lookups are two primary-key probes under the generic plans the
/// pool forces, whatever the table held when a connection first planned them: as
/// a join, planned on an empty table, they went on scanning all of
/// `device_requests` as it grew (830 µs per lookup a few thousand rows in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_code_lookups_probe_keys_and_never_scan_the_requests() {
    let cluster = cluster();
    let store = PgStore::connect(&cluster.url(), 2).await.unwrap();
    let client = store.conn().await.unwrap();
    let lookups = [
        &*super::devices::BY_USER_CODE,
        &*super::devices::BY_USER_CODE_LOCKED,
    ];
    // Planned once on the empty tables, as a fresh instance does...
    for (n, sql) in lookups.iter().enumerate() {
        client
            .batch_execute(&format!(
                "SET plan_cache_mode = force_generic_plan;
                 PREPARE lookup{n}(text) AS {sql};
                 EXECUTE lookup{n}('U42');"
            ))
            .await
            .unwrap();
    }
    // ...then used while thousands of requests arrive.
    client
        .batch_execute(
            "INSERT INTO device_requests (id, code_hash, client_id, scope, user_code,
                 created_at, expires_at, interval, status, requester_ip, user_agent)
             SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), decode(repeat('00', 32), 'hex'),
                    'tv', 'read', 'U' || n, 100, 700, 5, 'pending', '192.0.2.7', 'test'
               FROM generate_series(1, 5000) AS n;
             INSERT INTO user_codes (user_code, request_id, client_id, expires_at)
             SELECT user_code, id, client_id, expires_at FROM device_requests;",
        )
        .await
        .unwrap();
    for (n, sql) in lookups.iter().enumerate() {
        let answer = client
            .simple_query(&format!("EXPLAIN EXECUTE lookup{n}('U42')"))
            .await
            .unwrap();
        let plan: Vec<&str> = answer
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0),
                _ => None,
            })
            .collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{sql}\n{plan}");
        assert!(plan.contains("device_requests_pkey"), "{plan}");
        assert!(plan.contains("user_codes_pkey"), "{plan}");
    }
    // And it finds what it looks up.
    let found = store.device_auth_by_user_code("U42").await.unwrap();
    assert_eq!(found.map(|d| d.user_code), Some("U42".to_string()));
}

/// A consent page's decision lands only on the request it showed, on either
/// path of `decide` (the unlocked read and the locked one): once that request
/// expired and a new one took its user code, the old page's reference decides
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_lands_only_on_the_request_its_page_showed() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let old = request("BCDFGHJK", 100, [1; 32]);
    let new = DeviceAuth {
        created_at: 800,
        expires_at: 1_400,
        ..request("BCDFGHJK", 800, [2; 32])
    };
    assert!(a.create_device_auth([1; 16], old.clone()).await.unwrap());
    assert!(a.create_device_auth([2; 16], new.clone()).await.unwrap());
    let stale = a
        .decide(
            "BCDFGHJK".into(),
            Some(old.reference()),
            Decision::Deny,
            900,
        )
        .await
        .unwrap();
    assert_eq!(stale, DecideOutcome::NotFound);
    let stale_locked = a
        .decide_locked(
            "BCDFGHJK".into(),
            Some(old.reference()),
            Decision::Deny,
            900,
        )
        .await
        .unwrap();
    assert_eq!(stale_locked, DecideOutcome::NotFound);
    let pending = a.device_auth(&[2; 16], &[2; 32]).await.unwrap();
    assert_eq!(pending.map(|p| p.status), Some(DeviceStatus::Pending));
    // The locked path decides the shown request (it reads the id after the
    // record's columns).
    let shown = a
        .decide_locked(
            "BCDFGHJK".into(),
            Some(new.reference()),
            Decision::Deny,
            900,
        )
        .await
        .unwrap();
    assert!(matches!(shown, DecideOutcome::Done(_)), "{shown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_request_created_on_one_instance_is_decided_and_redeemed_once_on_another() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    add_user(&a, "alice", false).await;
    let id = [1; 16];
    let hash = [9; 32];
    assert!(
        a.create_device_auth(id, request("BCDFGHJK", 100, hash))
            .await
            .unwrap()
    );
    // The live code is taken on every instance.
    assert!(
        !b.create_device_auth([2; 16], request("BCDFGHJK", 101, [8; 32]))
            .await
            .unwrap(),
        "a live user code is not handed out twice"
    );
    assert_eq!(count(&a, "SELECT count(*) FROM device_requests").await, 1);

    // Found through B; the polling read checks the device code's hash.
    let found = b
        .device_auth_by_user_code("BCDFGHJK")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, request("BCDFGHJK", 100, hash));
    assert!(b.device_auth(&id, &[0; 32]).await.unwrap().is_none());
    assert!(b.device_auth(&id, &hash).await.unwrap().is_some());
    assert_eq!(
        a.redeem(
            crate::store::PresentedCode::new(id, hash),
            "tv".into(),
            110,
            0,
            tokens(1)
        )
        .await
        .unwrap(),
        RedeemOutcome::Pending
    );

    // Approved through B, once.
    let done = b
        .decide("BCDFGHJK".into(), None, approve("alice"), 120)
        .await
        .unwrap();
    assert!(matches!(done, DecideOutcome::Done(ref d)
        if matches!(d.status, DeviceStatus::Approved { ref username, at: 120, .. } if username == "alice")));
    assert_eq!(
        a.decide("BCDFGHJK".into(), None, Decision::Deny, 121)
            .await
            .unwrap(),
        DecideOutcome::NotFound,
        "a decided request leaves the user code lookup"
    );
    assert!(
        a.device_auth_by_user_code("BCDFGHJK")
            .await
            .unwrap()
            .is_none()
    );

    // Another client's poll, or a wrong code, redeems nothing.
    assert_eq!(
        a.redeem(
            crate::store::PresentedCode::new(id, hash),
            "other".into(),
            130,
            0,
            tokens(1)
        )
        .await
        .unwrap(),
        RedeemOutcome::Refused(Refusal::WrongClient)
    );
    assert_eq!(
        a.redeem(
            crate::store::PresentedCode::new(id, [0; 32]),
            "tv".into(),
            130,
            0,
            tokens(1)
        )
        .await
        .unwrap(),
        RedeemOutcome::Unknown
    );

    // Two instances redeem at once: exactly one wins; the other, waiting for the
    // winner's commit, finds the code redeemed and its tokens unused, so it is a
    // retry (a lost answer) and retires the winner's pair.
    let (ra, rb) = tokio::join!(
        a.redeem(
            crate::store::PresentedCode::new(id, hash),
            "tv".into(),
            130,
            60,
            tokens(1)
        ),
        b.redeem(
            crate::store::PresentedCode::new(id, hash),
            "tv".into(),
            130,
            60,
            tokens(2)
        ),
    );
    let outcomes = [ra.unwrap(), rb.unwrap()];
    let issued: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            RedeemOutcome::Issued(issue) => Some(issue.grant().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(issued.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, RedeemOutcome::Retried(i) if i.grant().id == issued[0].id)),
        "{outcomes:?}"
    );
    let grant = &issued[0];
    assert_eq!(
        (grant.user_id.as_str(), grant.client_id.as_str()),
        ("id-alice", "tv")
    );
    assert_eq!(count(&a, "SELECT count(*) FROM grants").await, 1);
    assert_eq!(count(&a, "SELECT count(*) FROM refresh_tokens").await, 2);
    assert_eq!(
        count(&a, "SELECT count(*) FROM access_tokens WHERE NOT revoked").await,
        1,
        "one live pair"
    );
    let stored = a.device_auth(&id, &hash).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        DeviceStatus::Redeemed {
            at: 130,
            grant_id: grant.id
        }
    );

    // After it expired, its user code may be handed out again.
    assert!(
        b.create_device_auth([3; 16], request("BCDFGHJK", 800, [7; 32]))
            .await
            .unwrap()
    );
    // The redeemed request (expired at 700) is not counted; the new pending one
    // (expiring at 1400) is, in its window only.
    assert_eq!(a.device_codes_expired_between(0, 1_399).await.unwrap(), 0);
    assert_eq!(
        a.device_codes_expired_between(1_000, 1_400).await.unwrap(),
        1
    );
    assert_eq!(
        a.device_codes_expired_between(1_400, 10_000).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_racing_redemptions_on_two_instances_issue_one_grant() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 8).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 8).await.unwrap();
    add_user(&a, "bob", false).await;
    let hash = [5; 32];
    assert!(
        a.create_device_auth([7; 16], request("WXYZWXYZ", 100, hash))
            .await
            .unwrap()
    );
    assert!(matches!(
        b.decide("WXYZWXYZ".into(), None, approve("bob"), 110)
            .await
            .unwrap(),
        DecideOutcome::Done(_)
    ));
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .redeem(
                    crate::store::PresentedCode::new([7; 16], hash),
                    "tv".into(),
                    120,
                    60,
                    tokens(n + 1),
                )
                .await
        }));
    }
    let (mut issued, mut retried) = (0, 0);
    for t in tasks {
        match t.await.unwrap().unwrap() {
            RedeemOutcome::Issued(_) => issued += 1,
            RedeemOutcome::Retried(_) => retried += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // One redemption; every other poll, serialized behind it by the row locks,
    // retried its still unused pair away: one grant, one live pair.
    assert_eq!((issued, retried), (1, 15));
    assert_eq!(count(&a, "SELECT count(*) FROM grants").await, 1);
    assert_eq!(
        count(&a, "SELECT count(*) FROM access_tokens WHERE NOT revoked").await,
        1
    );
    let live = count(
        &a,
        "SELECT count(*) FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id
          WHERE rt.token_hash = g.current_refresh AND NOT g.revoked",
    )
    .await;
    assert_eq!(live, 1);

    // Without a window (0), the same race is a replay: the grant is revoked.
    assert!(
        a.create_device_auth([8; 16], request("XYZWXYZW", 100, [6; 32]))
            .await
            .unwrap()
    );
    assert!(matches!(
        b.decide("XYZWXYZW".into(), None, approve("bob"), 110)
            .await
            .unwrap(),
        DecideOutcome::Done(_)
    ));
    let (ra, rb) = tokio::join!(
        a.redeem(
            crate::store::PresentedCode::new([8; 16], [6; 32]),
            "tv".into(),
            120,
            0,
            tokens(40)
        ),
        b.redeem(
            crate::store::PresentedCode::new([8; 16], [6; 32]),
            "tv".into(),
            120,
            0,
            tokens(41)
        ),
    );
    let mut outcomes = [ra.unwrap(), rb.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, RedeemOutcome::Replayed));
    assert!(
        matches!(
            outcomes,
            [RedeemOutcome::Issued(_), RedeemOutcome::Replayed]
        ),
        "{outcomes:?}"
    );
    let revoked = count(&a, "SELECT count(*) FROM grants WHERE revoked").await;
    assert_eq!(revoked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_decisions_record_one_and_a_disabled_approver_is_denied() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    add_user(&a, "carol", false).await;
    let hash = [6; 32];
    assert!(
        a.create_device_auth([4; 16], request("QRSTQRST", 100, hash))
            .await
            .unwrap()
    );
    let (da, db) = tokio::join!(
        a.decide("QRSTQRST".into(), None, approve("carol"), 110),
        b.decide("QRSTQRST".into(), None, Decision::Deny, 110),
    );
    let decided = [da.unwrap(), db.unwrap()];
    let done = decided
        .iter()
        .filter(|d| matches!(d, DecideOutcome::Done(_)))
        .count();
    assert_eq!(done, 1, "{decided:?}");
    assert!(
        decided.iter().all(|d| matches!(
            d,
            DecideOutcome::Done(_) | DecideOutcome::NotFound | DecideOutcome::AlreadyDecided
        )),
        "{decided:?}"
    );

    // Approved, then the approver is disabled (on another instance) before the poll.
    assert!(
        a.create_device_auth([5; 16], request("MNPQMNPQ", 100, hash))
            .await
            .unwrap()
    );
    assert!(matches!(
        a.decide("MNPQMNPQ".into(), None, approve("carol"), 110)
            .await
            .unwrap(),
        DecideOutcome::Done(_)
    ));
    b.conn()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET disabled = true WHERE username = 'carol'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        a.redeem(
            crate::store::PresentedCode::new([5; 16], hash),
            "tv".into(),
            120,
            0,
            tokens(1)
        )
        .await
        .unwrap(),
        RedeemOutcome::Refused(Refusal::Denied)
    );
    let stored = b.device_auth(&[5; 16], &hash).await.unwrap().unwrap();
    assert_eq!(stored.status, DeviceStatus::Denied { at: 120 });
    assert_eq!(count(&a, "SELECT count(*) FROM grants").await, 0);

    // An expired request can no longer be decided.
    assert!(
        a.create_device_auth([6; 16], request("JKLMJKLM", 100, hash))
            .await
            .unwrap()
    );
    assert_eq!(
        b.decide("JKLMJKLM".into(), None, Decision::Deny, 700)
            .await
            .unwrap(),
        DecideOutcome::Expired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_fails_fast_while_the_database_is_down_and_recovers_by_itself() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 2).await.unwrap();
    assert!(
        a.create_device_auth([1; 16], request("BBBBCCCC", 100, [1; 32]))
            .await
            .unwrap()
    );
    cluster.stop().unwrap();
    let started = std::time::Instant::now();
    let err = a.device_auth(&[1; 16], &[1; 32]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "fails fast"
    );
    cluster.restart().unwrap();
    // The first checkout after the restart may still find a dead connection; within
    // a few tries the pool has replaced them all.
    let mut back = None;
    for _ in 0..5 {
        if let Ok(found) = a.device_auth(&[1; 16], &[1; 32]).await {
            back = Some(found);
            break;
        }
    }
    assert!(
        back.flatten().is_some(),
        "the committed request survived the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_alternating_between_two_instances_too_fast_get_slow_down() {
    use crate::polls::Pacing;
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 2).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 2).await.unwrap();
    let code = [3; 32];
    let t0 = 1_000_000_000u64;
    // First poll on A, on time.
    assert_eq!(a.record_poll(&code, 5, t0).await.unwrap(), Pacing::Ok);
    // 1 s later on B: too fast, the interval grows to 10 s.
    assert_eq!(
        b.record_poll(&code, 5, t0 + 1_000).await.unwrap(),
        Pacing::SlowDown(10)
    );
    // 6 s later on A: still too fast for 10 s; 15 s.
    assert_eq!(
        a.record_poll(&code, 5, t0 + 7_000).await.unwrap(),
        Pacing::SlowDown(15)
    );
    // 15 s later (less the slack) on B: on time, the interval stays.
    assert_eq!(
        b.record_poll(&code, 5, t0 + 21_600).await.unwrap(),
        Pacing::Ok
    );
    assert_eq!(
        a.record_poll(&code, 5, t0 + 36_600).await.unwrap(),
        Pacing::Ok
    );
    // Another code is paced on its own.
    assert_eq!(
        b.record_poll(&[4; 32], 5, t0 + 36_700).await.unwrap(),
        Pacing::Ok
    );
    // The pacing rows are in the UNLOGGED table.
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM rate_counters WHERE scope = 'poll'"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_first_polls_on_two_instances_count_as_one_device() {
    use crate::polls::Pacing;
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..10u64 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.record_poll(&[8; 32], 5, 2_000_000_000 + n).await
        }));
    }
    let mut slowed = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Pacing::Ok => {}
            Pacing::SlowDown(secs) => slowed.push(secs),
        }
    }
    slowed.sort();
    // One poll is the first; each of the nine others was too early and raised the
    // interval once: 10, 15, … 50 s, no increment lost to the race.
    assert_eq!(slowed, (2..=10).map(|k| k * 5).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_codes_count_undecided_live_requests_of_every_instance() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let mut other = request("CDFGHJKL", 100, [2; 32]);
    other.client_id = "radio".into();
    assert!(
        a.create_device_auth([1; 16], request("BCDFGHJK", 100, [1; 32]))
            .await
            .unwrap()
    );
    assert!(b.create_device_auth([2; 16], other).await.unwrap());
    assert!(
        b.create_device_auth([3; 16], request("DFGHJKLM", 100, [3; 32]))
            .await
            .unwrap()
    );
    let pending = |total, client| Pending { total, client };
    assert_eq!(a.pending_codes("tv", 200).await.unwrap(), pending(3, 2));
    assert_eq!(b.pending_codes("radio", 200).await.unwrap(), pending(3, 1));
    // A decided request no longer awaits a decision; an expired one neither.
    b.decide("DFGHJKLM".into(), None, Decision::Deny, 201)
        .await
        .unwrap();
    assert_eq!(a.pending_codes("tv", 202).await.unwrap(), pending(2, 1));
    // Counted at most once a second per instance: a request another instance makes
    // within that second shows from the next one (the caps guard exhaustion; see
    // `PendingCounts`); one this instance makes shows at once.
    assert!(
        b.create_device_auth([4; 16], request("FGHJKLMN", 202, [4; 32]))
            .await
            .unwrap()
    );
    assert_eq!(a.pending_codes("tv", 202).await.unwrap(), pending(2, 1));
    assert!(
        a.create_device_auth([5; 16], request("GHJKLMNP", 202, [5; 32]))
            .await
            .unwrap()
    );
    assert_eq!(a.pending_codes("tv", 202).await.unwrap(), pending(3, 2));
    assert_eq!(a.pending_codes("tv", 203).await.unwrap(), pending(4, 3));
    assert_eq!(a.pending_codes("tv", 700).await.unwrap(), pending(2, 2));
    assert_eq!(a.pending_codes("tv", 900).await.unwrap(), pending(0, 0));
}

/// Many device authorizations at a new second run ONE count: the first counts,
/// the others answer from the last counts (or, before any, wait for it). Each
/// used to count, and at tens of thousands of pending codes the counts alone
/// took a third of a core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_a_new_second_count_the_pending_codes_once() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 8).await.unwrap();
    assert!(
        a.create_device_auth([1; 16], request("BCDFGHJK", 100, [1; 32]))
            .await
            .unwrap()
    );
    for (second, counts) in [(200, 1), (201, 2), (202, 3)] {
        let mut asks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let a = a.clone();
            asks.spawn(async move { a.pending_codes("tv", second).await });
        }
        for answer in asks.join_all().await {
            assert_eq!(
                answer.unwrap(),
                Pending {
                    total: 1,
                    client: 1
                }
            );
        }
        assert_eq!(a.pending_counted(), counts, "second {second}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_racing_decisions_on_two_instances_record_exactly_the_one_that_won() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    add_user(&a, "dave", false).await;
    for round in 0..4u8 {
        let code = format!("RACE{round:04}");
        let id = [20 + round; 16];
        assert!(
            a.create_device_auth(id, request(&code, 100, [20 + round; 32]))
                .await
                .unwrap()
        );
        // Eight deciders, half approving on A, half denying on B, all at once: the
        // unlocked reads all see it pending, one compare-and-set wins.
        let mut tasks = Vec::new();
        for n in 0..8u8 {
            let (store, decision) = if n % 2 == 0 {
                (a.clone(), approve("dave"))
            } else {
                (b.clone(), Decision::Deny)
            };
            let code = code.clone();
            tasks.push(tokio::spawn(async move {
                store.decide(code, None, decision, 110).await.unwrap()
            }));
        }
        let mut done = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                DecideOutcome::Done(d) => done.push(d),
                DecideOutcome::NotFound | DecideOutcome::AlreadyDecided => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(done.len(), 1, "round {round}: {done:?}");
        // What is stored is what the winner was told.
        let stored: String = a
            .conn()
            .await
            .unwrap()
            .query_one(
                "SELECT status FROM device_requests WHERE id = $1",
                &[&id.as_slice()],
            )
            .await
            .unwrap()
            .get(0);
        let want = match done[0].status {
            DeviceStatus::Approved { .. } => "approved",
            DeviceStatus::Denied { .. } => "denied",
            ref other => panic!("{other:?}"),
        };
        assert_eq!(stored, want);
        assert!(b.device_auth_by_user_code(&code).await.unwrap().is_none());
    }
    assert_eq!(count(&a, "SELECT count(*) FROM user_codes").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_device_authorizations_are_stored_together_and_a_code_once() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    // 30 distinct codes and 6 more requests for code 0, at once over both
    // instances: the inserts are batched, and a code goes to one request only.
    let mut tasks = Vec::new();
    for n in 0..36u8 {
        let code = format!("MANY{:04}", if n < 30 { n } else { 0 });
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let created = store
                .create_device_auth([n; 16], request(&code, 100, [n; 32]))
                .await
                .unwrap();
            (n, created)
        }));
    }
    let mut winners_of_0 = Vec::new();
    for t in tasks {
        let (n, created) = t.await.unwrap();
        if n == 0 || n >= 30 {
            if created {
                winners_of_0.push(n);
            }
        } else {
            assert!(created, "request {n}");
        }
    }
    assert_eq!(winners_of_0.len(), 1, "{winners_of_0:?}");
    assert_eq!(count(&a, "SELECT count(*) FROM device_requests").await, 30);
    assert_eq!(count(&a, "SELECT count(*) FROM user_codes").await, 30);
    // Each stored request is found under its own code, the winner's under code 0.
    let found = b
        .device_auth_by_user_code("MANY0000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.code_hash, [winners_of_0[0]; 32]);
    for n in 1..30u8 {
        let found = a
            .device_auth_by_user_code(&format!("MANY{n:04}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, request(&format!("MANY{n:04}"), 100, [n; 32]));
    }
}
