//! The protocol rules of the device grant (RFC 8628) and of refresh tokens (RFC 6749
//! §6, rotation with reuse detection), as pure state transitions.
//!
//! Nothing here does I/O, reads a clock or knows redb: every input, `now` included,
//! is passed in, and every outcome is a value the caller persists (see `store`). So
//! the rules are unit-tested without a database and a second storage backend cannot
//! disagree with the first about what a poll, a redemption or a refresh means.
//!
//! Each state is a type carrying its data, and each transition consumes the state
//! it leaves (rustls-style):
//!
//! - device requests: [`Pending`] → [`Approved`] | [`Denied`]; [`Approved`] →
//!   [`Redeemed`] (or [`Denied`] when the approver was disabled meanwhile);
//! - authorization codes ([`AuthCode`]): issued approved → redeemed once; a
//!   redeemed code presented again → its grant [`Revoked`];
//! - refresh tokens: [`Current`] → rotated (a new current token) | [`Revoked`];
//!   a superseded token ([`Rotated`]) presented again → [`Revoked`] (reuse);
//! - the retry window: the current token's predecessor ([`Previous`]), or the
//!   redeemed device code ([`Redeemed`]), presented again on time while the
//!   current token is unused → [`Retried`] (a fresh pair, the unused one retired).
//!
//! Only those transitions (and the client credentials grant, [`client`], where
//! the authenticated confidential client is its own approval) produce an
//! [`Issue`], and the token response can only be built from an [`Issue`]: no
//! code path signs a token for a grant that was not approved and redeemed, or
//! rotated, first.

pub mod authorization_code;
pub mod client;
mod device;
mod issue;
mod refresh;

pub use authorization_code::{AuthCode, CodeRedemption, CodeRefusal, Presented};
pub use device::{
    Again, Approved, DecideRefusal, Decision, DeviceAuth, DeviceStatus, Poll, Redeemed, Redemption,
    Redo, Refusal,
};
pub use issue::{Issue, NewTokens};
pub use refresh::{
    Exchange, Grant, IssuedFor, Presenter, Refresh, RefreshToken, Retried, Revoked, refresh_is_live,
};

/// Whether the user a grant or an approval belongs to may still receive tokens.
///
/// Decided by the store from the user record inside the same write as the
/// redemption or refresh, so a disable committed first always wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The user exists, is the same account (not deleted and re-created), and is
    /// enabled.
    Active,
    /// Disabled, deleted, or replaced by another account of the same name.
    Inactive,
}

impl Standing {
    /// The standing of `user_id`, given the account found under its login name
    /// (its id and whether it is disabled), if any.
    pub fn of(user_id: &str, found: Option<(&str, bool)>) -> Self {
        match found {
            Some((id, false)) if id == user_id => Standing::Active,
            _ => Standing::Inactive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Standing;

    #[test]
    fn only_the_same_enabled_account_stands() {
        assert_eq!(Standing::of("u1", Some(("u1", false))), Standing::Active);
        assert_eq!(Standing::of("u1", Some(("u1", true))), Standing::Inactive);
        assert_eq!(Standing::of("u1", Some(("u2", false))), Standing::Inactive);
        assert_eq!(Standing::of("u1", None), Standing::Inactive);
    }
}
