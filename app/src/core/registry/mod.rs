//! The registry domain: names and digests, the service behind `/v2/` and the
//! SQL it needs.

pub mod digest;
pub mod error;
pub mod manifest;
pub mod names;
#[cfg(test)]
mod properties;
mod repository;
mod service;

pub use error::{Error, Result};
pub(crate) use repository::RELIST_IMAGE_SQL;
pub use repository::{MAX_BATCH as MAX_DELETE_BATCH, ReferrerRow, StoredManifest};
pub use service::{
    ArtifactChange, ArtifactListener, BlobProblem, CleanupReport, Finding, LINK_WINDOW, Page, PushedManifest,
    RegistryService, VerifyReport,
};
