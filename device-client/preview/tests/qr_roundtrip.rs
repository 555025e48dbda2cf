//! The screen a board draws carries a QR code a phone can read: render it into a
//! PNG exactly as `display-preview` does, decode the PNG, and read the QR code back.

use authgate_device::display::Status;
use authgate_display_preview::{complete_uri, render_code_screen};

/// Decodes the PNG and returns the text of every QR code found in it.
fn decode(png_bytes: &[u8]) -> Vec<String> {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    img.detect_grids()
        .iter()
        .map(|g| g.decode().expect("QR decodes").1)
        .collect()
}

#[test]
fn qr_in_the_rendered_png_decodes_to_verification_uri_complete() {
    for (uri, code) in [
        ("http://192.168.1.10:8080/device", "BCDF-GHJK"),
        ("http://127.0.0.1:8080/device", "WDJB-MJHT"),
        ("https://auth.example.com/device", "LMNP-QRST"),
    ] {
        let complete = complete_uri(uri, code);
        let frame = render_code_screen(Status::WaitingForApproval, uri, Some(&complete), code);
        let png = frame.to_png(4, 4).unwrap();
        assert_eq!(decode(&png), vec![complete.clone()], "{uri}");
    }
}

#[test]
fn complete_uri_matches_what_authgate_sends() {
    // device-client/fixtures/device_authorization.json, captured from the server.
    assert_eq!(
        complete_uri("http://127.0.0.1:8080/device", "BCDF-GHJK"),
        "http://127.0.0.1:8080/device?user_code=BCDFGHJK"
    );
}

#[test]
fn long_uris_and_odd_text_never_panic() {
    let long = format!("https://{}.example/device", "a".repeat(240));
    let f = render_code_screen(Status::Error("ünïcödé everywhere ✓"), &long, None, "ÄÖÜ-ß");
    assert!(f.to_png(1, 0).is_ok());
    assert!(f.to_png(0, 0).is_err());
}
