//! `htu` comparison: RFC 9449 §4.3 compares the target URI "ignoring any query and
//! fragment", after the syntax-based normalisation of RFC 3986 §6.2.2 and the
//! scheme-based one of §6.2.3.

/// The normalised form of `uri` for comparison, or `None` if it is not an absolute
/// `scheme://host…` URI this server could be addressed by (no userinfo, valid
/// percent-encoding, a numeric port).
///
/// Scheme and host are lowercased, percent-encodings get uppercase hex and
/// unreserved characters are decoded (`%7E` → `~`), the default port (80 for `http`,
/// 443 for `https`) and any query or fragment are dropped, an empty path becomes `/`,
/// and `.`/`..` segments are removed.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next().unwrap_or("");
    let (scheme, rest) = uri.split_once("://")?;
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return None;
    }
    // The port follows the last ':' unless that is inside an IPv6 literal.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host = percent_normalize(&host.to_ascii_lowercase())?;
    if host.is_empty() {
        return None;
    }
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = p.parse().ok()?;
            if n > 65_535 {
                return None;
            }
            (Some(n) != default_port).then_some(n)
        }
    };
    let path = percent_normalize(path)?;
    let path = remove_dot_segments(if path.is_empty() { "/" } else { &path });
    Some(match port {
        Some(p) => format!("{scheme}://{host}:{p}{path}"),
        None => format!("{scheme}://{host}{path}"),
    })
}

/// Uppercases the hex of every percent-encoding and decodes those of unreserved
/// characters (RFC 3986 §6.2.2.1, §6.2.2.2); `None` on a `%` not followed by two hex
/// digits.
fn percent_normalize(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            let byte = (hi * 16 + lo) as u8;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(byte as char);
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
            i += 3;
        } else {
            let c = s[i..].chars().next()?;
            out.push(c);
            i += c.len_utf8();
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            match out.rfind('/') {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_uris_normalise_alike() {
        let canonical = "https://auth.example.com/oauth/token";
        for same in [
            "https://auth.example.com/oauth/token",
            "HTTPS://Auth.Example.COM/oauth/token",
            "https://auth.example.com:443/oauth/token",
            "https://auth.example.com/oauth/token?x=1",
            "https://auth.example.com/oauth/token#frag",
            "https://auth.example.com/%6Fauth/token",
            "https://auth.example.com/oauth/./x/../token",
        ] {
            assert_eq!(normalize_htu(same).as_deref(), Some(canonical), "{same}");
        }
        assert_eq!(
            normalize_htu("http://127.0.0.1:80").as_deref(),
            Some("http://127.0.0.1/")
        );
        assert_eq!(
            normalize_htu("http://127.0.0.1:8080/a%2fb").as_deref(),
            Some("http://127.0.0.1:8080/a%2Fb")
        );
        assert_eq!(
            normalize_htu("http://[::1]:8080/x").as_deref(),
            Some("http://[::1]:8080/x")
        );
    }

    #[test]
    fn different_or_odd_uris_do_not() {
        let n = |s| normalize_htu(s);
        assert_ne!(
            n("https://auth.example.com/oauth/token"),
            n("http://auth.example.com/oauth/token")
        );
        assert_ne!(
            n("https://auth.example.com/oauth/token"),
            n("https://auth.example.com:8443/oauth/token")
        );
        assert_ne!(
            n("https://auth.example.com/oauth/token"),
            n("https://auth.example.com/OAUTH/token")
        );
        assert_ne!(
            n("https://auth.example.com/a/b"),
            n("https://auth.example.com/a%2Fb")
        );
        for bad in [
            "/oauth/token",
            "auth.example.com/oauth/token",
            "https://user@auth.example.com/",
            "https://auth.example.com/%zz",
            "https://auth.example.com/%4",
            "https://auth.example.com:99999/",
            "https://auth.example.com:x/",
            "https:///path",
            "1http://a/",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn dot_segments_follow_rfc3986_examples() {
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("/../a"), "/a");
        assert_eq!(remove_dot_segments("/a/.."), "/");
        assert_eq!(remove_dot_segments("/a/b/."), "/a/b/");
    }
}
