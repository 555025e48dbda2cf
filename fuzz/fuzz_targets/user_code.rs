//! User-code normalization: whatever a person types, parsing either fails cleanly
//! or yields a canonical code that parses to itself again, in both its stored and
//! its displayed form, in either format (letters or digits).
#![no_main]

use authgate_proto::UserCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = UserCode::parse(text) {
        let canonical = code.as_str();
        let alphabet = code.format().alphabet();
        assert_eq!(canonical.len(), code.format().char_count());
        assert!(canonical.bytes().all(|b| alphabet.contains(&b)));
        let again = UserCode::parse(canonical).expect("canonical form parses");
        assert_eq!(again.as_str(), canonical);
        let shown = code.display();
        let from_display = UserCode::parse(shown.as_str()).expect("display form parses");
        assert_eq!(from_display.as_str(), canonical);
        let lower = text.to_ascii_lowercase();
        assert_eq!(
            UserCode::parse(&lower).map(|c| c.as_str().to_owned()).ok(),
            Some(canonical.to_owned()),
            "input is case-insensitive"
        );
    }
});
