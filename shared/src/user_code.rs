//! User codes: what a person reads off a device and types on a phone.
//!
//! RFC 8628 §6.1 recommends a short code from a restricted alphabet. AuthGate has
//! two formats, chosen per client:
//! - **letters** (the default): 8 characters from 20 consonants with no vowels (so
//!   no words are spelled) and no look-alikes (no `0/O`, `1/I`): 20^8 ≈ 2.56 × 10^10
//!   codes, about 34.6 bits;
//! - **digits**, for TV remotes and PIN pads: 10 digits, 10^10 codes, about 33.2
//!   bits, 2.56 times fewer than letters. The server keeps the guessing odds no
//!   better than with letters by counting each wrong digit code as
//!   [`DIGITS_GUESS_WEIGHT`] (4) wrong guesses: its limit of 10 wrong codes a
//!   minute then lets 3 digit guesses through (the limit is checked before a guess
//!   counts), each 2.56 times likelier to hit: 3 × 2.56 = 7.7 letter guesses' worth,
//!   under the 10 letters get. (A weight of 3 would let 4 through: 10.2.)
//!
//! The two alphabets are disjoint, so a typed code says which format it is in.

use core::fmt;

/// The characters a letters code is made of (RFC 8628 §6.1's example alphabet).
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// The characters a digits code is made of.
pub const DIGITS: &[u8; 10] = b"0123456789";

/// Number of significant characters in a letters code.
pub const LEN: usize = 8;

/// Number of significant characters in a digits code.
pub const DIGITS_LEN: usize = 10;

/// How many wrong guesses one wrong digits code counts as: at least 20^8 / 10^10 =
/// 2.56, and 4 rather than 3 because limits are checked before a guess counts,
/// which lets one more guess in (see the module doc).
pub const DIGITS_GUESS_WEIGHT: u32 = 4;

/// Largest multiple of the alphabet size that fits in a byte: bytes at or above it
/// are rejected so every character is equally likely (no modulo bias).
const fn reject_at(alphabet_len: usize) -> u8 {
    (256 / alphabet_len * alphabet_len) as u8
}

/// The alphabet of a user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// 8 consonants, shown `BCDF-GHJK`.
    Letters,
    /// 10 digits, shown `01234-56789`.
    Digits,
}

impl CodeFormat {
    /// The characters of this format.
    pub fn alphabet(self) -> &'static [u8] {
        match self {
            CodeFormat::Letters => ALPHABET,
            CodeFormat::Digits => DIGITS,
        }
    }

    /// The number of significant characters.
    pub fn char_count(self) -> usize {
        match self {
            CodeFormat::Letters => LEN,
            CodeFormat::Digits => DIGITS_LEN,
        }
    }

    /// How many wrong guesses a wrong code of this format counts as.
    pub fn guess_weight(self) -> u32 {
        match self {
            CodeFormat::Letters => 1,
            CodeFormat::Digits => DIGITS_GUESS_WEIGHT,
        }
    }

    /// Where the display form puts its dash: after half the characters.
    fn dash_at(self) -> usize {
        self.char_count() / 2
    }
}

/// A valid user code in canonical form: 8 upper-case characters from [`ALPHABET`]
/// or 10 from [`DIGITS`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserCode {
    format: CodeFormat,
    /// The characters, then zeros.
    chars: [u8; DIGITS_LEN],
}

/// Why some typed text is not a user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCodeError {
    /// Not 8 letters or 10 digits.
    WrongLength,
    /// A character outside both alphabets (after upper-casing), or letters and
    /// digits mixed.
    InvalidCharacter,
}

impl fmt::Display for UserCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserCodeError::WrongLength => "a code has 8 letters or 10 digits",
            UserCodeError::InvalidCharacter => {
                "a code uses only the letters BCDFGHJKLMNPQRSTVWXZ, or only digits"
            }
        })
    }
}

impl UserCode {
    /// Normalizes what a person typed: case-insensitive, dashes and spaces ignored,
    /// so `bcdf-ghjk`, `BCDFGHJK` and `bcdf ghjk` are the same code, and so are
    /// `01234-56789` and `0123456789`. The first significant character picks the
    /// format.
    pub fn parse(input: &str) -> Result<Self, UserCodeError> {
        let mut chars = [0u8; DIGITS_LEN];
        let mut n = 0;
        let mut format = None;
        for &b in input.as_bytes() {
            if matches!(b, b'-' | b' ' | b'\t') {
                continue;
            }
            let up = b.to_ascii_uppercase();
            let this = if up.is_ascii_digit() {
                CodeFormat::Digits
            } else if ALPHABET.contains(&up) {
                CodeFormat::Letters
            } else {
                return Err(UserCodeError::InvalidCharacter);
            };
            if *format.get_or_insert(this) != this {
                return Err(UserCodeError::InvalidCharacter);
            }
            if n == this.char_count() {
                return Err(UserCodeError::WrongLength);
            }
            chars[n] = up;
            n += 1;
        }
        match format {
            Some(format) if n == format.char_count() => Ok(UserCode { format, chars }),
            _ => Err(UserCodeError::WrongLength),
        }
    }

    /// Draws a uniformly random letters code from caller-supplied random bytes.
    ///
    /// `fill` must fill its buffer with cryptographically secure random bytes (the
    /// server passes its OS RNG; this crate has no RNG of its own). Bytes ≥ 240 are
    /// discarded so each character is uniform over the 20 letters.
    pub fn generate(fill: impl FnMut(&mut [u8])) -> Self {
        Self::generate_as(CodeFormat::Letters, fill)
    }

    /// Draws a uniformly random code of `format` (see [`generate`](Self::generate);
    /// for digits, bytes ≥ 250 are discarded).
    pub fn generate_as(format: CodeFormat, mut fill: impl FnMut(&mut [u8])) -> Self {
        let alphabet = format.alphabet();
        let reject = reject_at(alphabet.len());
        let mut chars = [0u8; DIGITS_LEN];
        let mut n = 0;
        let mut buf = [0u8; 16];
        while n < format.char_count() {
            fill(&mut buf);
            for &b in &buf {
                if b < reject && n < format.char_count() {
                    chars[n] = alphabet[usize::from(b) % alphabet.len()];
                    n += 1;
                }
            }
        }
        UserCode { format, chars }
    }

    /// Its format.
    pub fn format(&self) -> CodeFormat {
        self.format
    }

    /// The canonical characters, as stored and compared.
    pub fn as_str(&self) -> &str {
        // Only alphabet bytes are ever stored, so this cannot fail.
        core::str::from_utf8(&self.chars[..self.format.char_count()]).unwrap_or("")
    }

    /// The form shown to people: `XXXX-XXXX`, or `XXXXX-XXXXX` for digits.
    pub fn display(&self) -> DisplayCode {
        let len = self.format.char_count();
        let half = self.format.dash_at();
        let mut d = [b'-'; DIGITS_LEN + 1];
        d[..half].copy_from_slice(&self.chars[..half]);
        d[half + 1..=len].copy_from_slice(&self.chars[half..len]);
        DisplayCode {
            chars: d,
            len: len + 1,
        }
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

/// A user code formatted for people, held without a heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DisplayCode {
    chars: [u8; DIGITS_LEN + 1],
    len: usize,
}

impl DisplayCode {
    /// The formatted code.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.chars[..self.len]).unwrap_or("")
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
    fn digits_codes_normalise_and_display_in_two_groups() {
        let canonical = UserCode::parse("0123456789").unwrap();
        for typed in ["01234-56789", "012 345 6789", " 0-1-2-3-4-5-6-7-8-9 "] {
            assert_eq!(UserCode::parse(typed), Ok(canonical), "{typed:?}");
        }
        assert_eq!(canonical.format(), CodeFormat::Digits);
        assert_eq!(canonical.as_str(), "0123456789");
        assert_eq!(canonical.display().as_str(), "01234-56789");
        assert_ne!(UserCode::parse("BCDFGHJK").unwrap(), canonical);
        // Uniform: bytes 250..=255 are skipped, then 0..=9 map to the digits.
        let mut next = 0u32;
        let code = UserCode::generate_as(CodeFormat::Digits, |buf| {
            for b in buf.iter_mut() {
                *b = if next < 16 {
                    252
                } else {
                    ((next - 16) % 250) as u8
                };
                next += 1;
            }
        });
        assert_eq!(code.as_str(), "0123456789");
        assert_eq!(code.format().guess_weight(), DIGITS_GUESS_WEIGHT);
    }

    #[test]
    fn the_digits_weight_keeps_the_guessing_odds_of_letters() {
        // Odds per throttle unit: live codes / (space × weight). Digits must not
        // beat letters: 10^10 × 3 ≥ 20^8 × 1.
        let letters = 20u64.pow(8);
        let digits = 10u64.pow(DIGITS_LEN as u32);
        assert!(digits * u64::from(DIGITS_GUESS_WEIGHT) >= letters);
        // With a budget of `limit` wrong codes, checked before each guess counts,
        // ceil(limit / weight) digit guesses get in; they must not beat `limit`
        // letter guesses: guesses / 10^10 ≤ limit / 20^8.
        for limit in [10u64, 600] {
            let guesses = limit.div_ceil(u64::from(DIGITS_GUESS_WEIGHT));
            assert!(guesses * letters <= limit * digits, "limit {limit}");
        }
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
            UserCode::parse("0123456B89"),
            Err(UserCodeError::InvalidCharacter)
        );
        assert_eq!(
            UserCode::parse("012345678"),
            Err(UserCodeError::WrongLength)
        );
        assert_eq!(
            UserCode::parse("01234567890"),
            Err(UserCodeError::WrongLength)
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
