//! The durable job engine's domain: the job model and its states, the retry
//! policy, the [`JobQueue`] port and the [`JobHandler`] trait with its
//! [`JobContext`]. No I/O: `pm-postgres` implements the queue, `pm-worker` runs
//! handlers (see docs/architecture.md, "The job engine").

pub mod handler;
pub mod model;
pub mod policy;
pub mod ports;

pub use handler::{JobContext, JobHandler, JobOutcome, StopReason, StopSignal};
pub use model::{
    CancelOutcome, ClaimedJob, DEFAULT_MAX_ATTEMPTS, Enqueued, HANDLER_PANICKED, Job, JobError,
    JobFilter, JobId, JobStatus, LEASE_EXPIRED, Lease, LeaseState, NO_HANDLER, NewJob, Settlement,
    lease_expired,
};
pub use policy::{RetryPolicy, settle};
pub use ports::JobQueue;
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockJobQueue;
