//! The built-in periodic job that deletes finished jobs after a retention.

use async_trait::async_trait;
use pm_jobs::{Job, JobContext, JobHandler, JobOutcome, JobQueue};
use std::sync::Arc;
use std::time::Duration;

/// The cleanup job's kind.
pub const CLEANUP_KIND: &str = "pmhub.jobs.cleanup";

/// Deletes succeeded, failed and canceled jobs that finished more than `retention`
/// ago.
pub struct CleanupHandler {
    queue: Arc<dyn JobQueue>,
    retention: Duration,
}

impl CleanupHandler {
    pub fn new(queue: Arc<dyn JobQueue>, retention: Duration) -> Self {
        Self { queue, retention }
    }
}

#[async_trait]
impl JobHandler for CleanupHandler {
    async fn run(&self, _job: &Job, _ctx: &JobContext) -> JobOutcome {
        let now = pm_kernel::now();
        match self.queue.cleanup(now - self.retention).await {
            Ok(deleted) => {
                tracing::info!(
                    deleted,
                    retention_secs = self.retention.as_secs(),
                    "finished jobs cleaned up"
                );
                JobOutcome::Succeeded
            }
            Err(e) => JobOutcome::from_error(&e, now),
        }
    }
}
