//! Which redirect URIs a client may register, and when a presented one matches.
//!
//! The authorization endpoint sends a browser, with a code, to a URI the client
//! registered: a sloppy rule here is an open redirect or a leaked code. So a URI is
//! checked once, at registration (RFC 6749 §3.1.2, RFC 8252 §7–8):
//! - absolute, printable ASCII, no fragment (§3.1.2), no user info, no backslash
//!   (browsers read `\` as `/`);
//! - `https` with a host;
//! - or `http` only to a loopback IP literal, `127.0.0.1` or `[::1]` (RFC 8252
//!   §7.3), where any port matches later because a native app picks a free one;
//!   `localhost` is refused, as RFC 8252 §8.3 advises (it may resolve elsewhere, and
//!   firewalls treat it differently);
//! - or a private-use scheme with a dot, reverse domain style (RFC 8252 §7.1:
//!   `com.example.app:/callback`); a scheme without one (`javascript:`, `data:`,
//!   `file:`, `myapp:`) is refused.

/// Longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 512;

/// The loopback hosts an `http` redirect may name (RFC 8252 §7.3).
const LOOPBACK_HOSTS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Why a redirect URI can't be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Longer than [`MAX_REDIRECT_URI_LEN`].
    #[error("longer than {MAX_REDIRECT_URI_LEN} characters")]
    TooLong,
    /// A space, control, non-ASCII character or backslash.
    #[error("only printable ASCII without spaces or backslashes")]
    BadCharacter,
    /// No scheme: not an absolute URI (RFC 6749 §3.1.2).
    #[error("not an absolute URI (no scheme)")]
    NotAbsolute,
    /// A fragment (RFC 6749 §3.1.2).
    #[error("a redirect URI must not have a fragment (#)")]
    Fragment,
    /// `http(s)` without `//host`.
    #[error("no host")]
    NoHost,
    /// `user@host`: a classic way to disguise where a link goes.
    #[error("user info (`@`) is not allowed")]
    UserInfo,
    /// A port that is not a number up to 65535.
    #[error("invalid port")]
    BadPort,
    /// `http` to a host that is not a loopback IP literal.
    #[error("http only to 127.0.0.1 or [::1] (RFC 8252 §7.3); use https")]
    PlainHttp,
    /// `http://localhost`.
    #[error("use 127.0.0.1 or [::1] instead of localhost (RFC 8252 §8.3)")]
    Localhost,
    /// A scheme that is neither `https`, loopback `http`, nor private-use.
    #[error(
        "scheme `{0}`: use https, loopback http, or a private-use scheme with a dot (com.example.app)"
    )]
    Scheme(String),
}

/// What kind of redirect a valid URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `https://…`: matched exactly.
    Https,
    /// `http://127.0.0.1…` or `http://[::1]…`: matched with any port.
    Loopback,
    /// `com.example.app:/…` (RFC 8252 §7.1): matched exactly.
    PrivateUse,
}

/// The parts of an `http(s)` URI that matching compares (the port never).
struct Web<'a> {
    scheme: &'a str,
    host: &'a str,
    /// Path, query: everything after the authority.
    rest: &'a str,
}

/// Checks `uri` against the rules of the module doc.
pub fn check(uri: &str) -> Result<RedirectKind, RedirectUriError> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(RedirectUriError::TooLong);
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(RedirectUriError::BadCharacter);
    }
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    let (scheme, rest) = split_scheme(uri).ok_or(RedirectUriError::NotAbsolute)?;
    match scheme.to_ascii_lowercase().as_str() {
        "https" => web(scheme, rest).map(|_| RedirectKind::Https),
        "http" => {
            let w = web(scheme, rest)?;
            if LOOPBACK_HOSTS.contains(&w.host) {
                Ok(RedirectKind::Loopback)
            } else if w.host.eq_ignore_ascii_case("localhost") {
                Err(RedirectUriError::Localhost)
            } else {
                Err(RedirectUriError::PlainHttp)
            }
        }
        _ if scheme.contains('.') && !rest.is_empty() => Ok(RedirectKind::PrivateUse),
        _ => Err(RedirectUriError::Scheme(scheme.to_string())),
    }
}

/// Whether `presented` (a request's `redirect_uri`) matches the `registered` one:
/// exactly, or for a loopback registration the same URI with any port (RFC 8252
/// §7.3). Both must be valid; nothing is normalised, so `HTTPS://` or a trailing
/// slash is a different URI.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return check(presented).is_ok();
    }
    if check(registered) != Ok(RedirectKind::Loopback)
        || check(presented) != Ok(RedirectKind::Loopback)
    {
        return false;
    }
    let parts = |uri| split_scheme(uri).and_then(|(s, r)| web(s, r).ok());
    match (parts(registered), parts(presented)) {
        (Some(r), Some(p)) => r.scheme == p.scheme && r.host == p.host && r.rest == p.rest,
        _ => false,
    }
}

/// `scheme:rest`, with a scheme per RFC 3986 §3.1 (a letter, then letters,
/// digits, `+ - .`).
fn split_scheme(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .then_some((scheme, rest))
}

/// The authority of an `http(s)` URI, split into host and port.
fn web<'a>(scheme: &'a str, rest: &'a str) -> Result<Web<'a>, RedirectUriError> {
    let after = rest.strip_prefix("//").ok_or(RedirectUriError::NoHost)?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err(RedirectUriError::UserInfo);
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let close = v6.find(']').ok_or(RedirectUriError::NoHost)? + 1;
            let (host, tail) = authority.split_at(close + 1);
            match tail {
                "" => (host, None),
                _ => (
                    host,
                    Some(tail.strip_prefix(':').ok_or(RedirectUriError::BadPort)?),
                ),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(RedirectUriError::NoHost);
    }
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || p.parse::<u16>().is_err())
    {
        return Err(RedirectUriError::BadPort);
    }
    Ok(Web { scheme, host, rest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectUriError as E;

    #[test]
    fn accepted_kinds() {
        for (uri, kind) in [
            ("https://app.example/cb", RedirectKind::Https),
            ("https://app.example:8443/cb?x=1", RedirectKind::Https),
            ("HTTPS://app.example", RedirectKind::Https),
            ("http://127.0.0.1/callback", RedirectKind::Loopback),
            ("http://127.0.0.1:49152/callback", RedirectKind::Loopback),
            ("http://[::1]:8080/", RedirectKind::Loopback),
            ("http://[::1]", RedirectKind::Loopback),
            ("com.example.app:/oauth2redirect", RedirectKind::PrivateUse),
        ] {
            assert_eq!(check(uri), Ok(kind), "{uri}");
        }
    }

    #[test]
    fn refused_with_their_reason() {
        for (uri, err) in [
            ("/relative/cb", E::NotAbsolute),
            ("app.example/cb", E::NotAbsolute),
            ("https://app.example/cb#frag", E::Fragment),
            ("https://app.example/c b", E::BadCharacter),
            ("https://app.example/\u{e9}", E::BadCharacter),
            ("https://app.example\\@evil.example/", E::BadCharacter),
            ("https:app.example", E::NoHost),
            ("https:///cb", E::NoHost),
            ("https://user@evil.example/", E::UserInfo),
            ("https://app.example:99999/", E::BadPort),
            ("https://app.example:/", E::BadPort),
            ("http://[::1]x/", E::BadPort),
            ("http://app.example/cb", E::PlainHttp),
            ("http://127.0.0.2/cb", E::PlainHttp),
            ("http://localhost:8080/cb", E::Localhost),
            ("javascript:alert(1)", E::Scheme("javascript".into())),
            ("data:text/html,x", E::Scheme("data".into())),
            ("myapp:/cb", E::Scheme("myapp".into())),
            ("com.example.app:", E::Scheme("com.example.app".into())),
        ] {
            assert_eq!(check(uri), Err(err), "{uri}");
        }
        assert_eq!(
            check(&format!("https://a.example/{}", "x".repeat(600))),
            Err(E::TooLong)
        );
    }

    #[test]
    fn loopback_matches_any_port_and_nothing_else_does() {
        let loopback = "http://127.0.0.1/callback";
        assert!(matches(loopback, loopback));
        assert!(matches(loopback, "http://127.0.0.1:50123/callback"));
        assert!(matches("http://[::1]:1/cb", "http://[::1]:2/cb"));
        assert!(!matches(loopback, "http://127.0.0.1:50123/other"));
        assert!(!matches(loopback, "http://[::1]:50123/callback"));
        assert!(!matches(loopback, "http://localhost:50123/callback"));
        let https = "https://app.example/cb";
        assert!(matches(https, https));
        assert!(!matches(https, "https://app.example:444/cb"));
        assert!(!matches(https, "https://app.example/cb/"));
        assert!(!matches(https, "https://app.example/cb?x=1"));
        assert!(!matches(
            "https://app.example/cb#x",
            "https://app.example/cb#x"
        ));
        let w = web("http", "//[::1]:7/x").unwrap();
        assert_eq!((w.host, w.rest), ("[::1]", "/x"));
    }
}
