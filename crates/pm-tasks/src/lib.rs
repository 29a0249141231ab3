//! Tasks: the work items of a project, numbered 1, 2, 3… per project. A task may
//! come from a person (`manual`) or from a GitHub issue (`github`), in which case it
//! carries an external link back to the issue.

#![warn(missing_docs)]

/// The entities and value types.
pub mod models;
/// The ports (traits) adapters implement.
pub mod ports;
pub mod service;

pub use models::{
    ExternalLink, Labels, NewTask, Priority, Task, TaskDescription, TaskFilter, TaskPatch,
    TaskSource, TaskStatus, TaskTitle,
};
pub use ports::TaskStore;
pub use service::TaskService;

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockTaskStore;
