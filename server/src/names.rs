//! The syntax of user and client names, in one place.
//!
//! `authgate user add` and `client add` accept only these names, and the sign-in
//! form checks a typed name against the same rule *before* it looks anything up,
//! counts anything or writes the audit log: a name that can't exist never reaches
//! the store, a throttle key or a log line (no control characters, no megabyte
//! keys).

/// Longest name, in bytes (all allowed characters are ASCII).
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is 1 to 64 ASCII letters, digits and `- _ . @`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.@".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("alice"));
        assert!(is_valid_name("a.b-c_d@example.org"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("x\nlogin_ok admin"));
        assert!(!is_valid_name("with space"));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name("ålice"));
    }
}
