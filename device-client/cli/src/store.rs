//! The token cache: one directory (mode 0700) with `session.json` (which server and
//! client) and `tokens.bin` (the tokens as `authgate-device`'s versioned postcard
//! record), both mode 0600 and replaced atomically.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use authgate_device::blocking::Endpoints;
use authgate_device::{DpopKey, TOKENS_MAX_BYTES, Tokens};
use serde::{Deserialize, Serialize};

/// Environment variable that overrides the cache directory (tests use a temp dir).
pub const CONFIG_DIR_ENV: &str = "AUTHGATE_LOGIN_CONFIG_DIR";

const SESSION_FILE: &str = "session.json";
const TOKENS_FILE: &str = "tokens.bin";
/// The DPoP key (`DpopKey::to_bytes`), beside the tokens it binds.
const DPOP_KEY_FILE: &str = "dpop.key";

/// Which server and client the cached tokens belong to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// The URL given to `login --server`.
    pub server: String,
    /// The client id the tokens were issued to.
    pub client_id: String,
    /// The scope asked for, if any.
    pub scope: Option<String>,
    /// The endpoints discovered at login.
    pub endpoints: Endpoints,
    /// The tokens are bound to the DPoP key in `dpop.key` (RFC 9449): refreshing
    /// needs proofs by it. Absent in caches written before DPoP: unbound.
    #[serde(default)]
    pub dpop: bool,
}

/// The cache directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `$AUTHGATE_LOGIN_CONFIG_DIR`, else `<user config dir>/authgate-login`.
    pub fn locate() -> io::Result<Self> {
        let dir = match std::env::var_os(CONFIG_DIR_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => dirs::config_dir()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "no user config directory; set AUTHGATE_LOGIN_CONFIG_DIR",
                    )
                })?
                .join("authgate-login"),
        };
        Ok(Store { dir })
    }

    /// The directory in use.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the session and tokens; `Ok(None)` if not logged in.
    pub fn load(&self) -> io::Result<Option<(Session, Tokens)>> {
        let session = match fs::read(self.dir.join(SESSION_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let tokens = match fs::read(self.dir.join(TOKENS_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let session: Session = serde_json::from_slice(&session).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{SESSION_FILE}: {e}"))
        })?;
        let tokens = Tokens::from_bytes(&tokens).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{TOKENS_FILE}: {e}"))
        })?;
        Ok(Some((session, tokens)))
    }

    /// Saves both files.
    pub fn save(&self, session: &Session, tokens: &Tokens) -> io::Result<()> {
        self.ensure_dir()?;
        let json = serde_json::to_vec_pretty(session).map_err(io::Error::other)?;
        write_private(&self.dir.join(SESSION_FILE), &json)?;
        self.save_tokens(tokens)
    }

    /// Replaces the tokens (after a refresh).
    pub fn save_tokens(&self, tokens: &Tokens) -> io::Result<()> {
        self.ensure_dir()?;
        let mut buf = vec![0u8; TOKENS_MAX_BYTES];
        let bytes = tokens
            .to_bytes(&mut buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        write_private(&self.dir.join(TOKENS_FILE), bytes)
    }

    /// The DPoP key, made on first use from the OS's random source and kept
    /// (mode 0600) beside the tokens; a corrupt file is an error, never silently
    /// replaced (the tokens are bound to the key in it).
    pub fn dpop_key(&self) -> io::Result<DpopKey> {
        let path = self.dir.join(DPOP_KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => DpopKey::from_bytes(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{DPOP_KEY_FILE}: {e:?}"),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = DpopKey::from_seed(random_bytes()?);
                self.ensure_dir()?;
                write_private(&path, &key.to_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets the session and its key; not an error if there was none.
    pub fn clear(&self) -> io::Result<()> {
        for f in [TOKENS_FILE, SESSION_FILE, DPOP_KEY_FILE] {
            match fs::remove_file(self.dir.join(f)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn ensure_dir(&self) -> io::Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&self.dir)
    }
}

/// Writes `bytes` to a temporary file created with mode 0600 (never readable by
/// others, not even briefly), then renames it over `path`.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
}

/// 32 bytes from the operating system's random source (key seeds, `jti` seeds).
pub fn random_bytes() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(io::Error::other)?;
    Ok(seed)
}
