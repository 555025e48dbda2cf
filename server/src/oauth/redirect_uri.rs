//! Matching a request's `redirect_uri` against a client's registered ones
//! (RFC 6749 §3.1.2.2–3, RFC 8252 §7.3, OAuth 2.0 Security BCP §4.1.3).
//!
//! The comparison is an exact string match, with one exception: a registered
//! loopback redirect (`http://127.0.0.1…` or `http://[::1]…`) matches the same
//! URI with any port, because a native app binds an ephemeral port at run time
//! (RFC 8252 §7.3). Nothing is normalised: no case folding, no percent-decoding, no
//! default ports, no trailing slashes. A URI that is not byte-for-byte a
//! registered one (modulo that port) is refused, which is what makes userinfo
//! (`https://good@evil`), fragments, other paths or schemes fail.

use crate::store::Client;

/// The loopback hosts whose port may vary (RFC 8252 §7.3; `localhost` is not one:
/// §8.3 advises against it, as it may resolve elsewhere).
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// A client's registered redirect URIs.
pub fn registered(client: &Client) -> &[String] {
    // TODO(merge h-clients): &client.redirect_uris
    let _ = client;
    &[]
}

/// Whether `presented` is `registered`, the port excepted for loopback URIs.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    LOOPBACK_PREFIXES.iter().any(|host| {
        match (
            after_loopback_port(registered, host),
            after_loopback_port(presented, host),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    })
}

/// The rest of `uri` after `host` and an optional `:port` (1 to 5 digits), if
/// `uri` starts with `host` and the rest is empty or a path (`/…`), so
/// `http://127.0.0.1:80@evil/` or `http://127.0.0.1.evil/` never qualify.
fn after_loopback_port<'a>(uri: &'a str, host: &str) -> Option<&'a str> {
    let rest = uri.strip_prefix(host)?;
    let rest = match rest.strip_prefix(':') {
        Some(port_and_path) => {
            let digits = port_and_path.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=5).contains(&digits) {
                return None;
            }
            &port_and_path[digits..]
        }
        None => rest,
    };
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The redirect URI an authorization request resolves to: the presented one when
/// it matches a registered one; when absent, the only registered one (RFC 6749
/// §3.1.2.3). `None`: no redirect may happen (the caller shows an error page).
pub fn resolve(registered: &[String], presented: Option<&str>) -> Option<String> {
    match presented {
        Some(p) => registered
            .iter()
            .any(|r| matches(r, p))
            .then(|| p.to_string()),
        None => match registered {
            [only] => Some(only.clone()),
            _ => None,
        },
    }
}

/// The origin of a redirect URI (`scheme://host[:port]`), shown on the consent
/// page and allowed as the consent form's target in its CSP; for a URI without
/// an authority (a private-use scheme such as `com.example.app:/cb`), its scheme
/// and colon. `None` if the URI has no scheme or the origin holds characters a
/// CSP source expression can't.
pub fn origin(uri: &str) -> Option<&str> {
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return None;
    }
    let out = match uri[colon + 1..].strip_prefix("//") {
        Some(rest) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            &uri[..colon + 3 + end]
        }
        None => &uri[..=colon],
    };
    let safe = |b: u8| b.is_ascii_alphanumeric() || b".:/[]-+_".contains(&b);
    (!out.contains('@') && out.bytes().all(safe)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_except_the_loopback_port() {
        let good = "https://app.example/cb";
        assert!(matches(good, good));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/cb#frag",
            "https://app.example/CB",
            "https://APP.example/cb",
            "http://app.example/cb",
            "https://app.example:443/cb",
            "https://app.example.evil/cb",
            "https://app.example@evil.example/cb",
            "https://evil.example/cb",
            "https://app.example/cb/../other",
            "https://app.example/%63b",
            "",
        ] {
            assert!(!matches(good, bad), "{bad}");
        }
        let lo = "http://127.0.0.1/callback";
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:1/callback",
            "http://127.0.0.1:54321/callback",
        ] {
            assert!(matches(lo, ok), "{ok}");
        }
        assert!(matches(
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1:9/callback"
        ));
        assert!(matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        for bad in [
            "http://127.0.0.1:54321/other",
            "http://127.0.0.1:54321/callback/x",
            "http://127.0.0.1:54321/callback#f",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:123456/callback",
            "http://127.0.0.1:80@evil.example/callback",
            "http://127.0.0.1.evil.example/callback",
            "https://127.0.0.1:54321/callback",
            "http://localhost:54321/callback",
            "http://[::1]:54321/callback",
        ] {
            assert!(!matches(lo, bad), "{bad}");
        }
        // The port exception is for loopback URIs only.
        assert!(!matches("http://localhost/cb", "http://localhost:99/cb"));
    }

    #[test]
    fn omitted_only_with_one_registered() {
        let one = vec!["https://a.example/cb".to_string()];
        let two = vec![one[0].clone(), "https://b.example/cb".to_string()];
        assert_eq!(resolve(&one, None), Some(one[0].clone()));
        assert_eq!(resolve(&two, None), None);
        assert_eq!(resolve(&[], None), None);
        assert_eq!(
            resolve(&two, Some("https://b.example/cb")).as_deref(),
            Some("https://b.example/cb")
        );
        assert_eq!(resolve(&two, Some("https://c.example/cb")), None);
    }

    #[test]
    fn origins_for_display_and_csp() {
        assert_eq!(origin("https://a.example/cb?x"), Some("https://a.example"));
        assert_eq!(
            origin("http://127.0.0.1:5000/cb"),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(origin("http://[::1]:5000"), Some("http://[::1]:5000"));
        assert_eq!(origin("com.example.app:/cb"), Some("com.example.app:"));
        assert_eq!(origin("https://good@evil/cb"), None);
        assert_eq!(origin("https://a.example;script-src *"), None);
        assert_eq!(origin("/relative"), None);
    }
}
