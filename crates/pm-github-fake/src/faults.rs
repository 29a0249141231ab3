//! Fault injection and rate-limit bookkeeping.
//!
//! Faults only touch the GitHub API routes, never `/_fake`. Counters start when a fault is set,
//! so "every 3rd request" counts from the moment the test asked for it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// GitHub's authenticated primary limit, per user and hour.
pub(crate) const RATE_LIMIT: u64 = 5000;
const RATE_WINDOW_SECS: i64 = 3600;
/// Wait GitHub advertises after a limit (and octokit's fallback for a missing `retry-after`).
const DEFAULT_WAIT_SECS: u64 = 60;

/// Faults to inject (`POST /_fake/faults`, [`crate::FakeGithub::set_faults`]).
///
/// Setting merges: fields left `None` keep their current value. Clear everything with
/// `DELETE /_fake/faults` / [`crate::FakeGithub::clear_faults`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Every k-th API request (counted from now) answers `502` with a GitHub-like body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_every: Option<u64>,
    /// Delay every API response by this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// After N more authenticated requests, the primary rate limit is exhausted: `403` with
    /// `x-ratelimit-remaining: 0` until `x-ratelimit-reset` (now + `primary_reset_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_limit_after: Option<u64>,
    /// How long the primary limit lasts once hit; default 60 s. Tests use 1-2 s to exercise
    /// waiting for the reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_reset_secs: Option<u64>,
    /// After N more authenticated requests, a secondary limit hits: `403` with `retry-after` and
    /// GitHub's secondary-limit message, for `secondary_retry_after_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_limit_after: Option<u64>,
    /// `retry-after` of the secondary limit; default 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_retry_after_secs: Option<u64>,
    /// Make this token unknown (`401 Bad credentials`) until faults are cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_token: Option<String>,
}

/// A rate limit the current request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    Primary { reset: i64 },
    Secondary { retry_after: u64 },
}

/// Live fault state: the settings plus the counters and windows they drive.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    error_every: Option<u64>,
    error_counter: u64,
    latency_ms: u64,
    primary_countdown: Option<u64>,
    primary_reset_secs: Option<u64>,
    primary_until: Option<i64>,
    secondary_countdown: Option<u64>,
    secondary_retry_after_secs: Option<u64>,
    secondary_until: Option<i64>,
    revoked: HashSet<String>,
}

impl FaultState {
    pub(crate) fn apply(&mut self, s: FaultSettings) {
        if let Some(k) = s.error_every {
            // 0 would mean "never"; treat it as switching the fault off.
            self.error_every = (k > 0).then_some(k);
            self.error_counter = 0;
        }
        if let Some(ms) = s.latency_ms {
            self.latency_ms = ms;
        }
        if let Some(n) = s.primary_limit_after {
            self.primary_countdown = Some(n);
            self.primary_until = None;
        }
        if let Some(secs) = s.primary_reset_secs {
            self.primary_reset_secs = Some(secs);
        }
        if let Some(n) = s.secondary_limit_after {
            self.secondary_countdown = Some(n);
            self.secondary_until = None;
        }
        if let Some(secs) = s.secondary_retry_after_secs {
            self.secondary_retry_after_secs = Some(secs);
        }
        if let Some(token) = s.revoke_token {
            self.revoked.insert(token);
        }
    }

    /// What is in force, in the same shape it is set with (revoked tokens are listed one by
    /// one in [`FaultState::revoked_tokens`]).
    pub(crate) fn settings(&self) -> FaultSettings {
        FaultSettings {
            error_every: self.error_every,
            latency_ms: (self.latency_ms > 0).then_some(self.latency_ms),
            primary_limit_after: self.primary_countdown,
            primary_reset_secs: self.primary_reset_secs,
            secondary_limit_after: self.secondary_countdown,
            secondary_retry_after_secs: self.secondary_retry_after_secs,
            revoke_token: None,
        }
    }

    pub(crate) fn revoked_tokens(&self) -> Vec<String> {
        let mut v: Vec<String> = self.revoked.iter().cloned().collect();
        v.sort();
        v
    }

    pub(crate) fn latency_ms(&self) -> u64 {
        self.latency_ms
    }

    pub(crate) fn is_revoked(&self, token: &str) -> bool {
        self.revoked.contains(token)
    }

    /// Counts one API request; true when this one must fail with a 502.
    pub(crate) fn tick_error(&mut self) -> bool {
        let Some(k) = self.error_every else {
            return false;
        };
        self.error_counter += 1;
        self.error_counter.is_multiple_of(k)
    }

    /// Counts one authenticated request against the injected limits.
    pub(crate) fn check_limits(&mut self, now: i64) -> Option<Limited> {
        if let Some(until) = self.primary_until {
            if now < until {
                return Some(Limited::Primary { reset: until });
            }
            self.primary_until = None;
        }
        if let Some(until) = self.secondary_until {
            if now < until {
                let left = u64::try_from(until - now).unwrap_or(1).max(1);
                return Some(Limited::Secondary { retry_after: left });
            }
            self.secondary_until = None;
        }
        if let Some(n) = self.primary_countdown {
            if n == 0 {
                self.primary_countdown = None;
                let wait = self.primary_reset_secs.unwrap_or(DEFAULT_WAIT_SECS);
                let reset = now + i64::try_from(wait).unwrap_or(i64::MAX / 2);
                self.primary_until = Some(reset);
                return Some(Limited::Primary { reset });
            }
            self.primary_countdown = Some(n - 1);
        }
        if let Some(n) = self.secondary_countdown {
            if n == 0 {
                self.secondary_countdown = None;
                let wait = self.secondary_retry_after_secs.unwrap_or(DEFAULT_WAIT_SECS);
                self.secondary_until = Some(now + i64::try_from(wait).unwrap_or(i64::MAX / 2));
                return Some(Limited::Secondary { retry_after: wait });
            }
            self.secondary_countdown = Some(n - 1);
        }
        None
    }
}

/// One user's primary rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateWindow {
    pub used: u64,
    pub reset: i64,
}

impl RateWindow {
    pub(crate) fn fresh(now: i64) -> Self {
        Self {
            used: 0,
            reset: now + RATE_WINDOW_SECS,
        }
    }

    /// Starts a new window once the old one has expired.
    pub(crate) fn roll(&mut self, now: i64) {
        if now >= self.reset {
            *self = Self::fresh(now);
        }
    }

    pub(crate) fn remaining(&self) -> u64 {
        RATE_LIMIT.saturating_sub(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_every_counts_from_when_it_was_set() {
        let mut f = FaultState::default();
        assert!(!f.tick_error());
        f.apply(FaultSettings {
            error_every: Some(3),
            ..Default::default()
        });
        let hits: Vec<bool> = (0..6).map(|_| f.tick_error()).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
    }

    #[test]
    fn primary_limit_lasts_until_reset_then_lifts() {
        let mut f = FaultState::default();
        f.apply(FaultSettings {
            primary_limit_after: Some(2),
            primary_reset_secs: Some(10),
            ..Default::default()
        });
        assert_eq!(f.check_limits(100), None);
        assert_eq!(f.check_limits(100), None);
        assert_eq!(f.check_limits(100), Some(Limited::Primary { reset: 110 }));
        assert_eq!(f.check_limits(109), Some(Limited::Primary { reset: 110 }));
        assert_eq!(f.check_limits(110), None);
    }

    #[test]
    fn secondary_limit_reports_retry_after() {
        let mut f = FaultState::default();
        f.apply(FaultSettings {
            secondary_limit_after: Some(0),
            ..Default::default()
        });
        assert_eq!(
            f.check_limits(0),
            Some(Limited::Secondary { retry_after: 60 })
        );
        assert_eq!(
            f.check_limits(30),
            Some(Limited::Secondary { retry_after: 30 })
        );
        assert_eq!(f.check_limits(60), None);
    }

    #[test]
    fn rate_window_rolls_over() {
        let mut w = RateWindow::fresh(0);
        w.used = 10;
        assert_eq!(w.remaining(), RATE_LIMIT - 10);
        w.roll(3599);
        assert_eq!(w.used, 10);
        w.roll(3600);
        assert_eq!(w.used, 0);
        assert_eq!(w.reset, 7200);
    }
}
