//! This node's job runner (upload cleanup, audit-log rotation, garbage
//! collection), and the schedules the configuration owns: abandoned uploads
//! are cleaned up hourly, and (when a retention is set) the audit log is
//! rotated hourly.

use std::{sync::Arc, time::Duration};

use app::core::{
    AppState, Result,
    gc::{GarbageCollection, GcRepository},
    jobs::{AuditPurge, Job, Runner, RunnerSettings, UploadCleanup},
    replication::Replication,
    retention::Retention,
};

const HOURLY: &str = "hourly";

/// Puts the configured schedules in place (at start-up, before serving).
/// Audit rotation is the configuration's only when it names a retention;
/// otherwise the schedule an administrator set in the portal stays.
pub async fn configure(state: &AppState, upload_expiry: Duration, audit_retention: Option<Duration>) -> Result<()> {
    let jobs = &state.jobs;
    jobs.configure_schedule(UploadCleanup::KIND, Some((HOURLY, UploadCleanup::parameters(upload_expiry)))).await?;
    match audit_retention {
        Some(retention) => {
            jobs.configure_schedule(AuditPurge::KIND, Some((HOURLY, AuditPurge::parameters(retention)))).await
        }
        None => Ok(()),
    }
}

/// Starts this node's runner with every job kind.
pub fn start(state: &AppState, upload_expiry: Duration) -> Runner {
    let kinds: Vec<Arc<dyn Job>> = vec![
        Arc::new(UploadCleanup { registry: state.registry.clone() }),
        Arc::new(AuditPurge { audit: state.audit.clone() }),
        Arc::new(Replication { service: state.replication.clone() }),
        Arc::new(Retention { service: state.retention.clone() }),
        Arc::new(GarbageCollection {
            repository: GcRepository::new(state.db.clone()),
            blobs: state.blobs.clone(),
            registry: state.registry.clone(),
            upload_expiry,
            load: state.load.clone(),
        }),
    ];
    state.jobs.start_runner(kinds, RunnerSettings::default())
}
