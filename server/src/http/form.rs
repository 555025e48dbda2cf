//! `application/x-www-form-urlencoded` decoding, strict.
//!
//! RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than
//! once", so every repeated name is remembered and reported. Invalid UTF-8, raw or
//! percent-encoded, is an error rather than a silent U+FFFD.
//!
//! Work is linear in the input and bounded: at most [`MAX_PARAMS`] parameters are
//! decoded (the largest legitimate request has about eight), and repeats are found
//! with a hash set, not by rescanning earlier names.

use std::collections::HashSet;

use percent_encoding::percent_decode;

/// Most parameters a body or query string may carry. No endpoint takes more than
/// about eight; 64 leaves room for clients that send extras, and bounds the work
/// an attacker can make one request cost (64 decodes and hash lookups).
pub const MAX_PARAMS: usize = 64;

/// Why a body or query string is not a valid form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormError {
    /// Bytes that are not UTF-8 after decoding.
    NotUtf8,
    /// A parameter was sent twice.
    Repeated(String),
    /// A required parameter is absent or empty.
    Missing(&'static str),
    /// More than [`MAX_PARAMS`] parameters.
    TooMany,
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::NotUtf8 => f.write_str("the request body is not valid UTF-8"),
            FormError::Repeated(name) => write!(f, "parameter `{name}` is repeated"),
            FormError::Missing(name) => write!(f, "parameter `{name}` is missing"),
            FormError::TooMany => write!(f, "more than {MAX_PARAMS} parameters"),
        }
    }
}

/// A decoded form: name/value pairs, with no name repeated.
#[derive(Clone, Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decodes a body or query string. Empty pairs (`a=1&&b=2`) are skipped; more
    /// than [`MAX_PARAMS`] pairs are refused before the extra ones are decoded.
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for part in input.split(|&b| b == b'&') {
            if part.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(FormError::TooMany);
            }
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if !seen.insert(name.clone()) {
                return Err(FormError::Repeated(name));
            }
            pairs.push((name, value));
        }
        Ok(Form { pairs })
    }

    /// The value of a parameter, if present. An empty value counts as absent, as
    /// RFC 6749 §3.1 says: "Parameters sent without a value MUST be treated as if they
    /// were omitted".
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &'static str) -> Result<&str, FormError> {
        self.get(name).ok_or(FormError::Missing(name))
    }
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_empty_values() {
        let f = Form::parse(b"a=1+2&b=%C3%A9&c=&&d").unwrap();
        assert_eq!(f.get("a"), Some("1 2"));
        assert_eq!(f.get("b"), Some("é"));
        assert_eq!(f.get("c"), None);
        assert_eq!(f.get("d"), None);
        assert_eq!(f.require("c"), Err(FormError::Missing("c")));
    }

    #[test]
    fn rejects_repeats_and_bad_utf8() {
        assert_eq!(
            Form::parse(b"a=1&a=2").unwrap_err(),
            FormError::Repeated("a".into())
        );
        assert_eq!(Form::parse(b"a=%FF").unwrap_err(), FormError::NotUtf8);
        assert_eq!(Form::parse(b"a=\xff").unwrap_err(), FormError::NotUtf8);
        assert_eq!(Form::parse(b"%C3=1").unwrap_err(), FormError::NotUtf8);
    }

    #[test]
    fn refuses_more_than_max_params() {
        let at_limit: Vec<String> = (0..MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(Form::parse(at_limit.join("&").as_bytes()).is_ok());
        let over: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Form::parse(over.join("&").as_bytes()).unwrap_err(),
            FormError::TooMany
        );
        // Empty pairs are not parameters.
        assert!(Form::parse(&[b'&'; 5000]).is_ok());
    }
}
