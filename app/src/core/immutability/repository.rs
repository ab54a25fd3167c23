//! All SQL touching immutability rules.

use chrono::{DateTime, Utc};

use super::{ImmutableRule, MAX_RULES, RuleDraft};
use crate::{
    core::{
        Error, Result,
        db::Db,
        events::{AuditEvent, audited_transaction},
        projects::id::ProjectId,
        selectors::{Decoration, Selector},
    },
    on_db,
};

const COLUMNS: &str = "id, priority, disabled, repo_decoration, repo_pattern, tag_decoration, tag_pattern, created_at";

/// The enabled rules of the project named `$1`, in priority order.
pub(crate) const ENABLED_RULES_SQL: &str = "SELECT r.id, r.priority, r.disabled, r.repo_decoration, r.repo_pattern, \
     r.tag_decoration, r.tag_pattern, r.created_at FROM immutable_tag_rules r JOIN projects p ON p.id = r.project_id \
     WHERE p.name = $1 AND NOT r.disabled ORDER BY r.priority, r.id";

/// Inside transaction `$tx` (either database): the enabled rules of the
/// project named `$project`, as a `Result<Vec<ImmutableRule>, sqlx::Error>`.
/// The registry asks inside the transaction that moves or deletes a tag,
/// so the rules it obeys are the ones in force when that change commits.
macro_rules! enabled_rules {
    ($tx:ident, $project:expr) => {
        async {
            let rows: Vec<$crate::core::immutability::RuleRow> =
                sqlx::query_as($crate::core::immutability::ENABLED_RULES_SQL)
                    .bind($project)
                    .fetch_all(&mut *$tx)
                    .await?;
            rows.into_iter()
                .map($crate::core::immutability::ImmutableRule::try_from)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| sqlx::Error::Decode(error.to_string().into()))
        }
        .await
    };
}
pub(crate) use enabled_rules;

#[derive(sqlx::FromRow)]
pub struct RuleRow {
    id: i64,
    priority: i32,
    disabled: bool,
    repo_decoration: String,
    repo_pattern: String,
    tag_decoration: String,
    tag_pattern: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<RuleRow> for ImmutableRule {
    type Error = Error;

    fn try_from(row: RuleRow) -> Result<Self> {
        let decoration = |raw: &str| {
            Decoration::parse(raw).ok_or_else(|| Error::corrupt(format!("stored decoration {raw:?} is unknown")))
        };
        Ok(ImmutableRule {
            id: row.id,
            priority: row.priority,
            disabled: row.disabled,
            repositories: Selector { decoration: decoration(&row.repo_decoration)?, pattern: row.repo_pattern },
            tags: Selector { decoration: decoration(&row.tag_decoration)?, pattern: row.tag_pattern },
            created_at: row.created_at,
        })
    }
}

#[derive(Clone, Debug)]
pub struct ImmutabilityRepository {
    db: Db,
}

impl ImmutabilityRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn rules(&self, project: ProjectId) -> Result<Vec<ImmutableRule>> {
        let sql = format!("SELECT {COLUMNS} FROM immutable_tag_rules WHERE project_id = $1 ORDER BY priority, id");
        let rows: Vec<RuleRow> = on_db!(&self.db, pool => sqlx::query_as(&sql).bind(project.0).fetch_all(pool).await)?;
        rows.into_iter().map(ImmutableRule::try_from).collect()
    }

    /// The enabled rules of the project named `project`, in priority order.
    pub async fn enabled(&self, project: &str) -> Result<Vec<ImmutableRule>> {
        let rows: Vec<RuleRow> =
            on_db!(&self.db, pool => sqlx::query_as(ENABLED_RULES_SQL).bind(project).fetch_all(pool).await)?;
        rows.into_iter().map(ImmutableRule::try_from).collect()
    }

    /// Adds a rule with its audit row; `None` when the project has
    /// [`MAX_RULES`] already. The project's row is written first, so rule
    /// counts in one project are checked one at a time.
    pub async fn create(
        &self,
        project: ProjectId,
        draft: &RuleDraft,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<Option<i64>> {
        const LOCK: &str = "UPDATE projects SET updated_at = updated_at WHERE id = $1";
        const INSERT: &str = "INSERT INTO immutable_tag_rules (project_id, priority, disabled, repo_decoration, \
             repo_pattern, tag_decoration, tag_pattern, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 \
             WHERE (SELECT COUNT(*) FROM immutable_tag_rules WHERE project_id = $1) < $9 RETURNING id";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(LOCK).bind(project.0).execute(&mut *tx).await?;
            let id: Option<i64> = sqlx::query_scalar(INSERT)
                .bind(project.0)
                .bind(draft.priority)
                .bind(draft.disabled)
                .bind(draft.repositories.decoration.as_str())
                .bind(&draft.repositories.pattern)
                .bind(draft.tags.decoration.as_str())
                .bind(&draft.tags.pattern)
                .bind(now)
                .bind(MAX_RULES as i64)
                .fetch_optional(&mut *tx)
                .await?;
            id
        }, if |id: &Option<i64>| id.is_some())?)
    }

    /// Replaces rule `id` of `project`; false when it has no such rule.
    pub async fn update(
        &self,
        project: ProjectId,
        id: i64,
        draft: &RuleDraft,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE immutable_tag_rules SET priority = $3, disabled = $4, repo_decoration = $5, \
             repo_pattern = $6, tag_decoration = $7, tag_pattern = $8, updated_at = $9 \
             WHERE id = $1 AND project_id = $2";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL)
                .bind(id)
                .bind(project.0)
                .bind(draft.priority)
                .bind(draft.disabled)
                .bind(draft.repositories.decoration.as_str())
                .bind(&draft.repositories.pattern)
                .bind(draft.tags.decoration.as_str())
                .bind(&draft.tags.pattern)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        }, if |updated: &bool| *updated)?)
    }

    pub async fn set_disabled(
        &self,
        project: ProjectId,
        id: i64,
        disabled: bool,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<bool> {
        const SQL: &str =
            "UPDATE immutable_tag_rules SET disabled = $3, updated_at = $4 WHERE id = $1 AND project_id = $2";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(id).bind(project.0).bind(disabled).bind(now).execute(&mut *tx).await?.rows_affected()
                > 0
        }, if |updated: &bool| *updated)?)
    }

    pub async fn delete(&self, project: ProjectId, id: i64, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM immutable_tag_rules WHERE id = $1 AND project_id = $2";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(id).bind(project.0).execute(&mut *tx).await?.rows_affected() > 0
        }, if |deleted: &bool| *deleted)?)
    }
}
