//! The SQL of replication policies: storing, replacing, enabling and
//! deleting one together with its schedule and audit row, and what running
//! them reads (the enabled event-based policies, the artifacts here a push
//! policy chooses from).

use chrono::{DateTime, Utc};

use super::{Refused, ReplicationRepository};
use crate::{
    core::{
        Error, Result,
        db::{Counted, Page, Window, begin_writing, like_contains},
        events::{AuditEvent, write_audit_row},
        jobs::{CronSchedule, delete_schedule_in, put_schedule_in},
        replication::{
            endpoints::EndpointId,
            filters::Filters,
            policies::{Direction, Policy, PolicyDraft, PolicyId, Trigger},
        },
    },
    on_db,
};

/// Binds a policy's columns, `$1` to `$14` in the order the insert and the
/// update name them.
macro_rules! bind_policy {
    ($query:expr, $draft:expr, $source:expr, $destination:expr, $filters:expr) => {
        $query
            .bind(&$draft.name)
            .bind(&$draft.description)
            .bind($source)
            .bind($destination)
            .bind(&$draft.dest_namespace)
            .bind(i16::from($draft.replace_count))
            .bind($draft.trigger.as_str())
            .bind($draft.trigger.cron())
            .bind(&$filters)
            .bind($draft.replicate_deletion)
            .bind($draft.override_existing)
            .bind($draft.enabled)
            .bind($draft.speed_kb)
            .bind($draft.copy_by_chunk)
    };
}

const POLICY_COLUMNS: &str = "id, name, description, source_registry_id, destination_registry_id, dest_namespace, \
     dest_namespace_replace_count, trigger_kind, cron, filters, replicate_deletion, override, enabled, speed_kb, \
     copy_by_chunk, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    name: String,
    description: String,
    source_registry_id: Option<i64>,
    destination_registry_id: Option<i64>,
    dest_namespace: String,
    dest_namespace_replace_count: i16,
    trigger_kind: String,
    cron: Option<String>,
    filters: String,
    replicate_deletion: bool,
    #[sqlx(rename = "override")]
    override_existing: bool,
    enabled: bool,
    speed_kb: i64,
    copy_by_chunk: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PolicyRow {
    fn read(self) -> Result<Policy> {
        let corrupt = |what: &str| Error::corrupt(format!("replication policy {}: {what}", self.id));
        let direction = match (self.source_registry_id, self.destination_registry_id) {
            (None, Some(destination)) => Direction::Push { destination: EndpointId(destination) },
            (Some(source), None) => Direction::Pull { source: EndpointId(source) },
            _ => return Err(corrupt("not exactly one remote registry")),
        };
        let trigger = Trigger::parse(&self.trigger_kind, self.cron.as_deref()).map_err(|_| corrupt("trigger"))?;
        let filters: Filters = serde_json::from_str(&self.filters).map_err(|_| corrupt("filters"))?;
        Ok(Policy {
            id: PolicyId(self.id),
            name: self.name,
            description: self.description,
            direction,
            dest_namespace: self.dest_namespace,
            replace_count: i8::try_from(self.dest_namespace_replace_count).map_err(|_| corrupt("replace count"))?,
            trigger,
            filters,
            replicate_deletion: self.replicate_deletion,
            override_existing: self.override_existing,
            enabled: self.enabled,
            speed_kb: self.speed_kb,
            copy_by_chunk: self.copy_by_chunk,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An artifact here, as a push policy sees it.
#[derive(Clone, Debug)]
pub struct LocalArtifact {
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub tags: Vec<String>,
}

/// When a policy's schedule ticks first, if it is to run on one.
pub struct FirstTick {
    pub cron: String,
    pub at: DateTime<Utc>,
}

impl ReplicationRepository {
    /// Policies in name order (names containing `contains`), paged.
    pub async fn list_policies(&self, contains: Option<&str>, window: Window) -> Result<Page<Policy>> {
        let pattern = contains.map(|needle| like_contains(&needle.to_lowercase()));
        const FILTER: &str = "($1 IS NULL OR lower(name) LIKE $1 ESCAPE '\\')";
        let page = format!(
            "SELECT {POLICY_COLUMNS}, COUNT(*) OVER () AS total FROM replication_policies WHERE {FILTER} \
             ORDER BY name, id LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM replication_policies WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<PolicyRow>> =
                sqlx::query_as(&page).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(&count).bind(&pattern).fetch_one(pool), PolicyRow::read).await
        }.await)
    }

    pub async fn find_policy(&self, id: PolicyId) -> Result<Option<Policy>> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM replication_policies WHERE id = $1");
        let row = on_db!(&self.db, pool => sqlx::query_as::<_, PolicyRow>(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(PolicyRow::read).transpose()
    }

    /// Stores a policy, its schedule (when `tick` says it runs on one) and
    /// its audit row in one transaction.
    pub async fn create_policy(
        &self,
        draft: &PolicyDraft,
        tick: Option<&FirstTick>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<PolicyId, Refused>> {
        const SQL: &str = "INSERT INTO replication_policies (name, description, source_registry_id, \
             destination_registry_id, dest_namespace, dest_namespace_replace_count, trigger_kind, cron, filters, \
             replicate_deletion, override, enabled, speed_kb, copy_by_chunk, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
             ON CONFLICT (name) DO NOTHING RETURNING id";
        let (source, destination) = ends(draft.direction);
        let filters = serde_json::to_string(&draft.filters).map_err(|e| Error::invalid("filters", e.to_string()))?;
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let id: Option<i64> = bind_policy!(sqlx::query_scalar(SQL), draft, source, destination, filters)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok(Err(Refused::NameTaken));
            };
            if let Some(tick) = tick {
                let parameters = serde_json::json!({ "policy_id": id }).to_string();
                put_schedule_in!(tx, PolicyId(id).job_kind(), &tick.cron, &parameters, tick.at, now);
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(PolicyId(id)))
        }.await);
        registry_deleted_meanwhile(written)
    }

    /// Replaces a policy whole, with its schedule and audit row, in one transaction.
    pub async fn update_policy(
        &self,
        id: PolicyId,
        draft: &PolicyDraft,
        tick: Option<&FirstTick>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<(), Refused>> {
        const SQL: &str = "UPDATE replication_policies SET name = $1, description = $2, source_registry_id = $3, \
             destination_registry_id = $4, dest_namespace = $5, dest_namespace_replace_count = $6, trigger_kind = $7, \
             cron = $8, filters = $9, replicate_deletion = $10, override = $11, enabled = $12, speed_kb = $13, \
             copy_by_chunk = $14, updated_at = $15 WHERE id = $16";
        let (source, destination) = ends(draft.direction);
        let filters = serde_json::to_string(&draft.filters).map_err(|e| Error::invalid("filters", e.to_string()))?;
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let updated = bind_policy!(sqlx::query(SQL), draft, source, destination, filters)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await;
            match updated {
                Ok(done) if done.rows_affected() == 0 => return Ok(Err(Refused::Gone)),
                Ok(_) => {}
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => return Ok(Err(Refused::NameTaken)),
                Err(other) => return Err(other),
            }
            match tick {
                Some(tick) => {
                    let parameters = serde_json::json!({ "policy_id": id.0 }).to_string();
                    put_schedule_in!(tx, id.job_kind(), &tick.cron, &parameters, tick.at, now);
                }
                None => {
                    delete_schedule_in!(tx, id.job_kind());
                }
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }.await);
        registry_deleted_meanwhile(written)
    }

    /// Enables or disables a policy alone, with its schedule and audit row,
    /// in one transaction: the trigger the schedule follows is read under
    /// the row lock the write takes, so a concurrent edit is never undone.
    /// False when the policy is gone.
    pub async fn set_enabled(
        &self,
        id: PolicyId,
        enabled: bool,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<bool> {
        const SQL: &str =
            "UPDATE replication_policies SET enabled = $2, updated_at = $3 WHERE id = $1 RETURNING trigger_kind, cron";
        let found = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let trigger: Option<(String, Option<String>)> =
                sqlx::query_as(SQL).bind(id.0).bind(enabled).bind(now).fetch_optional(&mut *tx).await?;
            let Some((kind, cron)) = trigger else {
                return Ok(false);
            };
            let tick = match (enabled, kind.as_str(), cron.as_deref()) {
                (true, "scheduled", Some(cron)) => CronSchedule::parse(cron)
                    .ok()
                    .and_then(|schedule| schedule.next_after(now).map(|at| (schedule.expression().to_owned(), at))),
                _ => None,
            };
            match tick {
                Some((cron, at)) => {
                    let parameters = serde_json::json!({ "policy_id": id.0 }).to_string();
                    put_schedule_in!(tx, id.job_kind(), &cron, &parameters, at, now);
                }
                None => {
                    delete_schedule_in!(tx, id.job_kind());
                }
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)?;
        Ok(found)
    }

    /// Deletes a policy with no execution pending or running, its schedule,
    /// its past executions and its audit row, in one transaction.
    pub async fn delete_policy(&self, id: PolicyId, event: &AuditEvent) -> Result<std::result::Result<(), Refused>> {
        const ACTIVE: &str =
            "SELECT EXISTS (SELECT 1 FROM job_executions WHERE kind = $1 AND status IN ('pending', 'running'))";
        const EXECUTIONS: &str = "DELETE FROM job_executions WHERE kind = $1";
        const SQL: &str = "DELETE FROM replication_policies WHERE id = $1";
        let kind = id.job_kind();
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let held = sqlx::query("UPDATE replication_policies SET updated_at = updated_at WHERE id = $1")
                .bind(id).execute(&mut *tx).await?.rows_affected();
            if held == 0 {
                return Ok(Err(Refused::Gone));
            }
            let active: bool = sqlx::query_scalar(ACTIVE).bind(&kind).fetch_one(&mut *tx).await?;
            if active {
                return Ok(Err(Refused::Running));
            }
            delete_schedule_in!(tx, &kind);
            sqlx::query(EXECUTIONS).bind(&kind).execute(&mut *tx).await?;
            sqlx::query(SQL).bind(id).execute(&mut *tx).await?;
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }.await)?;
        Ok(written)
    }

    /// The enabled event-based policies (pushed from here on each change).
    pub async fn event_policies(&self) -> Result<Vec<Policy>> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM replication_policies WHERE enabled AND trigger_kind = 'event_based' ORDER BY id"
        );
        let rows = on_db!(&self.db, pool => sqlx::query_as::<_, PolicyRow>(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(PolicyRow::read).collect()
    }

    /// Every artifact here that is shown on its own (not an image of an
    /// index, not attached to a subject), with its tags: what a push
    /// policy's filters choose from, in repository order.
    pub async fn local_artifacts(&self) -> Result<Vec<LocalArtifact>> {
        const SQL: &str = "SELECT r.name AS repository, m.digest, m.media_type, m.artifact_type, t.name AS tag \
             FROM repositories r JOIN manifests m ON m.repository_id = r.id LEFT JOIN tags t ON t.manifest_id = m.id \
             WHERE m.listed ORDER BY r.name, m.id, t.name";
        #[derive(sqlx::FromRow)]
        struct Row {
            repository: String,
            digest: String,
            media_type: String,
            artifact_type: Option<String>,
            tag: Option<String>,
        }
        let rows: Vec<Row> = on_db!(&self.db, pool => sqlx::query_as(SQL).fetch_all(pool).await)?;
        let mut artifacts: Vec<LocalArtifact> = Vec::new();
        for Row { repository, digest, media_type, artifact_type, tag } in rows {
            match artifacts.last_mut() {
                Some(last) if last.repository == repository && last.digest == digest => last.tags.extend(tag),
                _ => artifacts.push(LocalArtifact {
                    repository,
                    digest,
                    media_type,
                    artifact_type,
                    tags: tag.into_iter().collect(),
                }),
            }
        }
        Ok(artifacts)
    }
}

/// The (source, destination) registry columns of a direction.
fn ends(direction: Direction) -> (Option<EndpointId>, Option<EndpointId>) {
    match direction {
        Direction::Push { destination } => (None, Some(destination)),
        Direction::Pull { source } => (Some(source), None),
    }
}

/// A policy write that lost a race with its registry's deletion.
fn registry_deleted_meanwhile<T>(
    written: std::result::Result<std::result::Result<T, Refused>, sqlx::Error>,
) -> Result<std::result::Result<T, Refused>> {
    match written {
        Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => Ok(Err(Refused::RegistryGone)),
        other => Ok(other?),
    }
}
