//! The runner's "flash": one file holding the same record the boards keep
//! ([`DeviceRecord`]: the DPoP key and the tokens), and the OS RNG standing in for
//! the board's hardware RNG.

use std::io::Read as _;
use std::path::Path;

use authgate_device::{DEVICE_RECORD_MAX_BYTES, DeviceRecord, DpopKey, RecordRef, Tokens};

/// Random bytes from the OS, where a board reads its hardware RNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(e) = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out)) {
        eprintln!("tap-runner: /dev/urandom: {e}");
        std::process::exit(2);
    }
    out
}

/// Reads the state file; a missing or unreadable one is an empty record (an
/// unreadable one is reported).
pub fn load(path: &Path) -> DeviceRecord {
    match std::fs::read(path) {
        Ok(bytes) => DeviceRecord::from_bytes(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "tap-runner: {} unreadable ({e}); ignoring it",
                path.display()
            );
            DeviceRecord::default()
        }),
        Err(_) => DeviceRecord::default(),
    }
}

/// Writes `tokens` (`None`: signed out) and `key` to the state file.
pub fn save(path: &Path, tokens: Option<&Tokens>, key: &DpopKey) -> std::io::Result<()> {
    let mut buf = [0u8; DEVICE_RECORD_MAX_BYTES];
    let bytes = RecordRef::default()
        .with_tokens(tokens)
        .with_dpop_key(Some(key))
        .to_bytes(&mut buf)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::write(path, bytes)
}

/// The device's DPoP key, as a board gets it at boot: the one in `record`, or else
/// a new one from the RNG, saved with the record's tokens before it signs anything.
pub fn dpop_key(path: &Path, record: &DeviceRecord) -> std::io::Result<DpopKey> {
    if let Some(key) = &record.dpop_key {
        return Ok(key.clone());
    }
    let key = DpopKey::from_seed(random());
    save(path, record.tokens.as_ref(), &key)?;
    println!("new DPoP key saved in {}", path.display());
    Ok(key)
}
