//! `database_url`: which PostgreSQL database to use instead of redb, kept out of
//! every printout. The URL usually carries a password, so this type never shows
//! it: not in `authgate config`, not in `Debug`, not in an error message (a value
//! that doesn't parse is refused without echoing it).

use std::fmt;

use super::ValueError;
use super::table::{Show, quote};

/// A PostgreSQL connection URL (`postgres://user:password@host:port/database`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL as given, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password (in the user part or a `password=` parameter)
    /// replaced by `<redacted>`, for printing.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return "<redacted>".into();
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _)) => format!("{name}:<redacted>@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let params: Vec<String> = query
                    .split('&')
                    .map(|p| match p.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("password") => {
                            format!("{k}=<redacted>")
                        }
                        _ => p.to_string(),
                    })
                    .collect();
                format!("{path}?{}", params.join("&"))
            }
            None => tail.to_string(),
        };
        format!("{scheme}://{authority}{tail}")
    }

    /// Checks the URL's scheme and that the driver accepts it.
    pub fn validate(&self) -> Result<(), ValueError> {
        let url = self.0.as_str();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ValueError::DatabaseUrl);
        }
        url.parse::<tokio_postgres::Config>()
            .map(|_| ())
            .map_err(|_| ValueError::DatabaseUrl)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Show for DatabaseUrl {
    fn show(&self) -> Option<String> {
        Some(quote(&self.redacted()))
    }
}

/// Any text is taken here and checked by [`DatabaseUrl::validate`] at startup, so
/// that a refusal never echoes the value (clap's parse errors quote it).
pub(super) fn parse_database_url(s: &str) -> Result<DatabaseUrl, ValueError> {
    Ok(DatabaseUrl(s.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> DatabaseUrl {
        parse_database_url(s).expect("any text parses")
    }

    #[test]
    fn passwords_never_print() {
        let u = url("postgres://auth:s3cret@db.internal:5432/authgate?sslmode=disable");
        assert_eq!(
            u.redacted(),
            "postgres://auth:<redacted>@db.internal:5432/authgate?sslmode=disable"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(!u.show().unwrap_or_default().contains("s3cret"));
        let q = url("postgresql://auth@db/authgate?password=s3cret&application_name=a");
        assert_eq!(
            q.redacted(),
            "postgresql://auth@db/authgate?password=<redacted>&application_name=a"
        );
        assert_eq!(url("postgres://db/x").redacted(), "postgres://db/x");
        // A password containing `@` or `:` stays hidden too.
        assert!(!url("postgres://u:p@ss:w@h/d").redacted().contains("ss:w"));
    }

    #[test]
    fn only_postgres_urls_are_accepted() {
        assert!(
            url("postgres://u:p@127.0.0.1:5433/authgate")
                .validate()
                .is_ok()
        );
        assert!(url("postgresql://localhost/authgate").validate().is_ok());
        assert!(url("mysql://localhost/authgate").validate().is_err());
        assert!(url("host=localhost password=x").validate().is_err());
        assert!(url("postgres://h:notaport/d").validate().is_err());
    }
}
