//! Reading the audit log: each reader sees what they are allowed to.

use chrono::{DateTime, Utc};

use super::{AuditQuery, EventRepository, Operation, StoredEvent};
use crate::core::{
    Result,
    access::{AccessService, may_system, require_system},
    db::{Db, Keyset, Page, TimeCursor, Window},
    identity::Actor,
    rbac::{Action, SystemAction},
};

/// Most entries one export holds; a bigger log is exported a time range at a time.
pub const MAX_EXPORT: i64 = 1_000_000;

/// Reading the audit log: system administrators read all of it; others read
/// a project's entries where they hold `read_logs`.
#[derive(Clone, Debug)]
pub struct AuditLog {
    repository: EventRepository,
    access: AccessService,
}

impl AuditLog {
    pub fn new(db: Db, access: AccessService) -> Self {
        Self { repository: EventRepository::new(db), access }
    }

    /// A page of entries matching `query`, newest first, and how many match in all.
    pub async fn list(&self, reader: &Actor, query: &AuditQuery<'_>, window: Window) -> Result<Page<StoredEvent>> {
        self.check_reader(reader, query).await?;
        self.repository.list(query, window).await
    }

    /// A page of entries matching `query`, newest first, read by keyset.
    pub async fn browse(
        &self,
        reader: &Actor,
        query: &AuditQuery<'_>,
        keyset: &Keyset<TimeCursor>,
        limit: u32,
    ) -> Result<Page<StoredEvent>> {
        self.check_reader(reader, query).await?;
        self.repository.page_by_keyset(query, keyset, limit).await
    }

    /// How many entries match `query`: what an export checks against [`MAX_EXPORT`] first.
    pub async fn count(&self, reader: &Actor, query: &AuditQuery<'_>) -> Result<i64> {
        self.check_reader(reader, query).await?;
        self.repository.count(query).await
    }

    /// Up to `limit` entries matching `query` that come after `cursor` in
    /// newest-first order (from the newest when `None`), uncounted: what an
    /// export reads batch after batch.
    pub async fn batch(
        &self,
        reader: &Actor,
        query: &AuditQuery<'_>,
        cursor: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        self.check_reader(reader, query).await?;
        self.repository.batch_after(query, cursor, limit).await
    }

    /// System administrators read everything (a deleted project's log
    /// too); others one project's log, with `read_logs` there.
    async fn check_reader(&self, reader: &Actor, query: &AuditQuery<'_>) -> Result<()> {
        match query.project {
            _ if may_system(reader, SystemAction::ReadAuditLog) => {}
            Some(project) => _ = self.access.require(reader, project, Action::ReadLogs).await?,
            None => _ = require_system(reader, SystemAction::ReadAuditLog)?,
        }
        Ok(())
    }

    /// Deletes entries older than `cutoff` (of `operations` only, when any
    /// are named), or with `dry_run` counts them; returns how many.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>, operations: &[Operation], dry_run: bool) -> Result<u64> {
        self.repository.purge_before(cutoff, operations, dry_run).await
    }
}
