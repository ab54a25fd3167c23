//! Operator commands that run beside (or instead of) a serving Berth, on
//! the same configuration: `berth storage verify`, `berth admin
//! reset-password`. They never migrate the database (a newer binary must not
//! change the schema under an older server): run them with the version
//! that serves.

use std::fmt::Write as _;

use app::core::{
    cache::ReadCache,
    db::Db,
    events::EventRecorder,
    registry::{BlobProblem, RegistryService, VerifyReport},
    settings::SettingsService,
    storage,
    users::{PasswordHasherPool, UserService},
};

use crate::{Error, config::Config};

/// Re-hashes every blob the database records, quarantining mismatched
/// content when asked.
pub async fn verify_storage(config: &Config, quarantine: bool) -> Result<VerifyReport, Error> {
    let db = Db::connect(&config.database_url).await?;
    let blobs = storage::open(&config.storage).await.map_err(app::core::Error::from)?;
    let events = EventRecorder::start(db.clone());
    let registry = RegistryService::new(db.clone(), blobs, events.clone(), ReadCache::off(), config.max_manifest_bytes);
    let report = registry.verify_storage(quarantine).await?;
    events.flush().await;
    db.close().await;
    Ok(report)
}

/// The report as people read it: one line per finding, then the totals.
pub fn describe(report: &VerifyReport) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let what = match &finding.problem {
            BlobProblem::Missing => "missing from the store".to_owned(),
            BlobProblem::Mismatched { actual } => format!("content does not match (it hashes to {actual})"),
            BlobProblem::WrongSize { recorded, stored } => format!("{stored} bytes stored, {recorded} recorded"),
            BlobProblem::Unreadable { reason } => format!("unreadable: {reason}"),
            BlobProblem::BadDigest { recorded } => format!("recorded digest {recorded:?} is not valid"),
        };
        let quarantined = if finding.quarantined { " (quarantined)" } else { "" };
        let _ = writeln!(out, "{}: {what}{quarantined}", finding.digest);
    }
    if report.awaiting_collection > 0 {
        let _ = writeln!(
            out,
            "{} records of unlinked content whose deletion was cut short: the next garbage collection removes them",
            report.awaiting_collection
        );
    }
    let gib = report.bytes as f64 / f64::from(1u32 << 30);
    let _ = writeln!(
        out,
        "checked {} blobs ({gib:.2} GiB): {}",
        report.checked,
        if report.is_clean() {
            "all match their digests".to_owned()
        } else {
            format!("{} wrong", report.findings.len())
        }
    );
    out
}

/// Sets `username`'s password (generated when `password` is `None`) and
/// returns it.
pub async fn reset_password(config: &Config, username: &str, password: Option<String>) -> Result<String, Error> {
    let db = Db::connect(&config.database_url).await?;
    let settings = SettingsService::new(db.clone());
    let users = UserService::new(db.clone(), PasswordHasherPool::default(), settings);
    let reset = users.reset_password(username, password).await;
    db.close().await;
    Ok(reset?)
}
