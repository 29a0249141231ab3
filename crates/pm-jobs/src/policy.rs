//! The retry policy and the rule that turns a handler's outcome into the job's
//! next state. Pure: the caller passes the clock and the random number.

use crate::handler::{JobOutcome, StopReason};
use crate::model::{Job, Settlement};
use pm_kernel::Timestamp;
use std::time::Duration;

/// Exponential back-off with full jitter, capped: before retry `n` (after the
/// `n`-th failed attempt) the job waits a uniformly random time in
/// `[0, min(cap, base · 2^(n-1)))`. Full jitter spreads the retries of many jobs that
/// failed together (one GitHub outage) instead of making them retry in lock-step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 2 s, 4 s, 8 s, … (each with full jitter), never above 15 minutes.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after `attempt` failed attempts (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << exponent.min(31))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The wait after `attempt` failed attempts; `unit` is a random number in
    /// `[0, 1)` (values outside are clamped).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.ceiling(attempt).mul_f64(unit)
    }
}

/// What happens to `job` (just run: `job.attempts` counts this attempt) after its
/// handler returned `outcome`, given why it was asked to stop, if it was.
///
/// * An explicit time from the handler (GitHub's `retry-after` or
///   `x-ratelimit-reset`) wins over the back-off, but never goes into the past.
/// * A retry after the last attempt is a final `failed`.
/// * A cancel request turns anything but a success into `canceled`.
/// * A park (`waiting`) and a stop on shutdown (`Released`) give the attempt back.
pub fn settle(
    job: &Job,
    outcome: JobOutcome,
    stop: Option<StopReason>,
    policy: &RetryPolicy,
    now: Timestamp,
    unit: f64,
) -> Settlement {
    let canceled = stop == Some(StopReason::Canceled) || job.cancel_requested;
    match outcome {
        JobOutcome::Succeeded => Settlement::Succeeded,
        _ if canceled => Settlement::Canceled,
        JobOutcome::Fail(error) => Settlement::Failed { error },
        JobOutcome::Retry { error, .. } if job.attempts >= job.max_attempts => {
            Settlement::Failed { error }
        }
        JobOutcome::Retry { error, at } => {
            let run_at = match at {
                Some(at) => at.max(now),
                None => now + policy.delay(job.attempts, unit),
            };
            Settlement::Retry { run_at, error }
        }
        JobOutcome::Park { until, reason } => Settlement::Waiting {
            resumes_at: until.max(now),
            reason,
        },
        JobOutcome::Stopped => Settlement::Released,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobError, JobId, JobStatus};
    use serde_json::json;

    fn job(attempts: u32, max: u32) -> Job {
        let now = pm_kernel::now();
        Job {
            id: JobId::new(),
            kind: "test".into(),
            payload: json!({}),
            concurrency_key: None,
            workspace_id: None,
            project_id: None,
            status: JobStatus::Running,
            attempts,
            max_attempts: max,
            run_at: now,
            lease_until: Some(now),
            worker: None,
            cancel_requested: false,
            last_error: None,
            progress: None,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
        }
    }

    fn err() -> JobError {
        JobError::new("GITHUB_UNAVAILABLE", "down")
    }

    #[test]
    fn the_ceiling_doubles_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=8).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.ceiling(1_000), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn full_jitter_stays_below_the_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(3, 0.0), Duration::ZERO);
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(4));
        assert!(p.delay(3, 0.999_999) < Duration::from_secs(8));
        assert_eq!(p.delay(3, f64::NAN), Duration::ZERO);
        assert_eq!(p.delay(3, 7.0), Duration::from_secs(8), "clamped");
    }

    #[test]
    fn a_retry_waits_for_the_back_off() {
        let now = pm_kernel::now();
        let s = settle(
            &job(2, 5),
            JobOutcome::retry(err()),
            None,
            &RetryPolicy::default(),
            now,
            0.5,
        );
        assert_eq!(
            s,
            Settlement::Retry {
                run_at: now + Duration::from_secs(2),
                error: err()
            }
        );
    }

    #[test]
    fn the_time_github_names_wins_over_the_back_off_but_not_the_past() {
        let now = pm_kernel::now();
        let reset = now + Duration::from_secs(3600);
        let s = settle(
            &job(1, 5),
            JobOutcome::retry_at(err(), reset),
            None,
            &RetryPolicy::default(),
            now,
            0.9,
        );
        assert_eq!(
            s,
            Settlement::Retry {
                run_at: reset,
                error: err()
            }
        );
        let past = now - Duration::from_secs(5);
        let s = settle(
            &job(1, 5),
            JobOutcome::retry_at(err(), past),
            None,
            &RetryPolicy::default(),
            now,
            0.9,
        );
        assert!(matches!(s, Settlement::Retry { run_at, .. } if run_at == now));
    }

    #[test]
    fn the_last_attempt_fails_for_good() {
        let now = pm_kernel::now();
        let s = settle(
            &job(5, 5),
            JobOutcome::retry(err()),
            None,
            &RetryPolicy::default(),
            now,
            0.5,
        );
        assert_eq!(s, Settlement::Failed { error: err() });
        assert_eq!(s.status(), JobStatus::Failed);
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let s = settle(
            &job(1, 5),
            JobOutcome::Fail(err()),
            None,
            &RetryPolicy::default(),
            pm_kernel::now(),
            0.5,
        );
        assert_eq!(s, Settlement::Failed { error: err() });
    }

    #[test]
    fn a_cancel_wins_over_everything_but_success() {
        let now = pm_kernel::now();
        let p = RetryPolicy::default();
        for outcome in [
            JobOutcome::retry(err()),
            JobOutcome::Stopped,
            JobOutcome::Park {
                until: now,
                reason: None,
            },
            JobOutcome::Fail(err()),
        ] {
            assert_eq!(
                settle(
                    &job(1, 5),
                    outcome,
                    Some(StopReason::Canceled),
                    &p,
                    now,
                    0.5
                ),
                Settlement::Canceled
            );
        }
        assert_eq!(
            settle(
                &job(1, 5),
                JobOutcome::Succeeded,
                Some(StopReason::Canceled),
                &p,
                now,
                0.5
            ),
            Settlement::Succeeded
        );
        let mut requested = job(1, 5);
        requested.cancel_requested = true;
        assert_eq!(
            settle(&requested, JobOutcome::Stopped, None, &p, now, 0.5),
            Settlement::Canceled
        );
    }

    #[test]
    fn a_park_waits_and_a_shutdown_releases() {
        let now = pm_kernel::now();
        let until = now + Duration::from_secs(90);
        let p = RetryPolicy::default();
        assert_eq!(
            settle(
                &job(5, 5),
                JobOutcome::park_until(until, err()),
                None,
                &p,
                now,
                0.5
            ),
            Settlement::Waiting {
                resumes_at: until,
                reason: Some(err())
            },
            "a park on the last attempt does not fail it: the attempt is given back"
        );
        assert_eq!(
            settle(
                &job(1, 5),
                JobOutcome::Stopped,
                Some(StopReason::Shutdown),
                &p,
                now,
                0.5
            ),
            Settlement::Released
        );
    }
}
