//! Pacing of content-creating GitHub calls (the `Pacer` port).
//!
//! `pmhub` wires [`Unpaced`]: creates are paced per token, across every instance,
//! by the GitHub adapter through PostgreSQL (`pm_github::SharedThrottle`, ADR
//! 0018). [`IntervalPacer`] is the in-process pacer for embedding the services
//! without that adapter.

use async_trait::async_trait;
use pm_integrations::Pacer;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Lets one create through per `interval`, process-wide: GitHub's secondary
/// limits count per account, so spacing all pushes together is the safe choice.
pub struct IntervalPacer {
    interval: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl IntervalPacer {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next_slot: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Pacer for IntervalPacer {
    async fn before_create(&self) {
        if self.interval.is_zero() {
            return;
        }
        // Reserve a slot under the lock, then sleep outside it.
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Never waits: the pacing happens further down, in the GitHub adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unpaced;

#[async_trait]
impl Pacer for Unpaced {
    async fn before_create(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn creates_are_spaced_by_the_interval() {
        let pacer = IntervalPacer::new(Duration::from_secs(1));
        let start = Instant::now();
        pacer.before_create().await;
        pacer.before_create().await;
        pacer.before_create().await;
        // Paused clock: the elapsed virtual time is exact.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_interval_never_waits() {
        let pacer = IntervalPacer::new(Duration::ZERO);
        let start = Instant::now();
        pacer.before_create().await;
        pacer.before_create().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
