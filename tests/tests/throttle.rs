//! User-code guessing (RFC 8628 §5.1) at volume, over HTTP: thousands of wrong
//! codes from one client are stopped after a handful, while another person's
//! correct code still works; and a guesser spread over many addresses trips the
//! server-wide limit without locking out a person who types their code right.
//!
//! Attackers connect from other loopback addresses (127.0.0.2, …), which Linux
//! routes to the server on 127.0.0.1 like any other.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, TestServer, csrf_token, encode_form};
use reqwest::blocking::Client;

const ALICE: &str = "alice";
const ALICE_PASSWORD: &str = "alice's long passphrase";

/// `authgate user add NAME --password-stdin` against a running server's data
/// directory (after the first run, which creates `admin` only in an empty one).
fn add_user(dir: &std::path::Path, name: &str, password: &str) {
    let out = authgate_tests::ops::cli(
        dir,
        &["user", "add", name, "--password-stdin"],
        Some(&format!("{password}\n")),
        &[],
    );
    assert!(out.success, "user add failed: {}", out.stderr);
}

/// A signed-in browser session connecting from a chosen loopback address.
struct Guesser {
    http: Client,
    base: String,
    cookies: String,
    csrf: String,
}

impl Guesser {
    fn new(base: &str, from: Ipv4Addr) -> Self {
        let http = Client::builder()
            .local_address(IpAddr::V4(from))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .expect("HTTP client");
        Guesser {
            http,
            base: base.to_owned(),
            cookies: String::new(),
            csrf: String::new(),
        }
    }

    fn keep_cookies(&mut self, resp: &reqwest::blocking::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            if let Some(pair) = v.split(';').next() {
                let name = pair.split('=').next().unwrap_or("");
                let mut kept: Vec<&str> = self
                    .cookies
                    .split("; ")
                    .filter(|c| !c.is_empty() && !c.starts_with(&format!("{name}=")))
                    .collect();
                kept.push(pair);
                self.cookies = kept.join("; ");
            }
        }
    }

    fn get(&mut self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookies)
            .send()
            .expect("GET");
        self.keep_cookies(&resp);
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(pairs))
            .send()
            .expect("POST");
        self.keep_cookies(&resp);
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    fn login(&mut self, user: &str, password: &str) {
        let (_, html) = self.get("/login");
        let csrf = csrf_token(&html).expect("csrf on /login");
        let (status, body) = self.post(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("csrf_token", &csrf),
                ("next", "/device"),
            ],
        );
        assert_eq!(status, 303, "login failed: {body}");
        let (_, html) = self.get("/device");
        self.csrf = csrf_token(&html).expect("csrf on /device");
    }

    fn enter_code(&mut self, code: &str) -> (u16, String) {
        let csrf = self.csrf.clone();
        self.post("/device", &[("user_code", code), ("csrf_token", &csrf)])
    }
}

/// The `n`-th well-formed code, never `avoid`.
fn wrong_code(n: usize, avoid: &str) -> String {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut x = n as u64 * 2_654_435_761 + 12_345;
    let code: String = (0..8)
        .map(|_| {
            let c = LETTERS[(x % 20) as usize] as char;
            x /= 20;
            c
        })
        .collect();
    if code == avoid.replace('-', "") {
        "BBBBBBBB".into()
    } else {
        code
    }
}

#[test]
fn thousands_of_wrong_codes_are_stopped_while_another_users_code_works() {
    let server = TestServer::start();
    add_user(server.data_dir(), ALICE, ALICE_PASSWORD);
    let code = server.device_code(Some("read"));

    let mut attacker = Guesser::new(server.base_url(), Ipv4Addr::new(127, 0, 0, 2));
    attacker.login(ADMIN_USER, ADMIN_PASSWORD);

    const GUESSES: usize = 3000;
    let started = Instant::now();
    let (looked_up, refused, legit) = std::thread::scope(|s| {
        let attack = s.spawn(|| {
            let (mut looked_up, mut refused) = (0usize, 0usize);
            for n in 0..GUESSES {
                let (status, html) = attacker.enter_code(&wrong_code(n, &code.user_code));
                match status {
                    400 => looked_up += 1,
                    429 => {
                        assert!(html.contains("Try again in"), "{html}");
                        refused += 1;
                    }
                    other => panic!("wrong code answered {other}: {html}"),
                }
            }
            (looked_up, refused)
        });
        // Meanwhile Alice, on her own phone, types her device's code.
        let mut alice = server.browser();
        alice.login(ALICE, ALICE_PASSWORD);
        let done = alice.approve(&code.user_code);
        let (looked_up, refused) = attack.join().expect("attacker thread");
        (looked_up, refused, done)
    });
    let minutes = started.elapsed().as_secs() / 60 + 1;
    assert!(
        looked_up <= 10 * minutes as usize,
        "{looked_up} of {GUESSES} wrong codes were looked up in {minutes} minute(s)"
    );
    assert!(
        looked_up >= 5,
        "throttled after only {looked_up} wrong codes"
    );
    assert_eq!(looked_up + refused, GUESSES);
    assert!(legit.text().contains("Device approved"), "{}", legit.text());
    let tokens = server
        .poll_until_done(&code, Duration::from_secs(20))
        .tokens();
    assert!(tokens.access_token.starts_with("v4.public."));

    // The attacker's address stays blocked even with a fresh session.
    let mut again = Guesser::new(server.base_url(), Ipv4Addr::new(127, 0, 0, 2));
    again.login(ADMIN_USER, ADMIN_PASSWORD);
    let (status, html) = again.enter_code("BBBB-BBBB");
    assert_eq!(status, 429, "{html}");
    let r = server.get("/health");
    assert_eq!(r.status, 200);
}

#[test]
fn a_distributed_guesser_cannot_lock_out_a_person_with_the_right_code() {
    let server = TestServer::start();
    add_user(server.data_dir(), ALICE, ALICE_PASSWORD);
    let code = server.device_code(Some("read"));

    // 61 addresses × 10 wrong codes = 610: over the server-wide 600 a minute. Each
    // signs in (argon2id, two at a time on the server), from four threads.
    let bots: Vec<Guesser> = std::thread::scope(|s| {
        let handles: Vec<_> = (0u8..4)
            .map(|worker| {
                let base = server.base_url().to_owned();
                s.spawn(move || {
                    (10u8..71)
                        .filter(|last| last % 4 == worker)
                        .map(|last| {
                            let mut g = Guesser::new(&base, Ipv4Addr::new(127, 0, 0, last));
                            g.login(ADMIN_USER, ADMIN_PASSWORD);
                            g
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("login"))
            .collect()
    });
    let mut looked_up = 0;
    let mut n = 0;
    for mut bot in bots {
        for _ in 0..10 {
            n += 1;
            let (status, html) = bot.enter_code(&wrong_code(n, &code.user_code));
            match status {
                400 => looked_up += 1,
                429 => {}
                other => panic!("wrong code answered {other}: {html}"),
            }
        }
    }
    assert!(
        (600..=610).contains(&looked_up),
        "the global limit counts every looked-up wrong code: {looked_up}"
    );

    // A new address with the attacker's account is refused: it already guessed wrong.
    let mut fresh_bot = Guesser::new(server.base_url(), Ipv4Addr::new(127, 0, 0, 99));
    fresh_bot.login(ADMIN_USER, ADMIN_PASSWORD);
    let (status, html) = fresh_bot.enter_code("BBBB-BBBB");
    assert_eq!(status, 429, "{html}");

    // Alice never guessed wrong: her correct code goes through.
    let mut alice = Guesser::new(server.base_url(), Ipv4Addr::new(127, 0, 0, 200));
    alice.login(ALICE, ALICE_PASSWORD);
    let (status, html) = alice.enter_code(&code.user_code);
    assert_eq!(status, 200, "a clean user was locked out: {html}");
    assert!(html.contains(r#"action="/device/consent""#));
}
