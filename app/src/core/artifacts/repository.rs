//! The SQL behind browsing: a project's repositories and a repository's
//! artifacts with their sizes and tags, a page at a time in a fixed number
//! of queries (never one per row).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ArtifactFilter, ArtifactSummary, RecentPush, RegistryOverview, RepositorySummary, TagSummary};
use crate::{
    core::{
        Result,
        access::visibility_sql,
        db::{Db, Keyset, KeysetPage, TimeCursor, like_contains},
        events::{AuditEvent, audited_transaction},
        identity::Visibility,
        projects::ProjectId,
    },
    on_db,
};

/// Manifests shown as artifacts of their own: not a child of an index in
/// the same repository, and not attached to another artifact by `subject`
/// (signatures and SBOMs are listed with what they describe). The registry
/// keeps the flag current on push and delete.
const TOP_LEVEL: &str = "m.listed = TRUE";

/// An artifact's size: its manifest and the blobs it references, and for
/// an index, the same for each of its images.
const SIZE: &str = "CAST(m.size + COALESCE((SELECT SUM(b.size) FROM manifest_references ref JOIN blobs b \
     ON b.digest = ref.digest WHERE ref.manifest_id = m.id AND ref.kind = 'blob'), 0) \
     + COALESCE((SELECT SUM(child.size + COALESCE((SELECT SUM(cb.size) FROM manifest_references cref \
     JOIN blobs cb ON cb.digest = cref.digest WHERE cref.manifest_id = child.id AND cref.kind = 'blob'), 0)) \
     FROM manifest_references ref JOIN manifests child ON child.digest = ref.digest \
     AND child.repository_id = m.repository_id WHERE ref.manifest_id = m.id AND ref.kind = 'manifest'), 0) \
     AS BIGINT) AS size";

/// `os/architecture[/variant]` of each entry of an image index, in order.
fn index_platforms(content: &[u8]) -> Vec<String> {
    let Ok(index) = serde_json::from_slice::<serde_json::Value>(content) else {
        return Vec::new();
    };
    index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let platform = &entry["platform"];
            let (os, arch) = (platform["os"].as_str()?, platform["architecture"].as_str()?);
            Some(match platform["variant"].as_str() {
                Some(variant) => format!("{os}/{arch}/{variant}"),
                None => format!("{os}/{arch}"),
            })
        })
        .filter(|platform| platform != "unknown/unknown")
        .collect()
}

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
struct ArtifactRow {
    id: i64,
    digest: String,
    media_type: String,
    artifact_type: Option<String>,
    size: i64,
    created_at: DateTime<Utc>,
    pulled_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct PushRow {
    resource: String,
    digest: Option<String>,
    tag: Option<String>,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TagRow {
    manifest_id: i64,
    name: String,
    updated_at: DateTime<Utc>,
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
             (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id AND {TOP_LEVEL}) AS artifact_count, \
             (SELECT MAX(m.created_at) FROM manifests m WHERE m.repository_id = r.id) AS updated_at \
             FROM repositories r WHERE {filter}"
        )
    }

    pub async fn repositories(
        &self,
        project: ProjectId,
        name_contains: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<RepositorySummary>, i64)> {
        let pattern = name_contains.map(like_contains);
        const FILTER: &str = "r.project_id = $1 AND ($2 IS NULL OR r.name LIKE $2 ESCAPE '\\')";
        let page = format!("{} ORDER BY r.name LIMIT $3 OFFSET $4", Self::repository_sql(FILTER));
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {FILTER}");
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, RepositoryRow>(&page)
                .bind(project.0)
                .bind(&pattern)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count).bind(project.0).bind(&pattern).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        Ok((rows.into_iter().map(RepositorySummary::from).collect(), total))
    }

    /// How much the projects `visibility` shows hold, and their latest pushes.
    pub async fn overview(&self, visibility: Visibility, recent: u32) -> Result<RegistryOverview> {
        let visible = visibility_sql(1);
        let counts = format!(
            "SELECT (SELECT COUNT(*) FROM projects p WHERE {visible}), \
             (SELECT COUNT(*) FROM repositories r JOIN projects p ON p.id = r.project_id WHERE {visible}), \
             (SELECT COUNT(*) FROM manifests m JOIN repositories r ON r.id = m.repository_id \
              JOIN projects p ON p.id = r.project_id WHERE {visible} AND {TOP_LEVEL}), \
             (SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM ( \
              SELECT b.size AS bytes FROM (SELECT DISTINCT r.project_id, rb.digest FROM repository_blobs rb \
              JOIN repositories r ON r.id = rb.repository_id JOIN projects p ON p.id = r.project_id WHERE {visible}) x \
              JOIN blobs b ON b.digest = x.digest \
              UNION ALL SELECT m.size AS bytes FROM manifests m JOIN repositories r ON r.id = m.repository_id \
              JOIN projects p ON p.id = r.project_id WHERE {visible}) used)"
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
    ) -> Result<KeysetPage<RepositorySummary>> {
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
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<RepositorySummary>, i64)> {
        let pattern = name_contains.map(like_contains);
        let (public_only, member, robot) = visibility.sql_params();
        let filter = Self::visible_filter();
        let page = format!("{} ORDER BY r.name LIMIT $5 OFFSET $6", Self::repository_sql(&filter));
        let count = format!("SELECT COUNT(*) FROM repositories r WHERE {filter}");
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, RepositoryRow>(&page)
                .bind(&pattern)
                .bind(public_only)
                .bind(member)
                .bind(robot)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
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
        Ok((rows.into_iter().map(RepositorySummary::from).collect(), total))
    }

    /// A page of the repositories in every project `visibility` lets the
    /// caller see, by name, read by keyset.
    pub async fn visible_repositories_by_keyset(
        &self,
        visibility: Visibility,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<KeysetPage<RepositorySummary>> {
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

    /// A page of a repository's artifacts, newest first, with their tags
    /// (two queries for the page, one for the count).
    pub async fn artifacts(&self, repository: i64, offset: u32, limit: u32) -> Result<(Vec<ArtifactSummary>, i64)> {
        let page = format!(
            "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.created_at, m.pulled_at, {SIZE} \
             FROM manifests m WHERE m.repository_id = $1 AND {TOP_LEVEL} \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM manifests m WHERE m.repository_id = $1 AND {TOP_LEVEL}");
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, ArtifactRow>(&page)
                .bind(repository)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count).bind(repository).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        let artifacts = self.with_tags(rows).await?;
        Ok((artifacts, total))
    }

    /// A page of a repository's artifacts read by keyset on (push time,
    /// id), newest or oldest first, optionally only those with a tag
    /// containing `tag_contains`; with tags and index platforms.
    pub async fn artifacts_by_keyset(
        &self,
        repository: i64,
        filter: &ArtifactFilter<'_>,
        keyset: &Keyset<TimeCursor>,
        limit: u32,
    ) -> Result<KeysetPage<ArtifactSummary>> {
        let descending = filter.newest_first != keyset.is_backwards();
        let (cmp, order) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let where_clause = format!(
            "m.repository_id = $1 AND {TOP_LEVEL} AND ($2 IS NULL OR m.id IN (SELECT t.manifest_id FROM tags t \
             WHERE t.repository_id = $1 AND t.name LIKE $2 ESCAPE '\\'))"
        );
        let page = format!(
            "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.created_at, m.pulled_at, {SIZE} FROM manifests m \
             WHERE {where_clause} AND ($3 IS NULL OR m.created_at {cmp} $3 OR (m.created_at = $3 AND m.id {cmp} $4)) \
             ORDER BY m.created_at {order}, m.id {order} LIMIT $5"
        );
        let count = format!("SELECT COUNT(*) FROM manifests m WHERE {where_clause}");
        let pattern = filter.tag_contains.map(like_contains);
        let cursor = keyset.bounds().0.or(keyset.bounds().1);
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = sqlx::query_as::<_, ArtifactRow>(&page)
                .bind(repository)
                .bind(&pattern)
                .bind(cursor.map(|c| c.at))
                .bind(cursor.map(|c| c.id))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count).bind(repository).bind(&pattern).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        let artifacts = self.with_platforms(self.with_tags(rows).await?).await?;
        Ok(keyset.page(artifacts, limit as usize, total))
    }

    /// Fills in the platforms of image indexes from their stored content
    /// (one query for the whole page; nothing is read from blob storage).
    async fn with_platforms(&self, mut artifacts: Vec<ArtifactSummary>) -> Result<Vec<ArtifactSummary>> {
        let indexes: Vec<i64> = artifacts.iter().filter(|a| a.is_index()).map(|a| a.id).collect();
        if indexes.is_empty() {
            return Ok(artifacts);
        }
        let contents: Vec<(i64, Vec<u8>)> = on_db!(&self.db, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT id, content FROM manifests WHERE id IN (");
            let mut ids = query.separated(", ");
            for id in &indexes {
                ids.push_bind(*id);
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await
        })?;
        let contents: HashMap<i64, Vec<u8>> = contents.into_iter().collect();
        for artifact in &mut artifacts {
            if let Some(content) = contents.get(&artifact.id) {
                artifact.platforms = index_platforms(content);
            }
        }
        Ok(artifacts)
    }

    /// One artifact by digest, with its tags.
    pub async fn artifact(&self, repository: i64, digest: &str) -> Result<Option<ArtifactSummary>> {
        let sql = format!(
            "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.created_at, m.pulled_at, {SIZE} \
             FROM manifests m WHERE m.repository_id = $1 AND m.digest = $2"
        );
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ArtifactRow>(&sql).bind(repository).bind(digest).fetch_optional(pool).await
        })?;
        Ok(self.with_platforms(self.with_tags(row.into_iter().collect()).await?).await?.pop())
    }

    /// The digest a tag points at in a repository.
    pub async fn tagged_digest(&self, repository: i64, tag: &str) -> Result<Option<String>> {
        const SQL: &str = "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2";
        let digest = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(repository).bind(tag).fetch_optional(pool).await
        })?;
        Ok(digest)
    }

    async fn with_tags(&self, rows: Vec<ArtifactRow>) -> Result<Vec<ArtifactSummary>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let tags: Vec<TagRow> = on_db!(&self.db, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT manifest_id, name, updated_at FROM tags WHERE manifest_id IN (");
            let mut ids = query.separated(", ");
            for row in &rows {
                ids.push_bind(row.id);
            }
            query.push(") ORDER BY name");
            query.build_query_as::<TagRow>().fetch_all(pool).await
        })?;
        let mut by_manifest: HashMap<i64, Vec<TagSummary>> = HashMap::new();
        for tag in tags {
            by_manifest
                .entry(tag.manifest_id)
                .or_default()
                .push(TagSummary { name: tag.name, pushed_at: tag.updated_at });
        }
        Ok(rows
            .into_iter()
            .map(|row| ArtifactSummary {
                id: row.id,
                tags: by_manifest.remove(&row.id).unwrap_or_default(),
                digest: row.digest,
                media_type: row.media_type,
                artifact_type: row.artifact_type,
                size: row.size,
                pushed_at: row.created_at,
                pulled_at: row.pulled_at,
                platforms: Vec::new(),
            })
            .collect())
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
