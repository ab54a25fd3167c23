//! What can go wrong in the registry domain; the `/v2/` edge maps each
//! variant to its OCI error code.

use super::digest::Digest;
use crate::core::storage;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("blob unknown to this repository")]
    BlobUnknown,
    #[error("manifest unknown to this repository")]
    ManifestUnknown,
    #[error("repository unknown to this registry")]
    NameUnknown,
    /// Pushing needs the project to exist first (it is never created on the fly).
    #[error("{}", project_unknown_message(.0))]
    ProjectUnknown(super::names::RepoName),
    #[error(transparent)]
    ManifestInvalid(#[from] super::manifest::InvalidManifest),
    #[error("the manifest needs {0}, which this repository does not have")]
    ManifestBlobUnknown(Digest),
    #[error("the manifest is {size} bytes; this registry accepts at most {limit}")]
    ManifestTooLarge { size: usize, limit: usize },
    #[error("the manifest is stored as {stored}, which the request's Accept header does not allow")]
    NotAcceptable { stored: String },
    /// Adding the blob would take the project over its storage quota.
    #[error(
        "project {project} has a storage quota of {quota} bytes and uses {used}; \
         the {needed} more bytes this push needs would exceed it"
    )]
    QuotaExceeded { project: String, quota: i64, used: i64, needed: u64 },
    /// Adding a tag that already names a manifest here (the portal's "add tag").
    #[error("the tag {tag} already exists in {repository}")]
    TagExists { tag: String, repository: String },
    /// Moving or deleting a tag an immutability rule protects.
    #[error(transparent)]
    Immutable(Box<crate::core::immutability::Protected>),
    /// A delete decided from an earlier read: the manifest was pushed again since.
    #[error("the manifest was pushed again after the decision to delete it; it stays")]
    ChangedMeanwhile,
    #[error("blob upload unknown to this repository")]
    UploadUnknown,
    #[error("chunk starts at byte {requested}, but the upload holds {actual} bytes")]
    OutOfOrder { requested: u64, actual: u64 },
    #[error("content has digest {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("range {first}-{last} is outside the blob's {size} bytes")]
    RangeNotSatisfiable { first: u64, last: u64, size: u64 },
    #[error("the client stopped sending: {0}")]
    ClientAborted(std::io::Error),
    /// The blob store's file system is full: nothing of the request was kept.
    #[error("the registry's storage is full; nothing of this request was stored, try again later")]
    StorageFull,
    #[error(transparent)]
    Internal(#[from] crate::core::Error),
}

fn project_unknown_message(repository: &super::names::RepoName) -> String {
    match repository.project() {
        Some(project) => format!("project {project} does not exist; create it before pushing to {repository}"),
        None => format!("repository names start with their project (<project>/{repository}); {repository} has none"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<storage::Error> for Error {
    fn from(error: storage::Error) -> Self {
        match error {
            storage::Error::UploadUnknown(_) => Self::UploadUnknown,
            storage::Error::OffsetMismatch { expected, actual } => Self::OutOfOrder { requested: expected, actual },
            storage::Error::DigestMismatch { expected, actual } => Self::DigestMismatch { expected, actual },
            storage::Error::RangeNotSatisfiable { first, last, size } => {
                Self::RangeNotSatisfiable { first, last, size }
            }
            storage::Error::Client(e) => Self::ClientAborted(e),
            storage::Error::Io { source, .. }
                if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) =>
            {
                tracing::error!(error = %source, "the blob store is full");
                Self::StorageFull
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// The registry's errors as the core's, for callers outside `/v2` (the
/// portal, REST, jobs): what is missing is not found, a quota refusal is
/// forbidden, an immutable tag is a failed precondition, the rest of what
/// a client did wrong is a conflict.
impl From<Error> for crate::core::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::ManifestUnknown | Error::NameUnknown => Self::NotFound("artifact".into()),
            Error::Internal(inner) => inner,
            quota @ Error::QuotaExceeded { .. } => Self::Forbidden(quota.to_string()),
            Error::Immutable(protected) => Self::Immutable(protected.to_string()),
            other => Self::Conflict(other.to_string()),
        }
    }
}
