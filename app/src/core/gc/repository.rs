//! The SQL of garbage collection. Every delete re-checks, in its own
//! statement, the condition that made its row a candidate.

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::{
    core::{
        Error, Result,
        db::{Db, YIELD_TO_PUSHES, begin_writing, waited_too_long},
        events::{AuditEvent, write_audit_row},
        registry::RELIST_IMAGE_SQL,
    },
    on_db,
};

/// Links no manifest of their repository names, last relied on before `$1`.
const STALE_LINKS: &str = "COALESCE(rb.touched_at, rb.created_at) < $1 AND NOT EXISTS (\
     SELECT 1 FROM manifest_references ref JOIN manifests m ON m.id = ref.manifest_id \
     WHERE m.repository_id = rb.repository_id AND ref.digest = rb.digest AND ref.kind = 'blob')";

/// Blobs no repository links to.
const UNLINKED: &str = "NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)";

/// Manifests `delete_untagged` may consider: untagged, and untouched
/// (pushed, tagged or included by a pushed index) since `$1`.
const UNTAGGED: &str = "COALESCE(m.touched_at, m.created_at) < $1 \
     AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)";

/// Manifests nothing in their repository holds: no index includes them and
/// their `subject` (if any) is not there.
const UNHELD: &str = "NOT EXISTS (SELECT 1 FROM manifest_references ref JOIN manifests parent \
     ON parent.id = ref.manifest_id WHERE ref.kind = 'manifest' AND ref.digest = m.digest \
     AND parent.repository_id = m.repository_id) \
     AND (m.subject_digest IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s \
     WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))";

/// An untagged manifest garbage collection deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedManifest {
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

/// The untagged manifests old enough to go, and what holds each of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UntaggedManifests {
    /// Id and size of each.
    pub candidates: Vec<(i64, i64)>,
    /// `(held, holder)`: the index including it, or the manifest it refers to.
    pub holders: Vec<(i64, i64)>,
}

#[derive(Clone, Debug)]
pub struct GcRepository {
    db: Db,
}

impl GcRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn count_stale_links(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM repository_blobs rb WHERE {STALE_LINKS}");
        let count: i64 = on_db!(&self.db, pool => sqlx::query_scalar(&sql).bind(cutoff).fetch_one(pool).await)?;
        Ok(count.max(0) as u64)
    }

    /// Removes the stale links; how many.
    pub async fn delete_stale_links(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        // The alias lets the condition be written once for the count and the delete.
        let sql = format!("DELETE FROM repository_blobs AS rb WHERE {STALE_LINKS}");
        let postgres = matches!(self.db, Db::Postgres(_));
        let deleted = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            if postgres {
                sqlx::query(YIELD_TO_PUSHES).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query(&sql).bind(cutoff).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(deleted)
        }.await);
        match deleted {
            // A push held one of the links: they wait for the next run.
            Err(error) if waited_too_long(&error) => Ok(0),
            other => Ok(other?),
        }
    }

    /// Every untagged manifest untouched since `cutoff`, with its holders.
    pub async fn untagged_manifests(&self, cutoff: DateTime<Utc>) -> Result<UntaggedManifests> {
        let candidates_sql = format!("SELECT m.id, m.size FROM manifests m WHERE {UNTAGGED}");
        let holders_sql = format!(
            "SELECT m.id, parent.id FROM manifests m \
             JOIN manifest_references ref ON ref.digest = m.digest AND ref.kind = 'manifest' \
             JOIN manifests parent ON parent.id = ref.manifest_id AND parent.repository_id = m.repository_id \
             WHERE {UNTAGGED} \
             UNION ALL SELECT m.id, s.id FROM manifests m \
             JOIN manifests s ON s.repository_id = m.repository_id AND s.digest = m.subject_digest \
             WHERE {UNTAGGED}"
        );
        let (candidates, holders) = on_db!(&self.db, pool => async {
            let candidates: Vec<(i64, i64)> = sqlx::query_as(&candidates_sql).bind(cutoff).fetch_all(pool).await?;
            let holders: Vec<(i64, i64)> = sqlx::query_as(&holders_sql).bind(cutoff).fetch_all(pool).await?;
            Ok::<_, sqlx::Error>((candidates, holders))
        }.await)?;
        Ok(UntaggedManifests { candidates, holders })
    }

    /// Deletes those of manifests `ids` that are still untagged, untouched
    /// since `cutoff` and held by nothing (re-checked in the delete, so a
    /// push that tagged or included one meanwhile keeps it), lists their
    /// images again where no other index holds them, and writes each
    /// deletion's audit row (`event_of`) in the same transaction.
    pub async fn delete_untagged(
        &self,
        ids: &[i64],
        cutoff: DateTime<Utc>,
        event_of: impl Fn(&DeletedManifest) -> AuditEvent,
    ) -> Result<Vec<DeletedManifest>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let in_ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        // A manifest's references never change, so its images can be read
        // before the transaction.
        let images_sql = format!(
            "SELECT m.id, m.repository_id, ref.digest FROM manifest_references ref \
             JOIN manifests m ON m.id = ref.manifest_id WHERE ref.kind = 'manifest' AND m.id IN ({in_ids})"
        );
        let delete_sql = format!(
            "DELETE FROM manifests AS m WHERE m.id IN ({in_ids}) AND {UNTAGGED} AND {UNHELD} \
             RETURNING id, repository_id, digest, media_type, size"
        );
        let postgres = matches!(self.db, Db::Postgres(_));
        let deleted = on_db!(&self.db, pool => async {
            let images: Vec<(i64, i64, String)> = sqlx::query_as(&images_sql).fetch_all(pool).await?;
            let mut tx = begin_writing(pool).await?;
            if postgres {
                sqlx::query(YIELD_TO_PUSHES).execute(&mut *tx).await?;
            }
            let rows: Vec<(i64, i64, String, String, i64)> =
                sqlx::query_as(&delete_sql).bind(cutoff).fetch_all(&mut *tx).await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let repositories = rows.iter().map(|row| row.1.to_string()).collect::<Vec<_>>().join(", ");
            let names: Vec<(i64, String)> =
                sqlx::query_as(&format!("SELECT id, name FROM repositories WHERE id IN ({repositories})"))
                    .fetch_all(&mut *tx)
                    .await?;
            for (parent, repository, image) in &images {
                if rows.iter().any(|row| row.0 == *parent) {
                    sqlx::query(RELIST_IMAGE_SQL).bind(repository).bind(image).execute(&mut *tx).await?;
                }
            }
            let mut deleted = Vec::with_capacity(rows.len());
            for (_, repository_id, digest, media_type, size) in rows {
                let repository =
                    names.iter().find(|(id, _)| *id == repository_id).map(|(_, name)| name.clone()).unwrap_or_default();
                let manifest = DeletedManifest { repository, digest, media_type, size };
                write_audit_row!(tx, &event_of(&manifest))?;
                deleted.push(manifest);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(deleted)
        }.await);
        match deleted {
            // A push held one of the rows: those manifests wait for the next run.
            Err(error) if waited_too_long(&error) => Ok(Vec::new()),
            other => Ok(other?),
        }
    }

    pub async fn count_unlinked_blobs(&self) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM blobs b WHERE {UNLINKED}");
        let count: i64 = on_db!(&self.db, pool => sqlx::query_scalar(&sql).fetch_one(pool).await)?;
        Ok(count)
    }

    /// Up to `limit` unlinked blobs after `after` in digest order, with their sizes.
    pub async fn unlinked_blobs(&self, after: Option<&str>, limit: i64) -> Result<Vec<(String, u64)>> {
        let sql = format!(
            "SELECT b.digest, b.size FROM blobs b WHERE {UNLINKED} AND ($1 IS NULL OR b.digest > $1) \
             ORDER BY b.digest LIMIT $2"
        );
        let rows: Vec<(String, i64)> =
            on_db!(&self.db, pool => sqlx::query_as(&sql).bind(after).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(digest, size)| (digest, size.max(0) as u64)).collect())
    }

    /// Deletes the rows of those of `digests` no repository links and,
    /// holding them, their content (`delete_content` for each, `workers` at
    /// a time); commits only when all of it went. One commit for the lot:
    /// on SQLite a commit is a flush to disk. `None` when a push linked one
    /// of them meanwhile (PostgreSQL then refuses the whole delete on the
    /// foreign key): the caller goes one by one, a batch of one each.
    pub async fn delete_blobs<F, Fut>(
        &self,
        digests: &[String],
        workers: usize,
        delete_content: F,
    ) -> Result<Option<Vec<(String, u64)>>>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        if digests.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let list: Vec<String> = (1..=digests.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "DELETE FROM blobs AS b WHERE b.digest IN ({}) AND {UNLINKED} RETURNING digest, size",
            list.join(", ")
        );
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for digest in digests {
                query = query.bind(digest);
            }
            let rows = match query.fetch_all(&mut *tx).await {
                Ok(rows) => rows,
                Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => return Ok(None),
                Err(other) => return Err(Error::from(other)),
            };
            // Futures made up front: a stream adapter over borrowed rows
            // would not be `Send` for every lifetime.
            let deletions: Vec<Fut> = rows.iter().map(|(digest, _)| delete_content(digest.clone())).collect();
            stream::iter(deletions).buffer_unordered(workers.max(1)).try_collect::<Vec<()>>().await?;
            tx.commit().await?;
            Ok(Some(rows.into_iter().map(|(digest, size)| (digest, size.max(0) as u64)).collect()))
        }.await)
    }
}
