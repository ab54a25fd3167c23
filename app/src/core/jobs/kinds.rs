//! The job kinds that keep a registry tidy: cleaning up abandoned uploads
//! and rotating the audit log. Each is safe to run again after a crash.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::{Job, JobContext, JobRun};
use crate::core::{
    Error,
    events::{AuditLog, Operation},
    registry::RegistryService,
};

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
            context.log(format!("removing uploads untouched since {}", cutoff.format(SECONDS))).await?;
            let report = self.registry.clean_up_abandoned(cutoff).await?;
            context
                .log(format!("removed {} uploads and {} empty repositories", report.uploads, report.repositories.len()))
                .await?;
            Ok(json!({ "uploads": report.uploads, "repositories": report.repositories }))
        })
    }
}

/// Deletes audit-log entries older than `audit_retention_hour` hours, of
/// the operations `include_operations` names (comma-separated; all when
/// empty), or with `dry_run` only counts them: Harbor's purge parameters.
#[derive(Clone, Debug)]
pub struct AuditPurge {
    pub audit: AuditLog,
}

impl AuditPurge {
    pub const KIND: &'static str = "purge_audit";

    /// The parameters for keeping entries for `retention`.
    pub fn parameters(retention: Duration) -> Value {
        json!({ "audit_retention_hour": retention.as_secs().div_ceil(3600) })
    }

    /// The parameters' checked form: hours to keep, operations, dry run.
    pub fn read(parameters: &Value) -> crate::core::Result<(i64, Vec<Operation>, bool)> {
        let hours = parameter(parameters, "audit_retention_hour")?;
        let operations = match parameters.get("include_operations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(list)) => list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(|name| {
                    Operation::parse(name).ok_or_else(|| {
                        Error::invalid("include_operations", format!("{name:?} is not an operation the log records"))
                    })
                })
                .collect::<crate::core::Result<_>>()?,
            Some(_) => return Err(Error::invalid("include_operations", "must be comma-separated operation names")),
        };
        let dry_run = match parameters.get("dry_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(dry_run)) => *dry_run,
            Some(_) => return Err(Error::invalid("dry_run", "must be true or false")),
        };
        Ok((hours, operations, dry_run))
    }
}

impl Job for AuditPurge {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move {
            let (hours, operations, dry_run) = Self::read(parameters)?;
            let cutoff = Utc::now() - chrono::Duration::hours(hours);
            let which = if operations.is_empty() {
                "all operations".to_owned()
            } else {
                operations.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
            };
            context
                .log(format!(
                    "entries from before {}, of {which}{}",
                    cutoff.format(SECONDS),
                    if dry_run { " (dry run)" } else { "" }
                ))
                .await?;
            let count = self.audit.purge_before(cutoff, &operations, dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            context.log(format!("{verb} {count} entries")).await?;
            Ok(json!({ "deleted": if dry_run { 0 } else { count }, "matched": count, "dry_run": dry_run }))
        })
    }
}

/// How log lines write a cutoff: to the second, in UTC.
const SECONDS: &str = "%Y-%m-%d %H:%M:%S UTC";

/// A whole, non-negative number parameter.
fn parameter(parameters: &Value, name: &'static str) -> crate::core::Result<i64> {
    parameters
        .get(name)
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::invalid(name, "must be a whole number, at least 0"))
}
