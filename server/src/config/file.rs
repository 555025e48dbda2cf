//! The optional TOML configuration file: read once, values handed out as text for
//! each key's own parser.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// A parsed `--config` file (empty when none was given).
pub(super) struct File {
    path: String,
    table: toml::Table,
}

impl File {
    /// Reads and parses `path`; no path is an empty file.
    pub(super) fn read(path: Option<&Path>) -> Result<File, ConfigError> {
        let Some(p) = path else {
            return Ok(File {
                path: String::new(),
                table: toml::Table::new(),
            });
        };
        let shown = p.display().to_string();
        let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let table = text
            .parse::<toml::Table>()
            .map_err(|source| ConfigError::Syntax {
                path: shown.clone(),
                source,
            })?;
        Ok(File { path: shown, table })
    }

    /// The file as shown in messages.
    pub(super) fn shown(&self) -> String {
        self.path.clone()
    }

    /// The keys the file sets.
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.keys().map(String::as_str)
    }

    /// `key`'s value as text: strings as they are, numbers and booleans written
    /// out, a list of strings joined with commas (`trusted_proxies = ["a", "b"]`).
    pub(super) fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let wrong = |k: &str| ConfigError::WrongType {
            path: self.shown(),
            key: k.to_string(),
        };
        let Some(v) = self.table.get(key) else {
            return Ok(None);
        };
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s.as_str()),
                    _ => Err(ConfigError::NotStrings {
                        path: self.shown(),
                        key: key.to_string(),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => return Err(wrong(key)),
        };
        Ok(Some(text))
    }
}

/// `--data-dir` of an admin command: flag, env, config file, default.
pub fn resolve_data_dir(
    flag: Option<PathBuf>,
    config: Option<&Path>,
) -> Result<PathBuf, ConfigError> {
    if let Some(d) = flag {
        return Ok(d);
    }
    if let Some(d) = std::env::var_os("AUTHGATE_DATA_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let file = File::read(config)?;
    Ok(file
        .text("data_dir")?
        .map_or_else(|| PathBuf::from("authgate-data"), PathBuf::from))
}

/// `--database-url` of an admin command: flag, then `AUTHGATE_DATABASE_URL`, then
/// `database_url` in the config file; `None` means redb in the data directory.
/// Checked like the server checks it, without ever echoing the value.
pub fn resolve_database_url(
    flag: Option<String>,
    config: Option<&Path>,
) -> Result<Option<super::DatabaseUrl>, ConfigError> {
    let text = match flag.filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(v),
        None => match std::env::var("AUTHGATE_DATABASE_URL") {
            Ok(v) if !v.trim().is_empty() => Some(v),
            _ => File::read(config)?.text("database_url")?,
        },
    };
    let Some(text) = text else {
        return Ok(None);
    };
    let url = super::parse_database_url(&text).map_err(|source| ConfigError::Invalid {
        key: "database_url",
        source,
    })?;
    url.validate().map_err(|source| ConfigError::Invalid {
        key: "database_url",
        source,
    })?;
    Ok(Some(url))
}
