//! The SQL behind browsing: a project's repositories and a repository's
//! artifacts with their sizes and tags, a page at a time in a fixed number
//! of queries (never one per row); the artifacts' in [`artifacts`].

mod artifacts;

use chrono::{DateTime, Utc};

use super::{RecentPush, RegistryOverview, RepositorySummary};
use crate::{
    core::{
        Result,
        access::visibility_sql,
        db::{Counted, Db, Keyset, Page, Window, like_contains},
        events::{AuditEvent, audited_transaction},
        identity::Visibility,
        projects::ProjectId,
    },
    on_db,
};

/// Manifests shown as artifacts of their own: not a child of an index in
/// the same repository, and not attached to another artifact by `subject`
/// (signatures and SBOMs are listed with what they describe). The registry
/// keeps the flag current on push and delete, and the database keeps how
/// many each repository lists in `repository_artifacts` (migration 0028).
const TOP_LEVEL: &str = "m.listed = TRUE";

/// How many artifacts repository `$1` lists, from its counter.
const ARTIFACT_COUNT: &str =
    "SELECT COALESCE((SELECT artifacts FROM repository_artifacts WHERE repository_id = $1), 0)";

/// An artifact's size: its manifest and the blobs it references, and for
/// an index, the same for each of its images.
const SIZE: &str = "CAST(m.size + COALESCE((SELECT SUM(b.size) FROM manifest_references ref JOIN blobs b \
     ON b.digest = ref.digest WHERE ref.manifest_id = m.id AND ref.kind = 'blob'), 0) \
     + COALESCE((SELECT SUM(child.size + COALESCE((SELECT SUM(cb.size) FROM manifest_references cref \
     JOIN blobs cb ON cb.digest = cref.digest WHERE cref.manifest_id = child.id AND cref.kind = 'blob'), 0)) \
     FROM manifest_references ref JOIN manifests child ON child.digest = ref.digest \
     AND child.repository_id = m.repository_id WHERE ref.manifest_id = m.id AND ref.kind = 'manifest'), 0) \
     AS BIGINT) AS size";

#[derive(sqlx::FromRow)]
struct RepositoryRow {
    id: i64,
    project_id: i64,
    name: String,
    created_at: DateTime<Utc>,
    artifact_count: i64,
    updated_at: Option<DateTime<Utc>>,
    description: String,
}

#[derive(sqlx::FromRow)]
struct PushRow {
    resource: String,
    digest: Option<String>,
    tag: Option<String>,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct BrowseRepository {
    db: Db,
}

impl BrowseRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn repository_sql(filter: &str) -> String {
        format!(
            "SELECT r.id, r.project_id, r.name, r.created_at, r.description, \
             COALESCE((SELECT a.artifacts FROM repository_artifacts a WHERE a.repository_id = r.id), 0) \
             AS artifact_count, \
             (SELECT MAX(m.created_at) FROM manifests m WHERE m.repository_id = r.id) AS updated_at \
             FROM repositories r WHERE {filter}"
        )
    }

    /// [`Self::repository_sql`] with how many rows match in all, as `total`.
    fn counted_repository_sql(filter: &str) -> String {
        Self::repository_sql(filter).replacen(
            " FROM repositories r",
            ", COUNT(*) OVER () AS total FROM repositories r",
            1,
        )
    }

    pub async fn repositories(
        &self,
        project: ProjectId,
        name_contains: Option<&str>,
        window: Window,
    ) -> Result<Page<RepositorySummary>> {
        let pattern = name_contains.map(like_contains);
        const FILTER: &str = "r.project_id = $1 AND ($2 IS NULL OR r.name LIKE $2 ESCAPE '\\')";
        let page = format!("{} ORDER BY r.name LIMIT $3 OFFSET $4", Self::counted_repository_sql(FILTER));
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<RepositoryRow>> =
                sqlx::query_as(&page).bind(project.0).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            let count = sqlx::query_scalar(&count).bind(project.0).bind(&pattern).fetch_one(pool);
            window.page(rows, count, |row| Ok(RepositorySummary::from(row))).await
        }.await)
    }

    /// How much the projects `visibility` shows hold, and their latest pushes.
    pub async fn overview(&self, visibility: Visibility, recent: u32) -> Result<RegistryOverview> {
        let visible = visibility_sql(1);
        let counts = format!(
            "SELECT (SELECT COUNT(*) FROM projects p WHERE {visible}), \
             (SELECT COUNT(*) FROM repositories r JOIN projects p ON p.id = r.project_id WHERE {visible}), \
             (SELECT CAST(COALESCE(SUM(a.artifacts), 0) AS BIGINT) FROM repository_artifacts a \
              JOIN repositories r ON r.id = a.repository_id JOIN projects p ON p.id = r.project_id WHERE {visible}), \
             (SELECT CAST(COALESCE(SUM(u.bytes), 0) AS BIGINT) FROM project_usage u \
              JOIN projects p ON p.id = u.project_id WHERE {visible})"
        );
        let pushes = format!(
            "SELECT a.resource, a.digest, a.tag, a.actor, a.occurred_at FROM audit_log a \
             JOIN projects p ON p.name = a.project \
             WHERE a.operation = 'push' AND a.resource_type = 'artifact' AND a.outcome = 'success' AND {visible} \
             ORDER BY a.occurred_at DESC, a.id DESC LIMIT $4"
        );
        let (public_only, member, robot) = visibility.sql_params();
        let ((projects, repositories, artifacts, storage_used), rows) = on_db!(&self.db, pool => async {
            let counts: (i64, i64, i64, i64) = sqlx::query_as(&counts)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_one(pool)
                .await?;
            let rows: Vec<PushRow> = sqlx::query_as(&pushes)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(i64::from(recent))
                .fetch_all(pool)
                .await?;
            Ok::<_, sqlx::Error>((counts, rows))
        }.await)?;
        let recent_pushes = rows
            .into_iter()
            .map(|row| RecentPush {
                repository: row.resource.split(['@', ':']).next().unwrap_or_default().to_owned(),
                digest: row.digest,
                tag: row.tag,
                pushed_by: row.actor,
                pushed_at: row.occurred_at,
            })
            .collect();
        Ok(RegistryOverview { projects, repositories, artifacts, storage_used, recent_pushes })
    }

    /// A page of a project's repositories by name, read by keyset.
    pub async fn repositories_by_keyset(
        &self,
        project: ProjectId,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<Page<RepositorySummary>> {
        let pattern = name_contains.map(like_contains);
        const FILTER: &str = "r.project_id = $1 AND ($2 IS NULL OR r.name LIKE $2 ESCAPE '\\')";
        let order = if keyset.is_backwards() { "DESC" } else { "ASC" };
        let page = format!(
            "{} AND ($3 IS NULL OR r.name > $3) AND ($4 IS NULL OR r.name < $4) ORDER BY r.name {order} LIMIT $5",
            Self::repository_sql(FILTER)
        );
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {FILTER}");
        let (after, before) = keyset.bounds();
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, RepositoryRow>(&page)
                .bind(project.0)
                .bind(&pattern)
                .bind(after)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count).bind(project.0).bind(&pattern).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        Ok(keyset.page(rows.into_iter().map(RepositorySummary::from).collect(), limit as usize, total))
    }

    /// $1 name pattern, $2–$4 the visibility parameters.
    fn visible_filter() -> String {
        format!(
            "($1 IS NULL OR r.name LIKE $1 ESCAPE '\\') AND r.project_id IN (SELECT p.id FROM projects p WHERE {})",
            visibility_sql(2)
        )
    }

    /// A page of the repositories in every project `visibility` lets the
    /// caller see, and how many match in all.
    pub async fn visible_repositories(
        &self,
        visibility: Visibility,
        name_contains: Option<&str>,
        window: Window,
    ) -> Result<Page<RepositorySummary>> {
        let pattern = name_contains.map(like_contains);
        let (public_only, member, robot) = visibility.sql_params();
        let filter = Self::visible_filter();
        let page = format!("{} ORDER BY r.name LIMIT $5 OFFSET $6", Self::counted_repository_sql(&filter));
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {filter}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<RepositoryRow>> = sqlx::query_as(&page)
                .bind(&pattern)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let count = sqlx::query_scalar(&count)
                .bind(&pattern)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_one(pool);
            window.page(rows, count, |row| Ok(RepositorySummary::from(row))).await
        }.await)
    }

    /// A page of the repositories in every project `visibility` lets the
    /// caller see, by name, read by keyset.
    pub async fn visible_repositories_by_keyset(
        &self,
        visibility: Visibility,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<Page<RepositorySummary>> {
        let pattern = name_contains.map(like_contains);
        let (public_only, member, robot) = visibility.sql_params();
        let filter = Self::visible_filter();
        let order = if keyset.is_backwards() { "DESC" } else { "ASC" };
        let page = format!(
            "{} AND ($5 IS NULL OR r.name > $5) AND ($6 IS NULL OR r.name < $6) ORDER BY r.name {order} LIMIT $7",
            Self::repository_sql(&filter)
        );
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {filter}");
        let (after, before) = keyset.bounds();
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, RepositoryRow>(&page)
                .bind(&pattern)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(after)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count)
                .bind(&pattern)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .fetch_one(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        Ok(keyset.page(rows.into_iter().map(RepositorySummary::from).collect(), limit as usize, total))
    }

    /// Whether the repository exists (and now has this description).
    /// Sets the description, with the audit row `event` when the repository exists.
    pub async fn set_description(&self, name: &str, description: &str, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "UPDATE repositories SET description = $1 WHERE name = $2";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(description).bind(name).execute(&mut *tx).await?.rows_affected() > 0
        }, if |updated: &bool| *updated)?)
    }

    pub async fn repository(&self, name: &str) -> Result<Option<RepositorySummary>> {
        let sql = Self::repository_sql("r.name = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, RepositoryRow>(&sql).bind(name).fetch_optional(pool).await
        })?;
        Ok(row.map(RepositorySummary::from))
    }
}

impl From<RepositoryRow> for RepositorySummary {
    fn from(row: RepositoryRow) -> Self {
        Self {
            id: row.id,
            project_id: row.project_id,
            name: row.name,
            artifact_count: row.artifact_count,
            created_at: row.created_at,
            updated_at: row.updated_at.unwrap_or(row.created_at),
            description: row.description,
        }
    }
}
