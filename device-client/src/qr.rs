//! QR codes of `verification_uri_complete`, for a terminal, a serial console or a
//! display, encoded without a heap by `qrcodegen-no-heap`.
//!
//! A person scans the code with a phone and lands on the consent page with the user
//! code filled in, which beats typing a URL on a phone keyboard.

use core::fmt;

use qrcodegen_no_heap::{QrCode, QrCodeEcc, Version};

/// Largest QR version we encode: 77×77 modules, ≥ 412 bytes at ECC level M, which
/// holds any URI of [`crate::URI_CAP`] bytes.
pub const QR_MAX_VERSION: u8 = 15;

/// Bytes each of the two work buffers of [`Qr::encode`] needs (743 for version 15).
pub const QR_BUFFER_LEN: usize = Version::new(QR_MAX_VERSION).buffer_len();

/// Modules of light border around a code; the QR standard asks for 4, most phones
/// manage with 2, and small displays need the room.
pub const QR_DEFAULT_QUIET_ZONE: u8 = 2;

/// Why a QR code could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QrTooLong;

impl fmt::Display for QrTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "text does not fit a version-{QR_MAX_VERSION} QR code")
    }
}

/// An encoded QR code, borrowing the output buffer passed to [`Qr::encode`].
pub struct Qr<'b> {
    code: QrCode<'b>,
}

/// Something that can show QR modules: a display driver, a framebuffer, a test grid.
///
/// Implementations map a module to pixels (e.g. a 3×3 block per module on a
/// 240×240 LCD); [`Qr::draw`] calls `set_module` once for every module including
/// the quiet zone, with `(0, 0)` at the top-left corner.
pub trait QrCanvas {
    /// Paints module (`x`, `y`) dark (`true`) or light (`false`).
    fn set_module(&mut self, x: u16, y: u16, dark: bool);
}

/// How [`Qr::render_text`] draws modules with characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextStyle {
    /// Unicode half blocks (`▀ ▄ █`): two module rows per text line, so the code keeps
    /// its square shape in a terminal. Needs a UTF-8 terminal.
    HalfBlocks,
    /// Two ASCII characters per module (`##` dark, spaces light), one row per line:
    /// works on any serial console.
    Ascii,
}

impl<'b> Qr<'b> {
    /// Encodes `text` at error-correction level M (15% damage, still small), choosing
    /// the smallest version up to [`QR_MAX_VERSION`].
    pub fn encode(
        text: &str,
        out: &'b mut [u8; QR_BUFFER_LEN],
        temp: &mut [u8; QR_BUFFER_LEN],
    ) -> Result<Self, QrTooLong> {
        QrCode::encode_text(
            text,
            temp,
            out,
            QrCodeEcc::Medium,
            Version::MIN,
            Version::new(QR_MAX_VERSION),
            None,
            true,
        )
        .map(|code| Qr { code })
        .map_err(|_| QrTooLong)
    }

    /// Encodes `text` as the smallest code possible: error-correction level L, raised
    /// to the best level that still fits that version. For small displays, where one
    /// version less means twice the pixels per module (a typical AuthGate
    /// `verification_uri_complete` is version 3 here, 29 modules, instead of 33).
    pub fn encode_compact(
        text: &str,
        out: &'b mut [u8; QR_BUFFER_LEN],
        temp: &mut [u8; QR_BUFFER_LEN],
    ) -> Result<Self, QrTooLong> {
        QrCode::encode_text(
            text,
            temp,
            out,
            QrCodeEcc::Low,
            Version::MIN,
            Version::new(QR_MAX_VERSION),
            None,
            true,
        )
        .map(|code| Qr { code })
        .map_err(|_| QrTooLong)
    }

    /// Modules per side, without the quiet zone.
    pub fn size(&self) -> u16 {
        u16::try_from(self.code.size()).unwrap_or(0)
    }

    /// Whether module (`x`, `y`) is dark; outside the code (the quiet zone) is light.
    pub fn is_dark(&self, x: i32, y: i32) -> bool {
        self.code.get_module(x, y)
    }

    /// Draws the code with a `quiet_zone`-module light border on `canvas`.
    pub fn draw(&self, canvas: &mut impl QrCanvas, quiet_zone: u8) {
        let q = u16::from(quiet_zone);
        let side = self.size() + 2 * q;
        for y in 0..side {
            for x in 0..side {
                let dark = self.is_dark(i32::from(x) - i32::from(q), i32::from(y) - i32::from(q));
                canvas.set_module(x, y, dark);
            }
        }
    }

    /// Writes the code as text lines into `out` (a terminal, a UART, a `String`).
    ///
    /// With `invert` false, dark modules are drawn with ink: right for a dark-on-light
    /// console. Most terminals are light-on-dark, where the ink is light: pass `true`
    /// there so the printed "ink" forms the light modules and the code reads right.
    pub fn render_text(
        &self,
        out: &mut impl fmt::Write,
        style: TextStyle,
        quiet_zone: u8,
        invert: bool,
    ) -> fmt::Result {
        let q = i32::from(quiet_zone);
        let n = i32::from(self.size());
        let ink = |x: i32, y: i32| self.is_dark(x, y) != invert;
        match style {
            TextStyle::Ascii => {
                for y in -q..n + q {
                    for x in -q..n + q {
                        out.write_str(if ink(x, y) { "##" } else { "  " })?;
                    }
                    out.write_char('\n')?;
                }
            }
            TextStyle::HalfBlocks => {
                let mut y = -q;
                while y < n + q {
                    for x in -q..n + q {
                        let top = ink(x, y);
                        // Past the last row counts as quiet zone.
                        let bottom = y + 1 < n + q && ink(x, y + 1);
                        out.write_char(match (top, bottom) {
                            (true, true) => '█',
                            (true, false) => '▀',
                            (false, true) => '▄',
                            (false, false) => ' ',
                        })?;
                    }
                    out.write_char('\n')?;
                    y += 2;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    struct Grid {
        side: u16,
        dark: [[bool; 80]; 80],
        calls: usize,
    }

    impl QrCanvas for Grid {
        fn set_module(&mut self, x: u16, y: u16, dark: bool) {
            self.side = self.side.max(x + 1);
            self.dark[usize::from(y)][usize::from(x)] = dark;
            self.calls += 1;
        }
    }

    const URI: &str = "https://auth.example.com/device?user_code=BCDFGHJK";

    #[test]
    fn draws_finder_patterns_and_quiet_zone() {
        let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
        let qr = Qr::encode(URI, &mut out, &mut temp).unwrap();
        let n = qr.size();
        assert!(n >= 21 && (n - 17).is_multiple_of(4), "{n}");
        let mut g = Grid {
            side: 0,
            dark: [[false; 80]; 80],
            calls: 0,
        };
        qr.draw(&mut g, 2);
        assert_eq!(g.side, n + 4);
        assert_eq!(g.calls, usize::from(n + 4).pow(2));
        // Quiet zone light; top-left finder: dark ring, light ring, dark 3x3 centre.
        assert!(!g.dark[0][0] && !g.dark[1][1]);
        assert!(g.dark[2][2] && g.dark[2][8] && g.dark[8][2]);
        assert!(!g.dark[3][3] && g.dark[4][4] && g.dark[6][6]);
    }

    #[test]
    fn text_renderings_have_the_right_shape() {
        let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
        let qr = Qr::encode(URI, &mut out, &mut temp).unwrap();
        let side = usize::from(qr.size()) + 4;
        let mut s = String::new();
        qr.render_text(&mut s, TextStyle::Ascii, 2, false).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), side);
        assert!(lines.iter().all(|l| l.len() == 2 * side));
        assert_eq!(&lines[2][4..6], "##");
        let mut h = String::new();
        qr.render_text(&mut h, TextStyle::HalfBlocks, 2, true)
            .unwrap();
        assert_eq!(h.lines().count(), side.div_ceil(2));
        assert!(h.lines().all(|l| l.chars().count() == side));
        // Inverted: the quiet zone is ink.
        assert!(h.starts_with('█'));
    }

    #[test]
    fn too_long_is_an_error() {
        let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
        let long = "x".repeat(600);
        assert_eq!(
            Qr::encode(&long, &mut out, &mut temp).err(),
            Some(QrTooLong)
        );
    }
}
