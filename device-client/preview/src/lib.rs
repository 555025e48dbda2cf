//! Renders `authgate_device::display`'s login screen into a PNG on a PC, so anyone can
//! see what a board with a 128×64 OLED shows, without a board.
//!
//! [`Frame`] is a plain 128×64 framebuffer implementing embedded-graphics'
//! `DrawTarget` (no SDL, no window): the screen is drawn into it by the very
//! [`draw_screen`] the firmware calls, then [`Frame::to_png`] scales it up and adds a
//! light margin, which also serves as the QR code's quiet zone.

use std::fmt;

use authgate_device::display::{SCREEN_HEIGHT, SCREEN_WIDTH, Status, draw_screen};
use authgate_device::{CodeView, Instant};
use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Size};

const W: usize = SCREEN_WIDTH as usize;
const H: usize = SCREEN_HEIGHT as usize;

/// Grey level of a lit pixel in the PNG (an OLED's light).
pub const LIT: u8 = 0xff;
/// Grey level of a dark pixel.
pub const DARK: u8 = 0x10;
/// Grey level of the margin around the screen: light, so that it extends the QR
/// code's quiet zone (the QR field touches the screen's left edge).
pub const MARGIN: u8 = 0xff;

/// A 128×64 monochrome framebuffer; `true` is a lit pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    px: [[bool; W]; H],
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            px: [[false; W]; H],
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.px {
            let line: String = row.iter().map(|&p| if p { '#' } else { '.' }).collect();
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(SCREEN_WIDTH, SCREEN_HEIGHT)
    }
}

impl DrawTarget for Frame {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, c) in pixels {
            // Like a real display: pixels outside the panel are dropped.
            if let (Ok(x), Ok(y)) = (usize::try_from(p.x), usize::try_from(p.y))
                && x < W
                && y < H
            {
                self.px[y][x] = c.is_on();
            }
        }
        Ok(())
    }
}

/// Why a PNG could not be written.
#[derive(Debug)]
pub enum PreviewError {
    /// `scale` was 0 or the image would be absurdly large.
    BadScale(u32),
    /// The PNG encoder failed.
    Png(png::EncodingError),
}

impl fmt::Display for PreviewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreviewError::BadScale(s) => write!(f, "scale {s} is not in 1..=32"),
            PreviewError::Png(e) => write!(f, "PNG encoding failed: {e}"),
        }
    }
}

impl std::error::Error for PreviewError {}

impl Frame {
    /// Whether pixel (`x`, `y`) is lit; outside the screen is dark.
    pub fn is_lit(&self, x: usize, y: usize) -> bool {
        self.px
            .get(y)
            .and_then(|r| r.get(x))
            .copied()
            .unwrap_or(false)
    }

    /// The frame as an 8-bit greyscale PNG: each pixel a `scale`×`scale` block, with
    /// `margin` screen pixels of [`MARGIN`] around it. Returns the PNG bytes.
    pub fn to_png(&self, scale: u32, margin: u32) -> Result<Vec<u8>, PreviewError> {
        if !(1..=32).contains(&scale) || margin > 64 {
            return Err(PreviewError::BadScale(scale));
        }
        let (s, m) = (scale as usize, margin as usize);
        let (w, h) = ((W + 2 * m) * s, (H + 2 * m) * s);
        let mut grey = vec![MARGIN; w * h];
        for y in 0..H {
            for x in 0..W {
                let v = if self.px[y][x] { LIT } else { DARK };
                for dy in 0..s {
                    let row = ((y + m) * s + dy) * w;
                    let start = row + (x + m) * s;
                    grey[start..start + s].fill(v);
                }
            }
        }
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().map_err(PreviewError::Png)?;
            writer.write_image_data(&grey).map_err(PreviewError::Png)?;
        }
        Ok(out)
    }
}

/// AuthGate's `verification_uri_complete` for `verification_uri` and `user_code`: the
/// page with `?user_code=` and the code without its dash, as the server builds it.
pub fn complete_uri(verification_uri: &str, user_code: &str) -> String {
    let code: String = user_code.chars().filter(|c| *c != '-').collect();
    format!("{verification_uri}?user_code={code}")
}

/// Draws the login screen a board shows while `user_code` waits for approval.
pub fn render_code_screen(
    status: Status<'_>,
    verification_uri: &str,
    verification_uri_complete: Option<&str>,
    user_code: &str,
) -> Frame {
    let view = CodeView {
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_at: Instant::ZERO,
    };
    let mut frame = Frame::default();
    let Ok(()) = draw_screen(&mut frame, status, Some(&view));
    frame
}

/// Draws a screen without a code (joining Wi-Fi, signed in, an error).
pub fn render_status_screen(status: Status<'_>) -> Frame {
    let mut frame = Frame::default();
    let Ok(()) = draw_screen(&mut frame, status, None);
    frame
}
