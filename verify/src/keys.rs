//! The issuer's public keys, from its PASERK document (`/oauth/keys`):
//! `{"keys": [{"kid": "k4.pid…", "paserk": "k4.public…"}]}`.

use pasetors::keys::AsymmetricPublicKey;
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::V4;
use serde::Deserialize;

/// The keys that may have signed a token, by PASERK id (`k4.pid…`). Each id is
/// recomputed from its key, never taken from the document, so a key cannot be
/// published under another key's id.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<(String, AsymmetricPublicKey<V4>)>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    paserk: String,
}

/// The most keys a document may list: rotation keeps a few old keys, never hundreds.
const MAX_KEYS: usize = 64;

impl KeySet {
    /// The keys of a PASERK document; `None` if it is not one. Entries that are not
    /// `k4.public` keys are skipped (a later key type must not break old verifiers).
    pub fn from_document(json: &[u8]) -> Option<Self> {
        let doc: Document = serde_json::from_slice(json).ok()?;
        let keys = doc
            .keys
            .iter()
            .take(MAX_KEYS)
            .filter_map(|e| {
                let key = AsymmetricPublicKey::<V4>::try_from(e.paserk.as_str()).ok()?;
                let mut kid = String::new();
                Id::from(&key).fmt(&mut kid).ok()?;
                Some((kid, key))
            })
            .collect();
        Some(KeySet { keys })
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&AsymmetricPublicKey<V4>> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }

    /// Every key id, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }
}
