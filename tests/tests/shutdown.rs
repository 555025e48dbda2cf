//! SIGTERM while devices are being approved and redeemed: the server stops taking
//! connections, finishes what is in flight, exits 0, and every approval or token it
//! acknowledged is still there after a restart.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authgate_tests::ops::spawn;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, Browser, DataDir, paths};
use serde_json::Value;

fn form(url: &str, body: String) -> Option<(u16, Value)> {
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .ok()?;
    let r = c
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .ok()?;
    let status = r.status().as_u16();
    Some((
        status,
        serde_json::from_str(&r.text().ok()?).unwrap_or(Value::Null),
    ))
}

fn poll_body(device_code: &str) -> String {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=authgate-cli&device_code={device_code}"
    )
}

#[test]
fn sigterm_under_load_loses_nothing_acknowledged() {
    let dir = DataDir::new();
    let data = dir.path().to_str().unwrap().to_owned();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--poll-interval",
        "1",
    ];
    let mut server = spawn(&args, &[]).expect("starts");
    let base = server.url.clone();

    // 60 pending codes.
    let codes: Vec<(String, String)> = (0..60)
        .map(|_| {
            let (s, v) = form(
                &format!("{base}{}", paths::DEVICE_AUTHORIZATION),
                "client_id=authgate-cli".into(),
            )
            .unwrap();
            assert_eq!(s, 200);
            (
                v["device_code"].as_str().unwrap().to_owned(),
                v["user_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let queue = Arc::new(Mutex::new(codes));
    let approved = Arc::new(Mutex::new(Vec::<String>::new()));
    let issued = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let done = Arc::new(AtomicUsize::new(0));

    // Four browsers approve, and after each approval half the devices redeem at once.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (queue, approved, issued, done) = (
                queue.clone(),
                approved.clone(),
                issued.clone(),
                done.clone(),
            );
            let mut b = Browser::new(&base);
            b.login(ADMIN_USER, ADMIN_PASSWORD);
            let base = base.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                loop {
                    let Some((device, user)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let answer = catch_unwind(AssertUnwindSafe(|| b.approve(&user)));
                    match answer {
                        Ok(r) if r.status == 200 && r.text().contains("approved") => {
                            approved.lock().unwrap().push(device.clone())
                        }
                        _ => break, // the server is going away
                    }
                    n += 1;
                    if (n + w) % 2 == 0 {
                        match form(&format!("{base}{}", paths::TOKEN), poll_body(&device)) {
                            Some((200, v)) => issued.lock().unwrap().push((
                                device.clone(),
                                v["refresh_token"].as_str().unwrap().to_owned(),
                            )),
                            Some((s, v)) => panic!("poll of an approved code answered {s} {v}"),
                            None => break,
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < 15 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal("TERM");
    let status = server.wait(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{}",
        server.stderr()
    );
    for w in workers {
        // A worker panics only on a wrong answer (not on a refused connection).
        assert!(w.join().is_ok(), "a worker saw a wrong answer");
    }
    let approved = approved.lock().unwrap().clone();
    let issued = issued.lock().unwrap().clone();
    assert!(
        approved.len() >= 15 && !issued.is_empty(),
        "{} {}",
        approved.len(),
        issued.len()
    );

    // Restart on the same data: every acknowledged approval and token is there.
    let server = spawn(&args, &[]).expect("restarts");
    let base = server.url.clone();
    for (device, refresh) in &issued {
        // The refresh first: it works only if the grant was kept, and it uses the
        // grant's tokens, so the code presented again after it is a replay (not a
        // retry of a lost answer, which the retry window would honour).
        let body =
            format!("grant_type=refresh_token&client_id=authgate-cli&refresh_token={refresh}");
        let (s, v) = form(&format!("{base}{}", paths::TOKEN), body).unwrap();
        assert_eq!(s, 200, "issued grant lost: {v}");
        let (s, v) = form(&format!("{base}{}", paths::TOKEN), poll_body(device)).unwrap();
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("invalid_grant")),
            "redeemed code forgotten: {v}"
        );
    }
    for device in approved
        .iter()
        .filter(|d| !issued.iter().any(|(i, _)| i == *d))
    {
        let (s, v) = form(&format!("{base}{}", paths::TOKEN), poll_body(device)).unwrap();
        assert_eq!(s, 200, "approval lost: {v}");
    }
}
