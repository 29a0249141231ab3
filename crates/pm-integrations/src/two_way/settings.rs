//! How a project syncs with its repository (`GET/PATCH …/github/settings`).

use async_trait::async_trait;
use pm_kernel::{ProjectId, Result};

pm_kernel::string_enum!(
    /// Which way changes flow.
    SyncDirection, "direction", {
        /// The seed's behaviour: a sync imports new issues, skips linked ones, and
        /// nothing is ever written to GitHub.
        ImportOnly => "import_only",
        /// Changes flow both ways through the three-way merge (the default for new links).
        TwoWay => "two_way",
    }
);

pm_kernel::string_enum!(
    /// Which side wins when both changed a field to different values.
    ConflictPolicy, "conflict_policy", {
        /// The task's value is kept and sent to GitHub (the default).
        PmhubWins => "pmhub_wins",
        /// GitHub's value is applied to the task.
        GithubWins => "github_wins",
    }
);

/// A project's sync settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncSettings {
    /// Which way changes flow.
    pub direction: SyncDirection,
    /// Who wins a conflict.
    pub conflict_policy: ConflictPolicy,
    /// New tasks are pushed as issues by themselves (two-way only).
    pub push_new_tasks: bool,
}

impl Default for SyncSettings {
    /// What a project linked to a repository gets unless it says otherwise.
    fn default() -> Self {
        Self {
            direction: SyncDirection::TwoWay,
            conflict_policy: ConflictPolicy::PmhubWins,
            push_new_tasks: false,
        }
    }
}

impl SyncSettings {
    /// Whether pmhub writes to GitHub and merges linked issues.
    pub fn is_two_way(&self) -> bool {
        self.direction == SyncDirection::TwoWay
    }
}

/// Changes to the settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncSettingsPatch {
    /// A new direction.
    pub direction: Option<SyncDirection>,
    /// A new conflict policy.
    pub conflict_policy: Option<ConflictPolicy>,
    /// Whether new tasks are pushed by themselves.
    pub push_new_tasks: Option<bool>,
}

/// Storage of the settings (`github_sync_settings`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncSettingsStore: Send + Sync {
    /// The project's settings; the defaults when it has no row.
    async fn get(&self, project_id: ProjectId) -> Result<SyncSettings>;

    /// Applies the patch (creating the row from the defaults) and returns the result.
    async fn update(
        &self,
        project_id: ProjectId,
        patch: &SyncSettingsPatch,
    ) -> Result<SyncSettings>;
}
