//! The login screen for a 128×64 monochrome display (feature `display`).
//!
//! A board with a small OLED (SSD1306 and friends) shows what it is doing without a
//! serial console: the QR code of `verification_uri_complete`, the URI to type, the
//! user code, and a status line. [`draw_screen`] draws onto any
//! `embedded-graphics` [`DrawTarget`] with [`BinaryColor`], so the same code paints
//! the board's display buffer and the host tool `display-preview`, which writes the
//! screen as a PNG: what the preview shows is what the board shows.
//!
//! The layout is fixed for 128×64 pixels (on a larger target it occupies the top-left
//! corner). With a code, the left 64×64 square is a lit QR field with dark modules
//! (the polarity phones expect), at 2 pixels per module when the code has at most 30
//! modules (an AuthGate URI on a LAN address is 29), else 1; the right column has the
//! URI in a 4×6 font, the code in 6×10 and the status in 4×6. Without a code, the
//! status is the title and a detail text fills the screen.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_4X6, FONT_5X8, FONT_6X10};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use embedded_graphics::text::{Baseline, Text};

use crate::flow::CodeView;
use crate::qr::{QR_BUFFER_LEN, Qr};

/// Width of the screen this layout is made for, in pixels.
pub const SCREEN_WIDTH: u32 = 128;
/// Height of the screen this layout is made for, in pixels.
pub const SCREEN_HEIGHT: u32 = 64;

/// Side of the lit square the QR code sits in (the left half of the screen).
const QR_FIELD: u32 = 64;
/// Left edge of the text column beside the QR field.
const COLUMN_X: i32 = 66;
/// Characters per line of the 4×6 font in the text column (62 px).
const COLUMN_CHARS_4X6: usize = 15;
/// Characters per line of the 5×8 font across the whole screen.
const FULL_CHARS_5X8: usize = 25;

/// What the board is doing, for the status line. The text of each variant is short
/// enough for the 62-pixel column (two lines of 15 characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status<'a> {
    /// Joining the Wi-Fi network (or rejoining after a drop).
    JoiningWifi,
    /// Talking to the server before a code is known (DHCP done, first request out).
    Connecting,
    /// A code is shown; the person has not approved it yet.
    WaitingForApproval,
    /// Tokens are held; the board is signed in.
    SignedIn,
    /// Something is wrong; the text says what (e.g. an [`crate::Error`] written with
    /// `Display` into a small buffer). Word-wrapped, cut at the screen's edge.
    Error(&'a str),
}

impl<'a> Status<'a> {
    /// The status line's words.
    pub fn label(&self) -> &'a str {
        match self {
            Status::JoiningWifi => "Joining Wi-Fi",
            Status::Connecting => "Connecting",
            Status::WaitingForApproval => "Waiting for approval",
            Status::SignedIn => "Signed in",
            Status::Error(_) => "Error",
        }
    }
}

/// Clears `target` and draws the screen for `status`, with the code, its URI and its
/// QR code when `code` is given (pass [`crate::DeviceFlow::code`]).
///
/// Never panics on any input: text that does not fit is cut, a URI too long for a
/// QR code that fits the field is shown as text only. The only error is the
/// target's own (a display bus failure), returned as is.
pub fn draw_screen<D>(
    target: &mut D,
    status: Status<'_>,
    code: Option<&CodeView<'_>>,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    target.clear(BinaryColor::Off)?;
    match code {
        Some(code) => draw_code(target, status, code),
        None => draw_status(target, status),
    }
}

fn draw_code<D>(target: &mut D, status: Status<'_>, code: &CodeView<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let small = MonoTextStyle::new(&FONT_4X6, BinaryColor::On);
    let big = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);

    let qr_text = code
        .verification_uri_complete
        .unwrap_or(code.verification_uri);
    let drew_qr = draw_qr(target, qr_text)?;

    // The URI to type, without the scheme (browsers add it) to save a line.
    let uri = strip_scheme(code.verification_uri);
    let mut y = 0;
    let uri_lines = if drew_qr { 4 } else { 3 };
    y = draw_wrapped(
        target,
        uri,
        COLUMN_X,
        y,
        COLUMN_CHARS_4X6,
        uri_lines,
        6,
        small,
    )?;
    y = y.max(24) + 3;
    let code_text = code.user_code;
    if code_text.chars().count() * 6 <= 62 {
        Text::with_baseline(code_text, Point::new(COLUMN_X, y), big, Baseline::Top).draw(target)?;
    } else {
        draw_wrapped(
            target,
            code_text,
            COLUMN_X,
            y,
            COLUMN_CHARS_4X6,
            2,
            6,
            small,
        )?;
    }
    let detail = match status {
        Status::Error(text) => text,
        other => other.label(),
    };
    draw_wrapped(target, detail, COLUMN_X, 46, COLUMN_CHARS_4X6, 3, 6, small)?;
    if !drew_qr {
        draw_wrapped(target, "(no QR: URI too long)", 0, 0, 12, 2, 6, small)?;
    }
    Ok(())
}

fn draw_status<D>(target: &mut D, status: Status<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let title = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    let body = MonoTextStyle::new(&FONT_5X8, BinaryColor::On);
    Text::with_baseline(status.label(), Point::new(0, 0), title, Baseline::Top).draw(target)?;
    target.fill_solid(
        &Rectangle::new(Point::new(0, 12), Size::new(SCREEN_WIDTH, 1)),
        BinaryColor::On,
    )?;
    let detail = match status {
        Status::JoiningWifi => "Looking for the network; the board retries by itself.",
        Status::Connecting => "Asking the server for a code.",
        Status::WaitingForApproval => "Approve the code on your phone.",
        Status::SignedIn => "Tokens saved; they are refreshed before they expire.",
        Status::Error(text) => text,
    };
    draw_wrapped(target, detail, 0, 16, FULL_CHARS_5X8, 6, 8, body)?;
    Ok(())
}

/// Draws the QR code of `text` centred in the lit field; `false` if it cannot fit.
fn draw_qr<D>(target: &mut D, text: &str) -> Result<bool, D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
    let Ok(qr) = Qr::encode_compact(text, &mut out, &mut temp) else {
        return Ok(false);
    };
    let size = u32::from(qr.size());
    // Keep at least 2 px of lit quiet zone on each side.
    let scale = (QR_FIELD - 4) / size.max(1);
    if scale == 0 {
        return Ok(false);
    }
    let side = size * scale;
    let offset = ((QR_FIELD - side) / 2) as i32;
    target.fill_solid(
        &Rectangle::new(Point::zero(), Size::new(QR_FIELD, QR_FIELD)),
        BinaryColor::On,
    )?;
    let s = scale as i32;
    for my in 0..size as i32 {
        for mx in 0..size as i32 {
            if qr.is_dark(mx, my) {
                target.fill_solid(
                    &Rectangle::new(
                        Point::new(offset + mx * s, offset + my * s),
                        Size::new(scale, scale),
                    ),
                    BinaryColor::Off,
                )?;
            }
        }
    }
    Ok(true)
}

/// Draws `text` word-wrapped to `width` characters, at most `max_lines` lines of
/// `line_height` px from (`x`, `y`); returns the y below the last line drawn.
#[allow(clippy::too_many_arguments)]
fn draw_wrapped<D>(
    target: &mut D,
    text: &str,
    x: i32,
    mut y: i32,
    width: usize,
    max_lines: usize,
    line_height: i32,
    style: MonoTextStyle<'_, BinaryColor>,
) -> Result<i32, D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    for line in WrapLines::new(text, width).take(max_lines) {
        Text::with_baseline(line, Point::new(x, y), style, Baseline::Top).draw(target)?;
        y += line_height;
    }
    Ok(y)
}

fn strip_scheme(uri: &str) -> &str {
    uri.strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .unwrap_or(uri)
}

/// Greedy word wrap over `&str` without allocating: lines of at most `width`
/// characters, broken after a space, `/`, `?`, `&`, `-` or `:` when one is in the line,
/// else hard at `width` (always at a character boundary).
struct WrapLines<'a> {
    rest: &'a str,
    width: usize,
}

impl<'a> WrapLines<'a> {
    fn new(text: &'a str, width: usize) -> Self {
        WrapLines {
            rest: text.trim(),
            width: width.max(1),
        }
    }
}

impl<'a> Iterator for WrapLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // Byte index just past `width` characters (or the end).
        let hard = self
            .rest
            .char_indices()
            .nth(self.width)
            .map_or(self.rest.len(), |(i, _)| i);
        if hard == self.rest.len() {
            let line = self.rest;
            self.rest = "";
            return Some(line);
        }
        let cut = self.rest[..hard]
            .rfind([' ', '/', '?', '&', '-', ':'])
            .map_or(hard, |i| i + 1);
        let (line, rest) = self.rest.split_at(cut);
        self.rest = rest.trim_start();
        Some(line.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn wraps_at_breaks_and_never_splits_a_char() {
        let l: Vec<&str> = WrapLines::new("192.168.1.10:8080/device", 15).collect();
        assert_eq!(l, ["192.168.1.10:", "8080/device"]);
        assert!(l.iter().all(|s| s.chars().count() <= 15));
        assert_eq!(l.concat(), "192.168.1.10:8080/device");
        let l: Vec<&str> = WrapLines::new("Waiting for approval", 15).collect();
        assert_eq!(l, ["Waiting for", "approval"]);
        let l: Vec<&str> = WrapLines::new("ééééééééééééééééééé", 4).collect();
        assert!(l.iter().all(|s| s.chars().count() <= 4));
        assert_eq!(WrapLines::new("", 4).count(), 0);
        assert_eq!(WrapLines::new("abc", 0).count(), 3);
    }
}
