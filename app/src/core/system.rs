//! What the server knows about itself: component health for monitors and the
//! overview shown on the dashboard.

use std::sync::Arc;

use crate::core::{
    Error, Result,
    db::{Db, DbKind},
    identity::{Actor, Principal},
    storage::{BlobStore, DiskSpace},
};

/// Outcome of checking one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComponentStatus {
    Healthy,
    /// With a reason fit to show anyone.
    Unhealthy(String),
}

#[derive(Clone, Debug)]
pub struct HealthReport {
    pub database: ComponentStatus,
    pub storage: ComponentStatus,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.database == ComponentStatus::Healthy && self.storage == ComponentStatus::Healthy
    }
}

/// The facts the dashboard shows.
#[derive(Clone, Debug)]
pub struct Overview {
    pub version: &'static str,
    pub database: DbKind,
    pub storage_location: String,
    /// `None` for backends that cannot tell (object storage).
    pub disk: Option<DiskSpace>,
}

#[derive(Clone, Debug)]
pub struct SystemService {
    db: Db,
    storage: Arc<dyn BlobStore>,
}

impl SystemService {
    pub fn new(db: Db, storage: Arc<dyn BlobStore>) -> Self {
        Self { db, storage }
    }

    /// Checks the database and the store concurrently; failures are reported,
    /// not raised, so a monitor always gets an answer.
    pub async fn health(&self) -> HealthReport {
        let (database, storage) = tokio::join!(self.db.ping(), self.storage.check_writable());
        let storage = storage.map_err(crate::core::Error::from);
        // Monitors are often unauthenticated: they get a short reason, the log gets the detail.
        let status = |component: &str, reason: &str, r: Result<()>| match r {
            Ok(()) => ComponentStatus::Healthy,
            Err(e) => {
                tracing::warn!(component, error = %e, "health check failed");
                ComponentStatus::Unhealthy(reason.to_owned())
            }
        };
        HealthReport {
            database: status("database", "database unreachable", database),
            storage: status("storage", "storage not writable", storage),
        }
    }

    /// The version, database and storage, for anyone signed in.
    pub async fn overview(&self, actor: &Actor) -> Result<Overview> {
        if matches!(actor.principal, Principal::Anonymous | Principal::TokenHolder(_)) {
            return Err(Error::Unauthenticated);
        }
        Ok(Overview {
            version: env!("CARGO_PKG_VERSION"),
            database: self.db.kind(),
            storage_location: self.storage.location(),
            disk: self.storage.disk_space().await?,
        })
    }
}
