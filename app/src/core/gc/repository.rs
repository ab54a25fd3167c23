//! The SQL of garbage collection. Every delete re-checks, in its own
//! statement, the condition that made its row a candidate.

use chrono::{DateTime, Utc};

use crate::{
    core::{Error, Result, db::Db},
    on_db,
};

/// Links no manifest of their repository names, last relied on before `$1`.
const STALE_LINKS: &str = "COALESCE(rb.touched_at, rb.created_at) < $1 AND NOT EXISTS (\
     SELECT 1 FROM manifest_references ref JOIN manifests m ON m.id = ref.manifest_id \
     WHERE m.repository_id = rb.repository_id AND ref.digest = rb.digest AND ref.kind = 'blob')";

/// Blobs no repository links to.
const UNLINKED: &str = "NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)";

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
        let deleted = on_db!(&self.db, pool => {
            sqlx::query(&sql).bind(cutoff).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(deleted)
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

    /// Deletes blob `digest`'s row and, holding it, runs `delete_content`;
    /// commits only when both went. `None` when the blob is linked again (or
    /// gone) by now: the foreign key from `repository_blobs` refuses the
    /// delete of a blob with a committed link.
    pub async fn delete_blob(
        &self,
        digest: &str,
        delete_content: impl Future<Output = Result<()>>,
    ) -> Result<Option<u64>> {
        let sql = format!("DELETE FROM blobs AS b WHERE b.digest = $1 AND {UNLINKED} RETURNING size");
        let outcome = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let size: Option<i64> = match sqlx::query_scalar(&sql).bind(digest).fetch_optional(&mut *tx).await {
                Ok(size) => size,
                Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => None,
                Err(other) => return Err(Error::from(other)),
            };
            let Some(size) = size else {
                return Ok(None);
            };
            delete_content.await?;
            tx.commit().await?;
            Ok::<_, Error>(Some(size.max(0) as u64))
        }.await)?;
        Ok(outcome)
    }
}
