//! State shared by instances through PostgreSQL (`pacing`, `rates`), against a
//! throwaway cluster of its own: two pools on one database play instances A and B.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use authgate_tests::pg::PgCluster;

use super::PgStore;
use crate::grant::{DeviceAuth, DeviceStatus};
use crate::polls::{Pacing, cases};
use crate::state::Throttles;
use crate::store::prelude::*;
use crate::web::guess::{self, GuessKeys};

fn cluster() -> PgCluster {
    PgCluster::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn two(cluster: &PgCluster) -> (PgStore, PgStore) {
    let a = PgStore::connect(&cluster.url(), 2).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 2).await.unwrap();
    (a, b)
}

fn request(user_code: &str, code_hash: [u8; 32]) -> DeviceAuth {
    DeviceAuth {
        code_hash,
        client_id: "tv".into(),
        scope: "read".into(),
        user_code: user_code.into(),
        created_at: 100,
        expires_at: 4_000_000_000,
        interval: 5,
        status: DeviceStatus::Pending,
        requester_ip: "192.0.2.7".into(),
        user_agent: "test".into(),
        dpop_jkt: None,
    }
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
async fn the_pacing_statements_follow_every_case_of_the_rule() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let t0 = 1_700_000_000_000u64;
    for (n, (initial, polls)) in cases::ALL.iter().enumerate() {
        let code = [u8::try_from(n).unwrap(); 32];
        for (i, (at, want)) in polls.iter().enumerate() {
            // Alternate instances: the rule holds across them.
            let store = if i % 2 == 0 { &a } else { &b };
            let got = store.record_poll(&code, *initial, t0 + at).await.unwrap();
            assert_eq!(got, *want, "record_poll, case {n}, poll at {at} ms");
        }
        // The same case through the one-round-trip polling statement, with the
        // request's own interval as the initial one.
        let id = [u8::try_from(100 + n).unwrap(); 16];
        let hash = [u8::try_from(100 + n).unwrap(); 32];
        let mut auth = request(&format!("CASE{n:04}"), hash);
        auth.interval = *initial;
        assert!(a.create_device_auth(id, auth).await.unwrap());
        for (i, (at, want)) in polls.iter().enumerate() {
            let store = if i % 2 == 0 { &b } else { &a };
            let (_, got) = store
                .poll_device_auth(&id, &hash, t0 + at)
                .await
                .unwrap()
                .expect("found");
            assert_eq!(got, Some(*want), "poll_device_auth, case {n}, at {at} ms");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_alternating_a_and_b_too_fast_get_slow_down_in_one_round_trip() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let (id, hash) = ([1; 16], [1; 32]);
    assert!(
        a.create_device_auth(id, request("BCDFGHJK", hash))
            .await
            .unwrap()
    );
    let t0 = 1_700_000_000_000u64;
    let poll = |store: &PgStore, at: u64| {
        let store = store.clone();
        async move { store.poll_device_auth(&id, &hash, t0 + at).await.unwrap() }
    };
    let (auth, pacing) = poll(&a, 0).await.expect("found");
    assert_eq!(auth.user_code, "BCDFGHJK");
    assert_eq!(pacing, Some(Pacing::Ok));
    let (_, pacing) = poll(&b, 1_000).await.expect("found");
    assert_eq!(pacing, Some(Pacing::SlowDown(10)));
    let (_, pacing) = poll(&a, 2_000).await.expect("found");
    assert_eq!(pacing, Some(Pacing::SlowDown(15)));
    // A wrong device code for the same key finds nothing.
    assert!(
        a.poll_device_auth(&id, &[2; 32], t0 + 30_000)
            .await
            .unwrap()
            .is_none()
    );
    // An unknown key neither finds nor paces anything.
    assert!(
        b.poll_device_auth(&[9; 16], &[9; 32], t0)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM rate_counters WHERE scope = 'poll'"
        )
        .await,
        1
    );
    // Once decided, a poll reads the request and records no pacing.
    a.decide(
        "BCDFGHJK".into(),
        None,
        crate::grant::Decision::Deny,
        1_700_000_010,
    )
    .await
    .unwrap();
    let (auth, pacing) = poll(&b, 40_000).await.expect("found");
    assert!(matches!(auth.status, DeviceStatus::Denied { .. }));
    assert_eq!(pacing, None);
}

fn keys(ip: &str, session: u8, user: &str) -> GuessKeys {
    GuessKeys::new(ip.parse::<IpAddr>().unwrap(), Some(&[session; 32]), user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_user_codes_spread_over_a_and_b_are_throttled_as_one() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let (on_a, on_b) = (Throttles::shared(&a, 600), Throttles::shared(&b, 600));
    let t = Instant::now();
    let attacker = keys("192.0.2.1", 1, "mallory");
    for i in 0..10 {
        let th = if i % 2 == 0 { &on_a } else { &on_b };
        assert_eq!(guess::blocked(th, &attacker, t).await.unwrap(), None);
        guess::wrong(th, &attacker, authgate_proto::CodeFormat::Letters, t)
            .await
            .unwrap();
    }
    for th in [&on_a, &on_b] {
        let wait = guess::blocked(th, &attacker, t).await.unwrap();
        assert!(
            wait.is_some_and(|w| w <= Duration::from_secs(60) && w > Duration::from_secs(50)),
            "{wait:?}"
        );
        // A new address in the same session is still blocked; someone else is not.
        assert!(
            guess::blocked(th, &keys("198.51.100.1", 1, "mallory"), t)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            guess::blocked(th, &keys("198.51.100.2", 3, "alice"), t)
                .await
                .unwrap(),
            None
        );
    }
    // The in-memory counters of a third, unshared instance know nothing of it.
    assert_eq!(
        guess::blocked(&Throttles::default(), &attacker, t)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_backoff_and_device_authorizations_count_across_instances() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let (on_a, on_b) = (Throttles::shared(&a, 3), Throttles::shared(&b, 3));
    let t = Instant::now();
    // Ten free failures per address, reserved alternately on A and B; the 11th is
    // counted too (a wait of 0), then every reservation waits.
    for i in 0..11 {
        let th = if i % 2 == 0 { &on_a } else { &on_b };
        assert_eq!(th.login_ip.reserve("ip", t).await.unwrap(), Ok(()), "{i}");
    }
    let refused = on_b.login_ip.reserve("ip", t).await.unwrap();
    assert!(
        refused.is_err_and(|w| w <= Duration::from_secs(1)),
        "{refused:?}"
    );
    assert!(on_a.login_ip.blocked_for("ip", t).await.unwrap().is_some());
    assert!(on_a.login_ip.failed_recently("ip", t).await.unwrap());
    // Two successes give back two: one more is free again.
    on_a.login_ip.refund("ip").await.unwrap();
    on_b.login_ip.refund("ip").await.unwrap();
    assert_eq!(on_b.login_ip.blocked_for("ip", t).await.unwrap(), None);
    // Account failures (no reservation) count across instances too.
    for th in [&on_a, &on_b, &on_a, &on_b, &on_a, &on_b] {
        th.login_account.fail("alice", t).await.unwrap();
    }
    assert!(
        on_a.login_account
            .blocked_for("alice", t)
            .await
            .unwrap()
            .is_some()
    );
    // Three device authorizations a minute per address, over both.
    for th in [&on_a, &on_b, &on_a] {
        assert_eq!(th.device_auth_ip.blocked_for("d", t).await.unwrap(), None);
        th.device_auth_ip.hit("d", t).await.unwrap();
    }
    assert!(
        on_b.device_auth_ip
            .blocked_for("d", t)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(on_b.device_auth_ip.failures("d", t).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_counters_follow_the_in_memory_rules_over_time() {
    let cluster = cluster();
    let (a, _b) = two(&cluster).await;
    let minute = Duration::from_secs(60);
    let t0 = 1_700_000_000_000u64;
    // A fixed window: counts grow within it, a hit after it starts a new one.
    for at in [0, 10_000, 59_999] {
        a.rate_hit("w", "k", minute, t0 + at).await.unwrap();
    }
    let c = a.rate_counter("w", "k").await.unwrap().unwrap();
    assert_eq!((c.start_ms, c.count), (t0, 3));
    a.rate_hit("w", "k", minute, t0 + 60_000).await.unwrap();
    let c = a.rate_counter("w", "k").await.unwrap().unwrap();
    assert_eq!((c.start_ms, c.count), (t0 + 60_000, 1));
    // A backoff: the waits double after two free failures, as `Backoff`'s do.
    let rule = crate::throttle::Backoff::new(2, Duration::from_secs(8), Duration::from_secs(600));
    let (waits, forget) = (rule.waits(), Duration::from_secs(600));
    let reserve = |at: u64| a.rate_reserve("b", "k", &waits, forget, t0 + at);
    assert_eq!(reserve(0).await.unwrap(), Ok(()));
    assert_eq!(reserve(0).await.unwrap(), Ok(()));
    assert_eq!(reserve(0).await.unwrap(), Ok(()), "the third is counted");
    assert_eq!(reserve(500).await.unwrap(), Err(Duration::from_millis(500)));
    assert_eq!(reserve(1_000).await.unwrap(), Ok(()));
    assert_eq!(reserve(2_000).await.unwrap(), Err(Duration::from_secs(1)));
    // Past the cap: 8 s at most.
    for at in [3_000, 7_000, 15_000] {
        assert_eq!(reserve(at).await.unwrap(), Ok(()), "{at}");
    }
    assert_eq!(reserve(15_000).await.unwrap(), Err(Duration::from_secs(8)));
    // Quiet for `forget`: starts over.
    assert_eq!(reserve(615_000).await.unwrap(), Ok(()));
    let c = a.rate_counter("b", "k").await.unwrap().unwrap();
    assert_eq!((c.start_ms, c.count), (t0 + 615_000, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_crash_forgets_the_counters_and_nothing_else() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let (id, hash) = ([3; 16], [3; 32]);
    assert!(
        a.create_device_auth(id, request("LMNPQRST", hash))
            .await
            .unwrap()
    );
    let t0 = 1_700_000_000_000u64;
    assert_eq!(
        a.poll_device_auth(&id, &hash, t0).await.unwrap().unwrap().1,
        Some(Pacing::Ok)
    );
    let th = Throttles::shared(&b, 600);
    let attacker = keys("192.0.2.9", 9, "mallory");
    for _ in 0..10 {
        guess::wrong(
            &th,
            &attacker,
            authgate_proto::CodeFormat::Letters,
            Instant::now(),
        )
        .await
        .unwrap();
    }
    assert!(
        guess::blocked(&th, &attacker, Instant::now())
            .await
            .unwrap()
            .is_some()
    );
    // An immediate stop is a crash: UNLOGGED tables come back empty.
    cluster.stop().unwrap();
    cluster.restart().unwrap();
    let mut after = None;
    for _ in 0..5 {
        if let Ok(found) = b.poll_device_auth(&id, &hash, t0 + 1_000).await {
            after = Some(found);
            break;
        }
    }
    let (auth, pacing) = after.flatten().expect("the request survived the crash");
    assert_eq!(auth.user_code, "LMNPQRST");
    // 1 s after the last poll, but the pacing was forgotten: a first poll again.
    assert_eq!(pacing, Some(Pacing::Ok));
    let mut blocked = None;
    for _ in 0..5 {
        if let Ok(b) = guess::blocked(&th, &attacker, Instant::now()).await {
            blocked = Some(b);
            break;
        }
    }
    assert_eq!(blocked, Some(None), "the guess counters were forgotten");
    assert_eq!(
        count(&a, "SELECT count(*) FROM device_requests").await,
        1,
        "logged tables kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_polls_are_batched_each_answered_and_a_code_judged_poll_by_poll() {
    let cluster = cluster();
    let (a, b) = two(&cluster).await;
    let t0 = 1_700_000_000_000u64;
    // 40 distinct pending codes, each polled once, and code 0 polled ten times
    // more, all at once over both instances: batches form, and each code may
    // appear in a batch only once.
    for n in 0..40u8 {
        let auth = request(&format!("BATCH{n:03}"), [n; 32]);
        assert!(a.create_device_auth([n; 16], auth).await.unwrap());
    }
    let mut tasks = Vec::new();
    for k in 0..50u64 {
        let n = if k < 40 { u8::try_from(k).unwrap() } else { 0 };
        let store = if k % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let found = store.poll_device_auth(&[n; 16], &[n; 32], t0 + k).await;
            (n, found.unwrap().expect("found"))
        }));
    }
    let mut slowed = Vec::new();
    for t in tasks {
        let (n, (auth, pacing)) = t.await.unwrap();
        // Each caller got its own request's row.
        assert_eq!(auth.user_code, format!("BATCH{n:03}"));
        match pacing.expect("pending: paced") {
            Pacing::Ok => {}
            Pacing::SlowDown(secs) => {
                assert_eq!(n, 0, "only code 0 was polled twice");
                slowed.push(secs);
            }
        }
    }
    slowed.sort_unstable();
    // Of code 0's eleven polls one was first; each other was judged against the
    // one before it (too early) and raised the interval once: 10, 15, … 55 s.
    assert_eq!(slowed, (2..=11).map(|k| k * 5).collect::<Vec<u64>>());
    // A wrong code for a known request and an unknown request, in one batch with a
    // right one: found, nothing, nothing.
    let (right, wrong, unknown) = tokio::join!(
        a.poll_device_auth(&[1; 16], &[1; 32], t0 + 60_000),
        a.poll_device_auth(&[1; 16], &[2; 32], t0 + 60_000),
        a.poll_device_auth(&[99; 16], &[99; 32], t0 + 60_000),
    );
    assert_eq!(right.unwrap().unwrap().1, Some(Pacing::Ok));
    assert!(wrong.unwrap().is_none());
    assert!(unknown.unwrap().is_none());
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM rate_counters WHERE scope = 'poll'"
        )
        .await,
        40
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_two_instances_sharing_codes_in_opposite_orders_never_deadlock() {
    let cluster = cluster();
    let a = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let b = PgStore::connect(&cluster.url(), 4).await.unwrap();
    let t0 = 1_700_000_000_000u64;
    for round in 0..5u8 {
        // Device authorizations claiming the same 24 user codes, A in one order and
        // B in the other: each code goes to one request, and no batch fails.
        let mut tasks = Vec::new();
        for n in 0..24u8 {
            for (store, k) in [(a.clone(), n), (b.clone(), 23 - n)] {
                let side = u8::from(k != n);
                let code = format!("R{round}C{k:04}");
                let id = [round * 50 + k * 2 + side; 16];
                tasks.push(tokio::spawn(async move {
                    store
                        .create_device_auth(id, request(&code, request_hash(id)))
                        .await
                        .map(|created| (code, id, created))
                }));
            }
        }
        let mut created = std::collections::HashMap::new();
        for t in tasks {
            let (code, id, won) = t.await.unwrap().expect("no batch fails");
            if won {
                assert!(
                    created.insert(code, id).is_none(),
                    "a code handed out twice"
                );
            }
        }
        assert_eq!(created.len(), 24);
        // Polls of those 24 requests through both instances, in opposite orders.
        let mut tasks = Vec::new();
        for (code, id) in &created {
            for store in [a.clone(), b.clone()] {
                let (id, hash) = (*id, [id[0]; 32]);
                let at = t0 + u64::from(round) * 100_000;
                let code = code.clone();
                tasks.push(tokio::spawn(async move {
                    let found = store.poll_device_auth(&id, &hash, at).await;
                    (code, found)
                }));
            }
        }
        for t in tasks {
            let (code, found) = t.await.unwrap();
            assert!(found.expect("no batch fails").is_some(), "{code}");
        }
    }
}

fn request_hash(id: [u8; 16]) -> [u8; 32] {
    [id[0]; 32]
}
