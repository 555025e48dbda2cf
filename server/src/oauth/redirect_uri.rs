//! Resolving an authorization request's `redirect_uri` against a client's
//! registered ones (RFC 6749 §3.1.2.2–3, RFC 8252 §7.3, OAuth 2.0 Security BCP
//! §4.1.3), and the origin the consent page shows and allows as its form target.
//!
//! The comparison is [`crate::redirect_uri::matches`]: an exact string match,
//! with one exception, a registered loopback redirect (`http://127.0.0.1…` or
//! `http://[::1]…`) matches the same URI with any port, because a native app binds
//! an ephemeral port at run time (RFC 8252 §7.3). Nothing is normalised: no case
//! folding, no percent-decoding, no default ports, no trailing slashes, so
//! userinfo (`https://good@evil`), fragments, other paths or schemes fail.

use crate::redirect_uri::matches;
use crate::store::Client;

/// A client's registered redirect URIs (each checked by [`crate::redirect_uri`]
/// at registration).
pub fn registered(client: &Client) -> &[String] {
    &client.redirect_uris
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
