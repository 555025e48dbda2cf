//! The grant types of the token endpoint, parsed once from the form.
//!
//! Adding a grant is a variant here, its wire name, and one module with its
//! `handle` (dispatched in `oauth::token`); the compiler finds every `match`.

use authgate_proto::{ErrorCode, params};

use super::error::OAuthError;
use crate::http::form::{Form, FormError};
use crate::store::Client;

/// A grant the token endpoint supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    /// RFC 8628 §3.4: `urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode,
    /// RFC 6749 §6: `refresh_token`.
    RefreshToken,
    /// RFC 6749 §4.4: `client_credentials`.
    ClientCredentials,
    /// RFC 6749 §4.1: `authorization_code`.
    AuthorizationCode,
}

impl GrantType {
    /// Every grant the token endpoint serves, in the order metadata advertises
    /// them: a grant is added here once its handler exists.
    pub const ALL: [GrantType; 4] = [
        GrantType::DeviceCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
    ];

    /// Every grant a client record may name (`authgate client add --grant-type`),
    /// including those not served yet.
    pub const KNOWN: [GrantType; 4] = [
        GrantType::DeviceCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
    ];

    /// The `grant_type` parameter value (RFC 6749 §4.5, RFC 8628 §3.4).
    pub fn param(self) -> &'static str {
        match self {
            GrantType::DeviceCode => params::GRANT_TYPE_DEVICE_CODE,
            GrantType::RefreshToken => params::GRANT_TYPE_REFRESH_TOKEN,
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
        }
    }

    /// The short name client records and admin commands use (`device_code`,
    /// `refresh_token`).
    pub fn short(self) -> &'static str {
        match self {
            GrantType::DeviceCode => "device_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
        }
    }

    /// The grant a short name (as in client records) names, served or not.
    pub fn from_short(value: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|g| g.short() == value)
    }

    /// The short names of [`KNOWN`](Self::KNOWN), comma-separated, for messages.
    pub fn known_names() -> String {
        Self::KNOWN.map(Self::short).join(", ")
    }

    /// `unsupported_grant_type`, listing what the endpoint serves.
    pub fn unsupported() -> OAuthError {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!(
                "supported grant types: {}",
                Self::ALL.map(Self::short).join(", ")
            ),
        )
    }

    /// The grant a `grant_type` value names, if supported.
    pub fn from_param(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.param() == value)
    }

    /// The form's `grant_type`: missing is a [`FormError`] (`invalid_request`),
    /// present but unsupported is `Ok(Err(_))`, answered only after the client
    /// authenticated (so an unknown client still learns nothing else).
    pub fn from_form(form: &Form) -> Result<Result<Self, OAuthError>, FormError> {
        let value = form.require(params::GRANT_TYPE)?;
        Ok(Self::from_param(value).ok_or_else(Self::unsupported))
    }

    /// Whether `client` may use this grant. Client records keep short names; this
    /// is the one place they are compared.
    pub fn allowed_for(self, client: &Client) -> bool {
        client.grant_types.iter().any(|g| g == self.short())
    }

    /// `unauthorized_client` for a client that may not use this grant.
    pub fn refused(self) -> OAuthError {
        OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {} grant", self.short()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::from_param(g.param()), Some(g));
        }
        assert_eq!(GrantType::from_param("device_code"), None);
        assert_eq!(GrantType::from_param("password"), None);
        let form = Form::parse(b"grant_type=refresh_token").unwrap();
        assert_eq!(
            GrantType::from_form(&form).unwrap().unwrap(),
            GrantType::RefreshToken
        );
        assert!(GrantType::from_form(&Form::default()).is_err());
        for g in GrantType::KNOWN {
            assert_eq!(GrantType::from_short(g.short()), Some(g));
        }
        assert_eq!(GrantType::from_short("password"), None);
    }
}
