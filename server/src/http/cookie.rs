//! Reading a request's cookies (plumbing shared by the pages and the language choice).

use cookie::Cookie;
use hyper::header::{COOKIE, HeaderMap};

/// The value of the first cookie called `name` in the request's `Cookie` headers,
/// as sent (no percent-decoding); pairs the `cookie` crate can't parse are skipped.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}
