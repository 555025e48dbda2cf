//! Limits on guessing user codes (RFC 8628 §5.1).
//!
//! A user code has 20^8 ≈ 2.56 × 10^10 values, so guessing only works at volume; each
//! wrong code is counted against the browser's address (IPv6: its /64), its session
//! and its account, and server-wide:
//!
//! - per address and per session: 10 wrong codes a minute, then "try again in N s";
//!   a wrong digits code counts 4 times (10^10 digit codes against 20^8 letter
//!   codes: each guess 2.56 times likelier to hit, so 3 guesses a minute instead
//!   of 10 keep the odds below those of letters: 3 × 2.56 = 7.7 < 10);
//! - server-wide: 600 a minute. Past that the server is under a distributed attack,
//!   and refusing *everyone* would hand the attacker a lock-out of every legitimate
//!   user. So over the global limit only sources that already guessed wrong in
//!   their current minute (by address, session or account) are refused; a person
//!   who types their code right the first time is never stopped. An attacker then
//!   needs a fresh address *and* a fresh account for every further guess, and
//!   accounts are created by the operator.
//!
//! The consent POST is not a lookup: it must carry the binding its consent page
//! issued (`web::device`), and a form without it is refused before any lookup and
//! counted here as a wrong code.
//!
//! Only lookups that found nothing (and unbound consent forms) are counted; refused attempts are not, so a
//! throttled client can't extend its own block forever by hammering, and a correct
//! code never counts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use authgate_proto::CodeFormat;

use super::client_key;
use crate::secrets::hex;
use crate::state::Throttles;
use crate::store::StoreError;

/// The global counter's key.
const GLOBAL: &str = "all";

/// Who is guessing: the keys one code lookup is counted under.
pub struct GuessKeys {
    ip: String,
    session: String,
    account: String,
}

impl GuessKeys {
    /// Keys for a lookup from `ip` by the session with this cookie hash, of `user_id`.
    pub fn new(ip: IpAddr, session_hash: Option<&[u8; 32]>, user_id: &str) -> Self {
        GuessKeys {
            ip: client_key(ip),
            session: session_hash.map(|h| hex(h)).unwrap_or_default(),
            account: user_id.to_string(),
        }
    }
}

/// If this source may not look up a code now, how long it must wait.
pub async fn blocked(
    th: &Throttles,
    keys: &GuessKeys,
    now: Instant,
) -> Result<Option<Duration>, StoreError> {
    if let Some(wait) = th.user_code_ip.blocked_for(&keys.ip, now).await? {
        return Ok(Some(wait));
    }
    if let Some(wait) = th.user_code_session.blocked_for(&keys.session, now).await? {
        return Ok(Some(wait));
    }
    let Some(global) = th.user_code_global.blocked_for(GLOBAL, now).await? else {
        return Ok(None);
    };
    let guessed_wrong = th.user_code_ip.failures(&keys.ip, now).await? > 0
        || th.user_code_session.failures(&keys.session, now).await? > 0
        || th.user_code_account.failures(&keys.account, now).await? > 0;
    Ok(guessed_wrong.then_some(global))
}

/// Counts one wrong code of `format` by this source: a digits code as
/// [`CodeFormat::guess_weight`] wrong codes, so guessing digits (10^10 codes) has no
/// better odds per minute than guessing letters (20^8).
pub async fn wrong(
    th: &Throttles,
    keys: &GuessKeys,
    format: CodeFormat,
    now: Instant,
) -> Result<(), StoreError> {
    for _ in 0..format.guess_weight() {
        th.user_code_ip.hit(&keys.ip, now).await?;
        th.user_code_session.hit(&keys.session, now).await?;
        th.user_code_account.hit(&keys.account, now).await?;
        th.user_code_global.hit(GLOBAL, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::ready;

    fn blocked(th: &Throttles, keys: &GuessKeys, now: Instant) -> Option<Duration> {
        ready(super::blocked(th, keys, now)).unwrap()
    }

    fn wrong(th: &Throttles, keys: &GuessKeys, now: Instant) {
        ready(super::wrong(th, keys, CodeFormat::Letters, now)).unwrap()
    }

    fn wrong_digits(th: &Throttles, keys: &GuessKeys, now: Instant) {
        ready(super::wrong(th, keys, CodeFormat::Digits, now)).unwrap()
    }

    /// Wrong codes one source gets in before it is blocked, at one instant.
    fn guesses_until_blocked(th: &Throttles, who: &GuessKeys, t: Instant, digits: bool) -> u64 {
        let mut guesses = 0;
        while blocked(th, who, t).is_none() {
            if digits {
                wrong_digits(th, who, t);
            } else {
                wrong(th, who, t);
            }
            guesses += 1;
        }
        guesses
    }

    #[test]
    fn guessing_digits_has_no_better_odds_than_guessing_letters() {
        let th = Throttles::default();
        let t0 = Instant::now();
        let letters = guesses_until_blocked(&th, &keys("192.0.2.1", 1, "a"), t0, false);
        let attacker = keys("192.0.2.2", 2, "mallory");
        let digits = guesses_until_blocked(&th, &attacker, t0, true);
        // The chance a guess hits is live codes / space: per minute, digits must
        // not beat letters, digits / 10^10 ≤ letters / 20^8.
        assert_eq!(letters, 10);
        assert!(
            digits * 20u64.pow(8) <= letters * 10u64.pow(10),
            "{digits} digit guesses a minute beat {letters} letter guesses"
        );
        assert_eq!(digits, 3);
        // Someone else is not affected, and a minute later the attacker may go on.
        assert_eq!(blocked(&th, &keys("198.51.100.2", 3, "alice"), t0), None);
        assert_eq!(blocked(&th, &attacker, t0 + Duration::from_secs(60)), None);
    }

    fn keys(ip: &str, session: u8, user: &str) -> GuessKeys {
        GuessKeys::new(ip.parse().unwrap(), Some(&[session; 32]), user)
    }

    #[test]
    fn ten_a_minute_per_address_and_per_session() {
        let th = Throttles::default();
        let t0 = Instant::now();
        let attacker = keys("192.0.2.1", 1, "mallory");
        for _ in 0..10 {
            assert_eq!(blocked(&th, &attacker, t0), None);
            wrong(&th, &attacker, t0);
        }
        assert_eq!(blocked(&th, &attacker, t0), Some(Duration::from_secs(60)));
        // Same address, new session: still blocked. Same session, new address: too.
        assert!(blocked(&th, &keys("192.0.2.1", 2, "mallory"), t0).is_some());
        assert!(blocked(&th, &keys("198.51.100.1", 1, "mallory"), t0).is_some());
        // Someone else is not.
        assert_eq!(blocked(&th, &keys("198.51.100.2", 3, "alice"), t0), None);
        // A minute later the attacker may try again.
        assert_eq!(blocked(&th, &attacker, t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn over_the_global_limit_only_sources_that_guessed_wrong_are_refused() {
        let th = Throttles::default();
        let t0 = Instant::now();
        // A botnet: 600 addresses, sessions and accounts, one wrong guess each.
        for i in 0..600u32 {
            let session = [u8::try_from(i % 251).unwrap_or(0); 32];
            let k = GuessKeys::new(
                IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i)),
                Some(&session),
                &format!("bot{i}"),
            );
            wrong(&th, &k, t0);
        }
        // Every source that already guessed wrong is now refused …
        let bot = GuessKeys::new(
            IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0001u32)),
            Some(&[1; 32]),
            "bot1",
        );
        assert!(blocked(&th, &bot, t0).is_some());
        // … also from a fresh address if the account already guessed wrong …
        assert!(blocked(&th, &keys("203.0.113.9", 252, "bot7"), t0).is_some());
        // … but a clean person still gets through.
        assert_eq!(blocked(&th, &keys("203.0.113.10", 253, "alice"), t0), None);
        // Once they mistype during the attack, they wait like everyone else.
        wrong(&th, &keys("203.0.113.10", 253, "alice"), t0);
        assert!(blocked(&th, &keys("203.0.113.10", 253, "alice"), t0).is_some());
        // The next minute is a new one.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(blocked(&th, &bot, later), None);
    }
}
