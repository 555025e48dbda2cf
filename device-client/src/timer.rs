//! The flow's two named deadlines, kept in a fixed table (the quinn-proto way).

use crate::time::Instant;

/// A named deadline of [`crate::DeviceFlow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// When the next request is due: the next poll (grows by 5 s per `slow_down`), a
    /// retry after backoff, or the refresh ahead of the access token's expiry.
    Poll = 0,
    /// When the device code expires (RFC 8628 `expires_in`).
    Expiry = 1,
}

/// Deadlines by [`Timer`]; `None` means disarmed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable([Option<Instant>; 2]);

impl TimerTable {
    pub(crate) fn set(&mut self, t: Timer, at: Instant) {
        self.0[t as usize] = Some(at);
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; 2];
    }

    /// Disarms and reports `t` if it is due at `now`.
    pub(crate) fn expire(&mut self, t: Timer, now: Instant) -> bool {
        match self.0[t as usize] {
            Some(at) if at <= now => {
                self.0[t as usize] = None;
                true
            }
            _ => false,
        }
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}
