//! The postcard records of the database: whatever bytes a damaged or hostile file
//! holds, decoding fails cleanly, and whatever decodes re-encodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = authgate_server::check_record_bytes(data);
});
