//! "Never hammer a limited token": once GitHub says a token is rate limited, calls
//! with that token are refused here, without a request, until the limit lifts.
//!
//! Keyed like the ETag cache: a keyed hash of the token, so no token is kept in
//! memory in plain form.

use pm_kernel::GithubError;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Enough for every token of a large installation; expired entries go first.
const MAX_TOKENS: usize = 10_000;

pub(crate) struct RateGate {
    hasher: RandomState,
    blocked: Mutex<HashMap<u64, Instant>>,
}

impl RateGate {
    pub(crate) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, token: &SecretString) -> u64 {
        self.hasher.hash_one(token.expose_secret())
    }

    /// `RateLimited` with the seconds left while the token is blocked.
    pub(crate) fn check(&self, token: &SecretString) -> Result<(), GithubError> {
        let key = self.key(token);
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(&key) {
            Some(until) if *until > Instant::now() => Err(GithubError::RateLimited {
                retry_after_secs: until.duration_since(Instant::now()).as_secs().max(1),
            }),
            Some(_) => {
                blocked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Remembers a rate limit GitHub reported for the token.
    pub(crate) fn record<T>(&self, token: &SecretString, result: &Result<T, GithubError>) {
        let Err(GithubError::RateLimited { retry_after_secs }) = result else {
            return;
        };
        let until = Instant::now() + Duration::from_secs(*retry_after_secs);
        let key = self.key(token);
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        if blocked.len() >= MAX_TOKENS {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        if blocked.len() < MAX_TOKENS {
            blocked.insert(key, until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_token_is_refused_until_the_limit_lifts_and_others_pass() {
        let gate = RateGate::new();
        let limited = SecretString::from("ghp_limited");
        let other = SecretString::from("ghp_other");
        gate.record::<()>(
            &limited,
            &Err(GithubError::RateLimited {
                retry_after_secs: 60,
            }),
        );
        match gate.check(&limited) {
            Err(GithubError::RateLimited { retry_after_secs }) => {
                assert!((59..=60).contains(&retry_after_secs))
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert!(gate.check(&other).is_ok());
        gate.record::<()>(&other, &Err(GithubError::Unauthorized));
        assert!(gate.check(&other).is_ok(), "only rate limits block");
    }

    #[test]
    fn an_elapsed_limit_lets_calls_through_again() {
        let gate = RateGate::new();
        let token = SecretString::from("ghp_x");
        gate.record::<()>(
            &token,
            &Err(GithubError::RateLimited {
                retry_after_secs: 0,
            }),
        );
        assert!(gate.check(&token).is_ok());
    }
}
