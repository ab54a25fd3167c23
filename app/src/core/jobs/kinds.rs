//! The job kinds that keep a registry tidy: cleaning up abandoned uploads
//! and rotating the audit log. Each is safe to run again after a crash.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::{Job, JobContext, JobRun};
use crate::core::{Error, events::AuditLog, registry::RegistryService};

/// Removes uploads untouched for `expiry_seconds` (their staged bytes too)
/// and repositories abandoned as long.
#[derive(Clone, Debug)]
pub struct UploadCleanup {
    pub registry: RegistryService,
}

impl UploadCleanup {
    pub const KIND: &'static str = "upload_cleanup";

    /// The parameters for uploads that expire after `expiry`.
    pub fn parameters(expiry: Duration) -> Value {
        json!({ "expiry_seconds": expiry.as_secs() })
    }
}

impl Job for UploadCleanup {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move {
            let seconds = parameter(parameters, "expiry_seconds")?;
            let cutoff = Utc::now() - chrono::Duration::seconds(seconds);
            context.log(format!("removing uploads untouched since {cutoff}")).await?;
            let report = self.registry.clean_up_abandoned(cutoff).await?;
            context
                .log(format!("removed {} uploads and {} empty repositories", report.uploads, report.repositories.len()))
                .await?;
            Ok(json!({ "uploads": report.uploads, "repositories": report.repositories }))
        })
    }
}

/// Deletes audit-log entries older than `retention_hours`.
#[derive(Clone, Debug)]
pub struct AuditPurge {
    pub audit: AuditLog,
}

impl AuditPurge {
    pub const KIND: &'static str = "purge_audit";

    /// The parameters for keeping entries for `retention`.
    pub fn parameters(retention: Duration) -> Value {
        json!({ "retention_hours": retention.as_secs().div_ceil(3600) })
    }
}

impl Job for AuditPurge {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move {
            let hours = parameter(parameters, "retention_hours")?;
            let cutoff = Utc::now() - chrono::Duration::hours(hours);
            context.log(format!("deleting audit-log entries from before {cutoff}")).await?;
            let deleted = self.audit.delete_before(cutoff).await?;
            context.log(format!("deleted {deleted} entries")).await?;
            Ok(json!({ "deleted": deleted }))
        })
    }
}

/// A whole, non-negative number parameter.
fn parameter(parameters: &Value, name: &'static str) -> crate::core::Result<i64> {
    parameters
        .get(name)
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::invalid(name, "must be a whole number, at least 0"))
}
