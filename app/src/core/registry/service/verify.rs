//! Checking the store against what the database says it holds: every blob
//! re-read and re-hashed, content that is missing or no longer matches its
//! digest reported, and (when asked) mismatched content quarantined so it
//! is never served again: moved aside in the store and marked in the
//! database, so pulls say it is unknown and clients push it again. Safe
//! while the registry serves.

use std::str::FromStr;

use super::RegistryService;
use crate::core::{
    registry::{digest::Digest, error::Result},
    storage,
};

/// Blobs read from the database per query.
const PAGE: i64 = 500;

/// What is wrong with one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobProblem {
    /// Recorded, but the store does not have it.
    Missing,
    /// The stored bytes hash to something else.
    Mismatched { actual: Digest },
    /// The stored bytes hash right but their size differs from the record.
    WrongSize { recorded: u64, stored: u64 },
    /// The store failed while reading it.
    Unreadable { reason: String },
    /// The database holds a digest Berth cannot parse.
    BadDigest { recorded: String },
}

/// One blob found wrong, and whether it was quarantined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub digest: String,
    pub problem: BlobProblem,
    pub quarantined: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub checked: u64,
    pub bytes: u64,
    /// Records of content no repository links and the store no longer has.
    pub awaiting_collection: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

impl RegistryService {
    /// Re-hashes every stored blob (quarantined ones are skipped). With
    /// `quarantine`, content that does not match its digest is moved aside:
    /// pulls and `HEAD` of it then answer `BLOB_UNKNOWN`, and the next push
    /// of the same content stores it again.
    pub async fn verify_storage(&self, quarantine: bool) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.repository.list_blobs(after.as_deref(), PAGE).await?;
            let Some((last, _, _)) = page.last() else { break };
            after = Some(last.clone());
            for (recorded, size, linked) in page {
                report.checked += 1;
                let Ok(digest) = Digest::from_str(&recorded) else {
                    let problem = BlobProblem::BadDigest { recorded: recorded.clone() };
                    report.findings.push(Finding { digest: recorded, problem, quarantined: false });
                    continue;
                };
                let Some(problem) = self.check_blob(&digest, u64::try_from(size).unwrap_or(0), &mut report).await?
                else {
                    continue;
                };
                // Garbage collection cut short between deleting content and
                // its row leaves a row nothing links and nothing serves: the
                // next run deletes it.
                if problem == BlobProblem::Missing && !linked {
                    report.awaiting_collection += 1;
                    continue;
                }
                let quarantined = quarantine
                    && matches!(problem, BlobProblem::Mismatched { .. })
                    && self.blobs.quarantine(&digest).await?;
                if quarantined {
                    self.repository.quarantine_blob(&digest, chrono::Utc::now()).await?;
                    tracing::warn!(%digest, "quarantined a blob whose content does not match its digest");
                }
                report.findings.push(Finding { digest: recorded, problem, quarantined });
            }
        }
        Ok(report)
    }

    async fn check_blob(
        &self,
        digest: &Digest,
        recorded: u64,
        report: &mut VerifyReport,
    ) -> Result<Option<BlobProblem>> {
        let reader = match self.blobs.read(digest, None).await {
            Ok(Some(reader)) => reader,
            Ok(None) => return Ok(Some(BlobProblem::Missing)),
            Err(error) => return Ok(Some(BlobProblem::Unreadable { reason: error.to_string() })),
        };
        let (actual, stored) = match storage::hash_stream(reader.body, digest).await {
            Ok(hashed) => hashed,
            Err(error) => return Ok(Some(BlobProblem::Unreadable { reason: error.to_string() })),
        };
        report.bytes += stored;
        Ok(if actual != *digest {
            Some(BlobProblem::Mismatched { actual })
        } else if stored != recorded {
            Some(BlobProblem::WrongSize { recorded, stored })
        } else {
            None
        })
    }
}
