//! Background work each node runs on a timer. Every job here is idempotent,
//! so several nodes sharing a database and store may run them at once.

use std::time::Duration;

use app::core::AppState;
use tokio::task::JoinHandle;

/// How often abandoned uploads are looked for.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// First cleanup after start, once the node is serving.
const FIRST_CLEANUP: Duration = Duration::from_secs(60);

/// Background jobs of one node; stopped when dropped.
pub struct Jobs(Vec<JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

/// Starts the node's background jobs: cleanup of abandoned uploads, and
/// (when a retention is set) pruning of the audit log.
pub fn start(state: &AppState, upload_expiry: Duration, audit_retention: Option<Duration>) -> Jobs {
    let registry = state.registry.clone();
    let cleanup = tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_CLEANUP, CLEANUP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Ok(expiry) = chrono::Duration::from_std(upload_expiry) else { return };
            if let Err(error) = registry.clean_up_abandoned(chrono::Utc::now() - expiry).await {
                tracing::warn!(%error, "cleaning up abandoned uploads failed; trying again later");
            }
        }
    });
    let mut jobs = vec![cleanup];
    if let Some(retention) = audit_retention {
        let audit = state.audit.clone();
        jobs.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_CLEANUP, CLEANUP_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Ok(retention) = chrono::Duration::from_std(retention) else { return };
                match audit.delete_before(chrono::Utc::now() - retention).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pruned the audit log"),
                    Err(error) => tracing::warn!(%error, "pruning the audit log failed; trying again later"),
                }
            }
        }));
    }
    Jobs(jobs)
}
