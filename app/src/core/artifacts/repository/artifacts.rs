//! The SQL that reads a repository's artifacts with their tags and, for
//! image indexes, their platforms.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ARTIFACT_COUNT, BrowseRepository, SIZE, TOP_LEVEL};
use crate::{
    core::{
        Result,
        artifacts::{ArtifactFilter, ArtifactSummary, TagSummary},
        db::{Keyset, Page, TimeCursor, Window, like_contains},
        registry::manifest::Manifest,
    },
    on_db,
};

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
struct TagRow {
    manifest_id: i64,
    name: String,
    updated_at: DateTime<Utc>,
}

impl BrowseRepository {
    /// A page of a repository's artifacts, newest first, with their tags
    /// (the page, and the count from the repository's counter).
    pub async fn artifacts(&self, repository: i64, window: Window) -> Result<Page<ArtifactSummary>> {
        let page = format!(
            "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.created_at, m.pulled_at, {SIZE} \
             FROM manifests m WHERE m.repository_id = $1 AND {TOP_LEVEL} \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $2 OFFSET $3"
        );
        let (limit, offset) = window.sql();
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows: Vec<ArtifactRow> =
                sqlx::query_as(&page).bind(repository).bind(limit).bind(offset).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(ARTIFACT_COUNT).bind(repository).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        let artifacts = self.with_tags(rows).await?;
        Ok(Page::at(window, artifacts, total))
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
    ) -> Result<Page<ArtifactSummary>> {
        let descending = filter.newest_first != keyset.is_backwards();
        let (cmp, order) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let pattern = filter.tag_contains.map(like_contains);
        // Filtered, the matching tags lead: `repository_id + 0` keeps the
        // planner off the repository's artifact index, so it reads the tags
        // and looks their manifests up by id. The work then grows with the
        // repository's tags, not with its artifacts.
        let where_clause = match pattern {
            Some(_) => format!(
                "m.repository_id + 0 = $1 AND {TOP_LEVEL} AND m.id IN (SELECT t.manifest_id FROM tags t \
                 WHERE t.repository_id = $1 AND t.name LIKE $2 ESCAPE '\\')"
            ),
            None => format!("m.repository_id = $1 AND {TOP_LEVEL} AND CAST($2 AS TEXT) IS NULL"),
        };
        let page = format!(
            "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.created_at, m.pulled_at, {SIZE} FROM manifests m \
             WHERE {where_clause} AND ($3 IS NULL OR m.created_at {cmp} $3 OR (m.created_at = $3 AND m.id {cmp} $4)) \
             ORDER BY m.created_at {order}, m.id {order} LIMIT $5"
        );
        let count = format!("SELECT COUNT(*) FROM manifests m WHERE {where_clause}");
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
            // Unfiltered, the repository's counter says how many; a tag filter counts its matches.
            let total: i64 = match &pattern {
                None => sqlx::query_scalar(ARTIFACT_COUNT).bind(repository).fetch_one(pool).await?,
                Some(_) => sqlx::query_scalar(&count).bind(repository).bind(&pattern).fetch_one(pool).await?,
            };
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
                artifact.platforms = Manifest::read(content).map(|index| index.platforms()).unwrap_or_default();
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
            by_manifest.entry(tag.manifest_id).or_default().push(TagSummary {
                name: tag.name,
                pushed_at: tag.updated_at,
                immutable: false,
            });
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
