//! User codes: what a person reads off a device and types on a phone.
//!
//! RFC 8628 §6.1 recommends a short code from a restricted alphabet. AuthGate uses 8
//! characters from 20 consonants with no vowels (so no words are spelled) and no
//! look-alikes (no `0/O`, `1/I`): 20^8 ≈ 2.56 × 10^10 codes, about 34.6 bits.

use core::fmt;

/// The characters a user code is made of (RFC 8628 §6.1's example alphabet).
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Number of significant characters in a user code.
pub const LEN: usize = 8;

/// Largest multiple of 20 that fits in a byte: bytes at or above it are rejected so
/// every character is equally likely (no modulo bias).
const REJECT_AT: u8 = 240;

/// A valid user code in canonical form: 8 upper-case characters from [`ALPHABET`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserCode([u8; LEN]);

/// Why some typed text is not a user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCodeError {
    /// Fewer or more than 8 significant characters.
    WrongLength,
    /// A character outside the alphabet (after upper-casing).
    InvalidCharacter,
}

impl fmt::Display for UserCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserCodeError::WrongLength => "a code has 8 letters",
            UserCodeError::InvalidCharacter => "a code uses only the letters BCDFGHJKLMNPQRSTVWXZ",
        })
    }
}

impl UserCode {
    /// Normalizes what a person typed: case-insensitive, dashes and spaces ignored,
    /// so `bcdf-ghjk`, `BCDFGHJK` and `bcdf ghjk` are the same code.
    pub fn parse(input: &str) -> Result<Self, UserCodeError> {
        let mut out = [0u8; LEN];
        let mut n = 0;
        for &b in input.as_bytes() {
            if matches!(b, b'-' | b' ' | b'\t') {
                continue;
            }
            let up = b.to_ascii_uppercase();
            if !ALPHABET.contains(&up) {
                return Err(UserCodeError::InvalidCharacter);
            }
            if n == LEN {
                return Err(UserCodeError::WrongLength);
            }
            out[n] = up;
            n += 1;
        }
        if n == LEN {
            Ok(UserCode(out))
        } else {
            Err(UserCodeError::WrongLength)
        }
    }

    /// Draws a uniformly random code from caller-supplied random bytes.
    ///
    /// `fill` must fill its buffer with cryptographically secure random bytes (the
    /// server passes its OS RNG; this crate has no RNG of its own). Bytes ≥ 240 are
    /// discarded so each character is uniform over the 20 letters.
    pub fn generate(mut fill: impl FnMut(&mut [u8])) -> Self {
        let mut out = [0u8; LEN];
        let mut n = 0;
        let mut buf = [0u8; 16];
        while n < LEN {
            fill(&mut buf);
            for &b in &buf {
                if b < REJECT_AT && n < LEN {
                    out[n] = ALPHABET[usize::from(b % 20)];
                    n += 1;
                }
            }
        }
        UserCode(out)
    }

    /// The canonical 8 characters, as stored and compared.
    pub fn as_str(&self) -> &str {
        // Only ALPHABET bytes are ever stored, so this cannot fail.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The `XXXX-XXXX` form shown to people.
    pub fn display(&self) -> DisplayCode {
        let mut d = [b'-'; LEN + 1];
        d[..4].copy_from_slice(&self.0[..4]);
        d[5..].copy_from_slice(&self.0[4..]);
        DisplayCode(d)
    }
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display().as_str())
    }
}

impl fmt::Debug for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserCode({})", self.as_str())
    }
}

/// A user code formatted for people as `XXXX-XXXX`, held without a heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DisplayCode([u8; LEN + 1]);

impl DisplayCode {
    /// The formatted code.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for DisplayCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_dashes_and_spaces() {
        let canonical = UserCode::parse("BCDFGHJK").unwrap();
        for typed in ["bcdf-ghjk", "BCDFGHJK", "bcdf ghjk", " Bc-Df Gh-Jk "] {
            assert_eq!(UserCode::parse(typed), Ok(canonical), "{typed:?}");
        }
        assert_eq!(canonical.as_str(), "BCDFGHJK");
        assert_eq!(canonical.display().as_str(), "BCDF-GHJK");
        // `A` and `E` are vowels, not in the alphabet.
        assert_eq!(
            UserCode::parse("abcd-efgh"),
            Err(UserCodeError::InvalidCharacter)
        );
    }

    #[test]
    fn rejects_wrong_lengths_and_characters() {
        assert_eq!(UserCode::parse(""), Err(UserCodeError::WrongLength));
        assert_eq!(UserCode::parse("BCDFGHJ"), Err(UserCodeError::WrongLength));
        assert_eq!(
            UserCode::parse("BCDFGHJKL"),
            Err(UserCodeError::WrongLength)
        );
        assert_eq!(
            UserCode::parse("BCDFGHJ0"),
            Err(UserCodeError::InvalidCharacter)
        );
        assert_eq!(
            UserCode::parse("BCDFGHJÄ"),
            Err(UserCodeError::InvalidCharacter)
        );
    }

    #[test]
    fn generation_is_uniform_and_skips_biased_bytes() {
        // A source that yields only rejectable bytes, then 0..=19 in order.
        let mut next = 0u32;
        let code = UserCode::generate(|buf| {
            for b in buf.iter_mut() {
                *b = if next < 16 {
                    250
                } else {
                    ((next - 16) % 20) as u8
                };
                next += 1;
            }
        });
        assert_eq!(code.as_str(), "BCDFGHJK");

        // Every letter appears with the same frequency over a full cycle of bytes 0..240.
        let mut counts = [0u32; 20];
        let mut byte = 0u16;
        for _ in 0..30 {
            let c = UserCode::generate(|buf| {
                for b in buf.iter_mut() {
                    *b = (byte % 256) as u8;
                    byte += 1;
                }
            });
            for ch in c.as_str().bytes() {
                let i = ALPHABET.iter().position(|&a| a == ch).unwrap();
                counts[i] += 1;
            }
        }
        assert_eq!(counts.iter().sum::<u32>(), 240);
        assert!(counts.iter().all(|&n| n == 12), "{counts:?}");
    }
}
