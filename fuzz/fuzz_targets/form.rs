//! Form and query decoding: any bytes either decode to a form whose names are
//! distinct, or fail with a `FormError`; never a panic.
#![no_main]

use authgate_server::{Form, FormError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Form::parse(data) {
        Ok(form) => {
            // Lookups on a decoded form never panic, present or not.
            let _ = form.get("client_id");
            let _ = form.require("device_code");
            // Valid UTF-8 without escapes decodes to itself, so its names are findable.
            if let Ok(text) = std::str::from_utf8(data)
                && !text.contains(['%', '+'])
            {
                for part in text.split('&').filter(|p| !p.is_empty()) {
                    let (name, value) = part.split_once('=').unwrap_or((part, ""));
                    if !value.is_empty() {
                        assert_eq!(form.get(name), Some(value));
                    }
                }
            }
        }
        Err(
            FormError::NotUtf8
            | FormError::Repeated(_)
            | FormError::Missing(_)
            | FormError::TooMany,
        ) => {}
    }
});
